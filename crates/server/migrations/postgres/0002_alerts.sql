-- Usage alerts (src/alerts.rs), as in the SQLite store's migration 0003: each alert is stored
-- once under a key that names what crossed what, so that it fires once however often, and by
-- however many servers, it is evaluated; each is delivered to each webhook, with retries.

CREATE TABLE alerts (
    id       BIGSERIAL PRIMARY KEY,
    key      TEXT NOT NULL UNIQUE,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL,
    message  TEXT NOT NULL,
    fired_at BIGINT NOT NULL
);

-- `next_attempt_at` is also the lease of a server that took the delivery to attempt it.
CREATE TABLE alert_deliveries (
    alert_id        BIGINT NOT NULL REFERENCES alerts (id),
    url             TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at    BIGINT,
    last_error      TEXT,
    gave_up         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (alert_id, url)
);

CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND NOT gave_up;
