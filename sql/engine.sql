-- The C aggregation engine (tripl.engine = c) against the SQL path
-- (tripl.engine = sql): the same metrics collected both ways must store the
-- same rows — counts, distinct counts, minima and maxima to the last bit,
-- sums, averages and ratios within 1e-12 relative.  Scenarios: one chunk,
-- many chunks (breakdown values ranked across chunks), metrics of one
-- group with different windows, parallel aggregation (combine, serialise,
-- deserialise), and sources the engine hands back to SQL.
SET DateStyle = 'ISO, YMD';
SET client_min_messages = warning;

-- Data: 10 days, one row every 40 s, deterministic, with NULLs, a NaN,
-- large integers, long texts and values that only exist in a few buckets.
CREATE TABLE eng_facts AS
SELECT g AS id,
       '2026-03-01 00:00+00'::timestamptz + g * interval '40 seconds' AS ts,
       ('2026-03-01 00:00'::timestamp + g * interval '40 seconds') AS ts_naive,
       ('2026-03-01'::date + (g / 2160)) AS d,
       CASE WHEN g % 97 = 0 THEN NULL ELSE round((abs(hashint4(g)) % 100000) / 100.0, 2)::numeric(12, 2) END AS amount,
       (abs(hashint4(g + 1)) % 9) AS qty,
       CASE WHEN g = 5000 THEN 'NaN'::float8 WHEN g % 89 = 0 THEN NULL
            ELSE (abs(hashint4(g + 2)) % 1000000) / 7.0 END AS price,
       1000000000000000::bigint + (abs(hashint4(g + 3)) % 1000) * 1000003 AS big,
       CASE WHEN g % 13 = 0 THEN NULL ELSE abs(hashint4(g + 4)) % 700 END AS user_id,
       CASE WHEN g % 17 = 0 THEN NULL ELSE 's' || (abs(hashint4(g + 5)) % 900) END AS session,
       md5((abs(hashint4(g + 6)) % 800)::text)::uuid AS uid,
       ('dev-' || (abs(hashint4(g + 7)) % 50))::varchar(20) AS device,
       ((abs(hashint4(g + 8)) % 1000) / 3.0)::real AS score,
       CASE WHEN g % 23 = 0 THEN NULL
            ELSE (ARRAY['US', 'DE', 'FR', 'BR'])[1 + abs(hashint4(g + 9)) % 4] END AS country,
       (ARRAY['completed', 'completed', 'pending', 'failed'])[1 + abs(hashint4(g + 10)) % 4] AS status,
       CASE WHEN g % 5 = 0 THEN repeat('x', 600) || (g % 3) ELSE 'short' || (g % 7) END AS long_text,
       CASE WHEN abs(hashint4(g + 11)) % 4 = 0 THEN 'Mixed' ELSE 'mixed' END AS word,
       round((abs(hashint4(g + 12)) % 1000000000) / 1000000.0, 6)::numeric AS fine
FROM generate_series(0, 21599) AS g;
CREATE TABLE eng_events AS
SELECT '2026-03-01 00:00+00'::timestamptz + g * interval '55 seconds' AS ts,
       (ARRAY['Visit', 'Visit', 'Visit', 'Purchase'])[1 + abs(hashint4(g)) % 4] AS name,
       CASE WHEN g % 19 = 0 THEN NULL ELSE 'u' || (abs(hashint4(g + 1)) % 300) END AS user_name,
       (ARRAY['web', 'ios', 'android'])[1 + abs(hashint4(g + 2)) % 3] AS platform
FROM generate_series(0, 15709) AS g;
ANALYZE eng_facts;
ANALYZE eng_events;

SELECT tripl.create_fact_table('eng_main', 'SELECT * FROM eng_facts', 'ts', '{user_id}',
    '{"completed": "status = ''completed''", "big": "amount >= 500", "us": "country = ''US''"}') > 0 AS ok;
