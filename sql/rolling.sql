-- Rolling windows ("window" on create_metric): the value at bucket b
-- aggregates [end(b) - window, end(b)).  Stored values are compared with
-- hand-written window SQL over the same rows (generate the buckets, join
-- the rows of each one's window): 7- and 28-day distinct users on daily
-- buckets (integer and text keys, exact and approximate), sums, counts,
-- averages, minima, maxima and a percentile on hourly buckets collected in
-- chunks of 100 buckets (windows crossing chunks), a ratio with both
-- operands rolling, empty days, the first buckets (partial history: the
-- value covers the rows that exist), a window starting later than the data,
-- incremental collection equal to a full recomputation, breakdowns of
-- rolling metrics (per breakdown value, 'Other', a ratio, local days, due
-- passes), the catalog and explain_metric, and refusals.  The harness runs
-- it on both engines.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- 45 days of 300 rows a day spread over the hours; days 10 and 11 empty
CREATE TABLE rl_events AS
SELECT g AS id,
       '2026-03-01 00:00+00'::timestamptz + (g / 300) * interval '1 day' + (g % 300) * interval '288 seconds' AS ts,
       abs(hashint4(g)) % (150 + (g / 300) * 5) AS user_id,
       'u' || (abs(hashint4(g + 7)) % 900) AS user_name,
       CASE WHEN g % 40 = 0 THEN NULL ELSE abs(hashint4(g + 1)) % 1000 END AS amount,
       CASE WHEN g % 3 = 0 THEN 'refund' ELSE 'ok' END AS status
FROM generate_series(0, 13499) g
WHERE g / 300 NOT IN (10, 11);

SELECT tripl.create_fact_table('rl_events', 'SELECT ts, user_id, user_name, amount, status FROM rl_events', 'ts') > 0 AS ok;

-- stored values against a hand-written query: rows missing, extra, different (1e-9 relative)
CREATE FUNCTION rl_check(metric text, hand text)
RETURNS TABLE (hand_rows bigint, stored_rows bigint, missing bigint, extra bigint, different bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH hand AS (%s),
             stored AS (SELECT v.bucket, v.value FROM tripl.metric_values v
                        JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = %L)
        SELECT count(h.bucket), count(s.bucket),
               count(*) FILTER (WHERE s.bucket IS NULL), count(*) FILTER (WHERE h.bucket IS NULL),
               count(*) FILTER (WHERE abs(h.value - s.value) > 1e-9 * greatest(1, abs(h.value)))
        FROM hand h FULL JOIN stored s ON s.bucket = h.bucket
    $q$, hand, metric);
END $$;

-- the hand-written rolling aggregate: buckets of width w in [f, t), each over
-- the rows of [end(b) - win, end(b)) matching cond
CREATE FUNCTION rl_hand(agg text, w interval, win interval, f timestamptz, t timestamptz,
                        cond text DEFAULT 'true') RETURNS text
LANGUAGE sql AS $$
    SELECT format($h$
        SELECT * FROM (
            SELECT b AS bucket, (%s)::float8 AS value
            FROM generate_series(%L::timestamptz, %L::timestamptz - %L::interval, %L::interval) b
            JOIN rl_events e ON e.ts >= b + %L::interval - %L::interval AND e.ts < b + %L::interval AND (%s)
            GROUP BY b) x
        WHERE value IS NOT NULL$h$, agg, f, t, w, w, w, win, w, cond)
$$;

CREATE VIEW rl_mine AS
SELECT m.id, m.name FROM tripl.metrics m WHERE m.name LIKE 'rl\_%';

-- Daily distinct users: weekly and monthly active users
SELECT tripl.create_metric('rl_wau', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '7 days') > 0 AS ok;
SELECT tripl.create_metric('rl_mau', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '28 days') > 0 AS ok;
SELECT tripl.create_metric('rl_mau_names', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_name', "window" => '28 days',
                           filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_wau_approx', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'approx_count_distinct', distinct_column => 'user_id', "window" => '168 hours') > 0 AS ok;
-- revenue per weekly active user: both operands over 7 days
SELECT tripl.create_metric('rl_rev_per_wau', 'fact', bucket => '1 day', "window" => '7 days',
                           numerator => '{"fact_table": "rl_events", "aggregation": "sum", "measure_column": "amount"}',
                           denominator => '{"fact_table": "rl_events", "aggregation": "count_distinct", "distinct_column": "user_id"}') > 0 AS ok;
-- from the first day of data: the first buckets cover the days that exist
SELECT metric, window_from, window_to, rows_written, status
FROM tripl.collect(window_from => '2026-03-01', window_to => '2026-04-15')
WHERE metric LIKE 'rl\_%' ORDER BY metric;

SELECT * FROM rl_check('rl_wau', rl_hand('count(DISTINCT e.user_id)', '1 day', '7 days', '2026-03-01', '2026-04-15'));
SELECT * FROM rl_check('rl_mau', rl_hand('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-01', '2026-04-15'));
SELECT * FROM rl_check('rl_mau_names', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-01', '2026-04-15',
                                               'e.status = ''ok'''));
SELECT * FROM rl_check('rl_wau_approx', rl_hand('count(DISTINCT e.user_id)', '1 day', '7 days', '2026-03-01', '2026-04-15'));
SELECT * FROM rl_check('rl_rev_per_wau', rl_hand('coalesce(sum(e.amount), 0)::float8 / count(DISTINCT e.user_id)',
                                                 '1 day', '7 days', '2026-03-01', '2026-04-15'));
-- its stored operands are the window's: the revenue and the distinct users of the 7 days
WITH hand AS (
    SELECT b AS bucket, coalesce(sum(e.amount), 0)::float8 AS num, count(DISTINCT e.user_id)::float8 AS den
    FROM generate_series('2026-03-01'::timestamptz, '2026-04-14', '1 day') b
    JOIN rl_events e ON e.ts >= b + interval '1 day' - interval '7 days' AND e.ts < b + interval '1 day'
    GROUP BY b),
     stored AS (SELECT v.bucket, v.numerator, v.denominator FROM tripl.metric_values v
                JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'rl_rev_per_wau')
SELECT count(h.bucket) AS hand_rows, count(s.bucket) AS stored_rows,
       count(*) FILTER (WHERE h.num IS DISTINCT FROM s.numerator OR h.den IS DISTINCT FROM s.denominator) AS different
FROM hand h FULL JOIN stored s ON s.bucket = h.bucket;
SELECT count(*) FILTER (WHERE v.numerator IS NOT NULL OR v.denominator IS NOT NULL) AS single_with_operands
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'rl_wau';
-- the rolling values differ from per-day ones, and the monthly one grows as history accumulates
SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'rl_mau' AND v.bucket IN ('2026-03-01', '2026-03-02', '2026-03-11', '2026-03-12', '2026-03-28', '2026-04-14')
ORDER BY 1;
SELECT count(DISTINCT user_id) AS day1_users, (SELECT count(DISTINCT user_id) FROM rl_events WHERE ts < '2026-03-03') AS days12_users
FROM rl_events WHERE ts < '2026-03-02';

-- A window starting after the data began reads the days before it
SELECT tripl.create_metric('rl_wau_late', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '7 days') > 0 AS ok;
SELECT metric, window_from, rows_written, status FROM tripl.collect('rl_wau_late', '2026-03-20', '2026-03-25');
SELECT * FROM rl_check('rl_wau_late', rl_hand('count(DISTINCT e.user_id)', '1 day', '7 days', '2026-03-20', '2026-03-25'));

-- Hourly sums, counts, averages, minima, maxima over 6 hours and a p90 over
-- 3 hours, collected in chunks of 100 buckets: windows cross chunks
SELECT tripl.create_metric('rl_sum6h', 'fact', fact_table => 'rl_events', aggregation => 'sum',
                           measure_column => 'amount', "window" => '6 hours', filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_count6h', 'fact', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '6 hours', filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_avg6h', 'fact', fact_table => 'rl_events', aggregation => 'avg',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_min6h', 'fact', fact_table => 'rl_events', aggregation => 'min',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_max6h', 'fact', fact_table => 'rl_events', aggregation => 'max',
                           measure_column => 'amount', "window" => '6 hours', filter_sql => 'status = ''refund''') > 0 AS ok;
SELECT tripl.create_metric('rl_p90_3h', 'fact', fact_table => 'rl_events', aggregation => 'percentile',
                           measure_column => 'amount', percentile => 0.9, "window" => '3 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_count_plain', 'fact', fact_table => 'rl_events', aggregation => 'count') > 0 AS ok;
SET tripl.chunk_buckets = 100;
SELECT metric, rows_written, status FROM tripl.collect(window_from => '2026-03-05', window_to => '2026-03-25')
WHERE metric ~ '^rl_(.*6h|p90_3h|count_plain)$' ORDER BY metric;
RESET tripl.chunk_buckets;
SELECT * FROM rl_check('rl_sum6h', rl_hand('sum(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25', 'e.status = ''ok'''));
SELECT * FROM rl_check('rl_count6h', rl_hand('count(*)', '1 hour', '6 hours', '2026-03-05', '2026-03-25', 'e.status = ''ok'''));
SELECT * FROM rl_check('rl_avg6h', rl_hand('avg(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25'));
SELECT * FROM rl_check('rl_min6h', rl_hand('min(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25'));
SELECT * FROM rl_check('rl_max6h', rl_hand('max(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25', 'e.status = ''refund'''));
SELECT * FROM rl_check('rl_p90_3h', rl_hand('percentile_cont(0.9) WITHIN GROUP (ORDER BY e.amount::float8)', '1 hour', '3 hours',
                                            '2026-03-05', '2026-03-25'));
SELECT * FROM rl_check('rl_count_plain', rl_hand('count(*)', '1 hour', '1 hour', '2026-03-05', '2026-03-25'));
-- the empty days 2026-03-11 and 12: the 6-hour windows reaching back into
-- 2026-03-10 have values until 04:00 on the 11th, then gaps until the 13th
SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'rl_count6h' AND v.bucket BETWEEN '2026-03-11 03:00' AND '2026-03-13 01:00' ORDER BY 1;

-- Incremental collection: the resume window of each pass, values equal to
-- a full recomputation
SELECT tripl.create_metric('rl_mau_inc', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '28 days') > 0 AS ok;
SELECT tripl.create_metric('rl_sum6h_inc', 'fact', fact_table => 'rl_events', aggregation => 'sum',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
RESET client_min_messages;
SET tripl.mock_now = '2026-04-05 07:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%inc' ORDER BY metric;
SET tripl.mock_now = '2026-04-06 10:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%inc' ORDER BY metric;
SET tripl.mock_now = '2026-04-09 02:10+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%inc' ORDER BY metric;
RESET tripl.mock_now;
SET client_min_messages = warning;
SELECT * FROM rl_check('rl_mau_inc', rl_hand('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-06', '2026-04-09'));
SELECT * FROM rl_check('rl_sum6h_inc', rl_hand('sum(e.amount)', '1 hour', '6 hours', '2026-04-04 01:00', '2026-04-09 02:00'));

-- Incremental passes keep per-bucket states (C engine: tripl.rolling_states)
-- and read only the buckets they recollect.  Due passes every 3 hours over
-- two days store exactly what one full backfill of the same window stores.
SELECT tripl.create_metric('rl_mau_hr', 'fact', bucket => '1 day', fact_table => 'rl_events',
                           aggregation => 'count_distinct', distinct_column => 'user_name', "window" => '28 days',
                           filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_rev_per_wau_hr', 'fact', bucket => '1 day', "window" => '7 days',
                           numerator => '{"fact_table": "rl_events", "aggregation": "sum", "measure_column": "amount"}',
                           denominator => '{"fact_table": "rl_events", "aggregation": "count_distinct", "distinct_column": "user_id"}') > 0 AS ok;
SELECT tripl.create_metric('rl_p50_4h', 'fact', fact_table => 'rl_events', aggregation => 'percentile',
                           measure_column => 'amount', percentile => 0.5, "window" => '4 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_max4h', 'fact', fact_table => 'rl_events', aggregation => 'max',
                           measure_column => 'amount', "window" => '4 hours') > 0 AS ok;
CREATE TABLE rl_passes AS
SELECT '2026-04-02 00:30+00'::timestamptz + h * interval '1 hour' AS now FROM generate_series(0, 48, 3) h;
CREATE FUNCTION rl_pass(now timestamptz) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM set_config('tripl.mock_now', now::text, false);
    SELECT count(*) INTO n FROM tripl.collect()
    WHERE metric IN ('rl_mau_hr', 'rl_rev_per_wau_hr', 'rl_p50_4h', 'rl_max4h') AND status = 'success';
    RETURN n;
END $$;
SELECT count(*) AS passes, sum(rl_pass(now)) AS successful_collections FROM (SELECT now FROM rl_passes ORDER BY now) p;
CREATE TABLE rl_incremental AS
SELECT m.name, v.bucket, v.value, v.numerator, v.denominator FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name IN ('rl_mau_hr', 'rl_rev_per_wau_hr', 'rl_p50_4h', 'rl_max4h');
SET tripl.mock_now = '2026-04-04 00:00+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr', '2026-03-03', '2026-04-04')
UNION ALL SELECT metric, window_from, window_to, status FROM tripl.collect('rl_rev_per_wau_hr', '2026-03-03', '2026-04-04')
UNION ALL SELECT metric, window_from, window_to, status FROM tripl.collect('rl_p50_4h', '2026-03-03', '2026-04-04')
UNION ALL SELECT metric, window_from, window_to, status FROM tripl.collect('rl_max4h', '2026-03-03', '2026-04-04');
RESET tripl.mock_now;
-- equal to the last bit: values (and a ratio's operands) differing, or
-- present on one side only
SELECT i.name, count(*) AS incremental_buckets,
       count(*) FILTER (WHERE f.value IS NULL OR float8send(f.value) <> float8send(i.value)
                        OR f.numerator IS DISTINCT FROM i.numerator
                        OR f.denominator IS DISTINCT FROM i.denominator) AS differing,
       (SELECT count(*) FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
        WHERE m.name = i.name AND v.bucket >= (SELECT min(j.bucket) FROM rl_incremental j WHERE j.name = i.name)
          AND NOT EXISTS (SELECT 1 FROM rl_incremental j WHERE j.name = i.name AND j.bucket = v.bucket)) AS only_in_backfill
FROM rl_incremental i
LEFT JOIN (SELECT m.name, v.bucket, v.value, v.numerator, v.denominator
           FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id) f
       ON f.name = i.name AND f.bucket = i.bucket
GROUP BY i.name ORDER BY i.name;
SELECT * FROM rl_check('rl_mau_hr', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-03', '2026-04-04',
                                            'e.status = ''ok'''));
SELECT * FROM rl_check('rl_p50_4h', rl_hand('percentile_cont(0.5) WITHIN GROUP (ORDER BY e.amount::float8)', '1 hour', '4 hours',
                                            '2026-03-03', '2026-04-04'));

-- What an incremental pass cannot see (C engine): a row arriving late in a
-- bucket older than the two a due pass recollects.  Like a per-bucket
-- metric, the rolling metric picks it up when a replay rescans that bucket;
-- the replay also replaces the stored states, and later due passes agree
-- with the hand-written window again.
SET tripl.engine = c;
SET tripl.mock_now = '2026-04-05 00:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr');
-- the newest window + 1 buckets are kept
SELECT count(*) AS states, min(bucket), max(bucket) FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id
WHERE m.name = 'rl_mau_hr';
INSERT INTO rl_events VALUES (-1, '2026-03-20 12:00+00', 100000, 'late_user', 5, 'ok');
SET tripl.mock_now = '2026-04-05 03:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr');
SELECT * FROM rl_check('rl_mau_hr', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-03', '2026-04-05',
                                            'e.status = ''ok'''));
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr', '2026-03-20', '2026-04-05');
SELECT * FROM rl_check('rl_mau_hr', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-03', '2026-04-05',
                                            'e.status = ''ok'''));
