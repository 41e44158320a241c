-- Definitions as code (doc/definitions.md, "Definitions as code"):
-- tripl.export_definitions() and tripl.apply_definitions().  Runs as two
-- roles of its own, so what the earlier suites defined is not in their
-- exports: ann (a member of tripl_admin, with destinations and rules) and
-- ben (a plain role).
-- the default detection settings the earlier suites left are put aside
-- (and back at the end) with the same functions
SELECT coalesce(tripl.export_definitions() -> 'monitoring', 'null') AS saved_monitoring \gset
SELECT count(*) FROM tripl.apply_definitions('{"monitoring": null}', dry_run => false);
CREATE ROLE regress_defio_ann IN ROLE tripl_admin;
CREATE ROLE regress_defio_ben;
GRANT SELECT ON orders, events TO regress_defio_ann, regress_defio_ben;
SET ROLE regress_defio_ann;

--------------------------------------------------------------------------
-- 1. Export: every kind of definition, names sorted, defaults left out,
-- secrets as placeholders
--------------------------------------------------------------------------
SELECT tripl.create_fact_table('io_orders', 'SELECT created_at, amount, status, country, user_id FROM orders;',
    'created_at', identifier_columns => '{user_id}',
    row_filters => '{"completed": "status = ''completed''", "big": "amount >= 50"}', description => 'Orders') > 0 AS ok;
SELECT tripl.create_event_source('io_events', 'SELECT event_time, event_name, user_id, platform FROM events',
    'event_time', 'event_name', 'user_id') > 0 AS ok;
SELECT tripl.create_metric('io_completed', 'fact', '1 hour', fact_table => 'io_orders', aggregation => 'count',
    row_filters => '{completed}', breakdowns => '{country}', breakdown_values_limit => 3, unit => 'orders') > 0 AS ok;
SELECT tripl.create_metric('io_aov', 'fact', '1 day',
    numerator => '{"fact_table": "io_orders", "aggregation": "sum", "measure_column": "amount", "row_filters": ["big"]}',
    denominator => '{"fact_table": "io_orders", "aggregation": "count"}', status => 'draft') > 0 AS ok;
SELECT tripl.create_metric('io_sql', 'sql', '1 day', query => 'SELECT created_at AS ts, amount AS value FROM orders',
    time_column => 'ts', anomaly_detection => false, description => 'Raw') > 0 AS ok;
SELECT tripl.create_metric('io_conversion', 'event_composition', '1 hour', event_source => 'io_events',
    numerator_event => 'Purchase Completed', denominator_event => 'Home Screen View') > 0 AS ok;
SELECT tripl.create_metric('io_per_user', 'event_composition', '1 day', event_source => 'io_events',
    numerator_event => 'Purchase Completed', composition => 'per_distinct_user') > 0 AS ok;
SELECT tripl.set_monitoring('io_aov', sigma_threshold => 3.5, recent_signal_window => '12 hours');
SELECT tripl.create_destination('io_hook', 'webhook', 'https://hooks.example.com/tripl',
    secret => 'hook-s3cr3t', secret_header => 'X-Token') > 0 AS ok;
SELECT tripl.create_destination('io_slack', 'slack', 'https://hooks.slack.com/services/T0/B0/slack-s3cr3t') > 0 AS ok;
SELECT tripl.create_destination('io_digest', 'webhook', 'https://hooks.example.com/digest',
    schedule => '0 9 * * 1-5') > 0 AS ok;
SELECT tripl.create_alert_rule('io_rule', 'io_hook', metrics => '{io_conversion,io_aov}', min_percent_delta => 20,
    cooldown => '2 hours', notify_on_spike => false) > 0 AS ok;
SELECT tripl.create_alert_rule('io_all', 'io_slack', message_template => '{{count}} anomalies') > 0 AS ok;

SELECT jsonb_pretty(tripl.export_definitions());
SELECT tripl.export_definitions() AS doc \gset
-- no secret in it, and the same names as the catalog holds for ann
SELECT :'doc' LIKE '%s3cr3t%' AS shows_a_secret;
SELECT (SELECT array_agg(x ->> 'name') FROM jsonb_array_elements(:'doc'::jsonb -> 'metrics') x)
     = (SELECT array_agg(name ORDER BY name COLLATE "C") FROM tripl.metrics WHERE owner = 'regress_defio_ann'::regrole)
       AS metrics_match;
