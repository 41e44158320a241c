-- Collection: every kind, aggregation, filter, ratio, event composition and
-- breakdown, compared with hand-written SQL over the same data.  check()
-- reports how many rows each side has and how many are missing or extra.
-- The session time zone stays pg_regress's PST8PDT on purpose (buckets are
-- UTC whatever the session's zone); times are shown in ISO style.
SET DateStyle = 'ISO, YMD';

SELECT tripl.drop_metric(name) FROM tripl.metrics ORDER BY name;

CREATE FUNCTION check_values(metric text, hand text)
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

CREATE FUNCTION check_breakdown(metric text, col text, hand text)
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

-- Sources
SELECT tripl.create_fact_table('c_orders',
    'SELECT created_at, amount, amount - 5 AS excess, currency, user_id, country, status FROM orders',
    'created_at', '{user_id}',
    '{"completed": "status = ''completed''", "big": "amount >= 50", "small": "amount <= 15"}') > 0 AS ok;
SELECT tripl.create_fact_table('c_naive', 'SELECT created_at, amount, status FROM orders_naive', 'created_at') > 0 AS ok;
SELECT tripl.create_fact_table('c_daily', 'SELECT day, amount FROM orders_daily', 'day') > 0 AS ok;
SELECT tripl.create_event_source('c_events', 'SELECT event_time, event_name, user_id, platform FROM events',
                                 'event_time', 'event_name', 'user_id') > 0 AS ok;

-- Metrics of every kind
SELECT count(*) AS created FROM (VALUES
  (tripl.create_metric('c_count', 'fact', fact_table => 'c_orders', aggregation => 'count')),
  (tripl.create_metric('c_completed', 'fact', fact_table => 'c_orders', aggregation => 'count', row_filters => '{completed}')),
  (tripl.create_metric('c_rev', 'fact', fact_table => 'c_orders', aggregation => 'sum', measure_column => 'amount',
                       row_filters => '{completed, big}', filter_sql => 'currency = ''USD''')),
  (tripl.create_metric('c_avg', 'fact', fact_table => 'c_orders', aggregation => 'avg', measure_column => 'amount')),
  (tripl.create_metric('c_min', 'fact', fact_table => 'c_orders', aggregation => 'min', measure_column => 'amount',
                       filter_sql => 'status <> ''pending''')),
  (tripl.create_metric('c_max', 'fact', '30 minutes', fact_table => 'c_orders', aggregation => 'max', measure_column => 'amount')),
  (tripl.create_metric('c_excess', 'fact', fact_table => 'c_orders', aggregation => 'sum', measure_column => 'excess',
                       row_filters => '{small}')),
  (tripl.create_metric('c_users', 'fact', '1 day', fact_table => 'c_orders', aggregation => 'count_distinct',
                       distinct_column => 'user_id', breakdowns => '{country, currency}', breakdown_values_limit => 3)),
  (tripl.create_metric('c_completed_users', 'fact', fact_table => 'c_orders', aggregation => 'count_distinct',
                       distinct_column => 'user_id', row_filters => '{completed}')),
  (tripl.create_metric('c_aov', 'fact', '1 day',
      numerator => '{"fact_table": "c_orders", "aggregation": "sum", "measure_column": "amount"}',
      denominator => '{"fact_table": "c_orders", "aggregation": "count"}', breakdowns => '{status}')),
  (tripl.create_metric('c_zero_den', 'fact',
      numerator => '{"fact_table": "c_orders", "aggregation": "count", "row_filters": ["small"]}',
      denominator => '{"fact_table": "c_orders", "aggregation": "sum", "measure_column": "excess", "row_filters": ["small"]}')),
  (tripl.create_metric('c_cross', 'fact', '2 hours',
      numerator => '{"fact_table": "c_orders", "aggregation": "sum", "measure_column": "amount", "row_filters": ["completed"]}',
      denominator => '{"fact_table": "c_naive", "aggregation": "count", "filter_sql": "status = ''pending''"}')),
  (tripl.create_metric('c_sql', 'sql', '1 day',
      query => 'SELECT created_at AS t, amount AS v FROM orders UNION ALL SELECT ''2000-01-01'', 1000000',
      time_column => 't', value_column => 'v')),
  (tripl.create_metric('c_day', 'fact', '1 day', fact_table => 'c_daily', aggregation => 'sum', measure_column => 'amount')),
  (tripl.create_metric('c_purchases', 'event_composition', event_source => 'c_events',
      numerator_event => 'Purchase Completed', breakdowns => '{platform}')),
  (tripl.create_metric('c_conversion', 'event_composition', event_source => 'c_events',
      numerator_event => 'Purchase Completed', denominator_event => 'Home Screen View', breakdowns => '{platform}')),
  (tripl.create_metric('c_per_user', 'event_composition', event_source => 'c_events',
      numerator_event => 'Purchase Completed', composition => 'per_distinct_user'))
) AS t(id);

