-- No query reads usage by report: reports are deduplicated by their own table's key, and
-- totals, charts and checks read usage by license and slot (usage_by_license). Reports are
-- never deleted, so the foreign key needs no index on its child side either. This index cost
-- every report a write at a random place in it, a quarter of the writer's work per report
-- (measured on SQLite: the writer thread's CPU time per report fell by about 30% without it).
DROP INDEX IF EXISTS usage_by_report;
