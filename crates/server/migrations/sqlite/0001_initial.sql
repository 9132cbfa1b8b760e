-- The first schema of the Licet server's SQLite store. Times are Unix milliseconds; IDs made
-- of 16 random bytes (device, report, nonce) are stored in their lowercase hyphenated form so
-- the file stays readable with the sqlite3 shell.

-- Written once by `licet-server init`: vendor_public_key, server_keys.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

-- Vendor-signed license files, verified before they are stored. `text` is what the server
-- hands out; the other columns are decoded from it for queries.
CREATE TABLE licenses (
    id              TEXT PRIMARY KEY NOT NULL,
    text            TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    product         TEXT NOT NULL,
    license_type    TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    imported_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE projects (
    handshake_code        TEXT PRIMARY KEY NOT NULL,
    organization_id       TEXT NOT NULL,
    is_default            INTEGER NOT NULL CHECK (is_default IN (0, 1)),
    session_password_hash TEXT,
    created_at            INTEGER NOT NULL
) STRICT;

-- At most one default project per organization.
CREATE UNIQUE INDEX projects_one_default ON projects (organization_id) WHERE is_default = 1;

CREATE TABLE project_licenses (
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    license_id     TEXT NOT NULL REFERENCES licenses (id),
    assigned_at    INTEGER NOT NULL,
    PRIMARY KEY (handshake_code, license_id)
) STRICT;

-- One row per device and project it was authorized for.
CREATE TABLE devices (
    device_id      TEXT NOT NULL,
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    domain         TEXT NOT NULL,
    name           TEXT,
    product        TEXT NOT NULL,
    sdk_version    TEXT NOT NULL,
    first_seen     INTEGER NOT NULL,
    last_seen      INTEGER NOT NULL,
    PRIMARY KEY (device_id, handshake_code)
) STRICT;

-- Every nonce of a request that changed state: a request carrying one of these is a replay.
CREATE TABLE nonces (
    nonce       TEXT PRIMARY KEY NOT NULL,
    received_at INTEGER NOT NULL
) STRICT;

-- Every report ever counted: its ID is what makes ingestion idempotent.
CREATE TABLE reports (
    report_id      TEXT PRIMARY KEY NOT NULL,
    device_id      TEXT NOT NULL,
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    received_at    INTEGER NOT NULL
) STRICT;

-- Exactly one of module (pages) and symbology (scans) is set.
CREATE TABLE usage (
    report_id  TEXT NOT NULL REFERENCES reports (report_id),
    license_id TEXT NOT NULL REFERENCES licenses (id),
    slot       INTEGER NOT NULL,
    module     TEXT,
    symbology  TEXT,
    count      INTEGER NOT NULL CHECK (count >= 0),
    CHECK ((module IS NULL) <> (symbology IS NULL))
) STRICT;

CREATE INDEX usage_by_license ON usage (license_id, slot);
CREATE INDEX usage_by_report ON usage (report_id);