SELECT tripl.create_fact_table('eng_naive', 'SELECT ts_naive, amount, user_id, status FROM eng_facts', 'ts_naive') > 0 AS ok;
SELECT tripl.create_fact_table('eng_day', 'SELECT d, amount, status FROM eng_facts', 'd') > 0 AS ok;
SELECT tripl.create_event_source('eng_ev', 'SELECT * FROM eng_events', 'ts', 'name', 'user_name') > 0 AS ok;

-- Which metrics must agree to the last bit (the others within 1e-12)
CREATE TABLE eng_exact (name text PRIMARY KEY);

CREATE FUNCTION eng_make_metrics() RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    n int := 0;
    r record;
    i int;
BEGIN
    FOR r IN SELECT * FROM (VALUES
        ('e_count', true,  '{"aggregation": "count"}'),
        ('e_count_f', true, '{"aggregation": "count", "row_filters": ["completed"]}'),
        ('e_sum_num', false, '{"aggregation": "sum", "measure_column": "amount", "row_filters": ["completed", "big"]}'),
        ('e_sum_int', false, '{"aggregation": "sum", "measure_column": "qty"}'),
        ('e_sum_big', false, '{"aggregation": "sum", "measure_column": "big"}'),
        ('e_sum_float', false, '{"aggregation": "sum", "measure_column": "price"}'),
        ('e_sum_fine', false, '{"aggregation": "sum", "measure_column": "fine"}'),
        ('e_avg_num', false, '{"aggregation": "avg", "measure_column": "amount"}'),
        ('e_avg_real', false, '{"aggregation": "avg", "measure_column": "score"}'),
        ('e_min_num', true, '{"aggregation": "min", "measure_column": "amount", "filter_sql": "country = ''US''"}'),
        ('e_max_float', true, '{"aggregation": "max", "measure_column": "price"}'),
        ('e_min_int', true, '{"aggregation": "min", "measure_column": "qty"}'),
        ('e_max_big', true, '{"aggregation": "max", "measure_column": "big"}'),
        ('e_min_fine', true, '{"aggregation": "min", "measure_column": "fine", "row_filters": ["us"]}'),
        ('e_cd_int', true, '{"aggregation": "count_distinct", "distinct_column": "user_id"}'),
        ('e_cd_text', true, '{"aggregation": "count_distinct", "distinct_column": "session", "row_filters": ["completed"]}'),
        ('e_cd_uuid', true, '{"aggregation": "count_distinct", "distinct_column": "uid"}'),
        ('e_cd_big', true, '{"aggregation": "count_distinct", "distinct_column": "big"}'),
        ('e_cd_varchar', true, '{"aggregation": "count_distinct", "distinct_column": "device"}'),
        ('e_cd_date', true, '{"aggregation": "count_distinct", "distinct_column": "d"}'),
        ('e_cd_rare', true, '{"aggregation": "count_distinct", "distinct_column": "user_id", "filter_sql": "qty = 8 AND price > 140000"}'),
        -- threshold filters (column op constant), decided by the engine
        ('e_thr_gt', true, '{"aggregation": "count", "filter_sql": "amount > 500.5"}'),
        ('e_thr_flip', true, '{"aggregation": "max", "measure_column": "amount", "filter_sql": "500 <= amount"}'),
        ('e_thr_le', false, '{"aggregation": "sum", "measure_column": "amount", "filter_sql": "amount <= 35.5"}'),
        ('e_thr_lt', true, '{"aggregation": "count", "filter_sql": "amount < 1"}'),
        ('e_thr_neg', false, '{"aggregation": "avg", "measure_column": "qty", "filter_sql": "qty > -1"}'),
        ('e_thr_eq', true, '{"aggregation": "count", "filter_sql": "qty = 3"}'),
        ('e_thr_ne', true, '{"aggregation": "min", "measure_column": "amount", "filter_sql": "qty <> 3"}'),
        ('e_thr_bigint', true, '{"aggregation": "count", "filter_sql": "big >= 1000000500000000"}'),
        ('e_thr_fine', true, '{"aggregation": "count", "filter_sql": "fine > 500.000001"}'),
        ('e_thr_fine_eq', true, '{"aggregation": "count", "filter_sql": "fine >= 123.45"}'),
        ('e_thr_and', true, '{"aggregation": "count", "row_filters": ["big"], "filter_sql": "qty > 4"}')
    ) AS v(name, exact, spec) LOOP
        PERFORM tripl.create_metric(r.name, 'fact', fact_table => 'eng_main',
            aggregation => r.spec::jsonb->>'aggregation',
            measure_column => r.spec::jsonb->>'measure_column',
            distinct_column => r.spec::jsonb->>'distinct_column',
            row_filters => coalesce(ARRAY(SELECT jsonb_array_elements_text(r.spec::jsonb->'row_filters')), '{}'),
            filter_sql => r.spec::jsonb->>'filter_sql');
        IF r.exact THEN INSERT INTO eng_exact VALUES (r.name) ON CONFLICT DO NOTHING; END IF;
        n := n + 1;
    END LOOP;
    -- 100 more filters than fit into a call's 100 arguments: one bool[]
    FOR i IN 1..100 LOOP
        PERFORM tripl.create_metric('e_gen_' || i, 'fact', fact_table => 'eng_main', aggregation => 'count',
            filter_sql => 'price * 1 > ' || (i * 1400));
        INSERT INTO eng_exact VALUES ('e_gen_' || i) ON CONFLICT DO NOTHING;
    END LOOP;
    -- ratios, breakdowns (with and without a values limit, on NULLs, on
    -- integers, on texts longer than the 500 characters kept)
    PERFORM tripl.create_metric('e_aov', 'fact',
        numerator => '{"fact_table": "eng_main", "aggregation": "sum", "measure_column": "amount", "row_filters": ["completed"]}',
        denominator => '{"fact_table": "eng_main", "aggregation": "count", "row_filters": ["completed"]}',
        breakdowns => '{country, status}');
    PERFORM tripl.create_metric('e_share', 'fact',
        numerator => '{"fact_table": "eng_main", "aggregation": "count", "row_filters": ["us"]}',
        denominator => '{"fact_table": "eng_main", "aggregation": "count"}',
        breakdowns => '{status, word}', breakdown_values_limit => 2);
    PERFORM tripl.create_metric('e_zero_den', 'fact',
        numerator => '{"fact_table": "eng_main", "aggregation": "count", "filter_sql": "qty = 0"}',
        denominator => '{"fact_table": "eng_main", "aggregation": "sum", "measure_column": "qty", "filter_sql": "qty = 0 OR qty = 8"}');
    PERFORM tripl.create_metric('e_cross', 'fact',
        numerator => '{"fact_table": "eng_main", "aggregation": "sum", "measure_column": "amount"}',
        denominator => '{"fact_table": "eng_naive", "aggregation": "count", "filter_sql": "status = ''pending''"}');
    PERFORM tripl.create_metric('e_bd_count', 'fact', fact_table => 'eng_main', aggregation => 'count',
        breakdowns => '{country, qty, long_text}', breakdown_values_limit => 3);
    PERFORM tripl.create_metric('e_bd_users', 'fact', fact_table => 'eng_main', aggregation => 'count_distinct',
        distinct_column => 'user_id', row_filters => '{completed}', breakdowns => '{country, device}',
        breakdown_values_limit => 4);
    PERFORM tripl.create_metric('e_bd_max', 'fact', fact_table => 'eng_main', aggregation => 'max',
        measure_column => 'price', breakdowns => '{country}');
    INSERT INTO eng_exact VALUES ('e_bd_count'), ('e_bd_users'), ('e_bd_max') ON CONFLICT DO NOTHING;
    -- naive timestamps, dates
    PERFORM tripl.create_metric('e_naive_sum', 'fact', fact_table => 'eng_naive', aggregation => 'sum', measure_column => 'amount');
    PERFORM tripl.create_metric('e_naive_cd', 'fact', fact_table => 'eng_naive', aggregation => 'count_distinct',
        distinct_column => 'user_id');
    PERFORM tripl.create_metric('e_day_sum', 'fact', '1 day', fact_table => 'eng_day', aggregation => 'sum', measure_column => 'amount');
    PERFORM tripl.create_metric('e_day_count', 'fact', '1 day', fact_table => 'eng_day', aggregation => 'count',
        breakdowns => '{status}', breakdown_values_limit => 2);
    INSERT INTO eng_exact VALUES ('e_naive_cd'), ('e_day_count') ON CONFLICT DO NOTHING;
    -- a distinct count over numeric: this group (30 minutes) takes the SQL path
    PERFORM tripl.create_metric('e_cd_numeric', 'fact', '30 minutes', fact_table => 'eng_main',
        aggregation => 'count_distinct', distinct_column => 'amount');
    PERFORM tripl.create_metric('e_30_max', 'fact', '30 minutes', fact_table => 'eng_main',
        aggregation => 'max', measure_column => 'amount');
    INSERT INTO eng_exact VALUES ('e_cd_numeric'), ('e_30_max') ON CONFLICT DO NOTHING;
    -- event compositions and a sql metric
    PERFORM tripl.create_metric('e_ev_single', 'event_composition', event_source => 'eng_ev',
        numerator_event => 'Purchase', breakdowns => '{platform}', breakdown_values_limit => 2);
    PERFORM tripl.create_metric('e_ev_ratio', 'event_composition', event_source => 'eng_ev',
        numerator_event => 'Purchase', denominator_event => 'Visit', breakdowns => '{platform}');
    PERFORM tripl.create_metric('e_ev_users', 'event_composition', event_source => 'eng_ev',
        numerator_event => 'Purchase', composition => 'per_distinct_user');
    PERFORM tripl.create_metric('e_sql', 'sql', query => 'SELECT ts, qty * 1.5 AS value FROM eng_facts',
        time_column => 'ts');
    INSERT INTO eng_exact VALUES ('e_ev_single') ON CONFLICT DO NOTHING;
    RETURN (SELECT count(*) FROM tripl.metrics WHERE name LIKE 'e\_%');