SET tripl.mock_now = '2026-04-06 01:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr');
SELECT * FROM rl_check('rl_mau_hr', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-03', '2026-04-06',
                                            'e.status = ''ok'''));
-- a stored state that cannot be read fails the shared statement: the
-- metric is computed alone on the SQL path (correct), its states are
-- dropped, and the next pass rescans and stores them again
UPDATE tripl.rolling_states s SET state = '\x00'::bytea FROM rl_mine m WHERE m.id = s.metric_id AND m.name = 'rl_mau_hr';
SET tripl.mock_now = '2026-04-06 02:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr');
SELECT count(*) AS states FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id WHERE m.name = 'rl_mau_hr';
SET tripl.mock_now = '2026-04-06 03:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_hr');
SELECT count(*) AS states, min(bucket), max(bucket) FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id
WHERE m.name = 'rl_mau_hr';
SELECT * FROM rl_check('rl_mau_hr', rl_hand('count(DISTINCT e.user_name)', '1 day', '28 days', '2026-03-03', '2026-04-06',
                                            'e.status = ''ok'''));
-- a new bucket width clears the states with the values
SELECT tripl.alter_metric('rl_mau_hr', bucket => '12 hours');
SELECT count(*) AS states FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id WHERE m.name = 'rl_mau_hr';
RESET tripl.mock_now;
RESET tripl.engine;
DELETE FROM rl_events WHERE id = -1;
DROP TABLE rl_incremental, rl_passes;
DROP FUNCTION rl_pass(timestamptz);

