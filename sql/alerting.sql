-- Alerting: destinations, rules, the rule state machine and the outbox.
-- Signals come from anomalies inserted by hand (the detector has its own
-- suite), and time moves with tripl.mock_now.  Sending is tested in TAP.
SET DateStyle = 'ISO, YMD';
SET TimeZone = 'UTC';
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS "uuid-ossp";
RESET client_min_messages;

-- Destinations: privileged, validated (created at noon: a daily 09:00
-- digest first fires the next morning)
SET tripl.mock_now = '2026-02-01 12:00+00';
SET ROLE regress_alice;
SELECT tripl.create_destination('nope', 'webhook', 'https://example.com/hook');
RESET ROLE;
SELECT tripl.create_destination('hook', 'webhook', 'https://hooks.example.com/tripl',
                                secret => 'token-123', secret_header => 'Authorization') AS hook_id;
SELECT tripl.create_destination('chat', 'slack', 'https://hooks.slack.com/services/T000/B000/XXXX') > 0 AS ok;
SELECT tripl.create_destination('tg', 'telegram', secret => '123456:ABC-def', chat_id => '-1001234') > 0 AS ok;
SELECT tripl.create_destination('pd', 'pagerduty', secret => 'routing-key-1') > 0 AS ok;
SELECT tripl.create_destination('daily', 'webhook', 'https://hooks.example.com/digest', schedule => '0 9 * * *') > 0 AS ok;
SELECT name, type, url, secret_header, chat_id, schedule, enabled, owner FROM tripl.destinations ORDER BY id;
SELECT d.name, s.secret FROM tripl.destination_secrets s JOIN tripl.destinations d ON d.id = s.destination_id ORDER BY d.id;

SELECT tripl.create_destination('hook', 'webhook', 'https://hooks.example.com/x');
SELECT tripl.create_destination('bad', 'sms', 'https://hooks.example.com/x');
-- email: an SMTP URL, from and 1-50 recipients in options, secret user:password
SELECT tripl.create_destination('mail', 'email', 'smtp://mail.example.com:587', secret => 'tripl:pa55word',
       options => '{"from": "tripl@example.com", "to": ["ops@example.com", "cto@example.com"]}') > 0 AS ok;
SELECT tripl.create_destination('mail1', 'email', 'smtps://mail.example.com',
       options => '{"from": "tripl@example.com", "to": "ops@example.com"}') > 0 AS ok;
SELECT name, url, options FROM tripl.destinations WHERE type = 'email' ORDER BY id;
SELECT tripl.create_destination('bad', 'email', 'https://mail.example.com', options => '{"from": "a@b.c", "to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com/path', options => '{"from": "a@b.c", "to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://127.0.0.1:25', options => '{"from": "a@b.c", "to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '[]');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c", "to": [], "cc": 1}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c", "to": []}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c", "to": [1]}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com',
       options => jsonb_build_object('from', 'a@b.c', 'to', (SELECT jsonb_agg('u' || i || '@e.f') FROM generate_series(1, 51) i)));
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => E'{"from": "a@b.c\\r\\nBcc: x@evil.example", "to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c", "to": "Eve <d@e.f>"}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', options => '{"from": "a@b.c", "to": "d@e.f", "starttls": "no"}');
SELECT tripl.create_destination('bad', 'email', 'smtps://mail.example.com', options => '{"from": "a@b.c", "to": "d@e.f", "starttls": false}');
SELECT tripl.create_destination('bad', 'email', 'smtp://mail.example.com', secret => 'nopassword', options => '{"from": "a@b.c", "to": "d@e.f"}');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', options => '{"from": "a@b.c"}');
SELECT tripl.alter_destination('mail', options => '{"from": "tripl@example.com", "to": "ops@example.com", "starttls": false}');
SELECT tripl.alter_destination('mail', options => '{"from": "tripl@example.com"}');
SELECT options FROM tripl.destinations WHERE name = 'mail';
-- teams: the workflow URL is the secret, shown without its path and query
SELECT tripl.create_destination('team', 'teams', 'https://prod-1.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=S3CR3T') > 0 AS ok;
SELECT tripl.create_destination('bad', 'teams', 'https://example.com/x', secret => 'x');
SELECT d.name, d.url, s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id
WHERE d.type IN ('teams', 'email') ORDER BY d.id;
-- jira: the site URL, secret email:api_token, a project key; never a digest
SELECT tripl.create_destination('tracker', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok',
       options => '{"project": "OPS", "labels": ["metrics"]}') > 0 AS ok;