-- The backfill: every active metric over [Jan 5, Jan 9), batched
SET tripl.mock_now = '2026-01-09 00:00+00';
SELECT metric, window_from, window_to, rows_written, status, error
FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-09 00:00+00')
ORDER BY metric;

-- fact, single: each aggregation, filters ANDed in order
SELECT 'count' AS m, * FROM check_values('c_count',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00') AS bucket, count(*)::float8 AS value FROM orders GROUP BY 1$$)
UNION ALL SELECT 'completed', * FROM check_values('c_completed',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), count(*)::float8 FROM orders WHERE status = 'completed' GROUP BY 1$$)
UNION ALL SELECT 'rev', * FROM check_values('c_rev',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), sum(amount)::float8 FROM orders
    WHERE status = 'completed' AND amount >= 50 AND currency = 'USD' GROUP BY 1$$)
UNION ALL SELECT 'avg', * FROM check_values('c_avg',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), avg(amount)::float8 FROM orders GROUP BY 1$$)
UNION ALL SELECT 'min', * FROM check_values('c_min',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), min(amount)::float8 FROM orders WHERE status <> 'pending' GROUP BY 1$$)
UNION ALL SELECT 'max 30min', * FROM check_values('c_max',
  $$SELECT date_bin('30 minutes', created_at, '1970-01-01 00:00+00'), max(amount)::float8 FROM orders GROUP BY 1$$)
UNION ALL SELECT 'count_distinct', * FROM check_values('c_completed_users',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), count(DISTINCT user_id)::float8 FROM orders
    WHERE status = 'completed' GROUP BY 1$$)
UNION ALL SELECT 'count_distinct daily', * FROM check_values('c_users',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), count(DISTINCT user_id)::float8 FROM orders GROUP BY 1$$)
UNION ALL SELECT 'date column', * FROM check_values('c_day',
  $$SELECT day::timestamp AT TIME ZONE 'UTC', sum(amount)::float8 FROM orders_daily GROUP BY 1$$)
ORDER BY 1;

-- Gaps versus zeros: a bucket with no matching row stores nothing; a bucket
-- whose matching rows sum to 0 stores 0
SELECT count(*) AS hours_without_completed_orders FROM generate_series('2026-01-05 00:00+00'::timestamptz, '2026-01-08 23:00+00', '1 hour') h
WHERE NOT EXISTS (SELECT 1 FROM orders WHERE status = 'completed' AND date_bin('1 hour', created_at, '1970-01-01 00:00+00') = h);
SELECT count(*) AS stored_zero_counts FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name IN ('c_completed', 'c_completed_users') AND v.value = 0;
SELECT 'sum of zeros' AS m, * FROM check_values('c_excess',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), sum(amount - 5)::float8 FROM orders WHERE amount <= 15 GROUP BY 1$$);
SELECT count(*) AS zero_values_kept FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'c_excess' AND v.value = 0;

-- Ratios: same table; divide-by-zero and missing denominator are gaps; two tables
SELECT 'aov' AS m, * FROM check_values('c_aov',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), sum(amount)::float8 / count(*)::float8 FROM orders GROUP BY 1$$)
UNION ALL SELECT 'zero denominator', * FROM check_values('c_zero_den',
  $$SELECT date_bin('1 hour', created_at, '1970-01-01 00:00+00'), count(*)::float8 / sum(amount - 5)::float8
    FROM orders WHERE amount <= 15 GROUP BY 1 HAVING sum(amount - 5) <> 0$$)
