-- Incidents, not buckets: a lasting condition is one anomaly row whose
-- extent (last_bucket, ended_at) later passes update; signals and alert
-- candidates follow the open incident, so a late batch is notified once and
-- a backfill of old history is not (doc/detection.md, "Incidents";
-- doc/alerting.md, "What a rule looks at").
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- One row per hour with a value: 100 plus a small deterministic wobble
-- (-5..5); a drop to 20 in the hours given
CREATE TABLE inc_facts (series text, ts timestamptz, v float8);
CREATE FUNCTION inc_fill(series text, upto timestamptz, drop_from timestamptz, drop_to timestamptz)
RETURNS void LANGUAGE sql AS $$
    DELETE FROM inc_facts f WHERE f.series = inc_fill.series;
    INSERT INTO inc_facts
    SELECT inc_fill.series, '2026-06-01 00:00+00'::timestamptz + i * interval '1 hour',
           CASE WHEN '2026-06-01 00:00+00'::timestamptz + i * interval '1 hour' >= drop_from
                     AND '2026-06-01 00:00+00'::timestamptz + i * interval '1 hour' < drop_to THEN 20
                ELSE 100 + (i * 37 % 11) - 5 END
    FROM generate_series(0, (extract(epoch FROM upto - '2026-06-01 00:00+00') / 3600)::int - 1) AS i
$$;
SELECT tripl.create_fact_table('inc', 'SELECT series, ts, v FROM inc_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('inc_late', 'fact', fact_table => 'inc', aggregation => 'sum', measure_column => 'v',
                           filter_sql => $$series = 'late'$$) > 0 AS ok;
SELECT tripl.create_metric('inc_hist', 'fact', fact_table => 'inc', aggregation => 'sum', measure_column => 'v',
                           filter_sql => $$series = 'hist'$$) > 0 AS ok;
SELECT tripl.create_destination('inc_hook', 'webhook', 'https://hooks.example.com/incidents') > 0 AS ok;
SELECT tripl.create_alert_rule('inc_rule', 'inc_hook', metrics => '{inc_late, inc_hist}') > 0 AS ok;

-- 1. A late batch: the scheduler was stopped, and three weeks of values
-- arrive at once at 12:05 on 2026-06-22.  inc_late dropped to 20 at 04:00,
-- eight hours before its newest value (11:00): far more than the settling
-- lag (two hourly buckets) behind it.  inc_hist dropped on 2026-06-10
-- 04:00-12:00 and was back afterwards: old history.
SELECT inc_fill('late', '2026-06-22 12:00+00', '2026-06-22 04:00+00', 'infinity');
SELECT inc_fill('hist', '2026-06-22 12:00+00', '2026-06-10 04:00+00', '2026-06-10 12:00+00');
SET tripl.mock_now = '2026-06-22 12:05+00';
SELECT metric, status FROM tripl.collect(window_from => '2026-06-01 00:00+00', window_to => '2026-06-22 12:00+00')
WHERE metric LIKE 'inc\_%' ORDER BY 1;
SELECT metric, anomalies, error FROM tripl.detect() WHERE metric LIKE 'inc\_%' ORDER BY 1;
-- By hand: each drop is one row, at its first hour.  inc_late's newest
-- judged hour is 09:00 (10:00 and 11:00 are settling): its incident's last
-- flagged bucket, and it is open.  inc_hist's last flag is 11:00, and the
-- two hours after it were judged without a flag: it ended at 12:00.
SELECT m.name, a.bucket, a.actual, a.direction, a.last_bucket, a.ended_at
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name LIKE 'inc\_%' ORDER BY 1, 2;
-- signals: the open incident is latest, the ended one closed
SELECT metric, state, bucket, last_bucket, ended_at FROM tripl.signals WHERE metric LIKE 'inc\_%' ORDER BY 1;
-- exactly one notification, for the open incident; none for the old one
SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() WHERE rule = 'inc_rule' ORDER BY 2;
SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() WHERE rule = 'inc_rule' ORDER BY 2;
SELECT x.kind, jsonb_array_length(x.payload->'items') AS items, x.payload->'items'->0->>'scope_name' AS metric,
       x.payload->'items'->0->>'bucket' AS bucket
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id WHERE d.name = 'inc_hook' ORDER BY x.id;

-- 2. While it lasts: two more hours of 20 arrive.  The row is updated (its
-- last flagged bucket moves to 11:00), no row is added, nothing is sent.
SELECT inc_fill('late', '2026-06-22 14:00+00', '2026-06-22 04:00+00', 'infinity');
SET tripl.mock_now = '2026-06-22 14:05+00';
SELECT metric, status FROM tripl.collect('inc_late', '2026-06-22 12:00+00', '2026-06-22 14:00+00');
SELECT metric, error FROM tripl.detect('inc_late');
SELECT m.name, a.bucket, a.last_bucket, a.ended_at
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'inc_late' ORDER BY 2;
SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() WHERE rule = 'inc_rule' ORDER BY 2;