SELECT options FROM tripl.destinations WHERE name = 'tracker';
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'tok', options => '{"project": "OPS"}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', options => '{"project": "OPS"}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok', options => '{"project": "ops"}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok', options => '{"project": "OPS", "labels": ["two words"]}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok', options => '{"project": "OPS", "api_version": 4}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok', options => '{"project": "OPS", "board": 1}');
SELECT tripl.create_destination('bad', 'jira', 'https://example.atlassian.net', secret => 'me@example.com:tok', options => '{"project": "OPS"}', schedule => '0 9 * * *');
SELECT tripl.drop_destination('tracker');
SELECT tripl.drop_destination('mail1');
SELECT tripl.drop_destination('team');
SELECT tripl.drop_destination('mail');
SELECT tripl.create_destination('bad', NULL, 'https://hooks.example.com/x');
SELECT tripl.create_destination('bad name', 'webhook', 'https://hooks.example.com/x');
SELECT tripl.create_destination('bad', 'webhook', NULL);
SELECT tripl.create_destination('bad', 'webhook', 'ftp://hooks.example.com/x');
SELECT tripl.create_destination('bad', 'webhook', 'file:///etc/passwd');
SELECT tripl.create_destination('bad', 'webhook', 'https://user:pw@hooks.example.com/x');
SELECT tripl.create_destination('bad', 'webhook', 'not a url');
SELECT tripl.create_destination('bad', 'webhook', 'http://127.0.0.1:8080/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://[::1]/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://10.1.2.3/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://192.168.0.10/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://169.254.169.254/latest/meta-data');
SELECT tripl.create_destination('bad', 'webhook', 'http://2130706433/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://0x7f.1/x');
SELECT tripl.create_destination('bad', 'webhook', 'http://[::ffff:127.0.0.1]/x');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', secret => 'x');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', secret => 'x', secret_header => 'Content-Type');
-- every header tripl (or curl for it) sets itself, and all of X-Tripl-*,
-- is refused as secret_header (22023), in any case
DO $$
DECLARE
    h text;
BEGIN
    FOREACH h IN ARRAY ARRAY['X-Tripl-Attempt', 'x-tripl-attempt', 'X-Tripl-Token', 'Idempotency-Key',
                             'idempotency-key', 'Content-Type', 'Content-Length', 'Host', 'User-Agent',
                             'Accept', 'Transfer-Encoding', 'Connection', 'Expect', 'TE', 'Upgrade',
                             'Trailer', 'Keep-Alive', 'Proxy-Connection'] LOOP
        BEGIN
            PERFORM tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x',
                                             secret => 'x', secret_header => h);
            RAISE NOTICE '%: accepted', h;
        EXCEPTION WHEN OTHERS THEN
            RAISE NOTICE '%: % (%)', h, SQLERRM, SQLSTATE;
        END;
    END LOOP;
