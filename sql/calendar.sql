-- Calendar time (doc/collection.md, "Calendar time"): metrics in a time
-- zone with days, weeks, months, quarters, years and sub-day widths from
-- local midnight.  Every stored value is compared with hand-written
-- date_trunc(unit, ts, zone) / date_bin SQL over the same rows; the suite
-- runs under both engines (tripl.engine = c and sql).

-- A year and more of rows every 17 minutes (2023-12-01 .. 2025-01-10):
-- both DST changes in New York (2024-03-10, 2024-11-03), Berlin
-- (2024-03-31, 2024-10-27) and Sydney (2024-04-07, 2024-10-06), the leap
-- day 2024-02-29, month, quarter and year ends.  No rows on 2024-06-15
-- (a local day of New York without data).
CREATE TABLE cal_events (ts timestamptz NOT NULL, amount numeric, country text, user_id int);
INSERT INTO cal_events
SELECT t, (i % 97) / 4.0, (ARRAY['DE', 'US', 'AU'])[1 + i % 3], i % 41
FROM (SELECT '2023-12-01 00:03+00'::timestamptz + i * interval '17 minutes' AS t, i
      FROM generate_series(0, 35000) i) s
WHERE t < '2025-01-10' AND NOT (t >= '2024-06-15 00:00 America/New_York' AND t < '2024-06-16 00:00 America/New_York');
SELECT tripl.create_fact_table('cal_events', 'SELECT ts, amount, country, user_id FROM cal_events', 'ts') > 0 AS ok;

-- The default zone of new metrics
SHOW tripl.timezone;

-- One metric per (width, zone, aggregation)
CREATE TABLE cal_cases (name text, bucket interval, zone text, agg text);
INSERT INTO cal_cases VALUES
    ('ny_day',      '1 day',      'America/New_York', 'sum'),
    ('ny_week',     '1 week',     'America/New_York', 'count_distinct'),
    ('ny_month',    '1 month',    'America/New_York', 'count'),
    ('ny_quarter',  '3 months',   'America/New_York', 'max'),
    ('ny_year',     '1 year',     'America/New_York', 'avg'),
    ('ny_6h',       '6 hours',    'America/New_York', 'count'),
    ('ny_90min',    '90 minutes', 'America/New_York', 'min'),
    ('be_day',      '1 day',      'Europe/Berlin',    'count'),
    ('be_week',     '1 week',     'Europe/Berlin',    'sum'),
    ('be_month',    '1 month',    'Europe/Berlin',    'avg'),
    ('be_quarter',  '3 months',   'Europe/Berlin',    'count_distinct'),
    ('be_year',     '1 year',     'Europe/Berlin',    'count'),
    ('be_2h',       '2 hours',    'Europe/Berlin',    'sum'),
    ('sy_day',      '1 day',      'Australia/Sydney', 'count'),
    ('sy_month',    '1 month',    'Australia/Sydney', 'sum'),
    ('in_hour',     '1 hour',     'Asia/Kolkata',     'count'),
    ('in_day',      '1 day',      'Asia/Kolkata',     'sum'),
    ('ch_hour',     '1 hour',     'Pacific/Chatham',  'count'),
    ('ch_day',      '1 day',      'Pacific/Chatham',  'max'),
    ('ny_2weeks',   '2 weeks',    'America/New_York', 'count'),
    ('utc_day',     '1 day',      'UTC',              'sum'),
    ('utc_month',   '1 month',    'UTC',              'count'),
    ('utc_7h',      '7 hours',    'UTC',              'count');
SELECT tripl.create_metric(name, 'fact', bucket, fact_table => 'cal_events', aggregation => agg,
                           measure_column => CASE WHEN agg IN ('sum', 'avg', 'min', 'max') THEN 'amount' END,
                           distinct_column => CASE WHEN agg = 'count_distinct' THEN 'user_id' END,
                           breakdowns => CASE WHEN name = 'ny_day' THEN '{country}'::text[] ELSE '{}' END,
                           timezone => zone) IS NOT NULL AS created
FROM cal_cases ORDER BY name;
SELECT name, bucket, timezone FROM tripl.metrics WHERE name IN ('ny_day', 'utc_day', 'ny_2weeks') ORDER BY name;