-- Breakdowns of rolling metrics: the value of breakdown value v at bucket b
-- aggregates the rows with that value in [end(b) - window, end(b)), as a
-- hand-written window query per group gives; a value without a row in the
-- whole window is a gap.  The country column: US, DE, FR, NULL, and IT only
-- on 2026-03-21..23 and 2026-03-31 (it appears and disappears within the
-- windows).
ALTER TABLE rl_events ADD COLUMN country text;
UPDATE rl_events SET country = CASE WHEN id % 11 = 0 THEN NULL
                                    WHEN id % 5 = 0 AND (id / 300 BETWEEN 20 AND 22 OR id / 300 = 30) THEN 'IT'
                                    ELSE (ARRAY['US', 'DE', 'FR'])[1 + id % 3] END;
SELECT tripl.create_fact_table('rl_bd_events', 'SELECT ts, user_id, user_name, amount, status, country FROM rl_events',
                               'ts') > 0 AS ok;
-- stored breakdown rows against a hand-written query of (bucket, grp, value)
CREATE FUNCTION rl_check_bd(metric text, hand text, bd_column text DEFAULT 'country')
RETURNS TABLE (hand_rows bigint, stored_rows bigint, missing bigint, extra bigint, different bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH hand AS (%s),
             stored AS (SELECT v.bucket, v.breakdown_value AS grp, v.value FROM tripl.metric_breakdowns v
                        JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = %L AND v.breakdown_column = %L)
        SELECT count(h.bucket), count(s.bucket),
               count(*) FILTER (WHERE s.bucket IS NULL), count(*) FILTER (WHERE h.bucket IS NULL),
               count(*) FILTER (WHERE abs(h.value - s.value) > 1e-9 * greatest(1, abs(h.value)))
        FROM hand h FULL JOIN stored s ON s.bucket = h.bucket AND s.grp IS NOT DISTINCT FROM h.grp
    $q$, hand, metric, bd_column);