END $$;
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', secret => 'x', secret_header => 'X-Bad: injected');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', secret => E'x\r\nX-Evil: 1', secret_header => 'X-Token');
SELECT tripl.create_destination('bad', 'slack', 'https://hooks.slack.com/x', secret => 'x');
SELECT tripl.create_destination('bad', 'telegram', secret => 'token');
SELECT tripl.create_destination('bad', 'telegram', secret => 'bad token!', chat_id => '1');
SELECT tripl.create_destination('bad', 'pagerduty');
SELECT tripl.create_destination('bad', 'pagerduty', secret => 'k', schedule => '0 9 * * *');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', chat_id => '1');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', schedule => '61 * * * *');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/x', schedule => '* * *');
SELECT tripl.create_destination('bad', 'webhook', 'https://hooks.example.com/' || repeat('x', 3000));
-- with the superuser-only switch on, private addresses are accepted
SET tripl.allow_private_destinations = on;
SELECT tripl.create_destination('local', 'webhook', 'http://127.0.0.1:9/x') > 0 AS ok;
RESET tripl.allow_private_destinations;
SET ROLE regress_alice;
SET tripl.allow_private_destinations = on;
RESET ROLE;
SELECT count(*) AS destinations FROM tripl.destinations;

-- Secrets: only their owner (and superusers) can read them
GRANT tripl_admin TO regress_alice;
SET ROLE regress_alice;
SELECT tripl.create_destination('alice_hook', 'webhook', 'https://hooks.example.com/alice',
                                secret => 'alice-secret', secret_header => 'X-Token') > 0 AS ok;
SELECT d.name, s.secret FROM tripl.destination_secrets s JOIN tripl.destinations d ON d.id = s.destination_id;
SELECT tripl.alter_destination('hook', enabled => false);
RESET ROLE;
SET ROLE regress_bob;
SELECT count(*) FROM tripl.destination_secrets;
SELECT count(*) FROM tripl.deliveries;
RESET ROLE;
SELECT tripl.drop_destination('alice_hook');
SELECT tripl.drop_destination('local');

-- Rules
SELECT tripl.drop_metric(name) FROM tripl.metrics ORDER BY name;
SELECT tripl.create_fact_table('a_orders', 'SELECT created_at, amount FROM orders', 'created_at') > 0 AS ok;
SELECT tripl.create_metric('a_count', 'fact', fact_table => 'a_orders', aggregation => 'count', unit => 'orders') > 0 AS ok;
SELECT tripl.create_metric('a_sum', 'fact', fact_table => 'a_orders', aggregation => 'sum', measure_column => 'amount') > 0 AS ok;
SELECT tripl.create_alert_rule('everything', 'hook', min_percent_delta => 20) > 0 AS ok;
SELECT tripl.create_alert_rule('counts', 'pd', metrics => '{a_count}', notify_on_spike => false) > 0 AS ok;
SELECT tripl.create_alert_rule('digest', 'daily', metrics => '{a_count, a_sum}', cooldown => '0',
    message_template => '{{summary}} in {{database}}: {{items}}') > 0 AS ok;
SELECT r.name, d.name AS destination, r.all_metrics, r.notify_on_spike, r.notify_on_drop, r.min_percent_delta,
       r.cooldown, array(SELECT m.name FROM tripl.alert_rule_metrics x JOIN tripl.metrics m ON m.id = x.metric_id
                         WHERE x.rule_id = r.id ORDER BY 1) AS metrics
FROM tripl.alert_rules r JOIN tripl.destinations d ON d.id = r.destination_id ORDER BY r.id;

SELECT tripl.create_alert_rule('everything', 'hook');
SELECT tripl.create_alert_rule('bad', 'nope');
SELECT tripl.create_alert_rule('bad', 'hook', metrics => '{no_such_metric}');
SELECT tripl.create_alert_rule('bad', 'hook', metrics => '{}');
SELECT tripl.create_alert_rule('bad', 'hook', notify_on_spike => false, notify_on_drop => false);
SELECT tripl.create_alert_rule('bad', 'hook', min_percent_delta => -1);
SELECT tripl.create_alert_rule('bad', 'hook', min_expected => 'NaN');
SELECT tripl.create_alert_rule('bad', 'hook', cooldown => '1 month');
SELECT tripl.create_alert_rule('bad', 'hook', message_template => 'value {{nope}}');
SELECT tripl.create_alert_rule('bad', 'hook', message_template => 'value {{metric');
SELECT tripl.create_alert_rule('bad', 'hook', message_template => 'literal {{{{ is fine but {{ is not');
SET ROLE regress_bob;
SELECT tripl.create_alert_rule('bad', 'hook');
RESET ROLE;
SELECT tripl.drop_destination('hook');
SELECT count(*) AS rules FROM tripl.alert_rules;