-- two exports are the same text
SELECT tripl.export_definitions()::text = :'doc' AS stable;

--------------------------------------------------------------------------
-- 2. Idempotence: the export applied again changes nothing
--------------------------------------------------------------------------
SELECT action, count(*) FROM tripl.apply_definitions(:'doc', dry_run => false) GROUP BY 1;
SELECT action, count(*) FROM tripl.apply_definitions(:'doc', dry_run => false, prune => true) GROUP BY 1;

--------------------------------------------------------------------------
-- 3. Every action kind, values kept or cleared
--------------------------------------------------------------------------
SELECT m.name, c.status FROM tripl.metrics m, tripl.collect(m.name, '2026-01-05 00:00+00', '2026-01-09 00:00+00') c
WHERE m.name LIKE 'io\_%' ORDER BY 1;
CREATE TEMP TABLE counts_before AS
SELECT m.name, count(v.bucket) AS n FROM tripl.metrics m LEFT JOIN tripl.metric_values v ON v.metric_id = m.id
WHERE m.name LIKE 'io\_%' GROUP BY m.name;
-- what hand-written SQL says io_completed has: one value per hour with a completed order
SELECT n = (SELECT count(DISTINCT date_trunc('hour', created_at)) FROM orders WHERE status = 'completed') AS expected_values
FROM counts_before WHERE name = 'io_completed';
-- alter (unit), replace in place (a row filter io_aov uses), replace by
-- dropping and creating again (bucket), create, drop (prune), unchanged
SELECT jsonb_set(d, '{metrics}', (d -> 'metrics') - 4
           || '[{"name": "io_new", "kind": "fact", "fact_table": "io_orders", "aggregation": "max", "measure_column": "amount"}]') AS doc2
FROM (SELECT jsonb_set(jsonb_set(jsonb_set(:'doc'::jsonb,
                 '{metrics,1,unit}', '"pcs"'),
                 '{metrics,2,bucket}', '"2 hours"'),
                 '{fact_tables,0,row_filters,big}', '"amount >= 60"') AS d) s \gset
SELECT (SELECT x ->> 'name' FROM jsonb_array_elements(:'doc'::jsonb -> 'metrics') WITH ORDINALITY a(x, i) WHERE i = 5) AS dropped;
-- a dry run plans and checks, and changes nothing
SELECT * FROM tripl.apply_definitions(:'doc2', prune => true);
SELECT tripl.export_definitions()::text = :'doc' AS nothing_changed;
SELECT * FROM tripl.apply_definitions(:'doc2', dry_run => false, prune => true);
SELECT m.name, b.n AS before, count(v.bucket) AS after
FROM tripl.metrics m JOIN counts_before b ON b.name = m.name LEFT JOIN tripl.metric_values v ON v.metric_id = m.id
GROUP BY m.name, b.n ORDER BY 1;
SELECT name, unit, bucket FROM tripl.metrics WHERE name IN ('io_completed', 'io_conversion', 'io_new', 'io_sql') ORDER BY 1;
SELECT row_filters ->> 'big' AS big FROM tripl.fact_tables WHERE name = 'io_orders';
-- the rule that named a metric made afresh still names it
SELECT r.name, array_agg(m.name ORDER BY m.name) AS metrics FROM tripl.alert_rules r
JOIN tripl.alert_rule_metrics rm ON rm.rule_id = r.id JOIN tripl.metrics m ON m.id = rm.metric_id
WHERE r.name = 'io_rule' GROUP BY 1;
-- and the overrides of a metric made afresh are there again
SELECT metric, sigma_threshold, recent_signal_window FROM tripl.monitoring WHERE overridden AND metric LIKE 'io\_%';
SELECT action, count(*) FROM tripl.apply_definitions(:'doc2', dry_run => false, prune => true) GROUP BY 1;
-- back to the first document: clearing a unit and a description in place
SELECT * FROM tripl.apply_definitions(:'doc', dry_run => false, prune => true) WHERE action <> 'unchanged';
SELECT tripl.export_definitions()::text = :'doc' AS back;
SELECT * FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{metrics,4}', (:'doc'::jsonb -> 'metrics' -> 4) - 'description'),
                                      dry_run => false);