END $$;
-- the hand-written rolling aggregate per group (grp: an expression over e)
CREATE FUNCTION rl_hand_bd(agg text, w interval, win interval, f timestamptz, t timestamptz,
                           grp text DEFAULT 'e.country', cond text DEFAULT 'true') RETURNS text
LANGUAGE sql AS $$
    SELECT format($h$
        SELECT * FROM (
            SELECT b AS bucket, (%s)::text AS grp, (%s)::float8 AS value
            FROM generate_series(%L::timestamptz, %L::timestamptz - %L::interval, %L::interval) b
            JOIN rl_events e ON e.ts >= b + %L::interval - %L::interval AND e.ts < b + %L::interval AND (%s)
            GROUP BY 1, 2) x
        WHERE value IS NOT NULL$h$, grp, agg, f, t, w, w, w, win, w, cond)
$$;
-- the top n values of country by rows in [f, t), the rest as 'Other'
CREATE FUNCTION rl_top(n int, f timestamptz, t timestamptz) RETURNS text
LANGUAGE sql AS $$
    SELECT format($g$CASE WHEN e.country IN (%s) THEN e.country ELSE 'Other' END$g$,
                  string_agg(quote_literal(country), ', '))
    FROM (SELECT country FROM rl_events WHERE ts >= f AND ts < t GROUP BY 1
          ORDER BY count(*) DESC, country COLLATE "C" NULLS LAST LIMIT n) top
$$;

-- 7- and 28-day distinct users by country on New York days, across the
-- DST change of 2026-03-08; a rolling ratio (revenue per weekly active
-- user) by country; 28-day distinct users keeping the top 2 countries
-- (the others, NULL included, fold into 'Other', ranked over the rows the
-- collected buckets aggregate)
SELECT tripl.create_metric('rl_wau_ny_bd', 'fact', bucket => '1 day', timezone => 'America/New_York',
                           fact_table => 'rl_bd_events', aggregation => 'count_distinct',
                           distinct_column => 'user_id', "window" => '7 days', breakdowns => '{country}') > 0 AS ok;
SELECT tripl.create_metric('rl_mau_ny_bd', 'fact', bucket => '1 day', timezone => 'America/New_York',
                           fact_table => 'rl_bd_events', aggregation => 'count_distinct',
                           distinct_column => 'user_name', "window" => '28 days', breakdowns => '{country}') > 0 AS ok;
SELECT tripl.create_metric('rl_rev_per_wau_bd', 'fact', bucket => '1 day', "window" => '7 days', breakdowns => '{country}',
                           numerator => '{"fact_table": "rl_bd_events", "aggregation": "sum", "measure_column": "amount"}',
                           denominator => '{"fact_table": "rl_bd_events", "aggregation": "count_distinct", "distinct_column": "user_id"}') > 0 AS ok;
SELECT tripl.create_metric('rl_mau_top_bd', 'fact', bucket => '1 day', fact_table => 'rl_bd_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '28 days',
                           breakdowns => '{country}', breakdown_values_limit => 3) > 0 AS ok;