-- Hand-written: the bucket of a row for a case (date_trunc / date_bin as
-- the contract states), and the aggregate
CREATE FUNCTION cal_expected(c cal_cases, wfrom timestamptz, wto timestamptz)
    RETURNS TABLE (bucket timestamptz, value float8) LANGUAGE plpgsql AS $$
DECLARE
    b text;
    a text;
BEGIN
    b := CASE
        WHEN c.zone = 'UTC' AND c.bucket = '1 month' THEN $q$date_trunc('month', ts, 'UTC')$q$
        WHEN c.zone = 'UTC' OR c.bucket = '2 weeks' THEN
            format($q$date_bin(%L, ts, CASE WHEN %L::interval = '2 weeks' THEN timestamptz '1970-01-05 00:00+00'
                                             ELSE timestamptz '1970-01-01 00:00+00' END)$q$, c.bucket, c.bucket)
        WHEN c.bucket = '1 day' THEN format($q$date_trunc('day', ts, %L)$q$, c.zone)
        WHEN c.bucket = '1 week' THEN format($q$date_trunc('week', ts, %L)$q$, c.zone)
        WHEN c.bucket = '1 month' THEN format($q$date_trunc('month', ts, %L)$q$, c.zone)
        WHEN c.bucket = '3 months' THEN format($q$date_trunc('quarter', ts, %L)$q$, c.zone)
        WHEN c.bucket = '1 year' THEN format($q$date_trunc('year', ts, %L)$q$, c.zone)
        ELSE format($q$date_bin(%L, ts, date_trunc('day', ts, %L))$q$, c.bucket, c.zone)
    END;
    a := CASE c.agg WHEN 'count' THEN 'count(*)' WHEN 'count_distinct' THEN 'count(DISTINCT user_id)'
                    ELSE format('%s(amount)', c.agg) END;
    RETURN QUERY EXECUTE format('SELECT %s, (%s)::float8 FROM cal_events WHERE ts >= $1 AND ts < $2 GROUP BY 1',
                                b, a) USING wfrom, wto;
END $$;

-- Compare every stored value of the cases with the hand-written SQL, for
-- the buckets starting in [wfrom, wto) (each aggregated over all its rows)
CREATE FUNCTION cal_compare(wfrom timestamptz, wto timestamptz)
    RETURNS TABLE (name text, buckets bigint, mismatches bigint) LANGUAGE sql AS $$
    SELECT c.name, count(*) FILTER (WHERE e.bucket IS NOT NULL),
           count(*) FILTER (WHERE e.bucket IS NULL OR v.bucket IS NULL
                            OR abs(e.value - v.value) > 1e-9 * greatest(1, abs(e.value)))
    FROM cal_cases c
    CROSS JOIN LATERAL (
        SELECT x.* FROM cal_expected(c, wfrom - interval '1 year', wto + interval '1 year') x
        WHERE x.bucket >= wfrom AND x.bucket < wto) e
    FULL JOIN (SELECT m.name, v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
               WHERE v.bucket >= wfrom AND v.bucket < wto) v ON v.name = c.name AND v.bucket = e.bucket
    GROUP BY c.name ORDER BY c.name
$$;

-- Backfill 2024 (local years: each metric's window is widened to whole
-- buckets of its own grid; hourly metrics take two chunks)
SET tripl.chunk_buckets = 5000;
SELECT metric, window_from AT TIME ZONE m.timezone AS local_from, window_to AT TIME ZONE m.timezone AS local_to,
       rows_written, r.status
FROM tripl.collect(window_from => '2024-01-01 12:00+00', window_to => '2024-12-31 12:00+00') r
JOIN tripl.metrics m ON m.name = r.metric JOIN cal_cases c ON c.name = r.metric ORDER BY metric;
RESET tripl.chunk_buckets;

-- every value equals the hand-written SQL (over the year both widen to)
SELECT * FROM cal_compare('2024-01-01 12:00+00', '2024-12-31 12:00+00');
-- ... and the windows' edges: nothing stored outside the widened windows
SELECT m.name, min(v.bucket) AT TIME ZONE m.timezone AS first_local, max(v.bucket) AT TIME ZONE m.timezone AS last_local
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name IN ('ny_day', 'ny_year', 'be_quarter', 'ch_hour', 'in_hour') GROUP BY m.name, m.timezone ORDER BY 1;

