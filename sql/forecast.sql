-- tripl.forecast and tripl.explain_anomaly on a stored daily count with a
-- weekly pattern, checked against hand-written SQL over the stored values
-- (doc/detection.md, "Forecasts" and "Explaining an anomaly").
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- 28 days from Monday 2026-03-02: DE 100 + 20 x weekday + 3 x week,
-- US 300 - 10 x weekday + day mod 3; on the last day DE falls to 20
CREATE TABLE fc_facts (ts timestamptz, country text);
INSERT INTO fc_facts
SELECT '2026-03-02 00:00+00'::timestamptz + d * interval '1 day' + k * interval '1 minute', c.country
FROM generate_series(0, 27) AS d,
     LATERAL (VALUES ('DE', CASE WHEN d = 27 THEN 20 ELSE 100 + 20 * (d % 7) + 3 * (d / 7) END),
                     ('US', 300 - 10 * (d % 7) + d % 3)) AS c(country, n),
     LATERAL generate_series(0, c.n - 1) AS k;
SELECT tripl.create_fact_table('fc', 'SELECT ts, country FROM fc_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('fc_orders', 'fact', '1 day', fact_table => 'fc', aggregation => 'count',
                           breakdowns => '{country}') > 0 AS ok;
SET tripl.mock_now = '2026-03-30 00:00+00';
SELECT metric, status FROM tripl.collect(window_from => '2026-03-02 00:00+00', window_to => '2026-03-30 00:00+00')
WHERE metric LIKE 'fc\_%';

-- By hand, over the history a detection pass loads (3 weeks: from
-- 2026-03-09): slot = days since its first bucket; the week (7 buckets) is the
-- phase period; each partner (same weekday) is divided by the mean of the
-- 7 slots ending at it (fewer at the start), the median of those factors
-- times the mean of the last 7 days is expected; the spread is 1.4826 x
-- MAD of the factors (their population sd when the MAD is 0) times that
-- level, floored at max(5 % of expected, 1, sqrt(expected)); the band is
-- expected -+ sigma_threshold spreads (the metric's setting in effect),
-- not below 0.
CREATE TEMP TABLE fc_hand AS
WITH v AS (
    SELECT ((extract(epoch FROM bucket) - extract(epoch FROM timestamptz '2026-03-09 00:00+00')) / 86400)::int AS slot,
           value
    FROM tripl.metric_values WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'fc_orders')
      AND bucket >= '2026-03-09 00:00+00'),
f AS (
    SELECT t.slot AS target, p.value / (SELECT avg(w.value) FROM v w WHERE w.slot > p.slot - 7 AND w.slot <= p.slot) AS factor
    FROM generate_series(21, 27) AS t(slot) JOIN v p ON p.slot % 7 = t.slot % 7),
med AS (SELECT target, percentile_cont(0.5) WITHIN GROUP (ORDER BY factor) AS m FROM f GROUP BY target),
spread AS (
    SELECT f.target, med.m,
           1.4826 * percentile_cont(0.5) WITHIN GROUP (ORDER BY abs(f.factor - med.m)) AS mad_scale,
           stddev_pop(f.factor) AS sd
    FROM f JOIN med USING (target) GROUP BY f.target, med.m),
lvl AS (SELECT avg(value) AS level FROM v WHERE slot > 13),
e AS (
    SELECT target, m * level AS expected,
           (CASE WHEN mad_scale > 0 THEN mad_scale ELSE sd END) * level AS scale
    FROM spread, lvl)
SELECT timestamptz '2026-03-09 00:00+00' + target * interval '1 day' AS bucket, expected,
       greatest(scale, 0.05 * expected, 1, sqrt(expected)) AS effective,
       (SELECT sigma_threshold FROM tripl.monitoring WHERE metric = 'fc_orders') AS sigma
FROM e;

-- one season ahead by default: 7 days, each as by hand
SELECT count(*) AS rows, min(bucket) AS first, max(bucket) AS last FROM tripl.forecast('fc_orders');
SELECT f.bucket, round(f.expected::numeric, 6) AS expected,
       abs(f.expected - h.expected) < 1e-9 AS expected_ok,
       abs(f.lower_bound - greatest(h.expected - h.sigma * h.effective, 0)) < 1e-9 AS lower_ok,
       abs(f.upper_bound - (h.expected + h.sigma * h.effective)) < 1e-9 AS upper_ok
FROM tripl.forecast('fc_orders') f JOIN fc_hand h USING (bucket) ORDER BY 1;
-- a shorter horizon is a prefix of it
SELECT count(*) AS rows, max(bucket) AS last FROM tripl.forecast('fc_orders', horizon => 3);
-- bad input: clear errors
SELECT * FROM tripl.forecast('fc_orders', horizon => 0);
SELECT * FROM tripl.forecast('no_such_metric');

-- explain_anomaly: DE's drop on the last day.  By hand: each country's
-- value against the median of the same weekday 1, 2 and 3 weeks earlier;
-- share = delta / the sum of the column's deltas
WITH b AS (
    SELECT breakdown_value AS country, bucket, value FROM tripl.metric_breakdowns
    WHERE metric_id = (SELECT id FROM tripl.metrics WHERE name = 'fc_orders')),
hand AS (
    SELECT c.country,
           (SELECT value FROM b WHERE b.country = c.country AND bucket = '2026-03-29') AS actual,
           (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY value) FROM b
            WHERE b.country = c.country AND bucket IN ('2026-03-22', '2026-03-15', '2026-03-08')) AS expected
    FROM (VALUES ('DE'), ('US')) AS c(country))
SELECT e.breakdown_column, e.breakdown_value, e.actual, e.expected, e.delta, round(e.share_of_change::numeric, 6) AS share,
       e.actual = h.actual AND e.expected = h.expected AND e.delta = h.actual - h.expected AS matches_hand,
       abs(e.share_of_change - (h.actual - h.expected) / sum(h.actual - h.expected) OVER ()) < 1e-12 AS share_ok
FROM tripl.explain_anomaly('fc_orders', '2026-03-29 00:00+00') e JOIN hand h ON h.country = e.breakdown_value
ORDER BY abs(e.delta) DESC;
-- bad input
SELECT * FROM tripl.explain_anomaly('fc_orders', '2026-03-29 12:00+00');
SELECT * FROM tripl.explain_anomaly('fc_orders', NULL);
SELECT * FROM tripl.explain_anomaly('no_such_metric', '2026-03-29 00:00+00');

SELECT tripl.drop_metric('fc_orders');
SELECT tripl.drop_fact_table('fc');
RESET tripl.mock_now;
RESET client_min_messages;
