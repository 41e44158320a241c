-- percentile, approx_percentile and approx_count_distinct, compared with
-- hand-written SQL over the same data: percentile exactly equal to
-- percentile_cont (ties, NULLs, NaN, one-row buckets, numeric / float8 /
-- integer columns, filters, breakdowns with 'Other', ratio operands, a
-- ratio over two fact tables); approx_percentile within 1 % on log-normal
-- and Pareto data; approx_count_distinct exact up to 1024 values and within
-- three standard errors beyond.  The suite runs on both engines (the SQL
-- path computes the approximate aggregations exactly, within their bounds);
-- the memory limit and parallel workers are exercised with tripl.engine = c.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- Data: 8 hours of 1000 rows with many ties, NULLs and a NaN; one hour
-- with one row; one hour whose measures are all NULL.
CREATE TABLE ag_facts AS
SELECT g AS id,
       '2026-04-01 00:00+00'::timestamptz + (g / 1000) * interval '1 hour' + (g % 1000) * interval '3 seconds' AS ts,
       CASE WHEN g % 50 = 0 THEN NULL ELSE ((abs(hashint4(g)) % 200) / 4.0)::numeric(10, 2) END AS amount,
       CASE WHEN g = 2500 THEN 'NaN'::float8 WHEN g % 37 = 0 THEN NULL
            ELSE (abs(hashint4(g + 1)) % 100000) / 7.0 END AS price,
       (abs(hashint4(g + 2)) % 10)::int AS qty,
       abs(hashint4(g + 3)) % 3000 AS user_id,
       (ARRAY['US', 'DE', 'FR', 'BR', 'JP'])[1 + abs(hashint4(g + 4)) % 5] AS country
FROM generate_series(0, 7999) g
UNION ALL SELECT 8000, '2026-04-01 08:30+00', 12.5, 3.0, 4, 1, 'US'
UNION ALL SELECT 8001, '2026-04-01 09:10+00', NULL, NULL, NULL, 2, 'DE'
UNION ALL SELECT 8002, '2026-04-01 09:20+00', NULL, NULL, NULL, 3, 'DE';
CREATE TABLE ag_visits AS
SELECT '2026-04-01 00:00+00'::timestamptz + g * interval '7 seconds' AS ts, g % 11 AS page
FROM generate_series(0, 4000) g;

SELECT tripl.create_fact_table('ag_facts', 'SELECT ts, amount, price, qty, user_id, country FROM ag_facts', 'ts') > 0 AS ok;
SELECT tripl.create_fact_table('ag_visits', 'SELECT ts, page FROM ag_visits', 'ts') > 0 AS ok;

-- stored values against a hand-written query, exactly (rows missing / extra)
CREATE FUNCTION ag_check(metric text, hand text)
RETURNS TABLE (hand_rows bigint, stored_rows bigint, missing bigint, extra bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH hand AS (%s),
             stored AS (SELECT v.bucket, v.value FROM tripl.metric_values v
                        JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = %L)
        SELECT (SELECT count(*) FROM hand), (SELECT count(*) FROM stored),
               (SELECT count(*) FROM (SELECT * FROM hand EXCEPT SELECT * FROM stored) d),
               (SELECT count(*) FROM (SELECT * FROM stored EXCEPT SELECT * FROM hand) d)
    $q$, hand, metric);
END $$;

-- the same for a breakdown column's rows
CREATE FUNCTION ag_check_breakdown(metric text, col text, hand text)
RETURNS TABLE (hand_rows bigint, stored_rows bigint, missing bigint, extra bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH hand AS (%s),
             stored AS (SELECT b.bucket, b.breakdown_value, b.is_other, b.value
                        FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id
                        WHERE m.name = %L AND b.breakdown_column = %L)
        SELECT (SELECT count(*) FROM hand), (SELECT count(*) FROM stored),
               (SELECT count(*) FROM (SELECT * FROM hand EXCEPT SELECT * FROM stored) d),
               (SELECT count(*) FROM (SELECT * FROM stored EXCEPT SELECT * FROM hand) d)
    $q$, hand, metric, col);