-- 23- and 25-hour local days; hourly buckets at :30 (Kolkata) and :15 (Chatham) UTC
SELECT v.bucket, lead(v.bucket) OVER (ORDER BY v.bucket) - v.bucket AS length
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'ny_day' AND v.bucket >= '2024-03-09 00:00 America/New_York' AND v.bucket < '2024-03-12 00:00 America/New_York'
ORDER BY 1;
SELECT v.bucket, lead(v.bucket) OVER (ORDER BY v.bucket) - v.bucket AS length
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'be_day' AND v.bucket >= '2024-10-26 00:00 Europe/Berlin' AND v.bucket < '2024-10-29 00:00 Europe/Berlin'
ORDER BY 1;
SELECT m.name, to_char(v.bucket AT TIME ZONE 'UTC', 'MI') AS utc_minute, count(*)
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name IN ('in_hour', 'ch_hour', 'ny_6h') GROUP BY 1, 2 ORDER BY 1, 2;
-- 6-hour buckets from local midnight plus elapsed time: on the 23-hour
-- day they start at 00, 07, 13 and 19 local time, the last 5 hours long
SELECT v.bucket AT TIME ZONE 'America/New_York' AS local, lead(v.bucket) OVER (ORDER BY v.bucket) - v.bucket AS length
FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
WHERE m.name = 'ny_6h' AND v.bucket >= '2024-03-10 00:00 America/New_York' AND v.bucket < '2024-03-11 06:00 America/New_York'
ORDER BY 1;

-- Breakdowns on a calendar grid equal the hand-written GROUP BY
SELECT count(*) AS breakdown_rows,
       count(*) FILTER (WHERE h.v IS NULL OR b.value IS NULL OR abs(h.v - b.value) > 1e-9 * greatest(1, abs(h.v))) AS mismatches
FROM (SELECT bucket, breakdown_value, value FROM tripl.metric_breakdowns
      WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'ny_day')) b
FULL JOIN (SELECT date_trunc('day', ts, 'America/New_York') AS bucket, country, sum(amount)::float8 AS v
           FROM cal_events
           WHERE ts >= '2024-01-01 00:00 America/New_York' AND ts < '2025-01-01 00:00 America/New_York'
           GROUP BY 1, 2) h ON h.bucket = b.bucket AND h.country = b.breakdown_value;

-- tripl.series: a year of a monthly metric is 12 buckets; days without
-- rows read 0 for counts (be_day has rows every local Berlin day, the
-- ny_month count is a count), NULL for a sum in the collected range
SELECT count(*) AS buckets, min(bucket) AT TIME ZONE 'America/New_York' AS first_local,
       max(bucket) AT TIME ZONE 'America/New_York' AS last_local
FROM tripl.series('ny_month', '2024-01-01 00:00 America/New_York', '2025-01-01 00:00 America/New_York');
SELECT count(*) AS buckets FROM tripl.series('be_quarter', '2024-01-01', '2024-12-31');
SELECT count(*) AS days, count(*) FILTER (WHERE length = '23 hours') AS short, count(*) FILTER (WHERE length = '25 hours') AS long
FROM (SELECT lead(bucket) OVER (ORDER BY bucket) - bucket AS length
      FROM tripl.series('ny_day', '2024-01-01 00:00 America/New_York', '2025-01-01 00:00 America/New_York')) s
WHERE length IS NOT NULL;
SELECT bucket AT TIME ZONE 'America/New_York' AS local, value
FROM tripl.series('ny_day', '2024-06-14 00:00 America/New_York', '2024-06-17 00:00 America/New_York');
SELECT bucket AT TIME ZONE 'America/New_York' AS local, value
FROM tripl.series('ny_6h', '2024-06-15 00:00 America/New_York', '2024-06-15 18:00 America/New_York');

-- Resume windows on a calendar grid: the last 30 local days on a first
-- run, then the last two buckets again plus the new ones
SELECT tripl.create_metric('ny_resume', 'fact', '1 day', fact_table => 'cal_events', aggregation => 'count',
                           timezone => 'America/New_York') IS NOT NULL AS created;
SET tripl.mock_now = '2024-11-05 15:00 America/New_York';
SELECT window_from AT TIME ZONE 'America/New_York' AS local_from, window_to AT TIME ZONE 'America/New_York' AS local_to,
       rows_written, status FROM tripl.collect('ny_resume');
