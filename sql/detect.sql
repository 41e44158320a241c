-- Detection: tripl.detect_series on hand-built series with hand-computed
-- expectations, its validation, and tripl.detect / set_monitoring /
-- signals / series bands on stored metrics.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;

-- A helper: an hourly series of n points from 2026-05-01, value f(i)
CREATE FUNCTION hourly(n int, base float8, changes jsonb DEFAULT '{}')
RETURNS TABLE (b timestamptz[], v float8[]) LANGUAGE sql AS $$
    SELECT array_agg('2026-05-01 00:00+00'::timestamptz + i * interval '1 hour' ORDER BY i),
           array_agg(coalesce((changes->>i::text)::float8, base) ORDER BY i)
    FROM generate_series(0, n - 1) AS i
$$;

-- 1. A flat count of 100 an hour for 14 days with a spike of 300 at hour
-- 300.  By hand: the daily partners all read 100 and the level is 100, so
-- expected = 100; the robust spread is 0; the effective spread is the
-- largest of 0, 5% of 100, 1 and sqrt(100) = 10; z = (300 - 100) / 10 = 20.
SELECT d.bucket, d.actual, d.expected, d.effective_stddev, d.z_score, d.is_anomaly, d.detector, d.direction
FROM hourly(336, 100, '{"300": 300}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.is_anomaly;
-- the buckets after the spike are judged without it: expected stays 100
SELECT count(*) AS scored_after_spike, min(d.expected) AS min_expected, max(d.expected) AS max_expected,
       max(abs(d.z_score)) AS max_abs_z
FROM hourly(336, 100, '{"300": 300}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.bucket > '2026-05-01 00:00+00'::timestamptz + 300 * interval '1 hour';
-- the two newest buckets are still settling (120 minutes): not scored
SELECT max(d.bucket) AS newest_scored
FROM hourly(336, 100) h, tripl.detect_series(h.b, h.v, '1 hour') d;

-- 2. A drop to 40: z = (40 - 100) / 10 = -6
SELECT d.bucket, d.actual, d.expected, d.effective_stddev, d.z_score, d.direction
FROM hourly(336, 100, '{"310": 40}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.is_anomaly;
-- ... and 60 is within 4 sigma: z = -4 is flagged, 61 (z = -3.9) is not
SELECT (SELECT count(*) FROM hourly(336, 100, '{"310": 60}') h, tripl.detect_series(h.b, h.v, '1 hour') d
        WHERE d.is_anomaly) AS flagged_at_60,
       (SELECT count(*) FROM hourly(336, 100, '{"310": 61}') h, tripl.detect_series(h.b, h.v, '1 hour') d
        WHERE d.is_anomaly) AS flagged_at_61;

-- 3. An outage (five hours of 0) is one anomaly, at its first hour
SELECT d.bucket, d.actual, d.expected, d.direction
FROM hourly(336, 100, '{"300": 0, "301": 0, "302": 0, "303": 0, "304": 0}') h,
     tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.is_anomaly;

-- 4. Low volume: expected 10 is below min_expected_count (50), so even a
-- tenfold spike is not an anomaly — unless the setting allows it
SELECT count(*) FILTER (WHERE d.is_anomaly) AS default_gate
FROM hourly(336, 10, '{"300": 100}') h, tripl.detect_series(h.b, h.v, '1 hour') d;
SELECT d.bucket, d.expected, d.effective_stddev, d.z_score
FROM hourly(336, 10, '{"300": 100}') h,
     tripl.detect_series(h.b, h.v, '1 hour', settings => '{"min_expected_count": 5}') d
WHERE d.is_anomaly;

-- 5. sigma_threshold: the drop to 60 (z = -4) is not flagged at 4.5
SELECT count(*) FILTER (WHERE d.is_anomaly) AS flagged
FROM hourly(336, 100, '{"310": 60}') h,
     tripl.detect_series(h.b, h.v, '1 hour', settings => '{"sigma_threshold": 4.5}') d;

-- 5b. The anomaly score, 1 / (1 + exp(-1.5 (|z| - 4))): by hand the drop
-- to 60 (z = -4) scores 0.5, an hour at its expectation (z = 0) scores
-- 1 / (1 + e^6) = 0.002473, the drop to 40 (z = -6) 1 / (1 + e^-3) = 0.952574
SELECT d.bucket, d.actual, d.z_score, round(d.score::numeric, 6) AS score
FROM hourly(336, 100, '{"310": 60}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.bucket IN ('2026-05-13 21:00+00', '2026-05-13 22:00+00');
SELECT d.bucket, d.actual, d.z_score, round(d.score::numeric, 6) AS score
FROM hourly(336, 100, '{"310": 40}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.is_anomaly;
-- every bucket with a z-score has a score in [0, 1], and no other bucket
SELECT count(*) FILTER (WHERE d.z_score IS NOT NULL) AS with_z,
       count(*) FILTER (WHERE d.score IS NOT NULL) AS with_score,
       count(*) FILTER (WHERE (d.score IS NULL) <> (d.z_score IS NULL)) AS mismatched,
       count(*) FILTER (WHERE d.score < 0 OR d.score > 1) AS out_of_range
FROM hourly(336, 100, '{"300": 300}') h, tripl.detect_series(h.b, h.v, '1 hour') d;
-- score_threshold is sigma_threshold on the score's scale: 0.5 is sigma 4
-- (the drop to 60 is flagged), 0.9 is sigma 4 + ln(9) / 1.5 = 5.4648 (a
-- drop to 50, z = -5, is not; a drop to 40, z = -6, is)
SELECT (SELECT count(*) FROM hourly(336, 100, '{"310": 60}') h,
        tripl.detect_series(h.b, h.v, '1 hour', settings => '{"score_threshold": 0.5}') d
        WHERE d.is_anomaly) AS at_60_score_05,
       (SELECT count(*) FROM hourly(336, 100, '{"310": 50}') h,
        tripl.detect_series(h.b, h.v, '1 hour', settings => '{"score_threshold": 0.9}') d
        WHERE d.is_anomaly) AS at_50_score_09,
       (SELECT count(*) FROM hourly(336, 100, '{"310": 40}') h,
        tripl.detect_series(h.b, h.v, '1 hour', settings => '{"score_threshold": 0.9}') d
        WHERE d.is_anomaly) AS at_40_score_09;

-- 6. A fractional series (a ratio of 0.5) doubling for one hour: flagged
-- as a spike; the same step that stays is a trend change, reported once
SELECT d.bucket, d.actual, d.expected, d.is_anomaly, d.direction
FROM hourly(336, 0.5, '{"300": 1.0}') h, tripl.detect_series(h.b, h.v, '1 hour', count_shaped => false) d
WHERE d.is_anomaly;

-- 7. Gaps: a count series may skip buckets (they read as 0 only inside
-- the series); unsorted input is sorted
SELECT count(*) AS scored
FROM (SELECT array_agg(b ORDER BY b DESC) AS b, array_agg(v ORDER BY b DESC) AS v
      FROM unnest((SELECT b FROM hourly(200, 100)), (SELECT v FROM hourly(200, 100))) AS u(b, v)) s,
     tripl.detect_series(s.b, s.v, '1 hour') d;

-- 8. Bad input: clear errors
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1, 2]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00', NULL]::timestamptz[], ARRAY[1, 2]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:30+00']::timestamptz[], ARRAY[1]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00', '2026-05-01 00:00+00']::timestamptz[],
                                  ARRAY[1, 2]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['infinity']::timestamptz[], ARRAY[1]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(NULL, ARRAY[1]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 month');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '90 seconds');
SELECT * FROM tripl.detect_series(ARRAY[['2026-05-01 00:00+00']]::timestamptz[], ARRAY[[1]]::float8[], '1 hour');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"sigma_threshold": 0}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"min_history_buckets": 20}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"sigma": 3}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"sigma_threshold": "high"}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '[1, 2]');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"score_threshold": 1}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"score_threshold": 0}');
SELECT * FROM tripl.detect_series(ARRAY['2026-05-01 00:00+00']::timestamptz[], ARRAY[1]::float8[], '1 hour',
                                  settings => '{"score_threshold": 0.9, "sigma_threshold": 5}');