-- Signals for the rules: values up to 12:00, anomalies written by hand
-- (a_count: 40 vs 100 expected at 10:00, a drop; a_sum: 900 vs 800, +12.5 %)
INSERT INTO tripl.metric_values
SELECT m.id, b, 100 FROM tripl.metrics m, generate_series('2026-02-01 00:00+00'::timestamptz, '2026-02-01 12:00+00', '1 hour') b;
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, '2026-02-01 10:00+00'::timestamptz, 40, 100, 8, 10, -6, 'phase', 'drop' FROM tripl.metrics WHERE name = 'a_count'
UNION ALL
SELECT id, '2026-02-01 10:00+00', 900, 800, 20, 25, 4, 'rolling', 'spike' FROM tripl.metrics WHERE name = 'a_sum';
SELECT tripl.alter_destination('hook', enabled => true);

-- First evaluation: a_count's 60 % drop matches all three rules; a_sum's
-- +12.5 % is below every rule's percent threshold, so it has no state
SET tripl.mock_now = '2026-02-01 13:05+00';
SELECT * FROM tripl.evaluate_alerts() ORDER BY rule, metric;
SELECT r.name AS rule, m.name AS metric, s.active, s.direction, s.opened_at, s.last_notified_at, s.last_anomaly_bucket
FROM tripl.alert_state s JOIN tripl.alert_rules r ON r.id = s.rule_id JOIN tripl.metrics m ON m.id = s.metric_id
ORDER BY 1, 2;
-- the incident id is UUIDv5(UUIDv5(URL, 'tripl-alert-correlation'), 'project-global:<rule>:metric:<metric>:<direction>')
SELECT r.name AS rule, s.incident_id = uuid_generate_v5(uuid_generate_v5(uuid_ns_url(), 'tripl-alert-correlation'),
           'project-global:' || r.id || ':metric:' || s.metric_id || ':' || s.direction) AS incident_id_matches
FROM tripl.alert_state s JOIN tripl.alert_rules r ON r.id = s.rule_id ORDER BY 1;
-- the outbox: one webhook delivery with one item, one PagerDuty event per item
SELECT d.name AS destination, x.kind, x.status, x.attempts, x.next_attempt_at
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id ORDER BY x.id;
SELECT jsonb_pretty(x.payload - 'idempotency_key') FROM tripl.deliveries x
JOIN tripl.destinations d ON d.id = x.destination_id WHERE d.name = 'hook';
SELECT x.payload->>'event_action' AS action, x.payload->>'dedup_key' = s.incident_id::text AS dedup_is_incident,
       x.payload->'payload'->>'summary' AS summary, x.payload->'payload'->>'component' AS component,
       x.payload ? 'routing_key' AS secret_stored
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
JOIN tripl.alert_state s ON s.rule_id = x.rule_id WHERE d.name = 'pd';
SELECT count(*) = count(DISTINCT idempotency_key) AS keys_unique FROM tripl.deliveries;
-- digest: buffered, not sent
SELECT m.name, g.direction, g.item->>'actual_count' AS actual FROM tripl.digest_items g
JOIN tripl.metrics m ON m.id = g.metric_id ORDER BY 1;

-- Same anomaly, later: still active, nothing new is sent
SET tripl.mock_now = '2026-02-01 13:40+00';
SELECT * FROM tripl.evaluate_alerts() ORDER BY rule, metric;
SELECT count(*) AS deliveries FROM tripl.deliveries;

-- A newer anomaly bucket inside the cooldown: still nothing (cooldown 1 day)
INSERT INTO tripl.metric_values SELECT id, '2026-02-01 13:00+00', 100 FROM tripl.metrics;
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, '2026-02-01 11:00+00', 30, 100, 8, 10, -7, 'phase', 'drop' FROM tripl.metrics WHERE name = 'a_count';
SET tripl.mock_now = '2026-02-01 14:05+00';
SELECT * FROM tripl.evaluate_alerts() WHERE metric = 'a_count' ORDER BY rule;
SELECT count(*) AS deliveries FROM tripl.deliveries;