SET tripl.mock_now = '2024-11-07 01:00 America/New_York';
SELECT window_from AT TIME ZONE 'America/New_York' AS local_from, window_to AT TIME ZONE 'America/New_York' AS local_to,
       rows_written, status FROM tripl.collect('ny_resume');
-- up to date: not due at the same time
SELECT metric, window_from AT TIME ZONE 'America/New_York' AS local_from, rows_written FROM tripl.collect() WHERE metric = 'ny_resume';
RESET tripl.mock_now;
SELECT count(*) AS stored, count(*) FILTER (WHERE v.value <> h.n) AS mismatches
FROM tripl.metric_values v
JOIN (SELECT date_trunc('day', ts, 'America/New_York') AS bucket, count(*)::float8 AS n FROM cal_events GROUP BY 1) h
  ON h.bucket = v.bucket
WHERE v.metric_id = (SELECT id FROM tripl.metrics WHERE name = 'ny_resume');
-- the view helpers of the grid
SELECT tripl._bucket_start('2024-03-10 12:00 America/New_York', '1 day', 'America/New_York') AS day_start,
       tripl._bucket_step('2024-03-10 12:00 America/New_York', '1 day', 'America/New_York', 1) AS next_day,
       tripl._bucket_step('2024-02-10', '1 month', 'Europe/Berlin', -2) AS two_months_back;

-- Refused: unknown zones, abbreviations, widths a zone cannot have;
-- nothing is created
SELECT tripl.create_metric('bad_zone', 'fact', '1 day', fact_table => 'cal_events', aggregation => 'count', timezone => 'Mars/Olympus');
SELECT tripl.create_metric('bad_zone', 'fact', '1 day', fact_table => 'cal_events', aggregation => 'count', timezone => 'CET');
SELECT tripl.create_metric('bad_zone', 'fact', '2 days', fact_table => 'cal_events', aggregation => 'count', timezone => 'America/New_York');
SELECT tripl.create_metric('bad_zone', 'fact', '7 hours', fact_table => 'cal_events', aggregation => 'count', timezone => 'Europe/Berlin');
SELECT tripl.create_metric('bad_zone', 'fact', '2 months', fact_table => 'cal_events', aggregation => 'count', timezone => 'Europe/Berlin');
SELECT count(*) AS created FROM tripl.metrics WHERE name = 'bad_zone';
-- tripl.timezone gives new metrics their zone (canonical spelling)
SET tripl.timezone = 'europe/berlin';
SELECT tripl.create_metric('be_default', 'fact', '1 day', fact_table => 'cal_events', aggregation => 'count') IS NOT NULL AS created;
SET tripl.timezone = 'Nowhere/Special';
SELECT tripl.create_metric('bad_zone', 'fact', '1 day', fact_table => 'cal_events', aggregation => 'count');
RESET tripl.timezone;
SELECT name, timezone FROM tripl.metrics WHERE name IN ('be_default', 'bad_zone');

-- alter_metric: a new zone or bucket clears the values and state, then
-- collection starts over on the new grid
SELECT count(*) AS values_before FROM tripl.metric_values WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'ny_day');
SELECT tripl.alter_metric('ny_day', timezone => 'Atlantis/Nowhere');
SELECT tripl.alter_metric('ny_day', bucket => '5 hours');
SELECT timezone, bucket, (SELECT count(*) FROM tripl.metric_values WHERE metric_id = m.id) AS values_kept
FROM tripl.metrics m WHERE name = 'ny_day';
SELECT tripl.alter_metric('ny_day', timezone => 'Europe/Berlin');
SELECT timezone, bucket, (SELECT count(*) FROM tripl.metric_values WHERE metric_id = m.id) AS values_left,
       (SELECT count(*) FROM tripl.metric_breakdowns WHERE metric_id = m.id) AS breakdowns_left,
       (SELECT watermark FROM tripl.metric_state WHERE metric_id = m.id) AS watermark