END $$;

CREATE FUNCTION eng_drop_metrics() RETURNS void LANGUAGE sql AS $$
    SELECT tripl.drop_metric(name) FROM tripl.metrics WHERE name LIKE 'e\_%';
$$;

-- Stored rows, by metric name, under a tag
CREATE TABLE eng_snap_v (tag text, name text, bucket timestamptz, value float8);
CREATE TABLE eng_snap_b (tag text, name text, col text, bucket timestamptz, val text, is_other bool, value float8);
CREATE FUNCTION eng_snapshot(tag text) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO eng_snap_b SELECT tag, m.name, b.breakdown_column, b.bucket, b.breakdown_value, b.is_other, b.value
    FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id WHERE m.name LIKE 'e\_%';
    INSERT INTO eng_snap_v SELECT tag, m.name, v.bucket, v.value
    FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name LIKE 'e\_%';
    SELECT count(*) FROM eng_snap_v s WHERE s.tag = eng_snapshot.tag;
$$;

-- Differences between two snapshots: rows on one side only, and values
-- outside the tolerance (exact for eng_exact metrics)
CREATE FUNCTION eng_compare(a text, b text)
RETURNS TABLE (kind text, metrics bigint, rows_a bigint, rows_b bigint, only_a bigint, only_b bigint,
               differ bigint, max_rel float8)
