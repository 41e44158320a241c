-- Derived metrics (kind 'derived'): values compared with hand-written SQL
-- over the inputs' stored values in tripl.metric_values — gaps, coalesce,
-- division by zero, round, greatest/least, a derived metric of derived
-- metrics; computed after their inputs in one pass of collect() and of
-- tick() (the derived metrics' names sort before their inputs', so a pass
-- in name order would compute them first, from stale inputs); an input's
-- replay recomputes its derived metrics.  Refusals leave nothing behind.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;
SET tripl.mock_now = '2026-05-02 00:00+00';

-- Inputs: three sql metrics over one table, with holes and zeros
CREATE TABLE dv_src (ts timestamptz, metric text, value float8);
INSERT INTO dv_src
SELECT '2026-05-01 00:00+00'::timestamptz + h * interval '1 hour' + interval '10 minutes', m,
       CASE m WHEN 'a' THEN h * 10.0 WHEN 'b' THEN h % 4 ELSE 100.0 / (h + 7) END
FROM generate_series(0, 23) h, unnest(ARRAY['a', 'b', 'c']) m
WHERE NOT (m = 'a' AND h IN (5, 6)) AND NOT (m = 'b' AND h IN (6, 7)) AND NOT (m = 'c' AND h = 9);
SELECT tripl.create_metric('dv_a', 'sql', query => 'SELECT ts, value FROM dv_src WHERE metric = ''a''',
                           time_column => 'ts') > 0 AS ok;
SELECT tripl.create_metric('dv_b', 'sql', query => 'SELECT ts, value FROM dv_src WHERE metric = ''b''',
                           time_column => 'ts') > 0 AS ok;
SELECT tripl.create_metric('dv_c', 'sql', query => 'SELECT ts, value FROM dv_src WHERE metric = ''c''',
                           time_column => 'ts') > 0 AS ok;

-- Derived metrics, created before anything is collected
SELECT tripl.create_metric('dv_0_ratio', 'derived', expression => 'dv_a / dv_b') > 0 AS ok;
SELECT tripl.create_metric('dv_0_safe', 'derived', expression => 'coalesce(dv_a, 0) + coalesce(dv_b, 0) * 2',
                           unit => 'points') > 0 AS ok;
SELECT tripl.create_metric('dv_0_mix', 'derived',
                           expression => 'round(greatest(dv_a, dv_c) / nullif(dv_b, 0), 2) - least(dv_a, dv_c) + abs(-1.5)')
       > 0 AS ok;
SELECT tripl.create_metric('dv_00_dd', 'derived', expression => '"dv_0_ratio" * 100 + dv_0_safe') > 0 AS ok;
SELECT m.name, m.kind, m.composition, m.expression, array_agg(im.name ORDER BY im.name) AS inputs
FROM tripl.metrics m JOIN tripl.metric_inputs i ON i.metric_id = m.id JOIN tripl.metrics im ON im.id = i.input_metric_id
WHERE m.name LIKE 'dv%' GROUP BY m.name, m.kind, m.composition, m.expression ORDER BY m.name;

-- Hand-written expectations over the stored input values
CREATE FUNCTION dv_stored(metric text) RETURNS TABLE (bucket timestamptz, value float8)
LANGUAGE sql AS $$
    SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
    WHERE m.name = metric $$;
CREATE VIEW dv_in AS
SELECT k.bucket, a.value AS a, b.value AS b, c.value AS c
FROM (SELECT bucket FROM dv_stored('dv_a') UNION SELECT bucket FROM dv_stored('dv_b')
      UNION SELECT bucket FROM dv_stored('dv_c')) k
LEFT JOIN dv_stored('dv_a') a USING (bucket)
LEFT JOIN dv_stored('dv_b') b USING (bucket)
LEFT JOIN dv_stored('dv_c') c USING (bucket);
-- a bucket counts when one of the metric's own inputs has a value there
CREATE VIEW dv_expected AS
SELECT 'dv_0_ratio' AS metric, bucket, a / nullif(b, 0) AS value FROM dv_in WHERE a IS NOT NULL OR b IS NOT NULL
UNION ALL
SELECT 'dv_0_safe', bucket, coalesce(a, 0) + coalesce(b, 0) * 2 FROM dv_in WHERE a IS NOT NULL OR b IS NOT NULL
UNION ALL
SELECT 'dv_0_mix', bucket, round((greatest(a, c) / nullif(b, 0))::numeric, 2)::float8 - least(a, c) + abs(-1.5)
FROM dv_in WHERE a IS NOT NULL OR b IS NOT NULL OR c IS NOT NULL
UNION ALL
SELECT 'dv_00_dd', bucket, (a / nullif(b, 0)) * 100 + (coalesce(a, 0) + coalesce(b, 0) * 2)
FROM dv_in WHERE a IS NOT NULL OR b IS NOT NULL;
-- stored against expected, both ways, per derived metric
CREATE VIEW dv_check AS
SELECT n.metric,
       (SELECT count(*) FROM dv_expected e WHERE e.metric = n.metric AND e.value IS NOT NULL) AS expected_rows,
       (SELECT count(*) FROM dv_stored(n.metric)) AS stored_rows,
       (SELECT count(*) FROM (SELECT bucket, value FROM dv_expected e WHERE e.metric = n.metric AND e.value IS NOT NULL
                              EXCEPT SELECT * FROM dv_stored(n.metric)) d) AS missing,
       (SELECT count(*) FROM (SELECT * FROM dv_stored(n.metric)
                              EXCEPT SELECT bucket, value FROM dv_expected e WHERE e.metric = n.metric) d) AS extra