FROM tripl.metrics m WHERE name = 'ny_day';
SELECT tripl.alter_metric('ny_day', timezone => 'Europe/Berlin');   -- unchanged: no notice
UPDATE cal_cases SET zone = 'Europe/Berlin' WHERE name = 'ny_day';
SELECT rows_written, status FROM tripl.collect('ny_day', '2024-01-01 12:00+00', '2024-12-31 12:00+00');
SELECT * FROM cal_compare('2024-01-01 12:00+00', '2024-12-31 12:00+00') WHERE name = 'ny_day';
SELECT tripl.alter_metric('ny_day', bucket => '1 month');
SELECT rows_written, status FROM tripl.collect('ny_day', '2024-01-01 12:00+00', '2024-12-31 12:00+00');
UPDATE cal_cases SET bucket = '1 month' WHERE name = 'ny_day';
SELECT * FROM cal_compare('2024-01-01 12:00+00', '2024-12-31 12:00+00') WHERE name = 'ny_day';

-- explain_metric shows the calendar bucket of the SQL path
SET tripl.engine = sql;
SELECT tripl.explain_metric('be_month') ~ 'date_trunc\(''month'', _src.ts, ''Europe/Berlin''\)' AS month_in_berlin,
       tripl.explain_metric('in_hour') ~ 'date_bin\(''3600 seconds''::interval, _src.ts, pg_catalog.date_trunc\(''day'', _src.ts, ''Asia/Kolkata''\)\)' AS hour_from_local_midnight;
RESET tripl.engine;

-- Detection seasons in local time.  A shop open 9:00-17:00 New York time
-- on weekdays: 80 orders an hour, none at night.  With hourly buckets the
-- weekly season of a UTC grid pairs 9:00 EDT after the spring DST change
-- with 8:00 EST before it (closed) and flags the opening and closing
-- hours; in New York time the partners are the same local hours, so
-- nothing is flagged.
CREATE TABLE shop_orders (ts timestamptz NOT NULL);
INSERT INTO shop_orders
SELECT h + (k * interval '37 seconds')
FROM generate_series('2024-01-01 00:00 America/New_York'::timestamptz, '2024-03-24 00:00 America/New_York', interval '1 hour') h,
     generate_series(1, 80) k
WHERE extract(isodow FROM h AT TIME ZONE 'America/New_York') <= 5
  AND extract(hour FROM h AT TIME ZONE 'America/New_York') BETWEEN 9 AND 16;
SELECT tripl.create_fact_table('shop_orders', 'SELECT ts FROM shop_orders', 'ts') > 0 AS ok;
SELECT tripl.create_metric('shop_local', 'fact', '1 hour', fact_table => 'shop_orders', aggregation => 'count',
                           timezone => 'America/New_York') IS NOT NULL AS created;
SELECT tripl.create_metric('shop_utc', 'fact', '1 hour', fact_table => 'shop_orders', aggregation => 'count',
                           timezone => 'UTC') IS NOT NULL AS created;
SELECT metric, rows_written FROM tripl.collect(window_from => '2024-01-01 05:00+00', window_to => '2024-03-24 04:00+00')
WHERE metric LIKE 'shop%' ORDER BY 1;
SET tripl.mock_now = '2024-03-24 04:00+00';
SELECT metric, evaluated_from, evaluated_to, error FROM tripl.detect() WHERE metric LIKE 'shop%' ORDER BY 1;
RESET tripl.mock_now;
SELECT m.name, count(a.bucket) FILTER (WHERE a.bucket >= '2024-03-10 00:00 America/New_York') > 0 AS flags_after_dst_change,
       bool_and(extract(hour FROM a.bucket AT TIME ZONE 'America/New_York') IN (8, 9, 16, 17))
           FILTER (WHERE a.bucket >= '2024-03-10 00:00 America/New_York') AS only_opening_or_closing_hours
FROM tripl.metrics m LEFT JOIN tripl.anomalies a ON a.metric_id = m.id
WHERE m.name LIKE 'shop%' GROUP BY m.name ORDER BY 1;

-- Alert messages show a bucket in the metric's zone with its abbreviation
SELECT tripl.create_destination('cal_chat', 'slack', 'https://hooks.slack.com/services/T000/B000/CAL') > 0 AS ok;
SELECT tripl.create_alert_rule('cal_rule', 'cal_chat', metrics => '{shop_local, shop_utc}',
                               message_template => '{{items}}') > 0 AS ok;
DELETE FROM tripl.anomalies WHERE metric_id IN (SELECT id FROM tripl.metrics WHERE name LIKE 'shop%');
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, '2024-03-22 20:00+00', 10, 80, 5, 5, -14, 'phase', 'drop' FROM tripl.metrics WHERE name LIKE 'shop%';
SET tripl.mock_now = '2024-03-22 21:05+00';
SELECT rule, metric FROM tripl.evaluate_alerts() WHERE rule = 'cal_rule' ORDER BY metric;
RESET tripl.mock_now;
SELECT x.payload->>'text' AS message FROM tripl.deliveries x
JOIN tripl.destinations d ON d.id = x.destination_id WHERE d.name = 'cal_chat';

