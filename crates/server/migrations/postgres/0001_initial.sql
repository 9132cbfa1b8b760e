-- The schema of the Licet server's PostgreSQL store: the same tables and columns as the SQLite
-- store's migrations 0001 and 0002, in PostgreSQL's types. Times are Unix milliseconds; IDs
-- made of 16 random bytes (device, report, nonce) are stored in their lowercase hyphenated form.
-- Several server instances share one database: claims on seats, slots, trials and quotas are
-- serialized by transaction-scoped advisory locks (see src/storage/postgres.rs), not by tables.

-- Written once by `licet-server init` (vendor_public_key, server_keys); the trial setting.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Vendor-signed license files, verified before they are stored. `text` is what the server
-- hands out; the other columns are decoded from it for queries.
CREATE TABLE licenses (
    id              TEXT PRIMARY KEY,
    text            TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    product         TEXT NOT NULL,
    license_type    TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    imported_at     BIGINT NOT NULL
);

CREATE TABLE projects (
    handshake_code        TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL,
    is_default            BOOLEAN NOT NULL,
    session_password_hash TEXT,
    created_at            BIGINT NOT NULL
);

-- At most one default project per organization.
CREATE UNIQUE INDEX projects_one_default ON projects (organization_id) WHERE is_default;

-- `position` keeps the order of assignment among licenses assigned in the same millisecond.
CREATE TABLE project_licenses (
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    license_id     TEXT NOT NULL REFERENCES licenses (id),
    assigned_at    BIGINT NOT NULL,
    position       BIGSERIAL NOT NULL,
    PRIMARY KEY (handshake_code, license_id)
);

-- One row per device and project it was authorized for.
CREATE TABLE devices (
    device_id      TEXT NOT NULL,
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    domain         TEXT NOT NULL,
    name           TEXT,
    product        TEXT NOT NULL,
    sdk_version    TEXT NOT NULL,
    first_seen     BIGINT NOT NULL,
    last_seen      BIGINT NOT NULL,
    PRIMARY KEY (device_id, handshake_code)
);

-- Every nonce of a request that changed state: a request carrying one of these is a replay.
CREATE TABLE nonces (
    nonce       TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
);

-- Every report ever counted: its ID is what makes ingestion idempotent.
CREATE TABLE reports (
    report_id      TEXT PRIMARY KEY,
    device_id      TEXT NOT NULL,
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    received_at    BIGINT NOT NULL
);

-- Exactly one of module (pages) and symbology (scans) is set.
CREATE TABLE usage (
    report_id  TEXT NOT NULL REFERENCES reports (report_id),
    license_id TEXT NOT NULL REFERENCES licenses (id),
    slot       BIGINT NOT NULL,
    module     TEXT,
    symbology  TEXT,
    count      BIGINT NOT NULL CHECK (count >= 0),
    CHECK ((module IS NULL) <> (symbology IS NULL))
);

CREATE INDEX usage_by_license ON usage (license_id, slot);
CREATE INDEX usage_by_report ON usage (report_id);

-- A per-device license item's seats: a device holds one until `held_until`, which each contact
-- moves to min(now + the active period, expiry). Each device keeps its own row per item; a row
-- past its time holds no seat.
CREATE TABLE seats (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    device_id  TEXT NOT NULL,
    held_until BIGINT NOT NULL,
    PRIMARY KEY (license_id, device_id)
);

CREATE INDEX seats_by_time ON seats (license_id, held_until);

-- The devices in contact with a project in each 3-minute slot: what a concurrent-device
-- license limits.
CREATE TABLE slot_contacts (
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    slot           BIGINT NOT NULL,
    device_id      TEXT NOT NULL,
    PRIMARY KEY (handshake_code, slot, device_id)
);

-- One public trial per device, ever: the row stays after the trial ends so none starts again.
CREATE TABLE trials (
    device_id  TEXT PRIMARY KEY,
    started_at BIGINT NOT NULL,
    ends_at    BIGINT NOT NULL
);