SELECT description IS NULL AS cleared FROM tripl.metrics WHERE name = 'io_sql';
SELECT count(*) FROM tripl.apply_definitions(:'doc', dry_run => false);

--------------------------------------------------------------------------
-- 4. Round trip: drop everything, apply the export (with its secrets put
-- back), export again: the same document
--------------------------------------------------------------------------
SELECT * FROM tripl.apply_definitions('{"fact_tables": [], "event_sources": [], "metrics": [], "destinations": [], "alert_rules": []}',
                                      dry_run => false, prune => true);
SELECT (SELECT count(*) FROM tripl.metrics WHERE name LIKE 'io\_%') AS metrics,
       (SELECT count(*) FROM tripl.destinations WHERE name LIKE 'io\_%') AS destinations;
-- a placeholder cannot create a secret
SELECT * FROM tripl.apply_definitions(:'doc', dry_run => false);
SELECT * FROM tripl.apply_definitions(
    jsonb_set(jsonb_set(:'doc'::jsonb, '{destinations,1,secret}', '"hook-s3cr3t"'),
              '{destinations,2,url}', '"https://hooks.slack.com/services/T0/B0/slack-s3cr3t"'), dry_run => false);
SELECT tripl.export_definitions()::text = :'doc' AS round_trip;
SELECT d.name, s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id
WHERE d.name LIKE 'io\_%' ORDER BY 1;

--------------------------------------------------------------------------
-- 5. Secrets: left out or a placeholder keeps the stored one; the same
-- value is no change; a new value changes it in place
--------------------------------------------------------------------------
SELECT action FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{destinations,1}',
    (:'doc'::jsonb -> 'destinations' -> 1) - 'secret'), dry_run => false) WHERE name = 'io_hook';
SELECT action FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{destinations,1,secret}', '"hook-s3cr3t"'),
                                           dry_run => false) WHERE name = 'io_hook';
SELECT action, detail FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{destinations,1,secret}', '"n3w-s3cr3t"'),
                                                   dry_run => false) WHERE name = 'io_hook';
SELECT s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id WHERE d.name = 'io_hook';
-- a placeholder must name its own destination
SELECT * FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{destinations,1,secret}', '{"secret_of": "io_slack"}'));
-- the type fixed at creation: dropped and created again, the secret kept
SELECT * FROM tripl.apply_definitions(jsonb_set(jsonb_set(:'doc'::jsonb, '{destinations,1,type}', '"pagerduty"'),
    '{destinations,1}', (:'doc'::jsonb -> 'destinations' -> 1) - 'secret_header' || '{"type": "pagerduty"}'),
    dry_run => false) WHERE action <> 'unchanged';
SELECT d.type, s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id WHERE d.name = 'io_hook';
SELECT * FROM tripl.apply_definitions(jsonb_set(:'doc'::jsonb, '{destinations,1,secret}', '"hook-s3cr3t"'), dry_run => false)
WHERE action <> 'unchanged';
SELECT tripl.export_definitions()::text = :'doc' AS back;

--------------------------------------------------------------------------
-- 6. Dependency order: whatever the order in the document, sources before
-- metrics, destinations before rules; drops in reverse
--------------------------------------------------------------------------
SELECT * FROM tripl.apply_definitions('{
  "alert_rules": [{"name": "dep_rule", "destination": "dep_hook", "metrics": ["dep_z", "dep_a"]}],
  "metrics": [{"name": "dep_z", "kind": "fact", "fact_table": "dep_orders", "aggregation": "count"},
              {"name": "dep_a", "kind": "event_composition", "event_source": "dep_events", "numerator_event": "x"}],
  "destinations": [{"name": "dep_hook", "type": "webhook", "url": "https://hooks.example.com/dep"}],
  "event_sources": [{"name": "dep_events", "query": "SELECT event_time, event_name FROM events",
                     "timestamp_column": "event_time", "event_column": "event_name"}],
  "fact_tables": [{"name": "dep_orders", "query": "SELECT created_at FROM orders", "timestamp_column": "created_at"}]
}', dry_run => false);
SELECT * FROM tripl.apply_definitions(:'doc', dry_run => false, prune => true) WHERE action <> 'unchanged';