-- Signals and alert candidates count buckets on the metric's grid
-- (doc/detection.md, "Signals"): the settling lag and the 3-bucket horizon
-- are steps of the grid, not interval arithmetic.  A Berlin daily metric
-- across the 25-hour day 2024-10-27 (settling 1440 minutes: a lag of one
-- bucket) and a Berlin monthly metric (lag one bucket: October is one
-- bucket behind November although 2024-10-01 00:00 CEST is 31 days and
-- one hour before 2024-11-01 00:00 CET).  Values and anomalies are written
-- by hand; the expected states are worked out in the comments.
SELECT tripl.create_metric(name, 'fact', bucket, fact_table => 'cal_events', aggregation => 'count',
                           timezone => 'Europe/Berlin') IS NOT NULL AS created
FROM (VALUES ('sig_be_day', interval '1 day'), ('sig_be_month', interval '1 month')) c (name, bucket) ORDER BY name;
SELECT tripl.set_monitoring('sig_be_day', settling_minutes => 1440, recent_signal_window => '25 hours');
INSERT INTO tripl.metric_values (metric_id, bucket, value)
SELECT m.id, d::timestamp AT TIME ZONE 'Europe/Berlin', 100
FROM tripl.metrics m, generate_series(timestamp '2024-10-20', '2024-10-28', '1 day') d WHERE m.name = 'sig_be_day'
UNION ALL
SELECT m.id, d::timestamp AT TIME ZONE 'Europe/Berlin', 100
FROM tripl.metrics m, generate_series(timestamp '2024-05-01', '2024-11-01', '1 month') d WHERE m.name = 'sig_be_month';
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, CASE name WHEN 'sig_be_day' THEN timestamptz '2024-10-27 00:00 Europe/Berlin'
                     ELSE timestamptz '2024-10-01 00:00 Europe/Berlin' END, 10, 100, 5, 5, -18, 'phase', 'drop'
FROM tripl.metrics WHERE name LIKE 'sig_be_%';
CREATE FUNCTION cal_signal_states(now_ timestamptz) RETURNS TABLE (metric text, state text) LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('tripl.mock_now', now_::text, true);
    RETURN QUERY SELECT s.metric, s.state FROM tripl.signals s WHERE s.metric LIKE 'sig_be_%' ORDER BY 1;
END $$;
-- 2024-10-28 12:00 Berlin: both anomalies are one bucket behind the newest
-- value (latest); the day is within 3 buckets of now, the month within 3
-- months
BEGIN;
SELECT * FROM cal_signal_states('2024-10-28 12:00 Europe/Berlin');
ROLLBACK;
-- 2024-10-30 00:00 Berlin: the day 2024-10-27 began exactly 3 buckets
-- (73 hours) ago: still within the horizon; a microsecond later it is not
-- (and the 25-hour recent_signal_window is long past)
BEGIN;
SELECT * FROM cal_signal_states('2024-10-30 00:00 Europe/Berlin');
SELECT * FROM cal_signal_states('2024-10-30 00:00:00.000001 Europe/Berlin');
ROLLBACK;
-- 2025-01-01 00:00 Berlin: October began exactly 3 monthly buckets ago
-- (latest); a microsecond later it is closed
BEGIN;
SELECT * FROM cal_signal_states('2025-01-01 00:00 Europe/Berlin') WHERE metric = 'sig_be_month';
SELECT * FROM cal_signal_states('2025-01-01 00:00:00.000001 Europe/Berlin') WHERE metric = 'sig_be_month';
ROLLBACK;
-- The alert candidates apply the same grid test (with a 24-hour window):
-- at 2024-10-28 12:00 Berlin both anomalies are candidates
SELECT tripl.create_destination('sig_chat', 'slack', 'https://hooks.slack.com/services/T000/B000/SIG') > 0 AS ok;
SELECT tripl.create_alert_rule('sig_rule', 'sig_chat', metrics => '{sig_be_day, sig_be_month}') > 0 AS ok;
SET tripl.mock_now = '2024-10-28 12:00 Europe/Berlin';
SELECT rule, metric FROM tripl.evaluate_alerts() WHERE rule = 'sig_rule' ORDER BY metric;
RESET tripl.mock_now;

