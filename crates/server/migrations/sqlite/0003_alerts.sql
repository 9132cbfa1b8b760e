-- Usage alerts (src/alerts.rs): each alert is stored once, under a key that names what crossed
-- what (a license item and a threshold, a license and a reminder day, a project and a time
-- window), so that it fires once however often, and by however many servers, it is evaluated.
-- Each alert is delivered to each webhook configured when it fired, with retries.

CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    key      TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    message  TEXT NOT NULL,
    fired_at INTEGER NOT NULL
) STRICT;

-- `next_attempt_at` is also the lease of a server that took the delivery to attempt it.
CREATE TABLE alert_deliveries (
    alert_id        INTEGER NOT NULL REFERENCES alerts (id),
    url             TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    gave_up         INTEGER NOT NULL DEFAULT 0 CHECK (gave_up IN (0, 1)),
    PRIMARY KEY (alert_id, url)
) STRICT;

CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND gave_up = 0;