END $$;

-- this suite's metrics (those reading its fact tables)
CREATE VIEW ag_mine AS
SELECT m.id, m.name FROM tripl.metrics m
WHERE m.id IN (SELECT o.metric_id FROM tripl.metric_operands o JOIN tripl.fact_tables f ON f.id = o.fact_table_id
               WHERE f.name LIKE 'ag\_%');

-- one metric's stored values
CREATE FUNCTION ag_values(metric text) RETURNS TABLE (bucket timestamptz, value float8)
LANGUAGE sql AS $$
    SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
    WHERE m.name = metric
$$;

-- Exact percentiles: four fractions on numeric, two on float8 and on int,
-- a filtered one, breakdowns (every value; two values and 'Other')
SELECT count(*) AS created FROM (VALUES
  (tripl.create_metric('p_amount_01', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.01)),
  (tripl.create_metric('p_amount_50', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.5)),
  (tripl.create_metric('p_amount_95', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.95, unit => 'USD')),
  (tripl.create_metric('p_amount_999', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.999)),
  (tripl.create_metric('p_price_50', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'price', percentile => 0.5)),
  (tripl.create_metric('p_price_95', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'price', percentile => 0.95)),
  (tripl.create_metric('p_qty_50', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'qty', percentile => 0.5)),
  (tripl.create_metric('p_qty_999', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'qty', percentile => 0.999)),
  (tripl.create_metric('p_de_90', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.9, filter_sql => 'country = ''DE''')),
  (tripl.create_metric('p_bd', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'price', percentile => 0.75, breakdowns => '{country}')),
  (tripl.create_metric('p_bd_lim', 'fact', fact_table => 'ag_facts', aggregation => 'percentile',
                       measure_column => 'amount', percentile => 0.5, breakdowns => '{country}',
                       breakdown_values_limit => 3)),
  (tripl.create_metric('a_users', 'fact', fact_table => 'ag_facts', aggregation => 'approx_count_distinct',
                       distinct_column => 'user_id', breakdowns => '{country}')),
  (tripl.create_metric('a_p95', 'fact', fact_table => 'ag_facts', aggregation => 'approx_percentile',
                       measure_column => 'price', percentile => 0.95)),
  -- revenue per active user; p95 over the median; users per visit (two fact tables)
  (tripl.create_metric('r_rev_per_user', 'fact',
                       numerator => '{"fact_table": "ag_facts", "aggregation": "sum", "measure_column": "amount"}',
                       denominator => '{"fact_table": "ag_facts", "aggregation": "approx_count_distinct", "distinct_column": "user_id"}')),
  (tripl.create_metric('r_p95_p50', 'fact',
                       numerator => '{"fact_table": "ag_facts", "aggregation": "percentile", "measure_column": "price", "percentile": 0.95}',
                       denominator => '{"fact_table": "ag_facts", "aggregation": "percentile", "measure_column": "price", "percentile": 0.5}',
                       breakdowns => '{country}')),
  (tripl.create_metric('r_users_per_visit', 'fact',
                       numerator => '{"fact_table": "ag_facts", "aggregation": "approx_count_distinct", "distinct_column": "user_id"}',
                       denominator => '{"fact_table": "ag_visits", "aggregation": "count"}'))) AS t(id);

SELECT m.name, o.role, o.aggregation, o.measure_column, o.distinct_column, o.percentile
FROM tripl.metric_operands o JOIN tripl.metrics m ON m.id = o.metric_id
WHERE m.name IN ('p_amount_95', 'a_users', 'r_p95_p50', 'r_users_per_visit') ORDER BY 1, 2;

SELECT metric, rows_written, status, error FROM tripl.collect(window_from => '2026-04-01 00:00+00', window_to => '2026-04-01 12:00+00')
WHERE metric IN (SELECT name FROM ag_mine) ORDER BY metric;