FROM unnest(ARRAY['dv_00_dd', 'dv_0_mix', 'dv_0_ratio', 'dv_0_safe']) n(metric) ORDER BY n.metric;

-- One pass of collect(): the inputs first, then the derived metrics, the
-- derived of derived last
SELECT metric, window_from, window_to, rows_written, status, error
FROM tripl.collect() WHERE metric LIKE 'dv%' ORDER BY metric;
SELECT * FROM dv_check;
-- the gaps: no a or no b (hours 5, 6, 7), b = 0 (hours 0, 4, 8, ...)
SELECT bucket, value FROM dv_stored('dv_0_ratio') WHERE bucket < '2026-05-01 10:00+00' ORDER BY bucket;
SELECT bucket, value FROM dv_stored('dv_0_safe') WHERE bucket < '2026-05-01 10:00+00' ORDER BY bucket;
-- a derived ratio stores no operands
SELECT count(*) FILTER (WHERE v.numerator IS NOT NULL OR v.denominator IS NOT NULL) AS derived_with_operands,
       count(*) > 0 AS derived_values
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name LIKE 'dv\_0\_%';

-- One tick: new hours and a changed input value; tick collects the inputs
-- before the derived metrics
INSERT INTO dv_src VALUES ('2026-05-02 00:05+00', 'a', 7), ('2026-05-02 00:05+00', 'b', 2),
                          ('2026-05-02 01:05+00', 'a', 9), ('2026-05-02 01:05+00', 'b', 0);
UPDATE dv_src SET value = 1000 WHERE metric = 'a' AND ts = '2026-05-01 23:10+00';
SET tripl.mock_now = '2026-05-02 02:00+00';
SELECT tripl.tick() IS NOT NULL AS ticked;
SELECT * FROM dv_check;
SELECT bucket, value FROM dv_stored('dv_00_dd') WHERE bucket >= '2026-05-01 22:00+00' ORDER BY bucket;
SELECT m.name, s.last_status, s.last_error, s.watermark FROM tripl.metric_state s
JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name LIKE 'dv%' ORDER BY m.name;

-- Replaying one input recomputes the derived metrics that use it, over
-- the input's window
UPDATE dv_src SET value = 31 WHERE metric = 'a' AND ts = '2026-05-01 03:10+00';
SELECT metric, window_from, window_to, rows_written, status
FROM tripl.collect('dv_a', '2026-05-01 03:00+00', '2026-05-01 04:00+00') ORDER BY metric;
SELECT * FROM dv_check;

-- explain_metric: the expression, its inputs and equivalent SQL, which
-- gives the stored values
SELECT regexp_replace(regexp_replace(tripl.explain_metric('dv_0_mix'), '(id |metric_id = )[0-9]+', '\1N', 'g'),
                      'IN \([0-9, ]+\)', 'IN (...)') AS explain;
CREATE FUNCTION dv_explained(metric text) RETURNS TABLE (bucket timestamptz, value float8)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE tripl.explain_metric(metric) USING '2026-04-01'::timestamptz, '2026-06-01'::timestamptz;
END $$;
SELECT n.metric,
       (SELECT count(*) FROM dv_explained(n.metric)) AS explained_rows,
       (SELECT count(*) FROM (SELECT * FROM dv_explained(n.metric) EXCEPT SELECT * FROM dv_stored(n.metric)) d) AS missing,
       (SELECT count(*) FROM (SELECT * FROM dv_stored(n.metric) EXCEPT SELECT * FROM dv_explained(n.metric)) d) AS extra
FROM unnest(ARRAY['dv_00_dd', 'dv_0_mix', 'dv_0_ratio', 'dv_0_safe']) n(metric) ORDER BY n.metric;

-- Reading: series (a gap reads NULL: a fractional series), catalog, plot, detection
SELECT bucket, value FROM tripl.series('dv_0_ratio', '2026-05-01 03:00+00', '2026-05-01 09:00+00') ORDER BY bucket;
SELECT name, kind, latest_bucket, latest_value, length(sparkline) AS sparkline_length, unit, last_status
FROM tripl.catalog WHERE name LIKE 'dv%' ORDER BY name;
SELECT tripl.plot('dv_0_ratio', '2026-05-01', '2026-05-03') LIKE '<svg%' AS plotted;
SELECT metric, error FROM tripl.detect('dv_00_dd');

