-- tripl.tick() over a source with 200 metrics: one pass that collects and
-- detects many metrics grows the SPI context a lot; the jsonb tick() returns
-- must not live there (it used to, and the backend crashed reading it).
SET client_min_messages = warning;
SELECT count(tripl.alter_metric(name, status => 'archived')) >= 0 AS others_archived
FROM tripl.metrics WHERE status = 'active';
CREATE TABLE many_facts AS
SELECT '2026-02-01 00:00+00'::timestamptz + g * interval '2 minutes' AS ts,
       ((g * 37) % 200 + 0.5)::numeric(10, 2) AS amount
FROM generate_series(0, 2 * 24 * 30 - 1) AS g;
SELECT tripl.create_fact_table('many', 'SELECT ts, amount FROM many_facts', 'ts') > 0 AS ok;
SELECT count(tripl.create_metric('many_' || i, 'fact', fact_table => 'many',
           aggregation => (ARRAY['count', 'sum', 'avg', 'min', 'max'])[1 + i % 5],
           measure_column => CASE WHEN i % 5 <> 0 THEN 'amount' END,
           filter_sql => 'amount > ' || i)) AS metrics
FROM generate_series(1, 200) AS i;
SET tripl.mock_now = '2026-02-02 00:10+00';
SELECT t->'skipped' AS skipped, t->'collected' AS collected, t->'collect_failed' AS failed
FROM tripl.tick() AS t;
SELECT count(DISTINCT metric_id) AS metrics_with_values, count(*) AS value_rows
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name LIKE 'many\_%';
