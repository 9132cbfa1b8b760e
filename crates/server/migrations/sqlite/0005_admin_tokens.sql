-- The bearer tokens of the admin API (`licet-server admin token create`). A token is 256 random
-- bits, so its SHA-256 (hex) is all that is kept: the token itself is printed once and never
-- stored. Revoking a token deletes its row.
CREATE TABLE admin_tokens (
    name       TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
) STRICT;