SELECT c.* FROM unnest('{rl_wau_ny_bd, rl_mau_ny_bd}'::text[]) n,
     LATERAL (SELECT metric, rows_written, status FROM tripl.collect(n, '2026-03-02 05:00+00', '2026-04-14 04:00+00')) c;
SELECT c.* FROM unnest('{rl_rev_per_wau_bd, rl_mau_top_bd}'::text[]) n,
     LATERAL (SELECT metric, rows_written, status FROM tripl.collect(n, '2026-03-01', '2026-04-15')) c;
SELECT * FROM rl_check_bd('rl_wau_ny_bd', $h$
    SELECT (d::timestamp AT TIME ZONE 'America/New_York') AS bucket, e.country AS grp, count(DISTINCT e.user_id)::float8 AS value
    FROM generate_series(date '2026-03-02', date '2026-04-13', interval '1 day') d
    JOIN rl_events e ON e.ts >= ((d - interval '6 days')::timestamp AT TIME ZONE 'America/New_York')
                    AND e.ts < ((d + interval '1 day')::timestamp AT TIME ZONE 'America/New_York')
    GROUP BY 1, 2$h$);
SELECT * FROM rl_check_bd('rl_mau_ny_bd', $h$
    SELECT (d::timestamp AT TIME ZONE 'America/New_York') AS bucket, e.country AS grp, count(DISTINCT e.user_name)::float8 AS value
    FROM generate_series(date '2026-03-02', date '2026-04-13', interval '1 day') d
    JOIN rl_events e ON e.ts >= ((d - interval '27 days')::timestamp AT TIME ZONE 'America/New_York')
                    AND e.ts < ((d + interval '1 day')::timestamp AT TIME ZONE 'America/New_York')
    GROUP BY 1, 2$h$);
SELECT * FROM rl_check_bd('rl_rev_per_wau_bd', rl_hand_bd('coalesce(sum(e.amount), 0)::float8 / count(DISTINCT e.user_id)',
                                                          '1 day', '7 days', '2026-03-01', '2026-04-15'));
SELECT * FROM rl_check_bd('rl_mau_top_bd', rl_hand_bd('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-01', '2026-04-15',
                                                      rl_top(2, '2026-02-02', '2026-04-15')));
-- 3-month windows on Berlin months, by country
SELECT tripl.create_metric('rl_q_berlin_bd', 'fact', bucket => '1 month', timezone => 'Europe/Berlin',
                           fact_table => 'rl_bd_events', aggregation => 'count', "window" => '3 months',
                           breakdowns => '{country}') > 0 AS ok;
SELECT metric, rows_written, status FROM tripl.collect('rl_q_berlin_bd', '2025-12-31 23:00+00', '2026-05-31 22:00+00');
SELECT * FROM rl_check_bd('rl_q_berlin_bd', $h$
    SELECT (d::timestamp AT TIME ZONE 'Europe/Berlin') AS bucket, e.country AS grp, count(*)::float8 AS value
    FROM generate_series(date '2026-01-01', date '2026-05-01', interval '1 month') d
    JOIN rl_events e ON e.ts >= ((d - interval '2 months')::timestamp AT TIME ZONE 'Europe/Berlin')
                    AND e.ts < ((d + interval '1 month')::timestamp AT TIME ZONE 'Europe/Berlin')
    GROUP BY 1, 2$h$);
-- IT over the New York weeks: from its first rows (the evening of
-- 2026-03-20, New York time), falling as its days leave the window, then
-- again from its rows of the evening of 2026-03-30 for 7 days
SELECT v.bucket, v.value FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
WHERE m.name = 'rl_wau_ny_bd' AND v.breakdown_value = 'IT' ORDER BY 1;
SELECT breakdown_value, is_other, count(*) AS buckets FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
WHERE m.name = 'rl_mau_top_bd' GROUP BY 1, 2 ORDER BY 1;

-- Hourly sums and counts by country over 6 hours (windows crossing chunks
-- of 100 buckets), averages, minima and maxima, and a sum keeping the top
-- 2 countries ranked once over every chunk's rows
SELECT tripl.create_metric('rl_sum6h_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'sum', breakdowns => '{country}',
                           measure_column => 'amount', "window" => '6 hours', filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_count6h_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'count', breakdowns => '{country}',
                           "window" => '6 hours', filter_sql => 'status = ''ok''') > 0 AS ok;
SELECT tripl.create_metric('rl_avg6h_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'avg', breakdowns => '{country}',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_min6h_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'min', breakdowns => '{country}',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SELECT tripl.create_metric('rl_max6h_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'max', breakdowns => '{country}',
                           measure_column => 'amount', "window" => '6 hours', filter_sql => 'status = ''refund''') > 0 AS ok;