-- The anomaly is no longer current (no new anomaly, time moves on): states close
INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
    generate_series('2026-02-01 14:00+00'::timestamptz, '2026-02-01 16:00+00', '1 hour') b;
SET tripl.mock_now = '2026-02-01 17:05+00';
SELECT * FROM tripl.evaluate_alerts() ORDER BY rule, metric;
SELECT r.name AS rule, m.name AS metric, s.active, s.closed_at FROM tripl.alert_state s
JOIN tripl.alert_rules r ON r.id = s.rule_id JOIN tripl.metrics m ON m.id = s.metric_id ORDER BY 1, 2;
-- Each closed incident that was notified gets one resolution: PagerDuty a
-- resolve of the incident's dedup key, the webhook a tripl.resolved message
-- whose peak is the incident's largest |z| (the 11:00 anomaly, 30 against
-- 100, z -7; not the first one, 40, z -6), open from 13:05 to 17:05; the
-- digest buffers it
SELECT d.name AS destination, x.kind, coalesce(x.payload->>'event', x.payload->>'event_action') AS event,
       x.payload->>'dedup_key' = s.incident_id::text AS dedup_is_incident, x.payload->>'message' AS message,
       x.payload->'items'->0->>'actual_count' AS peak_actual, x.payload->'items'->0->>'duration_seconds' AS seconds,
       x.payload->'items'->0->>'incident_id' = s.incident_id::text AS item_incident
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
JOIN tripl.alert_state s ON s.rule_id = x.rule_id
WHERE x.kind = 'resolution' ORDER BY x.id;
SELECT g.event, g.item->>'scope_name' AS metric, g.item->>'actual_count' AS peak_actual,
       g.item->>'duration_seconds' AS seconds FROM tripl.digest_items g WHERE g.event = 'resolved';
-- evaluating again sends nothing more
SELECT * FROM tripl.evaluate_alerts() ORDER BY rule, metric;
SELECT count(*) AS resolutions FROM tripl.deliveries WHERE kind = 'resolution';

-- It comes back within the cooldown: reopened but not sent
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, '2026-02-01 14:00+00', 20, 100, 8, 10, -8, 'phase', 'drop' FROM tripl.metrics WHERE name = 'a_count';
SELECT * FROM tripl.evaluate_alerts() WHERE metric = 'a_count' ORDER BY rule;
SELECT count(*) AS deliveries FROM tripl.deliveries WHERE kind = 'alert';
-- closed again (its reopening was not notified, so no resolution goes out),
-- then back after the cooldown: reopened and sent
SET tripl.mock_now = '2026-02-02 12:00+00';
INSERT INTO tripl.metric_values SELECT id, b, 100 FROM tripl.metrics,
    generate_series('2026-02-01 17:00+00'::timestamptz, '2026-02-02 11:00+00', '1 hour') b;
SELECT * FROM tripl.evaluate_alerts() WHERE metric = 'a_count' ORDER BY rule;
INSERT INTO tripl.anomalies (metric_id, bucket, actual, expected, stddev, effective_stddev, z_score, detector, direction)
SELECT id, '2026-02-02 09:00+00', 10, 100, 8, 10, -9, 'phase', 'drop' FROM tripl.metrics WHERE name = 'a_count';
-- 13:04 is within a day of the last notification (13:05 yesterday): not sent
SET tripl.mock_now = '2026-02-02 13:04+00';
SELECT * FROM tripl.evaluate_alerts() WHERE metric = 'a_count' ORDER BY rule;
UPDATE tripl.alert_state SET active = false, closed_at = '2026-02-02 13:04+00'
WHERE rule_id IN (SELECT id FROM tripl.alert_rules WHERE name IN ('everything', 'counts'));
-- 13:06 is past it: reopened and sent
SET tripl.mock_now = '2026-02-02 13:06+00';
SELECT * FROM tripl.evaluate_alerts() WHERE metric = 'a_count' ORDER BY rule;
SELECT count(*) AS alert_deliveries FROM tripl.deliveries WHERE kind = 'alert';