SELECT 'p_amount_01' AS metric, * FROM ag_check('p_amount_01', $$
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket,
           percentile_cont(0.01) WITHIN GROUP (ORDER BY amount::float8) AS value
    FROM ag_facts GROUP BY 1 HAVING count(amount) > 0$$)
UNION ALL SELECT 'p_amount_50', * FROM ag_check('p_amount_50', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.5) WITHIN GROUP (ORDER BY amount::float8)
    FROM ag_facts GROUP BY 1 HAVING count(amount) > 0$$)
UNION ALL SELECT 'p_amount_95', * FROM ag_check('p_amount_95', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.95) WITHIN GROUP (ORDER BY amount::float8)
    FROM ag_facts GROUP BY 1 HAVING count(amount) > 0$$)
UNION ALL SELECT 'p_amount_999', * FROM ag_check('p_amount_999', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.999) WITHIN GROUP (ORDER BY amount::float8)
    FROM ag_facts GROUP BY 1 HAVING count(amount) > 0$$)
UNION ALL SELECT 'p_price_50', * FROM ag_check('p_price_50', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.5) WITHIN GROUP (ORDER BY price)
    FROM ag_facts GROUP BY 1 HAVING count(price) > 0$$)
UNION ALL SELECT 'p_price_95', * FROM ag_check('p_price_95', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.95) WITHIN GROUP (ORDER BY price)
    FROM ag_facts GROUP BY 1 HAVING count(price) > 0$$)
UNION ALL SELECT 'p_qty_50', * FROM ag_check('p_qty_50', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.5) WITHIN GROUP (ORDER BY qty)
    FROM ag_facts GROUP BY 1 HAVING count(qty) > 0$$)
UNION ALL SELECT 'p_qty_999', * FROM ag_check('p_qty_999', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.999) WITHIN GROUP (ORDER BY qty)
    FROM ag_facts GROUP BY 1 HAVING count(qty) > 0$$)
UNION ALL SELECT 'p_de_90', * FROM ag_check('p_de_90', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), percentile_cont(0.9) WITHIN GROUP (ORDER BY amount::float8)
    FROM ag_facts WHERE country = 'DE' GROUP BY 1 HAVING count(amount) > 0$$)
UNION ALL SELECT 'a_users', * FROM ag_check('a_users', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'), count(DISTINCT user_id)::float8 FROM ag_facts GROUP BY 1$$)
UNION ALL SELECT 'r_p95_p50', * FROM ag_check('r_p95_p50', $$
    SELECT date_bin('1 hour', ts, '1970-01-01'),
           percentile_cont(0.95) WITHIN GROUP (ORDER BY price) / percentile_cont(0.5) WITHIN GROUP (ORDER BY price)
    FROM ag_facts GROUP BY 1 HAVING count(price) > 0$$)
UNION ALL SELECT 'r_users_per_visit', * FROM ag_check('r_users_per_visit', $$
    SELECT u.bucket, u.n / v.n FROM
      (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, count(DISTINCT user_id)::float8 AS n FROM ag_facts GROUP BY 1) u
      JOIN (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, count(*)::float8 AS n FROM ag_visits GROUP BY 1) v
      USING (bucket)$$);

-- the one-row hour is that row's value; the hour of NULL measures is a gap;
-- the hour with a NaN (sorted last) matches percentile_cont
SELECT bucket, value FROM ag_values('p_amount_50') WHERE bucket >= '2026-04-01 08:00+00' ORDER BY 1;
SELECT bucket, value FROM ag_values('p_price_95') WHERE bucket = '2026-04-01 02:00+00';
SELECT (SELECT value FROM ag_values('p_price_95') WHERE bucket = '2026-04-01 02:00+00') =
       (SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY price) FROM ag_facts
        WHERE ts >= '2026-04-01 02:00+00' AND ts < '2026-04-01 03:00+00') AS nan_hour_matches;

