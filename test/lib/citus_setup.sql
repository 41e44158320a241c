-- The Citus test's and benchmark's data and metrics, run on the coordinator
-- of a cluster with citus and tripl created (test/t/090_citus.pl,
-- test/bench/citus.sh).  psql variables: rows (events), days (from
-- 2026-01-01 00:00 UTC), shards.
--
-- events_plain: a plain table; events_dist: the same rows in a table
-- distributed by user_id.  For each of them (prefix p_ and d_) a fact
-- table, an event source and the same metrics, so that every stored value
-- and breakdown of a d_ metric can be compared with its p_ twin
-- (citus_diff() below).
\if :{?rows}
\else
\set rows 200000
\endif
\if :{?days}
\else
\set days 3
\endif
\if :{?shards}
\else
\set shards 32
\endif
SET client_min_messages = warning;

CREATE TABLE events_plain (
    ts       timestamptz NOT NULL,
    user_id  int NOT NULL,
    name     text NOT NULL,
    amount   numeric(10, 2),
    country  text,
    device   text NOT NULL
);
-- deterministic rows: visits, purchases (with an amount, NULL for some),
-- signups; NULL countries; 40 devices; 50 000 users
INSERT INTO events_plain
SELECT '2026-01-01 00:00+00'::timestamptz + g * (:days * interval '1 day') / :rows,
       abs(hashint4(g)) % 50000,
       (ARRAY['visit', 'visit', 'visit', 'purchase', 'signup'])[1 + abs(hashint4(g + 1)) % 5],
       CASE WHEN g % 101 = 0 THEN NULL ELSE round((abs(hashint4(g + 2)) % 100000) / 100.0, 2) END,
       CASE WHEN g % 29 = 0 THEN NULL ELSE (ARRAY['US', 'DE', 'FR', 'BR', 'JP', 'IN'])[1 + abs(hashint4(g + 3)) % 6] END,
       'dev-' || (abs(hashint4(g + 4)) % 40)
FROM generate_series(0, :rows - 1) AS g;
CREATE INDEX ON events_plain (ts);

CREATE TABLE events_dist (LIKE events_plain);
SELECT create_distributed_table('events_dist', 'user_id', shard_count => :shards);
INSERT INTO events_dist SELECT * FROM events_plain;
CREATE INDEX ON events_dist (ts);
ANALYZE events_plain;
ANALYZE events_dist;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['p', 'd'] LOOP
        PERFORM tripl.create_fact_table(t || '_events',
            format('SELECT ts, user_id, name, amount, country, device FROM %I', 'events_' ||
                   CASE t WHEN 'p' THEN 'plain' ELSE 'dist' END),
            'ts', '{user_id}', '{"purchase": "name = ''purchase''"}');
        PERFORM tripl.create_event_source(t || '_ev',
            format('SELECT ts, name, user_id FROM %I', 'events_' || CASE t WHEN 'p' THEN 'plain' ELSE 'dist' END),
            'ts', 'name', 'user_id');
        PERFORM tripl.create_metric(t || '_count', 'fact', fact_table => t || '_events', aggregation => 'count');
        PERFORM tripl.create_metric(t || '_purchases', 'fact', fact_table => t || '_events', aggregation => 'count',
            row_filters => '{purchase}');
        PERFORM tripl.create_metric(t || '_revenue', 'fact', fact_table => t || '_events', aggregation => 'sum',
            measure_column => 'amount', row_filters => '{purchase}');
        PERFORM tripl.create_metric(t || '_avg', 'fact', fact_table => t || '_events', aggregation => 'avg',
            measure_column => 'amount');
        PERFORM tripl.create_metric(t || '_min', 'fact', fact_table => t || '_events', aggregation => 'min',
            measure_column => 'amount', filter_sql => 'country = ''US''');
        PERFORM tripl.create_metric(t || '_max', 'fact', fact_table => t || '_events', aggregation => 'max',
            measure_column => 'amount');
        -- the distribution column, and another column
        PERFORM tripl.create_metric(t || '_users', 'fact', fact_table => t || '_events', aggregation => 'count_distinct',
            distinct_column => 'user_id');
        PERFORM tripl.create_metric(t || '_devices', 'fact', fact_table => t || '_events', aggregation => 'count_distinct',
            distinct_column => 'device', row_filters => '{purchase}');
        -- distinct users by breakdown: every value (per-shard counts added), and
        -- a values limit (folding into 'Other' unites sets); approximate sketches
        PERFORM tripl.create_metric(t || '_users_by_country', 'fact', fact_table => t || '_events',
            aggregation => 'count_distinct', distinct_column => 'user_id', breakdowns => '{country}');
        PERFORM tripl.create_metric(t || '_users_by_device', 'fact', fact_table => t || '_events',
            aggregation => 'count_distinct', distinct_column => 'user_id', breakdowns => '{device}',
            breakdown_values_limit => 3);
        PERFORM tripl.create_metric(t || '_approx_users', 'fact', fact_table => t || '_events',
            aggregation => 'approx_count_distinct', distinct_column => 'user_id');
        PERFORM tripl.create_metric(t || '_approx_devices', 'fact', fact_table => t || '_events',
            aggregation => 'approx_count_distinct', distinct_column => 'device', breakdowns => '{country}');
        PERFORM tripl.create_metric(t || '_by_country', 'fact', fact_table => t || '_events', aggregation => 'count',
            breakdowns => '{country}');
        PERFORM tripl.create_metric(t || '_aov', 'fact',
            numerator => jsonb_build_object('fact_table', t || '_events', 'aggregation', 'sum',
                                            'measure_column', 'amount', 'row_filters', '["purchase"]'::jsonb),
            denominator => jsonb_build_object('fact_table', t || '_events', 'aggregation', 'count',
                                              'row_filters', '["purchase"]'::jsonb),
            breakdowns => '{country, device}', breakdown_values_limit => 4);
        PERFORM tripl.create_metric(t || '_ev_purchases', 'event_composition', event_source => t || '_ev',
            numerator_event => 'purchase', composition => 'single');
        PERFORM tripl.create_metric(t || '_ev_conversion', 'event_composition', event_source => t || '_ev',
            numerator_event => 'purchase', denominator_event => 'visit', composition => 'ratio');
        PERFORM tripl.create_metric(t || '_ev_per_user', 'event_composition', event_source => t || '_ev',
            numerator_event => 'visit', composition => 'per_distinct_user');
    END LOOP;