UNION ALL SELECT 'cross table', * FROM check_values('c_cross',
  $$WITH n AS (SELECT date_bin('2 hours', created_at, '1970-01-01 00:00+00') AS b, sum(amount)::float8 AS v
               FROM orders WHERE status = 'completed' GROUP BY 1),
         d AS (SELECT date_bin('2 hours', created_at, '1970-01-01 00:00+00') AT TIME ZONE 'UTC' AS b, count(*)::float8 AS v
               FROM orders_naive WHERE status = 'pending' GROUP BY 1)
    SELECT coalesce(n.b, d.b), coalesce(n.v, 0) / d.v FROM n FULL JOIN d ON n.b = d.b WHERE d.v <> 0$$)
ORDER BY 1;
SELECT count(*) AS small_hours, count(*) FILTER (WHERE sum_excess = 0) AS zero_denominator_hours
FROM (SELECT sum(amount - 5) AS sum_excess FROM orders WHERE amount <= 15
      GROUP BY date_bin('1 hour', created_at, '1970-01-01 00:00+00')) s;

-- sql metrics: rows floored onto the grid and summed; rows outside the window ignored
SELECT 'sql' AS m, * FROM check_values('c_sql',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), sum(amount)::float8 FROM orders GROUP BY 1$$);

-- event compositions
SELECT 'single' AS m, * FROM check_values('c_purchases',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'), count(*)::float8 FROM events
    WHERE event_name = 'Purchase Completed' GROUP BY 1$$)
UNION ALL SELECT 'ratio', * FROM check_values('c_conversion',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'),
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8
         / (count(*) FILTER (WHERE event_name = 'Home Screen View'))::float8
    FROM events GROUP BY 1$$)
UNION ALL SELECT 'per_distinct_user', * FROM check_values('c_per_user',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'),
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8 / count(DISTINCT user_id)::float8
    FROM events GROUP BY 1$$)
ORDER BY 1;

-- A ratio's operands are stored with its values (a missing numerator as the
-- 0 used); every other metric stores none
CREATE FUNCTION check_operands(metric text, hand text)
RETURNS TABLE (hand_rows bigint, stored_rows bigint, missing bigint, extra bigint)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY EXECUTE format($q$
        WITH hand AS (%s),
             stored AS (SELECT v.bucket, v.value, v.numerator, v.denominator FROM tripl.metric_values v
                        JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = %L)
        SELECT (SELECT count(*) FROM hand), (SELECT count(*) FROM stored),
               (SELECT count(*) FROM (SELECT * FROM hand EXCEPT SELECT * FROM stored) d),
               (SELECT count(*) FROM (SELECT * FROM stored EXCEPT SELECT * FROM hand) d)
    $q$, hand, metric);
END $$;
SELECT 'aov' AS m, * FROM check_operands('c_aov',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), sum(amount)::float8 / count(*)::float8,
           sum(amount)::float8, count(*)::float8 FROM orders GROUP BY 1$$)
UNION ALL SELECT 'cross table', * FROM check_operands('c_cross',
  $$WITH n AS (SELECT date_bin('2 hours', created_at, '1970-01-01 00:00+00') AS b, sum(amount)::float8 AS v
               FROM orders WHERE status = 'completed' GROUP BY 1),
         d AS (SELECT date_bin('2 hours', created_at, '1970-01-01 00:00+00') AT TIME ZONE 'UTC' AS b, count(*)::float8 AS v
               FROM orders_naive WHERE status = 'pending' GROUP BY 1)
    SELECT coalesce(n.b, d.b), coalesce(n.v, 0) / d.v, coalesce(n.v, 0), d.v FROM n FULL JOIN d ON n.b = d.b WHERE d.v <> 0$$)
UNION ALL SELECT 'event ratio', * FROM check_operands('c_conversion',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'),
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8
         / (count(*) FILTER (WHERE event_name = 'Home Screen View'))::float8,
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8,
           (count(*) FILTER (WHERE event_name = 'Home Screen View'))::float8
    FROM events GROUP BY 1$$)
UNION ALL SELECT 'per_distinct_user', * FROM check_operands('c_per_user',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'),
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8 / count(DISTINCT user_id)::float8,
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8, count(DISTINCT user_id)::float8
    FROM events GROUP BY 1$$)