--------------------------------------------------------------------------
-- 7. A document with several errors: all of them reported, nothing applied
--------------------------------------------------------------------------
\set VERBOSITY default
SELECT * FROM tripl.apply_definitions(jsonb_set(jsonb_set(jsonb_set(jsonb_set(jsonb_set(:'doc'::jsonb,
    '{metrics,0,colour}', '"red"'),
    '{metrics,1,bucket}', '"fortnightly"'),
    '{metrics,2,breakdowns}', '"country"'),
    '{metrics,3,query}', '"SELECT nope AS ts, 1 AS value FROM orders"'),
    '{fact_tables}', '[]'), dry_run => false, prune => true);
SELECT tripl.export_definitions()::text = :'doc' AS nothing_applied;
-- errors found by the create_ and alter_ functions themselves are all there too
SELECT * FROM tripl.apply_definitions(jsonb_set(jsonb_set(:'doc'::jsonb,
    '{metrics,3,query}', '"SELECT nope AS ts, 1 AS value FROM orders"'),
    '{destinations,0,schedule}', '"every tuesday"'), dry_run => false);
SELECT tripl.export_definitions()::text = :'doc' AS nothing_applied;

--------------------------------------------------------------------------
-- 8. Bad input: a clear error, nothing changed
--------------------------------------------------------------------------
SELECT * FROM tripl.apply_definitions('[]');
SELECT * FROM tripl.apply_definitions('"metrics"');
SELECT * FROM tripl.apply_definitions(NULL);
SELECT * FROM tripl.apply_definitions('{"tripl_definitions": 2, "dashboards": [], "metrics": {}}');
SELECT * FROM tripl.apply_definitions('{"fact_tables": [1, {"query": "SELECT 1"}, {"name": 7}]}');
SELECT * FROM tripl.apply_definitions('{"metrics": [{"name": "m1", "kind": "fact", "bucket": 60, "breakdowns": [1],
    "breakdown_values_limit": 2.5, "anomaly_detection": "yes", "numerator": {"fact_table": "io_orders", "agg": "sum"},
    "monitoring": {"sigma_threshold": "high", "settling_minutes": 99999999999}}]}');
SELECT * FROM tripl.apply_definitions('{"metrics": [{"name": "m1", "kind": "fact"}, {"name": "m1", "kind": "sql"}]}');
-- names are checked before anything runs; values only ever travel as quoted literals
SELECT * FROM tripl.apply_definitions($j${"metrics": [{"name": "x'); DROP TABLE orders; --", "kind": "fact"},
    {"name": "x\"; DROP TABLE orders", "kind": "fact"}]}$j$);
SELECT * FROM tripl.apply_definitions($j${"fact_tables": [{"name": "inj", "timestamp_column": "created_at",
    "query": "SELECT created_at FROM orders; DROP TABLE orders"}],
    "metrics": [{"name": "inj_m", "kind": "fact", "fact_table": "inj", "aggregation": "count",
                 "filter_sql": "true) OR (SELECT pg_sleep(1)) IS NULL OR (true"}],
    "destinations": [{"name": "inj_d", "type": "webhook", "url": "https://x.example.com/', 'slack'); --"}]}$j$,
    dry_run => false);
SELECT count(*) > 0 AS orders_still_there FROM orders;
SELECT tripl.export_definitions()::text = :'doc' AS nothing_changed;