END
$$;

-- Per d_ metric: its stored values and breakdown rows, and how many differ
-- from its p_ twin (a row on one side only, or another value).  Counts,
-- distinct counts, minima and maxima must be identical; sums, averages and
-- ratios within 1e-12 relative (the C engine adds doubles in row order,
-- and the cluster delivers rows in another order than the local scan).
CREATE FUNCTION citus_diff()
RETURNS TABLE (metric text, n_values bigint, bad_values bigint, n_breakdowns bigint, bad_breakdowns bigint)
LANGUAGE sql AS $$
    WITH pairs AS (
        SELECT substr(d.name, 3) AS metric, d.id AS did, p.id AS pid,
               substr(d.name, 3) IN ('count', 'purchases', 'min', 'max', 'users', 'devices', 'by_country',
                                     'ev_purchases', 'users_by_country', 'users_by_device', 'approx_users',
                                     'approx_devices') AS exact
        FROM tripl.metrics d JOIN tripl.metrics p ON p.name = 'p_' || substr(d.name, 3)
        WHERE d.name LIKE 'd\_%'
    )
    SELECT pairs.metric,
           (SELECT count(*) FROM tripl.metric_values WHERE metric_id = did),
           (SELECT count(*)
            FROM (SELECT bucket, value FROM tripl.metric_values WHERE metric_id = did) d
            FULL JOIN (SELECT bucket, value FROM tripl.metric_values WHERE metric_id = pid) p USING (bucket)
            WHERE d.value IS NULL OR p.value IS NULL
               OR (exact AND d.value <> p.value)
               OR (NOT exact AND abs(d.value - p.value) > 1e-12 * greatest(abs(d.value), abs(p.value)))),
           (SELECT count(*) FROM tripl.metric_breakdowns WHERE metric_id = did),
           (SELECT count(*)
            FROM (SELECT breakdown_column AS c, bucket, coalesce(breakdown_value, E'\x01null') AS v, is_other, value
                  FROM tripl.metric_breakdowns WHERE metric_id = did) d
            FULL JOIN (SELECT breakdown_column AS c, bucket, coalesce(breakdown_value, E'\x01null') AS v, is_other, value
                       FROM tripl.metric_breakdowns WHERE metric_id = pid) p USING (c, bucket, v, is_other)
            WHERE d.value IS NULL OR p.value IS NULL
               OR (exact AND d.value <> p.value)
               OR (NOT exact AND abs(d.value - p.value) > 1e-12 * greatest(abs(d.value), abs(p.value))))
    FROM pairs ORDER BY 1
$$;

-- Only the metrics of one side are active (collect(window_from, window_to)
-- replays the active ones): 'p', 'd' or 'pd'
CREATE FUNCTION citus_activate(sides text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    m text;
BEGIN
    FOR m IN SELECT name FROM tripl.metrics LOOP
        PERFORM tripl.alter_metric(m, status => CASE WHEN strpos(sides, left(m, 1)) > 0 THEN 'active' ELSE 'draft' END);
    END LOOP;
END
$$;
