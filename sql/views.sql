-- Looking at it from psql: tripl.sparkline, tripl.catalog, tripl.status and
-- tripl.explain_metric.  Expectations are computed by hand-written SQL over
-- the same data wherever the view derives something.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- Sparklines: scaled between minimum and maximum, NULL as a space
SELECT tripl.sparkline(ARRAY[1, 2, 3, 4, 5, 6, 7, 8]::float8[]) AS ramp,
       tripl.sparkline(ARRAY[8, 1, NULL, 1, 8]::float8[]) AS with_gap,
       tripl.sparkline(ARRAY[5, 5, 5]::float8[]) AS flat,
       tripl.sparkline(ARRAY[NULL, NULL]::float8[]) AS all_null,
       tripl.sparkline('{}'::float8[]) AS empty,
       tripl.sparkline(ARRAY[0, 'NaN', 'Infinity', 1]::float8[]) AS odd_values,
       length(tripl.sparkline(ARRAY(SELECT g::float8 FROM generate_series(1, 24) g))) AS len24;
SELECT tripl.sparkline(NULL) IS NULL AS null_in_null_out;

-- Data: a regular hourly count (60 rows an hour) over 3 days, with a spike
-- six hours before the end (the newest buckets are still settling)
CREATE TABLE view_facts (ts timestamptz, amount numeric, status text);
INSERT INTO view_facts
SELECT '2026-04-01 00:00+00'::timestamptz + h * interval '1 hour' + k * interval '1 minute',
       10 + (k % 5), CASE WHEN k % 3 = 0 THEN 'completed' ELSE 'pending' END
FROM generate_series(0, 71) AS h, generate_series(0, 59) AS k;
-- ten times the rows at 18:00 on the last day
INSERT INTO view_facts
SELECT '2026-04-03 18:00+00'::timestamptz + k * interval '6 seconds', 10, 'completed'
FROM generate_series(0, 539) AS k;

SELECT tripl.create_fact_table('view_ft', 'SELECT ts, amount, status FROM view_facts', 'ts',
    row_filters => '{"completed": "status = ''completed''"}') > 0 AS ok;
SELECT tripl.create_metric('view_orders', 'fact', fact_table => 'view_ft', aggregation => 'count',
    description => 'Orders per hour', unit => 'orders') > 0 AS ok;
SELECT tripl.create_metric('view_revenue', 'fact', fact_table => 'view_ft', aggregation => 'sum',
    measure_column => 'amount', row_filters => '{completed}', breakdowns => '{status}',
    breakdown_values_limit => 2, unit => 'EUR') > 0 AS ok;
SELECT tripl.create_metric('view_draft', 'fact', fact_table => 'view_ft', aggregation => 'count',
    status => 'draft') > 0 AS ok;

-- Before any collection: the metrics are listed with empty columns
SELECT name, kind, status, bucket, latest_bucket, latest_value, signal, sparkline, unit,
       last_collected_at, last_status, last_error
FROM tripl.catalog WHERE name LIKE 'view\_%' ORDER BY name;

SET tripl.mock_now = '2026-04-04 00:00+00';
SELECT metric, rows_written, status FROM tripl.collect(window_from => '2026-04-01 00:00+00',
                                                       window_to => '2026-04-04 00:00+00')
WHERE metric LIKE 'view\_%' ORDER BY 1;
SELECT metric, anomalies > 0 AS found_anomalies, error FROM tripl.detect('view_orders');

\x on
SELECT * FROM tripl.catalog WHERE name = 'view_orders';
\x off
SELECT name, latest_bucket, latest_value, signal, sparkline, unit, last_status
FROM tripl.catalog WHERE name LIKE 'view\_%' ORDER BY name;

-- The catalog against hand-written SQL: latest value, and the sparkline of
-- the last 24 buckets computed independently
WITH hand AS (
    SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS bucket, count(*)::float8 AS value
    FROM view_facts GROUP BY 1),
last24 AS (SELECT * FROM hand ORDER BY bucket DESC LIMIT 24),
scaled AS (
    SELECT bucket, value, min(value) OVER () AS lo, max(value) OVER () AS hi FROM last24)
SELECT c.latest_bucket = (SELECT max(bucket) FROM hand) AS latest_bucket_ok,
       c.latest_value = (SELECT value FROM hand ORDER BY bucket DESC LIMIT 1) AS latest_value_ok,
       c.sparkline = (SELECT string_agg(substr('▁▂▃▄▅▆▇█', 1 + least(7, floor((value - lo) / (hi - lo) * 8)::int), 1), ''
                                        ORDER BY bucket) FROM scaled) AS sparkline_ok,
       length(c.sparkline) AS sparkline_length
FROM tripl.catalog c WHERE c.name = 'view_orders';

-- A gap in a fractional metric shows as a space in its sparkline
DELETE FROM view_facts WHERE ts >= '2026-04-03 20:00+00' AND ts < '2026-04-03 21:00+00' AND status = 'completed';
SELECT status FROM tripl.collect('view_revenue', '2026-04-03 20:00+00', '2026-04-03 21:00+00');
SELECT position(' ' IN sparkline) AS gap_position FROM tripl.catalog WHERE name = 'view_revenue';

-- A collection error shows in the catalog
CREATE TABLE view_fragile_src (ts timestamptz, amount numeric);
INSERT INTO view_fragile_src VALUES ('2026-04-03 10:00+00', 1);
SELECT tripl.create_fact_table('view_fragile', 'SELECT ts, 1 / amount AS inv FROM view_fragile_src', 'ts') > 0 AS ok;
SELECT tripl.create_metric('view_inverse', 'fact', fact_table => 'view_fragile', aggregation => 'sum',
                           measure_column => 'inv') > 0 AS ok;