SELECT tripl.create_metric('rl_sum6h_top_bd', 'fact', fact_table => 'rl_bd_events', aggregation => 'sum', breakdowns => '{country}',
                           breakdown_values_limit => 3, measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SET tripl.chunk_buckets = 100;
SELECT c.* FROM unnest('{rl_sum6h_bd, rl_count6h_bd, rl_avg6h_bd, rl_min6h_bd, rl_max6h_bd, rl_sum6h_top_bd}'::text[]) n,
     LATERAL (SELECT metric, rows_written, status FROM tripl.collect(n, '2026-03-05', '2026-03-25')) c;
RESET tripl.chunk_buckets;
SELECT * FROM rl_check_bd('rl_sum6h_bd', rl_hand_bd('sum(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25',
                                                    cond => 'e.status = ''ok'''));
SELECT * FROM rl_check_bd('rl_count6h_bd', rl_hand_bd('count(*)', '1 hour', '6 hours', '2026-03-05', '2026-03-25',
                                                      cond => 'e.status = ''ok'''));
SELECT * FROM rl_check_bd('rl_avg6h_bd', rl_hand_bd('avg(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25'));
SELECT * FROM rl_check_bd('rl_min6h_bd', rl_hand_bd('min(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25'));
SELECT * FROM rl_check_bd('rl_max6h_bd', rl_hand_bd('max(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25',
                                                    cond => 'e.status = ''refund'''));
SELECT * FROM rl_check_bd('rl_sum6h_top_bd', rl_hand_bd('sum(e.amount)', '1 hour', '6 hours', '2026-03-05', '2026-03-25',
                                                        rl_top(2, '2026-03-04 19:00', '2026-03-25')));
-- IT appears at 2026-03-21 00:00 and its 6-hour count lasts until 05:00 on the 24th
SELECT min(v.bucket), max(v.bucket), count(*) FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
WHERE m.name = 'rl_count6h_bd' AND v.breakdown_value = 'IT';

-- Due passes after a backfill (incremental): a rolling metric with
-- breakdowns keeps, besides its operands' states, each bucket's cells per
-- breakdown value (tripl.rolling_states, operand 2 + the column's index;
-- C engine), and a due pass reads only the buckets it recollects.  The
-- values equal the hand-written window and a full backfill, to the last
-- bit.  A rolling ratio by the same column and a metric without
-- breakdowns share the source and window.
SELECT tripl.create_metric('rl_mau_bd_inc', 'fact', bucket => '1 day', fact_table => 'rl_bd_events', breakdowns => '{country}',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '28 days') > 0 AS ok;
SELECT tripl.create_metric('rl_mau_nobd_inc', 'fact', bucket => '1 day', fact_table => 'rl_bd_events',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '28 days') > 0 AS ok;
SELECT tripl.create_metric('rl_rev_bd_inc', 'fact', bucket => '1 day', "window" => '28 days', breakdowns => '{country, status}',
                           numerator => '{"fact_table": "rl_bd_events", "aggregation": "sum", "measure_column": "amount"}',
                           denominator => '{"fact_table": "rl_bd_events", "aggregation": "count_distinct", "distinct_column": "user_id"}') > 0 AS ok;
SELECT tripl.create_metric('rl_sum6h_bd_inc', 'fact', fact_table => 'rl_bd_events', aggregation => 'sum', breakdowns => '{country}',
                           measure_column => 'amount', "window" => '6 hours') > 0 AS ok;
SELECT c.* FROM unnest('{rl_mau_bd_inc, rl_mau_nobd_inc, rl_rev_bd_inc, rl_sum6h_bd_inc}'::text[]) n,
     LATERAL (SELECT metric, rows_written, status FROM tripl.collect(n, '2026-03-10', '2026-04-02')) c;
RESET client_min_messages;
SET tripl.mock_now = '2026-04-02 07:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%bd\_inc' ORDER BY metric;
SET tripl.mock_now = '2026-04-03 10:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%bd\_inc' ORDER BY metric;
SET tripl.mock_now = '2026-04-03 13:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%bd\_inc' ORDER BY metric;
SET tripl.mock_now = '2026-04-04 02:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric LIKE 'rl\_%bd\_inc' ORDER BY metric;
RESET tripl.mock_now;
SET client_min_messages = warning;
-- window + 1 buckets per operand and breakdown column on the C engine (the
-- SQL path keeps none); a breakdown folding into 'Other' keeps no cells
SELECT e.name, e.operand, count(s.bucket) = CASE current_setting('tripl.engine') WHEN 'c' THEN e.kept ELSE 0 END AS as_expected
FROM (VALUES ('rl_mau_bd_inc', 0, 29), ('rl_mau_bd_inc', 2, 29), ('rl_mau_nobd_inc', 0, 29),
             ('rl_rev_bd_inc', 0, 29), ('rl_rev_bd_inc', 1, 29), ('rl_rev_bd_inc', 2, 29), ('rl_rev_bd_inc', 3, 29),
             ('rl_sum6h_bd_inc', 0, 7), ('rl_sum6h_bd_inc', 2, 7), ('rl_mau_top_bd', 0, 29), ('rl_mau_top_bd', 2, 0)) e(name, operand, kept)
JOIN rl_mine m ON m.name = e.name LEFT JOIN tripl.rolling_states s ON s.metric_id = m.id AND s.operand = e.operand
GROUP BY e.name, e.operand, e.kept ORDER BY 1, 2;
SELECT * FROM rl_check_bd('rl_mau_bd_inc', rl_hand_bd('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-10', '2026-04-04'));
SELECT * FROM rl_check_bd('rl_sum6h_bd_inc', rl_hand_bd('sum(e.amount)', '1 hour', '6 hours', '2026-03-10', '2026-04-04 02:00'));
SELECT * FROM rl_check('rl_mau_nobd_inc', rl_hand('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-10', '2026-04-04'));
SELECT * FROM rl_check_bd('rl_rev_bd_inc', rl_hand_bd('coalesce(sum(e.amount), 0)::float8 / count(DISTINCT e.user_id)',
                                                      '1 day', '28 days', '2026-03-10', '2026-04-04'));
SELECT * FROM rl_check_bd('rl_rev_bd_inc', rl_hand_bd('coalesce(sum(e.amount), 0)::float8 / count(DISTINCT e.user_id)',
                                                      '1 day', '28 days', '2026-03-10', '2026-04-04', 'e.status'),
                          'status');
CREATE TABLE rl_incremental AS
SELECT m.name, v.breakdown_column, v.bucket, v.breakdown_value, v.is_other, v.value
FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
WHERE m.name LIKE 'rl\_%bd\_inc';
SELECT metric, rows_written, status FROM tripl.collect('rl_mau_bd_inc', '2026-03-10', '2026-04-04')
UNION ALL SELECT metric, rows_written, status FROM tripl.collect('rl_rev_bd_inc', '2026-03-10', '2026-04-04')
UNION ALL SELECT metric, rows_written, status FROM tripl.collect('rl_sum6h_bd_inc', '2026-03-10', '2026-04-04 02:00');
SELECT i.name, count(*) AS incremental_rows,
       count(*) FILTER (WHERE f.value IS NULL OR float8send(f.value) <> float8send(i.value)) AS differing,
       (SELECT count(*) FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
        WHERE m.name = i.name AND NOT EXISTS (SELECT 1 FROM rl_incremental j WHERE j.name = i.name AND j.bucket = v.bucket
                                              AND j.breakdown_column = v.breakdown_column
                                              AND j.breakdown_value IS NOT DISTINCT FROM v.breakdown_value)) AS only_in_backfill
FROM rl_incremental i
LEFT JOIN (SELECT m.name, v.breakdown_column, v.bucket, v.breakdown_value, v.value
           FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id) f
       ON f.name = i.name AND f.breakdown_column = i.breakdown_column AND f.bucket = i.bucket
      AND f.breakdown_value IS NOT DISTINCT FROM i.breakdown_value
GROUP BY i.name ORDER BY i.name;
DROP TABLE rl_incremental;
-- A due pass reads only its own buckets (C engine): a row arriving late in
-- an older bucket, of a new country, is not seen until a replay rescans
-- that bucket; later due passes then agree with the hand-written window
SET tripl.engine = c;
SET tripl.mock_now = '2026-04-04 04:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc');
INSERT INTO rl_events VALUES (-2, '2026-03-20 12:00+00', 100001, 'late_user', 5, 'ok', 'XX');
SET tripl.mock_now = '2026-04-04 05:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc');
SELECT count(*) AS xx_rows FROM tripl.metric_breakdowns v JOIN rl_mine m ON m.id = v.metric_id
WHERE m.name = 'rl_mau_bd_inc' AND v.breakdown_value = 'XX';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc', '2026-03-20', '2026-04-04');
SET tripl.mock_now = '2026-04-05 01:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc');
SELECT * FROM rl_check_bd('rl_mau_bd_inc', rl_hand_bd('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-10', '2026-04-05'));
-- a stored cell image that cannot be read: the metric is computed alone on
-- the SQL path (correct), its states are dropped, the next pass stores them
UPDATE tripl.rolling_states s SET state = '\x00'::bytea FROM rl_mine m
WHERE m.id = s.metric_id AND m.name = 'rl_mau_bd_inc' AND s.operand = 2;
SET tripl.mock_now = '2026-04-05 02:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc');
SELECT count(*) AS states FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id WHERE m.name = 'rl_mau_bd_inc';
SET tripl.mock_now = '2026-04-05 03:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect('rl_mau_bd_inc');
SELECT s.operand, count(*) AS states FROM tripl.rolling_states s JOIN rl_mine m ON m.id = s.metric_id
WHERE m.name = 'rl_mau_bd_inc' GROUP BY 1 ORDER BY 1;
SELECT * FROM rl_check_bd('rl_mau_bd_inc', rl_hand_bd('count(DISTINCT e.user_id)', '1 day', '28 days', '2026-03-10', '2026-04-05'));
RESET tripl.mock_now;
RESET tripl.engine;
DELETE FROM rl_events WHERE id = -2;