ORDER BY 1;
SELECT count(*) FILTER (WHERE v.numerator IS NOT NULL OR v.denominator IS NOT NULL) AS non_ratio_with_operands,
       count(*) > 0 AS non_ratio_values
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name NOT IN ('c_aov', 'c_zero_den', 'c_cross', 'c_conversion', 'c_per_user');

-- Breakdowns: all values, and the top N-1 by row count (ties by value) plus 'Other'
SELECT 'country top 2' AS b, * FROM check_breakdown('c_users', 'country',
  $$WITH top AS (SELECT country FROM orders GROUP BY 1 ORDER BY count(*) DESC, country COLLATE "C" LIMIT 2)
    SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'),
           CASE WHEN country IN (SELECT country FROM top) THEN country ELSE 'Other' END,
           country NOT IN (SELECT country FROM top), count(DISTINCT user_id)::float8
    FROM orders GROUP BY 1, 2, 3$$)
UNION ALL SELECT 'currency (fewer values than the limit)', * FROM check_breakdown('c_users', 'currency',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), currency, false, count(DISTINCT user_id)::float8
    FROM orders GROUP BY 1, 2, 3$$)
UNION ALL SELECT 'ratio by status', * FROM check_breakdown('c_aov', 'status',
  $$SELECT date_bin('1 day', created_at, '1970-01-01 00:00+00'), status, false, sum(amount)::float8 / count(*)::float8
    FROM orders GROUP BY 1, 2, 3$$)
UNION ALL SELECT 'event single by platform', * FROM check_breakdown('c_purchases', 'platform',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'), platform, false, count(*)::float8
    FROM events WHERE event_name = 'Purchase Completed' GROUP BY 1, 2, 3$$)
UNION ALL SELECT 'event ratio by platform', * FROM check_breakdown('c_conversion', 'platform',
  $$SELECT date_bin('1 hour', event_time, '1970-01-01 00:00+00'), platform, false,
           (count(*) FILTER (WHERE event_name = 'Purchase Completed'))::float8
         / (count(*) FILTER (WHERE event_name = 'Home Screen View'))::float8
    FROM events GROUP BY 1, 2, 3 HAVING count(*) FILTER (WHERE event_name = 'Home Screen View') > 0$$)
ORDER BY 1;
SELECT breakdown_value, is_other, count(*) AS days FROM tripl.metric_breakdowns b
JOIN tripl.metrics m ON m.id = b.metric_id WHERE m.name = 'c_users' AND breakdown_column = 'country'
GROUP BY 1, 2 ORDER BY 1;

-- Status after a successful backfill
SELECT m.name, s.last_status, s.watermark, s.changed_from, s.last_error
FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id
WHERE m.name IN ('c_count', 'c_users', 'c_sql') ORDER BY 1;

-- Idempotent replay: the same window again gives identical rows
CREATE TEMP TABLE before_replay AS SELECT metric_id, bucket, value FROM tripl.metric_values;
CREATE TEMP TABLE before_replay_b AS SELECT * FROM tripl.metric_breakdowns;
SELECT count(*) AS replayed FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-09 00:00+00')
WHERE status = 'success';
SELECT (SELECT count(*) FROM tripl.metric_values) AS rows_now, (SELECT count(*) FROM before_replay) AS rows_before,
       (SELECT count(*) FROM (SELECT metric_id, bucket, value FROM tripl.metric_values EXCEPT SELECT * FROM before_replay) d) AS changed,
       (SELECT count(*) FROM (SELECT * FROM tripl.metric_breakdowns EXCEPT SELECT * FROM before_replay_b) d) AS changed_breakdowns;

-- Unaligned windows are widened to whole buckets (and reported so)
SELECT metric, window_from, window_to, rows_written, status
FROM tripl.collect('c_count', '2026-01-05 10:17+00', '2026-01-05 12:05+00');
-- Weekly buckets start on Monday 1970-01-05's grid
SELECT tripl.create_metric('c_weekly', 'fact', '1 week', fact_table => 'c_orders', aggregation => 'count') > 0 AS ok;
SELECT metric, window_from, window_to FROM tripl.collect('c_weekly', '2026-01-07 00:00+00', '2026-01-08 00:00+00');
SELECT v.bucket, to_char(v.bucket AT TIME ZONE 'UTC', 'Dy') AS weekday, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'c_weekly';
SELECT date_bin('7 days', '2026-01-07 00:00+00'::timestamptz, '1970-01-05 00:00+00') AS hand_week;