-- Muted: state still moves, nothing is sent
SELECT tripl.alter_alert_rule('everything', muted_until => '2026-02-03 00:00+00');
UPDATE tripl.alert_state SET active = false, closed_at = '2026-02-01 00:00+00', last_notified_at = NULL
WHERE rule_id = (SELECT id FROM tripl.alert_rules WHERE name = 'everything');
SELECT * FROM tripl.evaluate_alerts() WHERE rule = 'everything';
SELECT count(*) AS alert_deliveries FROM tripl.deliveries WHERE kind = 'alert';
SELECT tripl.alter_alert_rule('everything', unmute => true);
-- notify_on_resolve: on by default, changed by alter_alert_rule
SELECT tripl.alter_alert_rule('counts', notify_on_resolve => false);
SELECT name, notify_on_resolve FROM tripl.alert_rules ORDER BY name;
SELECT tripl.alter_alert_rule('counts', notify_on_resolve => true);

-- Digest: one item per (rule, metric, direction), refreshed with the latest
-- numbers, sent when the schedule (09:00 daily) fires: the Feb 1 item went
-- out at the 09:00 Feb 2 evaluation, the newer one waits for Feb 3
SELECT x.kind, x.payload->>'event' AS event, jsonb_array_length(x.payload->'items') AS items,
       x.payload->>'message' AS message
FROM tripl.deliveries x WHERE x.kind = 'digest';
SELECT count(*) AS buffered FROM tripl.digest_items;
SET tripl.mock_now = '2026-02-03 09:30+00';
SELECT * FROM tripl.evaluate_alerts() WHERE rule = 'digest';
SELECT count(*) AS digests, (SELECT count(*) FROM tripl.digest_items) AS buffered FROM tripl.deliveries WHERE kind = 'digest';
SELECT last_flushed_at FROM tripl.destinations WHERE name = 'daily';

-- Test messages go through the same outbox
SELECT tripl.test_destination('hook') > 0 AS queued;
SELECT tripl.test_destination('pd') > 0 AS queued;
SELECT tripl.test_destination('chat') > 0 AS queued;
SELECT tripl.test_destination('tg') > 0 AS queued;
SELECT d.name, x.kind, x.payload - 'idempotency_key' - 'dedup_key' AS payload,
       x.payload->>'dedup_key' LIKE 'tripl-test-%' AS test_dedup_key
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id WHERE x.kind = 'test' ORDER BY x.id;
-- two test messages in one transaction are two deliveries
BEGIN;
SELECT tripl.test_destination('hook') <> tripl.test_destination('hook') AS distinct_ids;
ROLLBACK;
SELECT tripl.test_destination('nope');