-- NaN and infinite values are skipped, not scored
SELECT count(*) AS scored_without_odd_values
FROM hourly(100, 100, '{"50": "NaN", "60": "Infinity"}') h, tripl.detect_series(h.b, h.v, '1 hour') d
WHERE d.bucket IN ('2026-05-03 02:00+00', '2026-05-03 12:00+00');
-- a long series is fine (100 000 hourly points: about 11 years)
SELECT count(*) > 0 AS scored, count(*) FILTER (WHERE d.is_anomaly) AS anomalies
FROM hourly(100000, 1000) h, tripl.detect_series(h.b, h.v, '1 hour') d;

-- 9. tripl.detect on stored metrics
CREATE TABLE det_facts (ts timestamptz, kind text);
-- 120 rows an hour for 14 days; 600 in hour 300; none in the last three hours
INSERT INTO det_facts
SELECT '2026-05-01 00:00+00'::timestamptz + h * interval '1 hour' + k * (interval '1 hour' / n), 'a'
FROM generate_series(0, 335) AS h,
     LATERAL (SELECT CASE WHEN h = 300 THEN 600 WHEN h >= 333 THEN 0 ELSE 120 END AS n) c,
     LATERAL generate_series(0, c.n - 1) AS k;
SELECT tripl.create_fact_table('det', 'SELECT ts, kind FROM det_facts', 'ts') > 0 AS ok;
SELECT tripl.create_metric('det_count', 'fact', fact_table => 'det', aggregation => 'count', unit => 'rows') > 0 AS ok;
SELECT tripl.create_metric('det_quiet', 'fact', fact_table => 'det', aggregation => 'count',
                           anomaly_detection => false) > 0 AS ok;
