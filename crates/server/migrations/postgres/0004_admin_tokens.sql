-- The bearer tokens of the admin API, as in the SQLite store's migration 0005: the SHA-256 (hex)
-- of each 256-bit token, never the token itself. Revoking a token deletes its row.
CREATE TABLE admin_tokens (
    name       TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