-- Due collection: the resume window is the last stored bucket + 1 - 2 buckets
SET tripl.mock_now = '2026-01-09 02:30+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric IN ('c_count', 'c_users', 'c_weekly')
ORDER BY 1;
-- nothing is due until the next bucket closes
SELECT count(*) AS due_again FROM tripl.collect() WHERE metric = 'c_count';
-- late rows inside the two-bucket overlap are picked up by the next due run
INSERT INTO orders (created_at, amount, currency, user_id, country, status)
VALUES ('2026-01-09 01:20+00', 7, 'USD', 1, 'DE', 'completed'),
       ('2026-01-08 20:20+00', 7, 'USD', 1, 'DE', 'completed');
SET tripl.mock_now = '2026-01-09 03:00+00';
SELECT metric, window_from, window_to, status FROM tripl.collect() WHERE metric = 'c_count';
SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'c_count' AND v.bucket IN ('2026-01-09 01:00+00', '2026-01-08 20:00+00') ORDER BY 1;
-- ... and a replay of an older window picks up older late rows
SELECT status FROM tripl.collect('c_count', '2026-01-08 20:00+00', '2026-01-08 21:00+00');
SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'c_count' AND v.bucket = '2026-01-08 20:00+00';
DELETE FROM orders WHERE amount = 7;