-- revenue per user: a sum over a count, equal within rounding
SELECT count(*) AS hours, max(abs(s.value - h.value) / abs(h.value)) < 1e-12 AS within_1e12
FROM ag_values('r_rev_per_user') s
FULL JOIN (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket,
                  sum(amount)::float8 / count(DISTINCT user_id) AS value
           FROM ag_facts GROUP BY 1 HAVING count(amount) > 0) h USING (bucket);

-- breakdowns: every value; two values by row count and 'Other' (the
-- percentile of the folded rows, not a mix of percentiles)
SELECT * FROM ag_check_breakdown('p_bd', 'country', $$
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, country, false,
           percentile_cont(0.75) WITHIN GROUP (ORDER BY price)
    FROM ag_facts GROUP BY 1, 2 HAVING count(price) > 0$$);
SELECT * FROM ag_check_breakdown('p_bd_lim', 'country', $$
    WITH kept AS (SELECT country FROM ag_facts GROUP BY 1 ORDER BY count(*) DESC, country COLLATE "C" LIMIT 2)
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket,
           CASE WHEN country IN (SELECT country FROM kept) THEN country ELSE 'Other' END,
           country NOT IN (SELECT country FROM kept),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY amount::float8)
    FROM ag_facts GROUP BY 1, 2, 3 HAVING count(amount) > 0$$);
SELECT * FROM ag_check_breakdown('a_users', 'country', $$
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, country, false, count(DISTINCT user_id)::float8
    FROM ag_facts GROUP BY 1, 2$$);
SELECT * FROM ag_check_breakdown('r_p95_p50', 'country', $$
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, country, false,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY price) / percentile_cont(0.5) WITHIN GROUP (ORDER BY price)
    FROM ag_facts GROUP BY 1, 2 HAVING count(price) > 0$$);

-- approx_percentile over 1000 values an hour: within 1 %
SELECT count(*) AS hours, max(abs(s.value - h.value) / abs(h.value)) <= 0.01 AS within_1pct
FROM ag_values('a_p95') s
FULL JOIN (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY price) AS value
           FROM ag_facts GROUP BY 1 HAVING count(price) > 0) h USING (bucket);

-- Skewed data: three hours log-normal (exp(N(3, 1.5))), three Pareto
-- (alpha 1.2), 20000 values each
CREATE TABLE ag_skew AS
SELECT '2026-04-02 00:00+00'::timestamptz + (g / 20000) * interval '1 hour' + (g % 20000) * interval '150 ms' AS ts,
       CASE WHEN g / 20000 < 3
            THEN exp(3 + 1.5 * sqrt(-2 * ln(u1)) * cos(2 * pi() * u2))
            ELSE 10 / power(u1, 1 / 1.2) END AS latency
FROM (SELECT g, (abs(hashint4(g)) + 1)::float8 / 2147483650 AS u1,
             (abs(hashint4(g + 1000000)) + 1)::float8 / 2147483650 AS u2
      FROM generate_series(0, 119999) g) r;
SELECT tripl.create_fact_table('ag_skew', 'SELECT ts, latency FROM ag_skew', 'ts') > 0 AS ok;
SELECT count(*) AS created FROM (VALUES
  (tripl.create_metric('s_p01', 'fact', fact_table => 'ag_skew', aggregation => 'approx_percentile',
                       measure_column => 'latency', percentile => 0.01)),
  (tripl.create_metric('s_p50', 'fact', fact_table => 'ag_skew', aggregation => 'approx_percentile',
                       measure_column => 'latency', percentile => 0.5)),
  (tripl.create_metric('s_p95', 'fact', fact_table => 'ag_skew', aggregation => 'approx_percentile',
                       measure_column => 'latency', percentile => 0.95, unit => 'ms')),
  (tripl.create_metric('s_p999', 'fact', fact_table => 'ag_skew', aggregation => 'approx_percentile',
                       measure_column => 'latency', percentile => 0.999))) AS t(id);
