-- Running usage totals per license and item, kept in the transaction that inserts the usage
-- rows they sum, so that a request reads a few rows instead of summing every stored count
-- (whose cost grew with the store). `usage` stays the record of what each report counted.
-- `kind` is `pages` (name: a module) or `scans` (name: a symbology): both NOT NULL, so that the
-- primary key takes the upsert of each new count in both backends.
CREATE TABLE usage_totals (
    license_id TEXT NOT NULL REFERENCES licenses (id),
    kind       TEXT NOT NULL CHECK (kind IN ('pages', 'scans')),
    name       TEXT NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (license_id, kind, name)
) STRICT, WITHOUT ROWID;

INSERT INTO usage_totals (license_id, kind, name, count)
SELECT license_id,
       CASE WHEN module IS NOT NULL THEN 'pages' ELSE 'scans' END,
       COALESCE(module, symbology),
       SUM(count)
FROM usage
GROUP BY 1, 2, 3;