-- Breakdowns added to a rolling metric through definitions as code (the
-- field replaces the metric): then collected like the others
SELECT tripl.create_metric('rl_wau_later_bd', 'fact', bucket => '1 day', fact_table => 'rl_bd_events',
                           aggregation => 'count', "window" => '7 days') > 0 AS ok;
WITH d AS (SELECT tripl.export_definitions() AS doc),
     ms AS (SELECT jsonb_agg(CASE WHEN x ->> 'name' = 'rl_wau_later_bd' THEN jsonb_set(x, '{breakdowns}', '["country"]') ELSE x END
                             ORDER BY n) AS metrics
            FROM d, jsonb_array_elements(d.doc -> 'metrics') WITH ORDINALITY AS a(x, n))
SELECT object_type, name, action FROM tripl.apply_definitions((SELECT jsonb_set(doc, '{metrics}', metrics) FROM d, ms),
                                                              dry_run => false)
WHERE action <> 'unchanged';
SELECT name, breakdowns, "window" FROM tripl.metrics WHERE name = 'rl_wau_later_bd';
SELECT metric, rows_written, status FROM tripl.collect('rl_wau_later_bd', '2026-03-15', '2026-03-25');
SELECT * FROM rl_check_bd('rl_wau_later_bd', rl_hand_bd('count(*)', '1 day', '7 days', '2026-03-15', '2026-03-25'));
-- explain_metric says the window covers the breakdowns, and whether
-- passes may read only their own buckets (not with a values limit)
SELECT position('per breakdown value too' IN tripl.explain_metric('rl_wau_later_bd')) > 0 AS explained,
       position('breakdown cells included' IN tripl.explain_metric('rl_wau_later_bd')) > 0 AS states_kept,
       position('every pass reads from there' IN tripl.explain_metric('rl_mau_top_bd')) > 0 AS top_rescans;
-- a breakdown with an invalid window is still refused, and nothing is created
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_bd_events', aggregation => 'count',
                           "window" => '36 hours', breakdowns => '{country}');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_bd_events', aggregation => 'count',
                           "window" => '7 days', breakdowns => '{no_such_column}');
SELECT count(*) AS bad_metrics FROM rl_mine WHERE name = 'rl_bad';