-- Changing destinations: each argument given is applied or refused, never
-- ignored.  A webhook made without a secret can get one, with the header
-- that carries it.
SELECT tripl.create_destination('plain', 'webhook', 'https://hooks.example.com/plain') > 0 AS ok;
SELECT tripl.alter_destination('plain', secret => 's3cret');
SELECT tripl.alter_destination('plain', secret_header => 'X-Token');
SELECT tripl.alter_destination('plain', secret => 's3cret', secret_header => 'Content-Type');
SELECT tripl.alter_destination('plain', secret => 's3cret', secret_header => 'X-Tripl-Attempt');
SELECT tripl.alter_destination('plain', secret => 's3cret', secret_header => 'X-Token');
SELECT d.secret_header, s.secret, s.owner = d.owner AS secret_owned_by_destination_owner
FROM tripl.destinations d LEFT JOIN tripl.destination_secrets s ON s.destination_id = d.id WHERE d.name = 'plain';
-- then either can change alone
SELECT tripl.alter_destination('plain', secret => 'n3w-s3cret');
SELECT tripl.alter_destination('plain', secret_header => 'X-Other-Token');
SELECT d.secret_header, s.secret
FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id WHERE d.name = 'plain';
SELECT tripl.alter_destination('plain');
SELECT tripl.alter_destination('plain', enabled => NULL, schedule => NULL);
SELECT tripl.alter_destination('nope', enabled => true);
-- slack: the URL is the secret, so a secret is refused even with a URL
SELECT tripl.alter_destination('chat', secret => 'x');
SELECT tripl.alter_destination('chat', url => 'https://hooks.slack.com/services/T000/B000/YYYY', secret => 'x');
SELECT tripl.alter_destination('chat', url => 'https://hooks.slack.com/services/T000/B000/YYYY');
SELECT d.url, s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id
WHERE d.name = 'chat';
-- telegram tokens are checked as when created; secret_header is for webhooks
SELECT tripl.alter_destination('tg', secret => 'bad token!');
SELECT tripl.alter_destination('tg', secret => '654321:XYZ-abc');
SELECT tripl.alter_destination('tg', secret_header => 'X-Token');
SELECT tripl.alter_destination('pd', schedule => '0 9 * * *');
SELECT tripl.alter_destination('pd', secret => 'routing-key-2');
SELECT d.name, s.secret FROM tripl.destinations d JOIN tripl.destination_secrets s ON s.destination_id = d.id
WHERE d.name IN ('tg', 'pd') ORDER BY 1;
-- a digest destination made immediate sends what it had buffered at the
-- next evaluation (instead of keeping it forever)
INSERT INTO tripl.digest_items (destination_id, rule_id, metric_id, direction, item, updated_at)
SELECT d.id, r.id, (x.payload->'items'->0->>'scope_ref')::int8, 'drop', x.payload->'items'->0, tripl.now()
FROM tripl.destinations d, tripl.alert_rules r, tripl.deliveries x
WHERE d.name = 'daily' AND r.name = 'digest' AND x.kind = 'digest' ORDER BY x.id LIMIT 1;
SELECT tripl.alter_destination('daily', schedule => '');
SET tripl.mock_now = '2026-02-03 10:00+00';
SELECT count(*) >= 0 AS evaluated FROM tripl.evaluate_alerts();
SELECT count(*) AS digests, (SELECT count(*) FROM tripl.digest_items) AS buffered FROM tripl.deliveries WHERE kind = 'digest';
SELECT jsonb_array_length(payload->'items') AS items, created_at FROM tripl.deliveries WHERE kind = 'digest' ORDER BY id DESC LIMIT 1;

-- Drops
SELECT tripl.drop_alert_rule('counts');
SELECT tripl.drop_alert_rule('counts');
SELECT count(*) AS states_left FROM tripl.alert_state s
WHERE NOT EXISTS (SELECT 1 FROM tripl.alert_rules r WHERE r.id = s.rule_id);

-- Destinations of other owners: a destination carries its owner's secret,
-- so another tripl_admin member may not test, change or drop it, nor send
-- rules through it (42501); members of the owning role and superusers may
CREATE ROLE regress_ops NOLOGIN;
GRANT tripl_admin TO regress_ops;
SET ROLE regress_ops;
SELECT tripl.create_destination('ops_hook', 'webhook', 'https://hooks.example.com/ops',
                                secret => 'ops-secret', secret_header => 'X-Token') > 0 AS ok;
