-- What the license types need beyond usage: device seats, devices in contact per slot, and
-- public trials. Times are Unix milliseconds, IDs in their hyphenated form, as in 0001.

-- A per-device license item's seats: a device holds one until `held_until`, which each contact
-- moves to min(now + the active period, expiry). A row past its time is a free seat; the next
-- device to take one overwrites it.
CREATE TABLE seats (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    device_id  TEXT NOT NULL,
    held_until INTEGER NOT NULL,
    PRIMARY KEY (license_id, device_id)
) STRICT;

CREATE INDEX seats_by_time ON seats (license_id, held_until);

-- The devices in contact with a project in each 3-minute slot: what a concurrent-device
-- license limits.
CREATE TABLE slot_contacts (
    handshake_code TEXT NOT NULL REFERENCES projects (handshake_code),
    slot           INTEGER NOT NULL,
    device_id      TEXT NOT NULL,
    PRIMARY KEY (handshake_code, slot, device_id)
) STRICT;

-- One public trial per device, ever: the row stays after the trial ends so none starts again.
CREATE TABLE trials (
    device_id  TEXT PRIMARY KEY NOT NULL,
    started_at INTEGER NOT NULL,
    ends_at    INTEGER NOT NULL
) STRICT;