-- tripl.plot draws a local-time axis in the metric's zone: the subtitle
-- gives the window's ends with the zone's abbreviation there, x ticks fall
-- on local midnights and local month starts (the axis spans the first to
-- the last bucket).  be_day: two weeks around Berlin's 25-hour day, a tick
-- every 2 days; be_month: a Berlin year, every 2 months.
CREATE FUNCTION cal_plot_labels(svg text) RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(m[1], ', ') FROM regexp_matches(svg, '<text x="[0-9.]+" y="302"[^>]*>([^<]*)</text>', 'g') m
$$;
SELECT substring(p FROM '[0-9-]+ [0-9:]+ [A-Z]+ &#8211; [0-9-]+ [0-9:]+ [A-Z]+') AS subtitle, cal_plot_labels(p) AS x_labels
FROM (SELECT tripl.plot('be_day', '2024-10-20 00:00 Europe/Berlin', '2024-11-03 00:00 Europe/Berlin') AS p) s;
SELECT substring(p FROM '[0-9-]+ [0-9:]+ [A-Z]+ &#8211; [0-9-]+ [0-9:]+ [A-Z]+') AS subtitle, cal_plot_labels(p) AS x_labels
FROM (SELECT tripl.plot('be_month', '2024-01-01 00:00 Europe/Berlin', '2025-01-01 00:00 Europe/Berlin') AS p) s;
-- ny_resume, New York days 2024-11-01 .. 2024-11-06 (the 25-hour
-- 2024-11-03 inside): ticks every 12 hours of local time from local
-- midnight, as hand-written local timestamps (a UTC axis would start at
-- 12:00 UTC, since Nov 1 00:00 EDT is 04:00 UTC)
SELECT cal_plot_labels(tripl.plot('ny_resume', '2024-11-01 00:00 America/New_York', '2024-11-07 00:00 America/New_York')) AS x_labels,
       cal_plot_labels(tripl.plot('ny_resume', '2024-11-01 00:00 America/New_York', '2024-11-07 00:00 America/New_York')) =
       (SELECT string_agg(CASE WHEN extract(hour FROM t) = 0 THEN to_char(t, 'Mon FMDD') ELSE to_char(t, 'HH24:MI') END, ', ' ORDER BY t)
        FROM generate_series(timestamp '2024-11-01 00:00', timestamp '2024-11-06 00:00', interval '12 hours') t) AS local_ticks_as_expected;

-- A sql metric (each row floored onto the calendar grid, rows of a bucket
-- summed) and a cross-table ratio (sum over cal_events / count over a
-- second fact table), daily in New York across both DST changes, against
-- hand-written date_trunc SQL
SELECT tripl.create_fact_table('cal_us', 'SELECT ts, amount FROM cal_events WHERE country = ''US''', 'ts') > 0 AS ok;
SELECT tripl.create_metric('cal_sqlm', 'sql', '1 day', query => 'SELECT ts AS t, amount AS v FROM cal_events',
                           time_column => 't', value_column => 'v', timezone => 'America/New_York') IS NOT NULL AS created;
SELECT tripl.create_metric('cal_xratio', 'fact', '1 day',
    numerator => '{"fact_table": "cal_events", "aggregation": "sum", "measure_column": "amount"}',
    denominator => '{"fact_table": "cal_us", "aggregation": "count"}', timezone => 'America/New_York') IS NOT NULL AS created;
SELECT metric, rows_written > 0 AS written, status
FROM tripl.collect(window_from => '2024-01-01 00:00 America/New_York', window_to => '2025-01-01 00:00 America/New_York')
WHERE metric IN ('cal_sqlm', 'cal_xratio') ORDER BY 1;
SELECT m.name, count(*) AS days, count(*) FILTER (WHERE h.v IS NULL OR v.value IS NULL
                                                  OR abs(h.v - v.value) > 1e-9 * greatest(1, abs(h.v))) AS mismatches