INSERT INTO view_fragile_src VALUES ('2026-04-03 11:00+00', 0);
SELECT status FROM tripl.collect('view_inverse', '2026-04-03 00:00+00', '2026-04-04 00:00+00');
SELECT name, last_status, last_error FROM tripl.catalog WHERE name = 'view_inverse';

-- tripl.status: one row, its columns, and counts matching the tables
SELECT database = current_database() AS this_database, scheduler_setting,
       metrics_in_error = (SELECT count(*) FROM tripl.metric_state WHERE last_status = 'error') AS in_error_ok,
       metrics_in_error >= 1 AS has_error,
       deliveries_pending = (SELECT count(*) FROM tripl.deliveries WHERE status IN ('pending', 'sending')) AS pending_ok,
       deliveries_dead = (SELECT count(*) FROM tripl.deliveries WHERE status = 'dead') AS dead_ok,
       open_incidents = (SELECT count(*) FROM tripl.alert_state WHERE active) AS incidents_ok,
       resolutions_pending = (SELECT count(*) FROM tripl.deliveries
                              WHERE kind = 'resolution' AND status IN ('pending', 'sending')) AS resolutions_ok,
       tickets = (SELECT count(*) FROM tripl.tickets) AS tickets_ok
FROM tripl.status;
SELECT column_name FROM information_schema.columns
WHERE table_schema = 'tripl' AND table_name = 'status' ORDER BY ordinal_position;
-- tickets not yet resolved, dead resolutions; tripl.destination_status: a
-- row per destination, its counts matching the outbox and the tickets
SELECT tickets_open = (SELECT count(*) FROM tripl.tickets WHERE resolved_at IS NULL) AS tickets_open_ok,
       resolutions_dead = (SELECT count(*) FROM tripl.deliveries
                           WHERE kind = 'resolution' AND status = 'dead') AS resolutions_dead_ok
FROM tripl.status;
SELECT count(*) = (SELECT count(*) FROM tripl.destinations) AS one_row_each,
       bool_and(s.pending = (SELECT count(*) FROM tripl.deliveries d WHERE d.destination_id = x.id
                             AND d.status IN ('pending', 'sending'))) AS pending_ok,
       bool_and(s.dead = (SELECT count(*) FROM tripl.deliveries d WHERE d.destination_id = x.id
                          AND d.status = 'dead')) AS dead_ok,
       bool_and(s.sent = (SELECT count(*) FROM tripl.deliveries d WHERE d.destination_id = x.id
                          AND d.status = 'sent')) AS sent_ok,
       bool_and(s.tickets = (SELECT count(*) FROM tripl.tickets t WHERE t.destination_id = x.id)) AS tickets_ok,
       sum(s.dead) = (SELECT count(*) FROM tripl.deliveries WHERE status = 'dead') AS dead_total_ok
FROM tripl.destination_status s JOIN tripl.destinations x ON x.name = s.destination;

-- explain_metric: the statement collection runs, which EXPLAIN accepts
CREATE FUNCTION explain_runs(metric text) RETURNS TABLE (statements int, plans_with_scan int)
LANGUAGE plpgsql AS $$
DECLARE
    stmt text;
    line text;
    n int := 0;
    scans int := 0;
    engine boolean;
BEGIN
    FOREACH stmt IN ARRAY string_to_array(tripl.explain_metric(metric), E';\n\n') LOOP
        n := n + 1;
        engine := stmt LIKE '%tripl._engine_agg($3%';
        DEALLOCATE ALL;
        IF engine THEN
            EXECUTE format('PREPARE q(timestamptz, timestamptz, bytea) AS %s', stmt);
            FOR line IN EXECUTE 'EXPLAIN EXECUTE q(''2026-04-01'', ''2026-04-02'', NULL)' LOOP
                IF line LIKE '%Scan on view_%' THEN scans := scans + 1; END IF;
            END LOOP;
        ELSE
            EXECUTE format('PREPARE q(timestamptz, timestamptz) AS %s', stmt);
            FOR line IN EXECUTE 'EXPLAIN EXECUTE q(''2026-04-01'', ''2026-04-02'')' LOOP
                IF line LIKE '%Scan on view_%' THEN scans := scans + 1; END IF;
            END LOOP;
        END IF;
    END LOOP;
    DEALLOCATE ALL;
    RETURN QUERY SELECT n, scans;
END $$;
SET tripl.engine = c;
SELECT tripl.explain_metric('view_revenue');
SELECT * FROM explain_runs('view_revenue');
SET tripl.engine = sql;
SELECT tripl.explain_metric('view_revenue');
SELECT * FROM explain_runs('view_revenue');
RESET tripl.engine;
-- a ratio over two fact tables: one statement per source
SELECT tripl.create_metric('view_cross', 'fact',
    numerator => '{"fact_table": "view_ft", "aggregation": "count"}',
    denominator => '{"fact_table": "view_fragile", "aggregation": "count"}') > 0 AS ok;
SELECT * FROM explain_runs('view_cross');
-- errors
SELECT tripl.explain_metric('no_such_metric');
SELECT tripl.explain_metric(NULL);

SELECT tripl.drop_metric(name) FROM tripl.metrics WHERE name LIKE 'view\_%' ORDER BY name;
SELECT tripl.drop_fact_table('view_fragile');
SELECT tripl.drop_fact_table('view_ft');
RESET tripl.mock_now;
RESET client_min_messages;