-- A metric over an empty source succeeds with no rows, and its watermark advances
CREATE TABLE empty_facts (ts timestamptz, n int);
GRANT SELECT ON empty_facts TO regress_alice;
SELECT tripl.create_fact_table('c_empty', 'SELECT ts, n FROM empty_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('c_nothing', 'fact', fact_table => 'c_empty', aggregation => 'count') > 0 AS ok;
SELECT metric, window_from, window_to, rows_written, status FROM tripl.collect('c_nothing');
SELECT watermark, last_status FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 'c_nothing';
SELECT count(*) AS due FROM tripl.collect() WHERE metric = 'c_nothing';

-- Draft and archived metrics are not collected when due, but can be forced
SELECT tripl.alter_metric('c_nothing', status => 'draft');
SET tripl.mock_now = '2026-01-09 05:00+00';
SELECT count(*) AS draft_collected FROM tripl.collect() WHERE metric = 'c_nothing';
SELECT metric, status FROM tripl.collect('c_nothing');

-- One failing metric never stops the others: a filter that divides by zero
-- at run time fails its metric; the shared scan is retried per metric
SELECT tripl.create_metric('c_bad', 'fact', fact_table => 'c_orders', aggregation => 'count',
                           filter_sql => '100 / (amount - 5) > 0') > 0 AS ok;
SELECT metric, rows_written, status, error FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00')
WHERE metric IN ('c_bad', 'c_count', 'c_rev', 'c_avg') ORDER BY 1;
SELECT last_status, last_error FROM tripl.metric_state s JOIN tripl.metrics m ON m.id = s.metric_id WHERE m.name = 'c_bad';
SELECT count(*) AS bad_values FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'c_bad';
-- after an error a metric waits one bucket before the due pass retries it
SET tripl.mock_now = '2026-01-09 05:30+00';
SELECT count(*) AS retried_too_soon FROM tripl.collect() WHERE metric = 'c_bad';
SET tripl.mock_now = '2026-01-09 06:30+00';
SELECT metric, status FROM tripl.collect() WHERE metric = 'c_bad';
SELECT tripl.drop_metric('c_bad');

-- Queries run as the metric's owner: when alice loses SELECT, her metric
-- fails and nothing else breaks.  A metric reads only its owner's sources.
SET ROLE regress_alice;
SELECT tripl.create_metric('c_alice', 'fact', fact_table => 'c_orders', aggregation => 'count') > 0 AS ok;
SELECT tripl.create_fact_table('c_alice_orders', 'SELECT created_at FROM orders', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('c_alice', 'fact', fact_table => 'c_alice_orders', aggregation => 'count') > 0 AS ok;
-- alice may collect her own metric, not other people's
SELECT metric, status FROM tripl.collect('c_alice', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT metric, status FROM tripl.collect('c_count', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT array_agg(DISTINCT metric) AS alice_due_pass FROM tripl.collect();
RESET ROLE;
REVOKE SELECT ON orders FROM regress_alice;
SELECT metric, status, error FROM tripl.collect(window_from => '2026-01-05 00:00+00', window_to => '2026-01-06 00:00+00')
WHERE metric IN ('c_alice', 'c_count') ORDER BY 1;
GRANT SELECT ON orders TO regress_alice;
SELECT tripl.drop_metric('c_alice');
SELECT tripl.drop_fact_table('c_alice_orders');

-- The per-chunk row cap: a breakdown with more than 100 000 values in one
-- chunk fails the chunk and writes nothing of it
CREATE TABLE many_values (ts timestamptz, id int);
INSERT INTO many_values SELECT '2026-01-05 00:30+00', i FROM generate_series(1, 100001) i;
SELECT tripl.create_fact_table('c_many', 'SELECT ts, id FROM many_values', 'ts') > 0 AS ok;
SELECT tripl.create_metric('c_capped', 'fact', fact_table => 'c_many', aggregation => 'count', breakdowns => '{id}') > 0 AS ok;
SELECT metric, rows_written, status, error FROM tripl.collect('c_capped', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT count(*) AS capped_values FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'c_capped';
-- with a values limit it fits
SELECT tripl.create_metric('c_capped_top', 'fact', fact_table => 'c_many', aggregation => 'count',
                           breakdowns => '{id}', breakdown_values_limit => 3) > 0 AS ok;
SELECT metric, rows_written, status FROM tripl.collect('c_capped_top', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT breakdown_value, is_other, value FROM tripl.metric_breakdowns b JOIN tripl.metrics m ON m.id = b.metric_id
WHERE m.name = 'c_capped_top' ORDER BY is_other, breakdown_value;

-- Chunking never splits a bucket: a 4-bucket chunk size gives the same values
SET tripl.chunk_buckets = 4;
CREATE TEMP TABLE chunked_before AS SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id WHERE m.name = 'c_avg';
SELECT metric, rows_written, status FROM tripl.collect('c_avg', '2026-01-05 00:00+00', '2026-01-09 00:00+00');
SELECT count(*) AS changed FROM (SELECT v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
                                 WHERE m.name = 'c_avg' EXCEPT SELECT * FROM chunked_before) d;
RESET tripl.chunk_buckets;

-- Bad input
SELECT * FROM tripl.collect('no_such_metric');
SELECT * FROM tripl.collect('c_count', '2026-01-05 00:00+00', NULL);
SELECT * FROM tripl.collect('c_count', '2026-01-06 00:00+00', '2026-01-05 00:00+00');
SELECT * FROM tripl.collect('c_count', '-infinity', '2026-01-05 00:00+00');
SELECT * FROM tripl.collect('c_max', '1000-01-01', '2026-01-05 00:00+00');

-- Reading: series densifies (count-shaped: 0 inside the collected range;
-- fractional: NULL), breakdown_series likewise
SELECT bucket, value FROM tripl.series('c_completed', '2026-01-05 00:00+00', '2026-01-05 06:00+00');
SELECT bucket, value FROM tripl.series('c_rev', '2026-01-05 00:00+00', '2026-01-05 06:00+00');
SELECT bucket, value FROM tripl.series('c_completed', '2026-01-09 04:00+00', '2026-01-09 08:00+00');
SELECT * FROM tripl.breakdown_series('c_users', 'country', '2026-01-05 00:00+00', '2026-01-07 00:00+00');
SELECT * FROM tripl.series('no_such_metric', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT * FROM tripl.series('c_count', '2026-01-06 00:00+00', '2026-01-05 00:00+00');
SELECT * FROM tripl.series('c_count', NULL, '2026-01-05 00:00+00');
SELECT * FROM tripl.series('c_max', '1900-01-01', '2026-01-05 00:00+00');
SELECT * FROM tripl.breakdown_series('c_count', 'country', '2026-01-05 00:00+00', '2026-01-06 00:00+00');
SELECT * FROM tripl.breakdown_series('c_users', NULL, '2026-01-05 00:00+00', '2026-01-06 00:00+00');

RESET tripl.mock_now;