SELECT metric, rows_written, status FROM tripl.collect(window_from => '2026-04-02 00:00+00', window_to => '2026-04-02 06:00+00')
WHERE metric IN (SELECT name FROM ag_mine WHERE name LIKE 's\_%') ORDER BY metric;
SELECT p.metric, count(*) AS hours, max(abs(s.value - h.value) / h.value) <= 0.01 AS within_1pct
FROM (VALUES ('s_p01', 0.01), ('s_p50', 0.5), ('s_p95', 0.95), ('s_p999', 0.999)) AS p(metric, f)
CROSS JOIN LATERAL (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket,
                           percentile_cont(p.f) WITHIN GROUP (ORDER BY latency) AS value
                    FROM ag_skew GROUP BY 1) h
LEFT JOIN LATERAL ag_values(p.metric) s ON s.bucket = h.bucket
GROUP BY p.metric ORDER BY p.metric;

-- Distinct counts from 1 to 200000 an hour, integer and text keys
CREATE TABLE ag_users AS
SELECT '2026-04-03 00:00+00'::timestamptz + k * interval '1 hour' + (i % 3600) * interval '1 second' AS ts,
       (k * 1000000 + i % n)::bigint AS uid, 'user-' || (i % n) AS uname
FROM (VALUES (0, 1), (1, 100), (2, 1024), (3, 1025), (4, 5000), (5, 50000), (6, 200000)) AS s(k, n)
CROSS JOIN LATERAL generate_series(0, n + n / 2) AS i;
SELECT tripl.create_fact_table('ag_users', 'SELECT ts, uid, uname FROM ag_users', 'ts') > 0 AS ok;
SELECT tripl.create_metric('u_ids', 'fact', fact_table => 'ag_users', aggregation => 'approx_count_distinct',
                           distinct_column => 'uid') > 0 AS ok;
SELECT tripl.create_metric('u_names', 'fact', fact_table => 'ag_users', aggregation => 'approx_count_distinct',
                           distinct_column => 'uname') > 0 AS ok;
SELECT metric, rows_written, status FROM tripl.collect(window_from => '2026-04-03 00:00+00', window_to => '2026-04-03 07:00+00')
WHERE metric IN (SELECT name FROM ag_mine WHERE name LIKE 'u\_%') ORDER BY metric;
SELECT h.bucket, h.n AS exact,
       bool_and(s.value = h.n) FILTER (WHERE h.n <= 1024) AS exact_when_small,
       bool_and(abs(s.value - h.n) <= 3 * 1.04 / 128 * h.n) AS within_3_se
FROM (SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, count(DISTINCT uid) AS n FROM ag_users GROUP BY 1) h
JOIN (SELECT bucket, value FROM ag_values('u_ids') UNION ALL SELECT bucket, value FROM ag_values('u_names')) s
  USING (bucket)
GROUP BY h.bucket, h.n ORDER BY h.bucket;

-- Past tripl.engine_memory_limit, a percentile is computed on the SQL path
-- (the same values); within it the engine keeps it (no message)
SELECT tripl.create_metric('u_p50', 'fact', fact_table => 'ag_users', aggregation => 'percentile',
                           measure_column => 'uid', percentile => 0.5) > 0 AS ok;
SET tripl.engine = c;
SET tripl.engine_memory_limit = '1MB';
SET log_temp_files = -1;
SET client_min_messages = log;
SELECT metric, rows_written, status FROM tripl.collect('u_p50', '2026-04-03 00:00+00', '2026-04-03 07:00+00');
SET client_min_messages = warning;
RESET log_temp_files;
RESET tripl.engine_memory_limit;
SELECT * FROM ag_check('u_p50', $$
    SELECT date_bin('1 hour', ts, '1970-01-01') AS bucket, percentile_cont(0.5) WITHIN GROUP (ORDER BY uid) AS value
    FROM ag_users GROUP BY 1$$);