-- Refusals: nothing is created
CREATE TABLE dv_before AS SELECT count(*) AS metrics, (SELECT count(*) FROM tripl.metric_inputs) AS inputs
FROM tripl.metrics;
CREATE VIEW dv_count AS
SELECT (SELECT count(*) FROM tripl.metrics) = b.metrics AND (SELECT count(*) FROM tripl.metric_inputs) = b.inputs
       AS unchanged
FROM dv_before b;
\set VERBOSITY default
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a + nope');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'current_user');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_bad * 2');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'pg_sleep(1)');
SELECT tripl.create_metric('dv_bad', 'derived', expression => '1; DROP TABLE dv_src');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a::text');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a + (SELECT 1)');
SELECT tripl.create_metric('dv_bad', 'derived', expression => '"dv_a"";DROP TABLE dv_src, dv_before;--"');
SELECT tripl.create_metric('dv_bad', 'derived', expression => '"dv_a; DROP TABLE dv_src"');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a -- a comment');
SELECT tripl.create_metric('dv_bad', 'derived', expression => E'dv_a\\');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'sqrt(dv_a)');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'round(dv_a, dv_b)');
SELECT tripl.create_metric('dv_bad', 'derived', expression => '2 + 3');
SELECT tripl.create_metric('dv_bad', 'derived', expression => '');
SELECT tripl.create_metric('dv_bad', 'derived', expression => repeat('dv_a + ', 700) || 'dv_a');
SELECT tripl.create_metric('dv_bad', 'derived', expression => repeat('(', 40) || 'dv_a' || repeat(')', 40));
SELECT tripl.create_metric('dv_bad', 'derived');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a', breakdowns => '{x}');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a', fact_table => 'orders');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a', composition => 'ratio');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a', "window" => '1 day');
SELECT tripl.create_metric('dv_bad', 'sql', query => 'SELECT ts, value FROM dv_src', time_column => 'ts',
                           expression => 'dv_a');
-- another bucket width
SELECT tripl.create_metric('dv_daily', 'sql', query => 'SELECT ts, value FROM dv_src', time_column => 'ts',
                           bucket => '1 day') > 0 AS ok;
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a / dv_daily');
SELECT tripl.create_metric('dv_bad', 'derived', bucket => '1 day', expression => 'dv_a / dv_daily');
-- the same width in another time zone is another grid
SELECT tripl.create_metric('dv_daily_ny', 'sql', query => 'SELECT ts, value FROM dv_src', time_column => 'ts',
                           bucket => '1 day', timezone => 'America/New_York') > 0 AS ok;
SELECT tripl.create_metric('dv_bad', 'derived', bucket => '1 day', expression => 'dv_daily + dv_daily_ny');
SELECT tripl.create_metric('dv_daily_ny_x2', 'derived', bucket => '1 day', timezone => 'America/New_York',
                           expression => '2 * dv_daily_ny') > 0 AS ok;
SELECT tripl.drop_metric('dv_daily_ny_x2');
SELECT tripl.drop_metric('dv_daily_ny');
SELECT tripl.drop_metric('dv_daily');
-- an archived input
SELECT tripl.alter_metric('dv_c', status => 'archived');
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_c + 1');
SELECT tripl.alter_metric('dv_c', status => 'active');
-- an input the caller may not read
SET ROLE regress_bob;
SELECT tripl.create_metric('dv_bad', 'derived', expression => 'dv_a * 2');
RESET ROLE;
SELECT * FROM dv_count;
-- an owner who may no longer read an input: the derived metric fails, the input is written
GRANT tripl_reader TO regress_bob;
SET ROLE regress_bob;
SELECT tripl.create_metric('dv_bob', 'derived', expression => 'dv_a * 2') > 0 AS ok;
RESET ROLE;
REVOKE tripl_reader FROM regress_bob;
SELECT metric, status, error
FROM tripl.collect('dv_a', '2026-05-01 03:00+00', '2026-05-01 04:00+00') WHERE metric IN ('dv_a', 'dv_bob') ORDER BY metric;
SELECT count(*) AS bob_values FROM dv_stored('dv_bob');
SELECT tripl.drop_metric('dv_bob');

-- Dropping an input is refused while a derived metric uses it; nothing changes
SELECT tripl.drop_metric('dv_b');
SELECT tripl.drop_metric('dv_0_safe');
DO $$
BEGIN
    PERFORM tripl.drop_metric('dv_a');
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE WARNING 'refused with SQLSTATE %', SQLSTATE;
END $$;
SELECT * FROM dv_count;
SELECT count(*) > 0 AS values_kept FROM dv_stored('dv_b');
SELECT count(*) > 0 AS values_kept FROM dv_stored('dv_0_safe');

-- Clean up: derived metrics first, then their inputs
SELECT tripl.drop_metric(n) FROM unnest(ARRAY['dv_00_dd', 'dv_0_ratio', 'dv_0_safe', 'dv_0_mix', 'dv_a', 'dv_b', 'dv_c']) n;
SELECT count(*) AS left_over FROM tripl.metric_inputs;
DROP VIEW dv_count, dv_check, dv_expected, dv_in;
DROP FUNCTION dv_stored(text), dv_explained(text);
DROP TABLE dv_src;
RESET tripl.mock_now;