LANGUAGE sql AS $$
    WITH va AS (SELECT * FROM eng_snap_v WHERE tag = a), vb AS (SELECT * FROM eng_snap_v WHERE tag = b),
    j AS (SELECT coalesce(va.name, vb.name) AS name, va.value AS x, vb.value AS y
          FROM va FULL JOIN vb USING (name, bucket))
    SELECT 'values', count(DISTINCT name), count(x), count(y),
           count(*) FILTER (WHERE y IS NULL), count(*) FILTER (WHERE x IS NULL),
           count(*) FILTER (WHERE x IS NOT NULL AND y IS NOT NULL AND
                            CASE WHEN name IN (SELECT name FROM eng_exact) THEN x <> y
                                 ELSE abs(x - y) > 1e-12 * greatest(abs(x), abs(y)) END),
           coalesce(max(abs(x - y) / nullif(greatest(abs(x), abs(y)), 0)), 0)
    FROM j
    UNION ALL
    SELECT 'breakdowns', count(DISTINCT name), count(x), count(y),
           count(*) FILTER (WHERE y IS NULL), count(*) FILTER (WHERE x IS NULL),
           count(*) FILTER (WHERE x IS NOT NULL AND y IS NOT NULL AND
                            CASE WHEN name IN (SELECT name FROM eng_exact) THEN x <> y
                                 ELSE abs(x - y) > 1e-12 * greatest(abs(x), abs(y)) END),
           coalesce(max(abs(x - y) / nullif(greatest(abs(x), abs(y)), 0)), 0)
    FROM (SELECT coalesce(p.name, q.name) AS name, p.value AS x, q.value AS y
          FROM (SELECT * FROM eng_snap_b WHERE tag = a) p
          FULL JOIN (SELECT * FROM eng_snap_b WHERE tag = b) q
          ON p.name = q.name AND p.col = q.col AND p.bucket = q.bucket
             AND p.val IS NOT DISTINCT FROM q.val AND p.is_other = q.is_other) k