SET tripl.mock_now = '2026-05-15 00:00+00';
SELECT metric, status FROM tripl.collect(window_from => '2026-05-01 00:00+00', window_to => '2026-05-15 00:00+00')
ORDER BY 1;
-- (earlier suites left metrics behind: they are scored too, and shown by count)
SELECT metric, evaluated_from, evaluated_to, anomalies, error FROM tripl.detect()
WHERE metric LIKE 'det\_%' ORDER BY 1;
-- by hand: 120 an hour, so expected 120 and an effective spread of
-- sqrt(120) = 10.954; the spike z = (600 - 120) / 10.954 = 43.818; the
-- outage is one drop at its first hour, z = -120 / 10.954 (its two newer
-- hours are still settling)
SELECT m.name, a.bucket, a.actual, a.expected, a.effective_stddev, a.z_score, a.detector, a.direction
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name LIKE 'det\_%' ORDER BY 1, 2;
-- each stored anomaly has the score of its z: 1 / (1 + exp(-1.5 (|z| - 4)))
-- (by hand 1.000000 for the spike, 1 / (1 + exp(-1.5 x 6.954451)) = 0.999971
-- for the outage)
SELECT m.name, a.bucket, round(a.score::numeric, 6) AS score,
       abs(a.score - 1 / (1 + exp(-1.5 * (abs(a.z_score) - 4)))) < 1e-12 AS score_of_z
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name LIKE 'det\_%' ORDER BY 1, 2;
-- detecting again with nothing new evaluates nothing and rewrites nothing
CREATE TEMP TABLE det_before AS
SELECT a.metric_id, a.bucket, a.xmin::text AS x, a.created_at
FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'det_count';
SELECT metric, anomalies FROM tripl.detect() ORDER BY 1;
SELECT count(*) AS unchanged FROM tripl.anomalies a JOIN det_before b USING (metric_id, bucket)
WHERE a.xmin::text = b.x AND a.created_at = b.created_at;
SELECT count(*) AS stored FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'det_count';
-- detect(metric) re-scores one metric: same rows
SELECT metric, anomalies, error FROM tripl.detect('det_count');
SELECT count(*) AS same_rows FROM tripl.anomalies a JOIN det_before b USING (metric_id, bucket);
SELECT count(*) AS stored FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id WHERE m.name = 'det_count';
SELECT * FROM tripl.detect('det_quiet');
SELECT * FROM tripl.detect('no_such_metric');

-- series: the expected band (expected ± sigma × effective spread) and flags
SELECT bucket, value, expected, lower_bound, upper_bound, is_anomaly, z_score, direction
FROM tripl.series('det_count', '2026-05-13 11:00+00', '2026-05-13 14:00+00');

-- signals: the newest anomaly is 'latest' while it is within the settling
-- lag of the newest bucket (and recent_signal_window of now); a day later
-- it is 'closed'
SELECT metric, state, bucket, direction FROM tripl.signals WHERE metric LIKE 'det\_%';
SET tripl.mock_now = '2026-05-16 00:00+00';
SELECT metric, state FROM tripl.signals WHERE metric LIKE 'det\_%';
SET tripl.mock_now = '2026-05-15 00:00+00';

-- 10. Settings: defaults, overrides, validation, reset
SELECT * FROM tripl.monitoring_defaults;
SELECT tripl.set_monitoring('det_count', sigma_threshold => 25);
SELECT metric, monitored, sigma_threshold, min_expected_count FROM tripl.monitoring
WHERE metric LIKE 'det\_%' ORDER BY metric;
SELECT metric, anomalies FROM tripl.detect('det_count');
SELECT count(*) AS anomalies_at_sigma_25 FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id
WHERE m.name = 'det_count';
SELECT tripl.set_monitoring('det_count', reset => true);
SELECT metric, anomalies FROM tripl.detect('det_count');
SELECT tripl.set_monitoring(sigma_threshold => -1);
SELECT tripl.set_monitoring('det_count', baseline_window_buckets => 1);
SELECT tripl.set_monitoring('det_count', min_history_buckets => 100);
SELECT tripl.set_monitoring('det_count', settling_minutes => 5000);
SELECT tripl.set_monitoring('det_count', recent_signal_window => '-1 hour');
SELECT tripl.set_monitoring('no_such_metric', sigma_threshold => 3);
SET ROLE regress_alice;
SELECT tripl.set_monitoring(sigma_threshold => 3);
RESET ROLE;
SELECT * FROM tripl.monitoring_defaults;

-- 11. Switching detection off removes the metric's anomalies
SELECT tripl.alter_metric('det_count', anomaly_detection => false);
SELECT count(*) AS anomalies_left FROM tripl.anomalies a JOIN tripl.metrics m ON m.id = a.metric_id
WHERE m.name = 'det_count';

SELECT tripl.drop_metric('det_count');
SELECT tripl.drop_metric('det_quiet');
SELECT tripl.drop_fact_table('det');
RESET tripl.mock_now;
RESET client_min_messages;