-- 3. Back: from 14:00 the values are normal again.  At 18:05 the newest
-- judged hour is 15:00; the last flag was 13:00 and 14:00 and 15:00 were
-- judged without one: the incident ended at 14:00, its signal is closed and
-- the alert closes with one resolution.
SELECT inc_fill('late', '2026-06-22 18:00+00', '2026-06-22 04:00+00', '2026-06-22 14:00+00');
SET tripl.mock_now = '2026-06-22 18:05+00';
SELECT metric, status FROM tripl.collect('inc_late', '2026-06-22 14:00+00', '2026-06-22 18:00+00');
SELECT metric, error FROM tripl.detect('inc_late');
SELECT m.name, a.bucket, a.last_bucket, a.ended_at
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'inc_late' ORDER BY 2;
SELECT metric, state, last_bucket, ended_at FROM tripl.signals WHERE metric = 'inc_late';
SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() WHERE rule = 'inc_rule' ORDER BY 2;
SELECT x.kind, count(*) FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
WHERE d.name = 'inc_hook' GROUP BY 1 ORDER BY 1;
-- detecting again changes nothing
CREATE TEMP TABLE inc_before AS SELECT metric_id, bucket, xmin::text AS x FROM tripl.anomalies;
SELECT metric, error FROM tripl.detect('inc_late');
SELECT count(*) AS rewritten FROM tripl.anomalies a JOIN inc_before b USING (metric_id, bucket) WHERE a.xmin::text <> b.x;

-- 4. Driven by: a metric with a breakdown by country; DE (60 an hour)
-- collapses to 5 from 2026-06-22 04:00, US stays at 40.  By hand, as
-- tripl.explain_anomaly computes it: DE's expected value is the median of
-- the same hour one, two and three weeks earlier, 60; its delta is -55, the
-- whole change of the column (US: 0), share 1; its own change -55 / 60 =
-- -91.7 %, "-92%" in the text.  US, with no share of the change, is not named.
CREATE TABLE inc_bd_facts (ts timestamptz, country text, v float8);
INSERT INTO inc_bd_facts
SELECT '2026-06-01 00:00+00'::timestamptz + i * interval '1 hour', c,
       CASE WHEN c = 'US' THEN 40
            WHEN '2026-06-01 00:00+00'::timestamptz + i * interval '1 hour' >= '2026-06-22 04:00+00' THEN 5
            ELSE 60 END
FROM generate_series(0, 21 * 24 + 11) AS i, unnest(ARRAY['DE', 'US']) AS c;
SELECT tripl.create_fact_table('inc_bd', 'SELECT ts, country, v FROM inc_bd_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('inc_revenue', 'fact', fact_table => 'inc_bd', aggregation => 'sum', measure_column => 'v',
                           breakdowns => '{country}') > 0 AS ok;
SELECT tripl.create_alert_rule('inc_bd_rule', 'inc_hook', metrics => '{inc_revenue}') > 0 AS ok;
SELECT tripl.create_destination('inc_slack', 'slack', 'https://hooks.slack.com/services/T000/B000/XXXX') > 0 AS ok;
SELECT tripl.create_alert_rule('inc_bd_slack', 'inc_slack', metrics => '{inc_revenue}') > 0 AS ok;
SET tripl.mock_now = '2026-06-22 12:05+00';
SELECT metric, status FROM tripl.collect('inc_revenue', '2026-06-01 00:00+00', '2026-06-22 12:00+00');
SELECT metric, error FROM tripl.detect('inc_revenue');
SELECT a.bucket, a.actual, a.expected, a.direction, a.ended_at
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'inc_revenue';
-- the breakdown by hand, from the facts themselves
SELECT f.country, sum(f.v) FILTER (WHERE f.ts = '2026-06-22 04:00+00') AS actual,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.v) FILTER (WHERE f.ts IN ('2026-06-15 04:00+00',
           '2026-06-08 04:00+00', '2026-06-01 04:00+00')) AS expected
FROM inc_bd_facts f GROUP BY 1 ORDER BY 1;
SELECT rule, metric, event, sent FROM tripl.evaluate_alerts() WHERE rule LIKE 'inc\_bd\_%' ORDER BY 1;
SELECT x.payload->>'message' AS message, jsonb_pretty(x.payload->'items'->0->'drivers') AS drivers
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
WHERE d.name = 'inc_hook' AND x.payload->'items'->0->>'scope_name' = 'inc_revenue';
-- Slack: the anomaly's block names them too
SELECT b->'text'->>'text' AS slack_block
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id,
     jsonb_array_elements(x.payload->'blocks') AS b
WHERE d.name = 'inc_slack' AND b->'text'->>'text' LIKE 'inc_revenue%';
-- a metric without breakdowns has no drivers: the first alert above
SELECT x.payload->'items'->0 ? 'drivers' AS has_drivers
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
WHERE d.name = 'inc_hook' AND x.kind = 'alert' AND x.payload->'items'->0->>'scope_name' = 'inc_late';

SELECT tripl.drop_alert_rule('inc_rule');
SELECT tripl.drop_alert_rule('inc_bd_rule');
SELECT tripl.drop_alert_rule('inc_bd_slack');
SELECT tripl.drop_destination('inc_slack');
SELECT tripl.drop_destination('inc_hook');
SELECT tripl.drop_metric('inc_late');
SELECT tripl.drop_metric('inc_hist');
SELECT tripl.drop_fact_table('inc');
SELECT tripl.drop_metric('inc_revenue');
SELECT tripl.drop_fact_table('inc_bd');
RESET tripl.mock_now;