SET client_min_messages = log;
SELECT metric, rows_written, status FROM tripl.collect('u_p50', '2026-04-03 00:00+00', '2026-04-03 01:00+00');
SET client_min_messages = warning;

-- Parallel workers: partial states (buffers and sketches) serialised and
-- combined give the values of one engine state
CREATE VIEW ag_stored AS
SELECT m.name, v.bucket, v.value FROM tripl.metric_values v JOIN ag_mine m ON m.id = v.metric_id;
SELECT count(*) AS failed FROM tripl.collect(window_from => '2026-04-01 00:00+00', window_to => '2026-04-04 00:00+00')
WHERE status <> 'success';
CREATE TABLE ag_before AS SELECT * FROM ag_stored;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET tripl.parallel_workers = 2;
SET parallel_leader_participation = off;
SELECT count(*) AS failed FROM tripl.collect(window_from => '2026-04-01 00:00+00', window_to => '2026-04-04 00:00+00')
WHERE status <> 'success';
SELECT count(*) AS values_compared,
       count(*) FILTER (WHERE b.value IS DISTINCT FROM a.value
                        AND NOT (b.name = 'r_rev_per_user' AND abs(b.value - a.value) <= 1e-12 * abs(a.value))) AS differing
FROM ag_before b FULL JOIN ag_stored a USING (name, bucket);
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET tripl.parallel_workers;
RESET parallel_leader_participation;
RESET tripl.engine;

-- explain_metric: the SQL path's statement; the engine's names its path
SET tripl.engine = sql;
SELECT tripl.explain_metric('p_de_90');
SET tripl.engine = c;
SELECT split_part(tripl.explain_metric('a_users'), E'\n', 1) AS first_line;
RESET tripl.engine;

-- Refusals: nothing is created
SELECT count(*) AS metrics_before FROM ag_mine;
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'percentile', measure_column => 'amount');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'percentile', measure_column => 'amount',
                           percentile => 1);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'approx_percentile',
                           measure_column => 'amount', percentile => 0);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'percentile', measure_column => 'amount',
                           percentile => 'NaN');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'sum', measure_column => 'amount',
                           percentile => 0.5);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'percentile', measure_column => 'country',
                           percentile => 0.5);
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'approx_count_distinct');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'approx_count_distinct',
                           distinct_column => 'user_id', measure_column => 'amount');
SELECT tripl.create_metric('bad', 'fact', fact_table => 'ag_facts', aggregation => 'median', measure_column => 'amount');
SELECT tripl.create_metric('bad', 'fact',
                           numerator => '{"fact_table": "ag_facts", "aggregation": "percentile", "measure_column": "price", "percentile": "0.9"}',
                           denominator => '{"fact_table": "ag_facts", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact',
                           numerator => '{"fact_table": "ag_facts", "aggregation": "percentile", "measure_column": "price"}',
                           denominator => '{"fact_table": "ag_facts", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'fact', percentile => 0.5,
                           numerator => '{"fact_table": "ag_facts", "aggregation": "count"}',
                           denominator => '{"fact_table": "ag_facts", "aggregation": "count"}');
SELECT tripl.create_metric('bad', 'sql', query => 'SELECT ts, 1 AS value FROM ag_facts', time_column => 'ts',
                           percentile => 0.5);
SELECT count(*) AS metrics_after FROM ag_mine;

-- Clean up
SELECT count(*) AS dropped FROM (SELECT tripl.drop_metric(name) FROM ag_mine) d;
DROP VIEW ag_stored, ag_mine;
SELECT tripl.drop_fact_table(n) FROM unnest(ARRAY['ag_facts', 'ag_visits', 'ag_skew', 'ag_users']) n;
DROP TABLE ag_facts, ag_visits, ag_skew, ag_users, ag_before;
DROP FUNCTION ag_check(text, text), ag_check_breakdown(text, text, text), ag_values(text);