--------------------------------------------------------------------------
-- 9. Privileges: a role exports and applies only what it owns
--------------------------------------------------------------------------
SET ROLE regress_defio_ben;
SELECT tripl.create_fact_table('ben_orders', 'SELECT created_at, amount FROM orders', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('ben_revenue', 'fact', fact_table => 'ben_orders', aggregation => 'sum',
                           measure_column => 'amount') > 0 AS ok;
-- only his own, and no alerting sections (alerting is for tripl_admin)
SELECT jsonb_pretty(tripl.export_definitions());
SELECT tripl.export_definitions() AS ben_doc \gset
-- ann's document names her objects: not his to change
SELECT * FROM tripl.apply_definitions(:'doc');
-- pruning with his document leaves ann's objects alone
SELECT * FROM tripl.apply_definitions('{"metrics": [], "fact_tables": []}', dry_run => false, prune => true);
SELECT count(*) AS ann_metrics FROM tripl.metrics WHERE owner = 'regress_defio_ann'::regrole;
SELECT * FROM tripl.apply_definitions(:'ben_doc', dry_run => false);
SET ROLE regress_defio_ann;
SELECT tripl.export_definitions()::text = :'doc' AS ann_export_unchanged;
-- ann may not change ben's definitions either
SELECT * FROM tripl.apply_definitions(:'ben_doc');
-- the default detection settings are for tripl_admin: ben cannot set them
SET ROLE regress_defio_ben;
SELECT * FROM tripl.apply_definitions('{"monitoring": {"sigma_threshold": 5}}', dry_run => false);
SET ROLE regress_defio_ann;
SELECT * FROM tripl.apply_definitions('{"monitoring": {"sigma_threshold": 5}}', dry_run => false);
SELECT tripl.export_definitions() -> 'monitoring' AS defaults;
SELECT * FROM tripl.apply_definitions('{"monitoring": null}', dry_run => false);
SELECT count(*) AS default_rows FROM tripl.monitoring_settings WHERE metric_id IS NULL;

--------------------------------------------------------------------------
-- Clean up: what the later suites must not see
--------------------------------------------------------------------------
SELECT count(*) FROM tripl.apply_definitions('{"fact_tables": [], "event_sources": [], "metrics": [], "destinations": [], "alert_rules": []}',
                                             dry_run => false, prune => true);
SET ROLE regress_defio_ben;
SELECT count(*) FROM tripl.apply_definitions('{"fact_tables": [], "metrics": []}', dry_run => false, prune => true);
SET ROLE regress_defio_ann;

--------------------------------------------------------------------------
-- The 0.2 metric options round-trip: a percentile, a rolling window, a
-- time zone, and derived metrics whose names sort before their inputs
-- (applied after them, dropped before them)
--------------------------------------------------------------------------
SELECT tripl.create_fact_table('v2_orders', 'SELECT created_at, amount, user_id FROM orders', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('v2_p95', 'fact', '1 hour', fact_table => 'v2_orders',
                           aggregation => 'percentile', measure_column => 'amount', percentile => 0.95) > 0 AS ok;
SELECT tripl.create_metric('v2_wau', 'fact', '1 day', fact_table => 'v2_orders', timezone => 'America/New_York',
                           aggregation => 'count_distinct', distinct_column => 'user_id', "window" => '7 days') > 0 AS ok;
SELECT tripl.create_metric('v2_zrevenue', 'fact', '1 day', fact_table => 'v2_orders', timezone => 'America/New_York',
                           aggregation => 'sum', measure_column => 'amount') > 0 AS ok;
SELECT tripl.create_metric('v2_a_per_user', 'derived', '1 day', timezone => 'America/New_York',
                           expression => 'v2_zrevenue / nullif(v2_wau, 0)') > 0 AS ok;
SELECT tripl.create_metric('v2_a_double', 'derived', '1 day', timezone => 'America/New_York',
                           expression => '2 * v2_a_per_user') > 0 AS ok;
SELECT tripl.export_definitions() AS v2_doc \gset
SELECT m ->> 'name' AS name, m ->> 'timezone' AS timezone, m ->> 'percentile' AS percentile,
       m ->> 'window' AS "window", m ->> 'expression' AS expression
FROM jsonb_array_elements(:'v2_doc'::jsonb -> 'metrics') m ORDER BY 1;
-- everything dropped (derived metrics before their inputs), then applied again
SELECT object_type, name, action FROM tripl.apply_definitions('{"fact_tables": [], "metrics": []}', dry_run => false, prune => true);
SELECT object_type, name, action FROM tripl.apply_definitions(:'v2_doc', dry_run => false);
SELECT tripl.export_definitions()::text = :'v2_doc' AS v2_round_trip;
SELECT action, count(*) FROM tripl.apply_definitions(:'v2_doc') GROUP BY 1;
SELECT count(*) FROM tripl.apply_definitions('{"fact_tables": [], "metrics": []}', dry_run => false, prune => true);
DROP TABLE counts_before;
RESET ROLE;
REVOKE SELECT ON orders, events FROM regress_defio_ann, regress_defio_ben;
DROP ROLE regress_defio_ann;
DROP ROLE regress_defio_ben;
SELECT count(*) FROM tripl.apply_definitions(jsonb_build_object('monitoring', :'saved_monitoring'::jsonb), dry_run => false);
SELECT coalesce(tripl.export_definitions() -> 'monitoring', 'null') = :'saved_monitoring'::jsonb AS defaults_restored;