FROM (SELECT 'cal_sqlm' AS name, date_trunc('day', ts, 'America/New_York') AS bucket, sum(amount)::float8 AS v
      FROM cal_events WHERE ts >= '2024-01-01 00:00 America/New_York' AND ts < '2025-01-01 00:00 America/New_York' GROUP BY 2
      UNION ALL
      SELECT 'cal_xratio', n.bucket, n.s / d.c
      FROM (SELECT date_trunc('day', ts, 'America/New_York') AS bucket, sum(amount)::float8 AS s FROM cal_events
            WHERE ts >= '2024-01-01 00:00 America/New_York' AND ts < '2025-01-01 00:00 America/New_York' GROUP BY 1) n
      JOIN (SELECT date_trunc('day', ts, 'America/New_York') AS bucket, count(*)::float8 AS c FROM cal_events
            WHERE country = 'US' GROUP BY 1) d ON d.bucket = n.bucket) h
FULL JOIN (SELECT m.name, v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
           WHERE m.name IN ('cal_sqlm', 'cal_xratio')) v ON v.name = h.name AND v.bucket = h.bucket
JOIN tripl.metrics m ON m.name = coalesce(h.name, v.name)
GROUP BY m.name ORDER BY 1;

-- Event compositions on a calendar grid in the southern hemisphere
-- (Australia/Sydney: DST ends 2024-04-07, starts 2024-10-06): single,
-- ratio and per_distinct_user, daily, against hand-written date_trunc SQL
SELECT tripl.create_event_source('cal_es', 'SELECT ts, country, user_id FROM cal_events', 'ts', 'country',
                                 user_column => 'user_id') > 0 AS ok;
SELECT tripl.create_metric('cal_ev_us', 'event_composition', '1 day', event_source => 'cal_es',
                           numerator_event => 'US', timezone => 'Australia/Sydney') > 0 AS ok;
SELECT tripl.create_metric('cal_ev_us_de', 'event_composition', '1 day', event_source => 'cal_es',
                           numerator_event => 'US', denominator_event => 'DE', timezone => 'Australia/Sydney') > 0 AS ok;
SELECT tripl.create_metric('cal_ev_us_per_user', 'event_composition', '1 day', event_source => 'cal_es',
                           numerator_event => 'US', composition => 'per_distinct_user',
                           timezone => 'Australia/Sydney') > 0 AS ok;
SELECT metric, rows_written > 0 AS written, status
FROM tripl.collect(window_from => '2024-01-01 00:00 Australia/Sydney', window_to => '2025-01-01 00:00 Australia/Sydney')
WHERE metric LIKE 'cal\_ev\_%' ORDER BY 1;
SELECT h.name, count(*) AS days,
       count(*) FILTER (WHERE h.v IS NULL OR v.value IS NULL OR abs(h.v - v.value) > 1e-9 * greatest(1, abs(h.v))) AS mismatches
FROM (SELECT x.name, x.bucket, x.v FROM (
        SELECT date_trunc('day', ts, 'Australia/Sydney') AS bucket,
               count(*) FILTER (WHERE country = 'US')::float8 AS us,
               count(*) FILTER (WHERE country = 'DE')::float8 AS de,
               count(DISTINCT user_id)::float8 AS users
        FROM cal_events
        WHERE ts >= '2024-01-01 00:00 Australia/Sydney' AND ts < '2025-01-01 00:00 Australia/Sydney' GROUP BY 1) d,
      LATERAL (VALUES ('cal_ev_us', d.bucket, d.us), ('cal_ev_us_de', d.bucket, d.us / nullif(d.de, 0)),
                      ('cal_ev_us_per_user', d.bucket, d.us / nullif(d.users, 0))) x (name, bucket, v)
      WHERE x.v IS NOT NULL) h
FULL JOIN (SELECT m.name, v.bucket, v.value FROM tripl.metric_values v JOIN tripl.metrics m ON m.id = v.metric_id
           WHERE m.name LIKE 'cal\_ev\_%') v ON v.name = h.name AND v.bucket = h.bucket
GROUP BY h.name ORDER BY 1;
-- the 25-hour and 23-hour local days are one bucket each
SELECT bucket, value FROM tripl.series('cal_ev_us', '2024-04-06 00:00 Australia/Sydney', '2024-04-09 00:00 Australia/Sydney')
ORDER BY bucket;
SELECT bucket, value FROM tripl.series('cal_ev_us', '2024-10-05 00:00 Australia/Sydney', '2024-10-08 00:00 Australia/Sydney')
ORDER BY bucket;
