-- Running usage totals per license and item, as in the SQLite store's migration 0004: kept in
-- the transaction that inserts the usage rows they sum (under the license's advisory lock,
-- which the charge holds already), so that a request reads a few rows instead of summing every
-- stored count. `kind` is `pages` (name: a module) or `scans` (name: a symbology).
CREATE TABLE usage_totals (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    kind       TEXT NOT NULL CHECK (kind IN ('pages', 'scans')),
    name       TEXT NOT NULL,
    count      BIGINT NOT NULL CHECK (count >= 0),
    PRIMARY KEY (license_id, kind, name)
);

INSERT INTO usage_totals (license_id, kind, name, count)
SELECT license_id,
       CASE WHEN module IS NOT NULL THEN 'pages' ELSE 'scans' END,
       COALESCE(module, symbology),
       SUM(count)::BIGINT
FROM usage
GROUP BY 1, 2, 3;