RESET ROLE;
SET ROLE regress_alice;
SELECT tripl.test_destination('ops_hook');
SELECT tripl.create_alert_rule('alice_rule', 'ops_hook');
SELECT tripl.alter_destination('ops_hook', enabled => false);
SELECT tripl.drop_destination('ops_hook');
SELECT tripl.test_destination('hook');
SELECT tripl.create_alert_rule('alice_rule', 'hook');
RESET ROLE;
SELECT count(*) AS ops_hook_deliveries FROM tripl.deliveries x
JOIN tripl.destinations d ON d.id = x.destination_id WHERE d.name = 'ops_hook';
SELECT count(*) AS alice_rules FROM tripl.alert_rules WHERE name = 'alice_rule';
-- as a member of regress_ops she may
GRANT regress_ops TO regress_alice;
SET ROLE regress_alice;
SELECT tripl.test_destination('ops_hook') > 0 AS queued;
SELECT tripl.create_alert_rule('alice_rule', 'ops_hook') > 0 AS ok;
SELECT tripl.alter_alert_rule('alice_rule', message_template => 'ops: {{summary}}');
RESET ROLE;
-- once she leaves the role, her rule may no longer change what it sends
-- through regress_ops's destination; she may still drop it
REVOKE regress_ops FROM regress_alice;
SET ROLE regress_alice;
SELECT tripl.alter_alert_rule('alice_rule', message_template => 'hijacked: {{summary}}');
SELECT tripl.test_destination('ops_hook');
SELECT r.message_template FROM tripl.alert_rules r WHERE r.name = 'alice_rule';
SELECT tripl.drop_alert_rule('alice_rule');
RESET ROLE;
-- a superuser may do everything with it
SELECT tripl.test_destination('ops_hook') > 0 AS queued;
SELECT x.kind, count(*) AS ops_hook_deliveries FROM tripl.deliveries x
JOIN tripl.destinations d ON d.id = x.destination_id WHERE d.name = 'ops_hook' GROUP BY 1;
SELECT tripl.drop_destination('ops_hook');
REVOKE tripl_admin FROM regress_ops;
DROP ROLE regress_ops;

-- Dead deliveries come back with tripl.retry_deliveries(): of one
-- destination, or of every destination the caller owns; never another's
CREATE ROLE regress_ops2;
GRANT tripl_admin TO regress_ops2;
SET ROLE regress_ops2;
SELECT tripl.create_destination('ops2_hook', 'webhook', 'https://hooks.example.com/ops2') > 0 AS ok;
SELECT tripl.test_destination('ops2_hook') > 0 AS queued;
SELECT tripl.test_destination('ops2_hook') > 0 AS queued;
RESET ROLE;
SELECT tripl.test_destination('hook') > 0 AS queued;
UPDATE tripl.deliveries x SET status = 'dead', attempts = 8, last_error = 'HTTP status 500'
FROM tripl.destinations d WHERE d.id = x.destination_id AND d.name IN ('ops2_hook', 'hook');
SELECT d.name, count(*) AS dead FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
WHERE x.status = 'dead' AND d.name IN ('ops2_hook', 'hook') GROUP BY 1 ORDER BY 1;
SET ROLE regress_alice;
SELECT tripl.retry_deliveries('ops2_hook');
SELECT tripl.retry_deliveries() AS alice_revived;
RESET ROLE;
SET ROLE regress_bob;
SELECT tripl.retry_deliveries();
RESET ROLE;
SET ROLE regress_ops2;
SELECT tripl.retry_deliveries('hook');
SELECT tripl.retry_deliveries('ops2_hook') AS revived;
SELECT tripl.retry_deliveries('ops2_hook') AS revived_again;
RESET ROLE;
SELECT d.name, x.status, x.attempts, CASE WHEN x.status = 'pending' THEN x.next_attempt_at = tripl.now() END AS due_now,
       count(*)
FROM tripl.deliveries x JOIN tripl.destinations d ON d.id = x.destination_id
WHERE d.name IN ('ops2_hook', 'hook') AND x.last_error = 'HTTP status 500'
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2;
SELECT tripl.retry_deliveries() AS superuser_revives_the_rest;
SELECT count(*) AS still_dead FROM tripl.deliveries WHERE status = 'dead';
SELECT tripl.retry_deliveries('no_such_destination');
SELECT tripl.drop_destination('ops2_hook');
REVOKE tripl_admin FROM regress_ops2;
DROP ROLE regress_ops2;
RESET tripl.mock_now;
