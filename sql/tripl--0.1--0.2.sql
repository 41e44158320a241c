-- tripl 0.1 -> 0.2: the security model (see doc/security.md, "Security model").
--
-- * SQL and PL/pgSQL functions run with a fixed search_path.
-- * Values, breakdowns and anomalies are private until granted: readable by
--   the metric's owner, tripl_admin and members of the new role
--   tripl_reader.  Collection state (with its error texts) is readable by
--   the owner and tripl_admin; the run log by tripl_admin only.
-- * The C engine's aggregate in a form Citus distributes
--   (tripl._engine_agg_rows with the state type tripl.engine_state).

\echo Use "ALTER EXTENSION tripl UPDATE TO '0.2'" to load this file. \quit

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'tripl_reader') THEN
        CREATE ROLE tripl_reader NOLOGIN;
    END IF;
    IF NOT pg_catalog.pg_has_role('tripl_admin', 'tripl_reader', 'MEMBER') THEN
        GRANT tripl_reader TO tripl_admin;
    END IF;
END
$$;

ALTER FUNCTION tripl.sparkline(float8[]) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION tripl.schedule_with_pg_cron(text, text) SET search_path = pg_catalog, pg_temp;

ALTER TABLE tripl.metric_values ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_values_readers ON tripl.metric_values FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.metric_breakdowns ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_breakdowns_readers ON tripl.metric_breakdowns FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.anomalies ENABLE ROW LEVEL SECURITY;
CREATE POLICY anomalies_readers ON tripl.anomalies FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_reader', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));
ALTER TABLE tripl.metric_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY metric_state_owners ON tripl.metric_state FOR SELECT
    USING (pg_catalog.pg_has_role('tripl_admin', 'USAGE')
           OR metric_id IN (SELECT m.id FROM tripl.metrics m WHERE pg_catalog.pg_has_role(m.owner::oid, 'USAGE')));

REVOKE SELECT ON tripl.runs FROM PUBLIC;
GRANT SELECT ON tripl.runs TO tripl_admin;
GRANT USAGE ON SCHEMA tripl TO tripl_reader;

-- Views run with their owner's rights: they filter rows themselves.
CREATE OR REPLACE VIEW tripl.signals AS
SELECT m.name AS metric,
       CASE
           WHEN lv.latest IS NULL THEN 'closed'
           WHEN a.bucket >= lv.latest - h.lag AND a.bucket >= tripl.now() - h.horizon THEN 'latest'
           WHEN a.bucket >= tripl.now() - h.horizon THEN 'recent'
           ELSE 'closed'
       END AS state,
       a.bucket, a.direction, a.actual, a.expected, a.z_score
FROM tripl.metrics m
JOIN tripl.monitoring mo ON mo.metric_id = m.id
CROSS JOIN LATERAL (
    SELECT greatest(mo.recent_signal_window, 3 * m.bucket) AS horizon,
           ceil(mo.settling_minutes * 60 / extract(epoch FROM m.bucket))::int * m.bucket AS lag) h
JOIN LATERAL (
    SELECT x.* FROM tripl.anomalies x WHERE x.metric_id = m.id ORDER BY x.bucket DESC LIMIT 1) a ON true
LEFT JOIN LATERAL (
    SELECT max(v.bucket) AS latest FROM tripl.metric_values v WHERE v.metric_id = m.id) lv ON true
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');