$$;

-- Compare with a printable verdict (the tolerance bound, not the exact figure)
CREATE FUNCTION eng_verdict(a text, b text)
RETURNS TABLE (kind text, metrics bigint, rows_a bigint, rows_b bigint, only_a bigint, only_b bigint,
               differ bigint, within_1e12 boolean)
LANGUAGE sql AS $$
    SELECT kind, metrics, rows_a, rows_b, only_a, only_b, differ, max_rel <= 1e-12 FROM eng_compare(a, b)
    ORDER BY kind DESC;
$$;

-- Runs a scenario under one engine, from freshly created metrics
CREATE FUNCTION eng_scenario(engine text, tag text, steps text[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    s text;
    failures bigint := 0;
BEGIN
    PERFORM eng_drop_metrics();
    PERFORM eng_make_metrics();
    PERFORM set_config('tripl.engine', engine, true);
    FOREACH s IN ARRAY steps LOOP
        EXECUTE format('SELECT count(*) FROM (%s) AS r WHERE r.status <> ''success''', s) INTO STRICT failures;
        IF failures > 0 THEN
            RAISE EXCEPTION 'step % failed for % metrics', s, failures;
        END IF;
    END LOOP;
    RETURN eng_snapshot(tag);
END $$;

-- 1. One chunk: replay ten days for every metric
SELECT eng_scenario('sql', 'one_sql', ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-11 00:00+00')$$]) AS value_rows;
SELECT eng_scenario('c', 'one_c', ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-11 00:00+00')$$]) AS value_rows;
SELECT * FROM eng_verdict('one_sql', 'one_c');
-- every metric stored something
SELECT count(DISTINCT name) AS metrics_with_values FROM eng_snap_v WHERE tag = 'one_c';
SELECT name FROM tripl.metrics WHERE name LIKE 'e\_%'
EXCEPT SELECT name FROM eng_snap_v WHERE tag = 'one_c';

-- The engine's counts against hand-written SQL, independently
SELECT count(*) AS hourly_count_mismatches
FROM (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS bucket, count(*)::float8 AS value
      FROM eng_facts GROUP BY 1) h
FULL JOIN (SELECT bucket, value FROM eng_snap_v WHERE tag = 'one_c' AND name = 'e_count') s USING (bucket)
WHERE h.value IS DISTINCT FROM s.value;
SELECT count(*) AS distinct_breakdown_mismatches
FROM (SELECT date_bin('1 hour', ts, '1970-01-01 00:00+00') AS bucket, left(device::text, 500) AS val,
             count(DISTINCT user_id)::float8 AS value
      FROM eng_facts WHERE status = 'completed' GROUP BY 1, 2) h
JOIN (SELECT bucket, val, value FROM eng_snap_b WHERE tag = 'one_c' AND name = 'e_bd_users' AND col = 'device'
      AND NOT is_other) s USING (bucket, val)
WHERE h.value IS DISTINCT FROM s.value;
-- the NaN bucket stores no sum and no maximum, on both paths
SELECT tag, count(*) AS nan_bucket_rows FROM eng_snap_v
WHERE name IN ('e_sum_float', 'e_max_float') AND bucket = '2026-03-01 13:00+00' AND tag IN ('one_sql', 'one_c')
GROUP BY tag ORDER BY tag;

-- 2. Many chunks (7 buckets each): values limits ranked over the whole window
SET tripl.chunk_buckets = 7;
SELECT eng_scenario('sql', 'many_sql', ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-11 00:00+00')$$]) AS value_rows;
SELECT eng_scenario('c', 'many_c', ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-11 00:00+00')$$]) AS value_rows;
RESET tripl.chunk_buckets;
SELECT * FROM eng_verdict('many_sql', 'many_c');
-- chunking changes nothing
SELECT * FROM eng_verdict('one_c', 'many_c');

-- 3. One group, different windows: some metrics ahead of the others, then
-- a due pass (the engine ranks each metric's values within its own window)
CREATE TABLE eng_mixed_steps AS SELECT ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-08 00:00+00')$$,
    $$SELECT * FROM tripl.collect('e_bd_count', '2026-03-08 00:00+00', '2026-03-08 10:00+00')$$,
    $$SELECT * FROM tripl.collect('e_share', '2026-03-08 00:00+00', '2026-03-08 05:00+00')$$,
    $$SELECT * FROM tripl.collect('e_ev_single', '2026-03-08 00:00+00', '2026-03-08 07:00+00')$$,
    $$SELECT r.* FROM (SELECT set_config('tripl.mock_now', '2026-03-08 12:00+00', true)) AS s,
                      LATERAL tripl.collect() AS r$$] AS steps;
SELECT eng_scenario('sql', 'mixed_sql', steps) AS value_rows FROM eng_mixed_steps;
SELECT eng_scenario('c', 'mixed_c', steps) AS value_rows FROM eng_mixed_steps;
-- the due pass collected the metrics ahead from their own progress
SELECT count(*) AS e_share_values_after_5h FROM eng_snap_v
WHERE tag = 'mixed_c' AND name = 'e_share' AND bucket >= '2026-03-08 03:00+00';
SELECT * FROM eng_verdict('mixed_sql', 'mixed_c');

-- 4. Parallel aggregation: partial states serialised by workers, combined
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET tripl.parallel_workers = 2;
SET parallel_leader_participation = off;
SELECT eng_scenario('c', 'parallel_c', ARRAY[
    $$SELECT * FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-11 00:00+00')$$]) AS value_rows;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET tripl.parallel_workers;
RESET parallel_leader_participation;
SELECT * FROM eng_verdict('one_sql', 'parallel_c');

-- 5. A distinct key under a nondeterministic collation: the engine cannot
-- count it byte by byte, so the source falls back to SQL ("Mixed" and
-- "mixed" are one value)
CREATE COLLATION eng_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
SELECT tripl.create_fact_table('eng_ci', 'SELECT ts, word COLLATE eng_ci AS word FROM eng_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('ci_words', 'fact', fact_table => 'eng_ci', aggregation => 'count_distinct',
                           distinct_column => 'word') > 0 AS ok;
SET tripl.engine = c;
SELECT status, rows_written FROM tripl.collect('ci_words', '2026-03-01 00:00+00', '2026-03-02 00:00+00');
SELECT DISTINCT value FROM tripl.series('ci_words', '2026-03-01 00:00+00', '2026-03-02 00:00+00');
RESET tripl.engine;

-- The memory limit: a distinct count over many long values and a breakdown
-- over many values need more than tripl.engine_memory_limit, so collection
-- computes them on the SQL path; the values equal hand-written SQL.
CREATE TABLE eng_wide AS
SELECT '2026-03-01 00:00+00'::timestamptz + g * interval '1 second' AS ts,
       repeat(md5(g::text), 16) AS long_key,
       'v' || g AS many
FROM generate_series(0, 29999) g;
SELECT tripl.create_fact_table('eng_wide', 'SELECT ts, long_key, many FROM eng_wide', 'ts') > 0 AS ok;
SELECT tripl.create_metric('mem_distinct', 'fact', '1 hour', fact_table => 'eng_wide',
                           aggregation => 'count_distinct', distinct_column => 'long_key') > 0 AS ok;
SELECT tripl.create_metric('mem_breakdown', 'fact', '1 hour', fact_table => 'eng_wide', aggregation => 'count',
                           breakdowns => '{many}', breakdown_values_limit => 100000) > 0 AS ok;
SET tripl.engine = c;
SET tripl.engine_memory_limit = '1MB';
SET log_temp_files = -1;
SET client_min_messages = log;
SELECT metric, rows_written, status FROM tripl.collect(window_from => '2026-03-01 00:00+00', window_to => '2026-03-02 00:00+00')
WHERE metric LIKE 'mem\_%' ORDER BY 1;
SET client_min_messages = warning;
RESET log_temp_files;
RESET tripl.engine_memory_limit;
SELECT count(*) AS hours, count(*) FILTER (WHERE v.value IS DISTINCT FROM h.n) AS differing
FROM (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, count(DISTINCT long_key)::float8 AS n
      FROM eng_wide GROUP BY 1) h
FULL JOIN (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
           WHERE m.name = 'mem_distinct') v ON v.bucket = h.bucket;
SELECT count(*) AS cells, count(*) FILTER (WHERE b.value IS DISTINCT FROM h.n) AS differing
FROM (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, many, count(*)::float8 AS n
      FROM eng_wide GROUP BY 1, 2) h
FULL JOIN (SELECT b.bucket, b.breakdown_value, b.value FROM tripl.metric_breakdowns b
           JOIN tripl.metrics m ON m.id = b.metric_id WHERE m.name = 'mem_breakdown') b
       ON b.bucket = h.bucket AND b.breakdown_value = h.many;
-- within the limit the engine computes them itself (no message)
SET client_min_messages = log;
SELECT metric, rows_written, status FROM tripl.collect('mem_distinct', '2026-03-01 00:00+00', '2026-03-01 01:00+00');
SET client_min_messages = warning;
RESET tripl.engine;
SELECT tripl.drop_metric('mem_distinct'), tripl.drop_metric('mem_breakdown'), tripl.drop_fact_table('eng_wide');
DROP TABLE eng_wide;

-- The setting
SHOW tripl.engine;
SET tripl.engine = 'fast';
SET tripl.engine = sql;
SHOW tripl.engine;
RESET tripl.engine;

-- The aggregate refuses calls that did not come from collection
SELECT tripl._engine_agg('\x00'::bytea, now()) ;
SELECT tripl._engine_agg(NULL::bytea, now());

SELECT tripl.drop_metric('ci_words');
SELECT tripl.drop_fact_table('eng_ci');
SELECT eng_drop_metrics();
RESET client_min_messages;