-- The catalog and explain_metric show the window
SELECT name, bucket, "window" FROM tripl.catalog WHERE name IN ('rl_wau', 'rl_mau', 'rl_sum6h', 'rl_count_plain') ORDER BY name;
SELECT position('rolling over 28 buckets' IN tripl.explain_metric('rl_mau')) > 0 AS explained;

-- Local days (calendar time): 7- and 28-day distinct users on daily buckets
-- in America/New_York across its DST change of 2026-03-08 (a 23-hour day),
-- against hand-written SQL over local dates; and a 3-month window on
-- monthly buckets in Europe/Berlin
SELECT tripl.create_metric('rl_wau_ny', 'fact', bucket => '1 day', timezone => 'America/New_York',
                           fact_table => 'rl_events', aggregation => 'count_distinct',
                           distinct_column => 'user_id', "window" => '7 days') > 0 AS ok;
SELECT tripl.create_metric('rl_mau_ny', 'fact', bucket => '1 day', timezone => 'America/New_York',
                           fact_table => 'rl_events', aggregation => 'count_distinct',
                           distinct_column => 'user_name', "window" => '28 days') > 0 AS ok;
SELECT tripl.create_metric('rl_q_berlin', 'fact', bucket => '1 month', timezone => 'Europe/Berlin',
                           fact_table => 'rl_events', aggregation => 'count', "window" => '3 months') > 0 AS ok;
SELECT metric, rows_written, status
FROM tripl.collect(window_from => '2026-03-02 05:00+00', window_to => '2026-04-14 04:00+00')
WHERE metric IN ('rl_wau_ny', 'rl_mau_ny') ORDER BY metric;
SELECT metric, rows_written, status
FROM tripl.collect('rl_q_berlin', '2025-12-31 23:00+00', '2026-05-31 22:00+00');
SELECT * FROM rl_check('rl_wau_ny', $h$
    SELECT (d::timestamp AT TIME ZONE 'America/New_York') AS bucket, count(DISTINCT e.user_id)::float8 AS value
    FROM generate_series(date '2026-03-02', date '2026-04-13', interval '1 day') d
    JOIN rl_events e ON e.ts >= ((d - interval '6 days')::timestamp AT TIME ZONE 'America/New_York')
                    AND e.ts < ((d + interval '1 day')::timestamp AT TIME ZONE 'America/New_York')
    GROUP BY 1$h$);
SELECT * FROM rl_check('rl_mau_ny', $h$
    SELECT (d::timestamp AT TIME ZONE 'America/New_York') AS bucket, count(DISTINCT e.user_name)::float8 AS value
    FROM generate_series(date '2026-03-02', date '2026-04-13', interval '1 day') d
    JOIN rl_events e ON e.ts >= ((d - interval '27 days')::timestamp AT TIME ZONE 'America/New_York')
                    AND e.ts < ((d + interval '1 day')::timestamp AT TIME ZONE 'America/New_York')
    GROUP BY 1$h$);
SELECT * FROM rl_check('rl_q_berlin', $h$
    SELECT (d::timestamp AT TIME ZONE 'Europe/Berlin') AS bucket, count(*)::float8 AS value
    FROM generate_series(date '2026-01-01', date '2026-05-01', interval '1 month') d
    JOIN rl_events e ON e.ts >= ((d - interval '2 months')::timestamp AT TIME ZONE 'Europe/Berlin')
                    AND e.ts < ((d + interval '1 month')::timestamp AT TIME ZONE 'Europe/Berlin')
    GROUP BY 1$h$);
-- the 23-hour local day is one bucket of the 7-day window
SELECT bucket, value FROM tripl.series('rl_wau_ny', '2026-03-08 05:00+00', '2026-03-10 04:00+00') ORDER BY bucket;
-- a window over local days must be whole days; over months whole months
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', timezone => 'America/New_York',
                           fact_table => 'rl_events', aggregation => 'count', "window" => '36 hours');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 month', timezone => 'Europe/Berlin',
                           fact_table => 'rl_events', aggregation => 'count', "window" => '90 days');

-- Refusals: nothing is created
SELECT count(*) AS metrics_before FROM rl_mine;
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '36 hours');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '-7 days');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '0 days');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '1 month');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 day', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '401 days');
SELECT tripl.create_metric('rl_bad', 'fact', bucket => '1 hour', fact_table => 'rl_events', aggregation => 'count',
                           "window" => '30 days');
SELECT tripl.create_metric('rl_bad', 'sql', bucket => '1 day', query => 'SELECT ts, amount AS value FROM rl_events',
                           time_column => 'ts', "window" => '7 days');
SELECT tripl.create_event_source('rl_es', 'SELECT ts, status AS event FROM rl_events', 'ts', 'event') > 0 AS ok;
SELECT tripl.create_metric('rl_bad', 'event_composition', bucket => '1 day', event_source => 'rl_es',
                           numerator_event => 'ok', "window" => '7 days');
SELECT count(*) AS metrics_after FROM rl_mine;

-- Clean up
SELECT count(*) AS dropped FROM (SELECT tripl.drop_metric(name) FROM rl_mine) d;
-- dropping a metric drops its stored states
SELECT count(*) AS states_left FROM tripl.rolling_states;
SELECT tripl.drop_event_source('rl_es');
SELECT tripl.drop_fact_table('rl_events');
SELECT tripl.drop_fact_table('rl_bd_events');
DROP VIEW rl_mine;
DROP FUNCTION rl_check(text, text), rl_hand(text, interval, interval, timestamptz, timestamptz, text),
              rl_check_bd(text, text, text), rl_hand_bd(text, interval, interval, timestamptz, timestamptz, text, text),
              rl_top(int, timestamptz, timestamptz);
DROP TABLE rl_events;