CREATE OR REPLACE VIEW tripl.catalog AS
SELECT m.name,
       m.kind,
       m.status,
       m.bucket,
       lv.bucket AS latest_bucket,
       lv.value AS latest_value,
       sg.state AS signal,
       CASE WHEN lv.bucket IS NOT NULL THEN (
           SELECT tripl.sparkline(array_agg(s.value ORDER BY s.bucket))
           FROM tripl.series(m.name, lv.bucket - 23 * m.bucket, lv.bucket + m.bucket) s)
       END AS sparkline,
       m.unit,
       st.last_collected_at,
       st.last_status,
       CASE WHEN pg_catalog.pg_has_role('tripl_admin', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE')
            THEN st.last_error END AS last_error
FROM tripl.metrics m
LEFT JOIN tripl.metric_state st ON st.metric_id = m.id
LEFT JOIN LATERAL (
    SELECT v.bucket, v.value FROM tripl.metric_values v
    WHERE v.metric_id = m.id ORDER BY v.bucket DESC LIMIT 1) lv ON true
LEFT JOIN tripl.signals sg ON sg.metric = m.name
WHERE pg_catalog.pg_has_role('tripl_reader', 'USAGE') OR pg_catalog.pg_has_role(m.owner::oid, 'USAGE');

-- Dead deliveries can be revived by their destination's owner
CREATE FUNCTION tripl.retry_deliveries(destination text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_retry_deliveries' LANGUAGE C;
COMMENT ON FUNCTION tripl.retry_deliveries(text) IS
    'Dead deliveries of the destination (NULL: of every destination the caller owns) become pending again; returns how many';
REVOKE ALL ON FUNCTION tripl.retry_deliveries(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tripl.retry_deliveries(text) TO tripl_admin;

-- The same engine in a form Citus distributes (a real state type with a
-- text form, the columns as one ROW(...)): collection uses it when the
-- database has Citus, so that each shard computes a partial state and the
-- coordinator only merges states.  Internal, like tripl._engine_agg.
CREATE TYPE tripl.engine_state;
CREATE FUNCTION tripl._engine_state_in(cstring) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_state_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tripl._engine_state_out(tripl.engine_state) RETURNS cstring
    AS 'MODULE_PATHNAME', 'tripl_engine_state_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE tripl.engine_state (
    INPUT = tripl._engine_state_in,
    OUTPUT = tripl._engine_state_out,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended);
COMMENT ON TYPE tripl.engine_state IS
    'Internal: a partial state of the C aggregation engine (text form: base64 of its serialised image)';
CREATE FUNCTION tripl._engine_rows_trans(tripl.engine_state, bytea, record) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_trans' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION tripl._engine_rows_combine(tripl.engine_state, tripl.engine_state) RETURNS tripl.engine_state
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_combine' LANGUAGE C PARALLEL SAFE;
CREATE FUNCTION tripl._engine_rows_final(tripl.engine_state) RETURNS bytea
    AS 'MODULE_PATHNAME', 'tripl_engine_rows_final' LANGUAGE C PARALLEL SAFE;
CREATE AGGREGATE tripl._engine_agg_rows(bytea, record) (
    SFUNC = tripl._engine_rows_trans,
    STYPE = tripl.engine_state,
    FINALFUNC = tripl._engine_rows_final,
    COMBINEFUNC = tripl._engine_rows_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE tripl._engine_agg_rows(bytea, record) IS
    'Internal: the C aggregation engine in its distributable form (Citus)';

--------------------------------------------------------------------------
-- Alerting that closes the loop (doc/alerting.md): resolutions when an
-- incident closes (notify_on_resolve, the incident's peak, 'resolution'
-- deliveries, resolved items in digests) and the email and teams
-- destination types with their options.
--------------------------------------------------------------------------

ALTER TABLE tripl.destinations ADD COLUMN options jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tripl.destinations DROP CONSTRAINT destinations_type;
ALTER TABLE tripl.destinations ADD CONSTRAINT destinations_type
    CHECK (type IN ('webhook', 'slack', 'telegram', 'pagerduty', 'email', 'teams', 'jira'));
COMMENT ON TABLE tripl.destinations IS
    'Alert destinations (webhook, slack, telegram, pagerduty, email, teams, jira); schedule makes a digest; options: the type''s settings (email: from, to, starttls; jira: project, issue_type, labels, api_version)';

ALTER TABLE tripl.alert_rules ADD COLUMN notify_on_resolve boolean NOT NULL DEFAULT true;

ALTER TABLE tripl.alert_state ADD COLUMN peak_actual float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_expected float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_z float8;
ALTER TABLE tripl.alert_state ADD COLUMN peak_bucket timestamptz;
COMMENT ON TABLE tripl.alert_state IS 'Per rule and metric: whether an alert is open, and when it last notified; peak_*: the anomaly of the open incident with the largest |z|';

ALTER TABLE tripl.digest_items ADD COLUMN event text NOT NULL DEFAULT 'anomaly';
ALTER TABLE tripl.digest_items ADD CONSTRAINT digest_items_event CHECK (event IN ('anomaly', 'resolved'));
ALTER TABLE tripl.digest_items DROP CONSTRAINT digest_items_pkey;
ALTER TABLE tripl.digest_items ADD PRIMARY KEY (destination_id, rule_id, metric_id, direction, event);

ALTER TABLE tripl.deliveries DROP CONSTRAINT deliveries_kind;
ALTER TABLE tripl.deliveries ADD CONSTRAINT deliveries_kind
    CHECK (kind IN ('alert', 'digest', 'test', 'resolution'));

DROP FUNCTION tripl.create_destination(text, text, text, text, text, text, text, boolean);
CREATE FUNCTION tripl.create_destination(
    name text,
    type text,
    url text DEFAULT NULL,
    secret text DEFAULT NULL,
    secret_header text DEFAULT NULL,
    chat_id text DEFAULT NULL,
    schedule text DEFAULT NULL,
    enabled boolean DEFAULT true,
    options jsonb DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_destination' LANGUAGE C;
COMMENT ON FUNCTION tripl.create_destination(text, text, text, text, text, text, text, boolean, jsonb) IS
    'Create an alert destination (webhook, slack, telegram, pagerduty, email, teams, jira); options: the type''s settings';

DROP FUNCTION tripl.alter_destination(text, boolean, text, text, text, text);
CREATE FUNCTION tripl.alter_destination(
    name text,
    enabled boolean DEFAULT NULL,
    url text DEFAULT NULL,
    secret text DEFAULT NULL,
    schedule text DEFAULT NULL,
    secret_header text DEFAULT NULL,
    options jsonb DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'tripl_alter_destination' LANGUAGE C;
COMMENT ON FUNCTION tripl.alter_destination(text, boolean, text, text, text, text, jsonb) IS
    'Change a destination: NULL keeps a setting; a webhook secret needs a secret_header (given or stored); schedule '''' makes it immediate';

DROP FUNCTION tripl.create_alert_rule(text, text, text[], boolean, boolean, float8, float8, float8, interval,
                                      text, timestamptz, boolean);
CREATE FUNCTION tripl.create_alert_rule(
    name text,
    destination text,
    metrics text[] DEFAULT NULL,
    notify_on_spike boolean DEFAULT true,
    notify_on_drop boolean DEFAULT true,
    min_percent_delta float8 DEFAULT 30,
    min_absolute_delta float8 DEFAULT 0,
    min_expected float8 DEFAULT 0,
    cooldown interval DEFAULT '1 day',
    message_template text DEFAULT NULL,
    muted_until timestamptz DEFAULT NULL,
    enabled boolean DEFAULT true,
    notify_on_resolve boolean DEFAULT true) RETURNS bigint
    AS 'MODULE_PATHNAME', 'tripl_create_alert_rule' LANGUAGE C;

DROP FUNCTION tripl.alter_alert_rule(text, boolean, timestamptz, boolean, text);
CREATE FUNCTION tripl.alter_alert_rule(
    name text,
    enabled boolean DEFAULT NULL,
    muted_until timestamptz DEFAULT NULL,
    unmute boolean DEFAULT false,
    message_template text DEFAULT NULL,
    notify_on_resolve boolean DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'tripl_alter_alert_rule' LANGUAGE C;

-- The issue a tracker destination opened for an incident (one per
-- destination and incident occurrence, ref), so that later messages about
-- it become comments and a retry never opens a second issue
CREATE TABLE tripl.tickets (
    destination_id  bigint NOT NULL REFERENCES tripl.destinations (id) ON DELETE CASCADE,
    ref             text NOT NULL,
    issue_key       text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (destination_id, ref)
);
COMMENT ON TABLE tripl.tickets IS 'Issues opened in trackers (jira): one per destination and incident, found again by the label tripl-<ref>';
SELECT pg_catalog.pg_extension_config_dump('tripl.tickets', '');
CREATE TRIGGER restore_guard AFTER INSERT ON tripl.tickets
    FOR EACH STATEMENT EXECUTE FUNCTION tripl._note_restore_session();
CREATE INDEX deliveries_ref ON tripl.deliveries (destination_id, (payload->>'ref'))
    WHERE status IN ('pending', 'sending') AND payload ? 'ref';
REVOKE ALL ON tripl.tickets FROM PUBLIC;
GRANT SELECT ON tripl.tickets TO tripl_admin;

-- tripl.status: open incidents and resolutions waiting to be sent
CREATE OR REPLACE VIEW tripl.status AS
WITH w AS (SELECT * FROM tripl.worker_status() WHERE database = current_database()),
     state AS (
         SELECT m.id, m.bucket, s.watermark, s.last_status,
                date_bin(m.bucket, tripl.now(), CASE WHEN extract(epoch FROM m.bucket)::bigint % 604800 = 0
                         THEN timestamptz '1970-01-05 00:00+00' ELSE timestamptz '1970-01-01 00:00+00' END) AS due_to
         FROM tripl.metrics m JOIN tripl.metric_state s ON s.metric_id = m.id WHERE m.status = 'active'),
     pending AS (SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS pending,
                        count(*) FILTER (WHERE status = 'dead') AS dead,
                        min(created_at) FILTER (WHERE status IN ('pending', 'sending')) AS oldest,
                        count(*) FILTER (WHERE status IN ('pending', 'sending') AND kind = 'resolution') AS resolutions
                 FROM tripl.deliveries)
SELECT current_database() AS database,
       current_setting('tripl.scheduler', true) IS DISTINCT FROM 'off'
           AND (SELECT scheduler_pid FROM w) IS NOT NULL AS scheduler_running,
       coalesce(current_setting('tripl.scheduler', true), 'on') AS scheduler_setting,
       (SELECT scheduler_pid FROM w) AS scheduler_pid,
       (SELECT delivery_pid FROM w) AS delivery_pid,
       (SELECT max(finished_at) FROM tripl.runs WHERE kind = 'tick' AND NOT skipped) AS last_tick_at,
       (SELECT count(*) FROM state WHERE watermark IS NULL OR watermark < due_to) AS metrics_due,
       (SELECT count(*) FROM state WHERE watermark IS NULL OR watermark < due_to - 2 * bucket) AS metrics_overdue,
       (SELECT count(*) FROM state WHERE last_status = 'error') AS metrics_in_error,
       pending.pending AS deliveries_pending,
       pending.dead AS deliveries_dead,
       tripl.now() - pending.oldest AS oldest_pending_delivery_age,
       (SELECT count(*) FROM tripl.alert_state WHERE active) AS open_incidents,
       pending.resolutions AS resolutions_pending,
       (SELECT count(*) FROM tripl.tickets) AS tickets
FROM pending;
COMMENT ON VIEW tripl.status IS
    'Scheduler and delivery workers of this database, last tick, metrics due and in error, deliveries pending and dead, open incidents, resolutions waiting to be sent, issues opened in trackers';
