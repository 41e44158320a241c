/*-------------------------------------------------------------------------
 *
 * alert.c
 *	  Alerting in the database: destinations and rules (privileged
 *	  definitions), evaluating rules against the current signals, and the
 *	  outbox.
 *
 *	  Evaluation follows doc/alerting.md, "Evaluating rules".  The alert candidates are each
 *	  monitored metric's newest anomaly while it is "latest" (24-hour
 *	  horizon, emission lag = settling).  Every rule is matched against
 *	  them (alert_core.c), its state per metric moves through created /
 *	  reopened / still active / closed with the cooldown rules, and what is
 *	  to be sent is written to tripl.deliveries — in the same transaction
 *	  as the state, so a crash can neither lose nor duplicate an enqueue.
 *	  When an incident closes, a rule with notify_on_resolve enqueues its
 *	  resolution (doc/alerting.md, "Resolutions") in the same transaction,
 *	  once per incident.  Digest destinations buffer one item per (rule,
 *	  metric, direction, anomaly or resolved) in tripl.digest_items and send
 *	  them when their cron schedule fires.  Message texts and bodies are
 *	  alert_msg.c's; sending is deliver.c's job.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "alert.h"
#include "alert_defs.h"
#include "alert_msg.h"
#include "core/alert_core.h"
#include "core/cron.h"
#include "core/netguard.h"
#include "core/template.h"
#include "core/uuid5.h"
#include "fnargs.h"
#include "guc.h"
#include "spiutil.h"
#include "subxact.h"
#include "tripl.h"
#include "worker_shmem.h"

TRIPL_SQL_FUNCTION(tripl_evaluate_alerts);
TRIPL_SQL_FUNCTION(tripl_test_destination);

/* Advisory lock key serialising alert evaluation in a database ('aler') */
#define ALERT_LOCK_KEY 1634493810


/* A stable idempotency key: UUIDv5 of what a delivery is about */
static char *
delivery_key(const char *what)
{
	uint8_t		ns[16];
	uint8_t		u[16];
	char	   *out = palloc(37);

	uuid_v5(UUID_NAMESPACE_URL, "tripl-delivery", strlen("tripl-delivery"), ns);
	uuid_v5(ns, what, strlen(what), u);
	uuid_format(u, out);
	return out;
}

/* A random (version 4) UUID, for deliveries that are not about an anomaly */
static char *
random_key(void)
{
	uint8_t		u[16];
	char	   *out = palloc(37);

	if (!pg_strong_random(u, sizeof(u)))
		elog(ERROR, "could not generate a random idempotency key");
	u[6] = (u[6] & 0x0f) | 0x40;
	u[8] = (u[8] & 0x3f) | 0x80;
	uuid_format(u, out);
	return out;
}

/* Write one delivery to the outbox; returns its id (0 if the key existed) */
static int64
enqueue(int64 rule_id_, int64 dest_id, const char *kind, const char *key, const char *payload,
		TimestampTz now)
{
	Oid			types[6] = {INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[6];
	char		nulls[7] = "      ";

	if (rule_id_ > 0)
		values[0] = Int64GetDatum(rule_id_);
	else
		nulls[0] = 'n';
	values[1] = Int64GetDatum(dest_id);
	values[2] = CStringGetTextDatum(kind);
	values[3] = CStringGetTextDatum(key);
	values[4] = CStringGetTextDatum(payload);
	values[5] = TimestampTzGetDatum(now);
	catalog_execute("INSERT INTO tripl.deliveries (rule_id, destination_id, kind, idempotency_key, payload, "
					"next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $6) "
					"ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
					6, types, values, nulls, false, 0);
	worker_wake_delivery();
	return SPI_processed > 0 ? spi_int64(0, 0) : 0;
}

/*--------------------------------------------------------------------
 * Evaluation
 *--------------------------------------------------------------------
 */

/* A metric with an alert candidate */
typedef struct Candidate
{
	AlertItem	item;
	bool		drivers_loaded;
} Candidate;

/* A timestamptz result cell as Unix microseconds, ALERT_TIME_NONE for NULL */
static int64
cell_time(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);

	return isnull ? ALERT_TIME_NONE : ts_to_unix(DatumGetTimestampTz(d));
}

/* A float8 result cell, NaN for NULL */
static double
cell_float(int row, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, &isnull);

	return isnull ? NAN : DatumGetFloat8(d);
}

/* Subtransaction body: the drivers of a candidate (see load_drivers) */
static void
load_drivers_body(void *arg)
{
	Candidate  *c = arg;
	Oid			types[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];
	uint64		i;

	values[0] = CStringGetTextDatum(c->item.metric);
	values[1] = TimestampTzGetDatum(unix_to_ts(c->item.bucket));
	catalog_execute("SELECT e.breakdown_column, coalesce(e.breakdown_value, '(null)'), e.actual, e.expected, "
					"e.share_of_change FROM tripl.explain_anomaly($1, $2) e "
					"WHERE e.share_of_change > 0 AND e.actual IS NOT NULL AND e.expected IS NOT NULL "
					"ORDER BY e.share_of_change DESC, abs(e.delta) DESC, e.breakdown_column COLLATE \"C\", "
					"e.breakdown_value COLLATE \"C\" LIMIT " CppAsString2(ALERT_MAX_DRIVERS),
					2, types, values, NULL, true, 0);
	c->item.n_drivers = 0;
	for (i = 0; i < SPI_processed && i < ALERT_MAX_DRIVERS; i++)
	{
		AlertDriver *dr = &c->item.drivers[c->item.n_drivers++];

		dr->column = (char *) spi_text(i, 0);
		dr->value = (char *) spi_text(i, 1);
		dr->actual = cell_float(i, 2);
		dr->expected = cell_float(i, 3);
		dr->share = cell_float(i, 4);
	}
}

/*
 * The drivers of a candidate about to be sent (doc/alerting.md, "Drivers"):
 * the breakdown values of tripl.explain_anomaly for its bucket that moved
 * with the change (share_of_change > 0), largest share first, at most
 * ALERT_MAX_DRIVERS of them.  Once per candidate and evaluation, in its
 * transaction; nothing for a metric without breakdowns in that bucket, and
 * nothing (the alert goes out without them) when the explanation fails.
 */
static void
load_drivers(Candidate *c)
{
	Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
	Datum		values[2];
	ErrorData  *edata;

	if (c->drivers_loaded)
		return;
	c->drivers_loaded = true;
	values[0] = Int64GetDatum(c->item.metric_id);
	values[1] = TimestampTzGetDatum(unix_to_ts(c->item.bucket));
	catalog_execute("SELECT 1 FROM tripl.metrics m WHERE m.id = $1 AND cardinality(m.breakdowns) > 0 "
					"AND EXISTS (SELECT 1 FROM tripl.metric_breakdowns b WHERE b.metric_id = m.id "
					"            AND b.breakdown_column = m.breakdowns[1] AND b.bucket = $2)",
					2, types, values, NULL, true, 0);
	if (SPI_processed == 0)
		return;
	edata = subxact_run(load_drivers_body, c);
	if (edata != NULL)
	{
		c->item.n_drivers = 0;
		FreeErrorData(edata);
	}
}

/*
 * The alert candidates: each monitored metric's newest anomaly while
 * "latest" (doc/alerting.md, "What a rule looks at"): a tracked incident
 * while it is open and its newest flag is no older than max(24 hours, 3
 * buckets) — also when it began long before the newest value (a late
 * batch) — and an untracked row while its bucket is within the settling lag
 * of the newest value and as young
 */
static List *
alert_candidates(TimestampTz now)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(now)};
	List	   *result = NIL;
	uint64		i;

	catalog_execute("SELECT m.id, m.name, m.unit, m.description, a.bucket, a.direction, a.actual, "
					"a.expected, a.z_score, a.detector, m.timezone "
					"FROM tripl.metrics m JOIN tripl.monitoring mo ON mo.metric_id = m.id "
					"JOIN LATERAL (SELECT x.* FROM tripl.anomalies x WHERE x.metric_id = m.id "
					"              ORDER BY x.bucket DESC LIMIT 1) a ON true "
					"JOIN LATERAL (SELECT max(v.bucket) AS latest FROM tripl.metric_values v "
					"              WHERE v.metric_id = m.id) lv ON true "
					"CROSS JOIN LATERAL (SELECT coalesce(a.last_bucket, a.bucket) AS at) t "
					"WHERE m.status = 'active' AND m.anomaly_detection "
					"AND CASE WHEN a.last_bucket IS NOT NULL THEN a.ended_at IS NULL "
					"         ELSE a.bucket >= tripl._bucket_step(lv.latest, m.bucket, m.timezone, "
					"                   -ceil(mo.settling_minutes * 60 / extract(epoch FROM m.bucket))::int) END "
					"AND (t.at >= $1 - interval '24 hours' "
					"     OR t.at > tripl._bucket_step($1 - interval '1 microsecond', m.bucket, m.timezone, -3)) "
					"ORDER BY m.id",
					1, types, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Candidate  *c = palloc0(sizeof(Candidate));

		c->item.metric_id = spi_int64(i, 0);
		c->item.metric = (char *) spi_text(i, 1);
		c->item.unit = (char *) spi_text(i, 2);
		c->item.description = (char *) spi_text(i, 3);
		c->item.bucket = cell_time(i, 4);
		c->item.direction = strcmp(spi_text(i, 5), "spike") == 0 ? 1 : -1;
		c->item.actual = cell_float(i, 6);
		c->item.expected = cell_float(i, 7);
		c->item.z = cell_float(i, 8);
		c->item.detector = (char *) spi_text(i, 9);
		c->item.timezone = (char *) spi_text(i, 10);
		result = lappend(result, c);
	}
	return result;
}

/* One rule, loaded for evaluation */
typedef struct RuleDef
{
	int64		id;
	char	   *name;
	AlertDestination dest;
	AlertRule	match;
	int64		cooldown_us;
	char	   *tmpl;
	bool		muted;
	bool		notify_on_resolve;
	List	   *metric_ids;		/* int64 * */
} RuleDef;

/* The enabled rules with enabled destinations */
static List *
load_rules(TimestampTz now)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1] = {TimestampTzGetDatum(now)};
	List	   *rules = NIL;
	ListCell   *lc;
	uint64		i;

	catalog_execute("SELECT r.id, r.name, d.id, d.name, d.type, d.chat_id, d.schedule, r.all_metrics, "
					"r.notify_on_spike::int, r.notify_on_drop::int, r.min_expected, r.min_absolute_delta, "
					"r.min_percent_delta, (extract(epoch FROM r.cooldown) * 1000000)::int8, "
					"r.message_template, (r.muted_until IS NOT NULL AND r.muted_until > $1)::int, "
					"r.notify_on_resolve::int "
					"FROM tripl.alert_rules r JOIN tripl.destinations d ON d.id = r.destination_id "
					"WHERE r.enabled AND d.enabled ORDER BY r.id",
					1, types, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		RuleDef    *r = palloc0(sizeof(RuleDef));
		bool		isnull;

		r->id = spi_int64(i, 0);
		r->name = (char *) spi_text(i, 1);
		r->dest.id = spi_int64(i, 2);
		r->dest.name = (char *) spi_text(i, 3);
		r->dest.type = (char *) spi_text(i, 4);
		r->dest.chat_id = (char *) spi_text(i, 5);
		r->dest.schedule = (char *) spi_text(i, 6);
		r->match.all_metrics = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 8, &isnull));
		r->match.notify_on_spike = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 9, &isnull)) != 0;
		r->match.notify_on_drop = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 10, &isnull)) != 0;
		r->match.min_expected = cell_float(i, 10);
		r->match.min_absolute_delta = cell_float(i, 11);
		r->match.min_percent_delta = cell_float(i, 12);
		r->cooldown_us = spi_int64(i, 13);
		r->tmpl = (char *) spi_text(i, 14);
		r->muted = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 16, &isnull)) != 0;
		r->notify_on_resolve = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 17, &isnull)) != 0;
		rules = lappend(rules, r);
	}
	foreach(lc, rules)
	{
		RuleDef    *r = lfirst(lc);
		Oid			t1[1] = {INT8OID};
		Datum		v1[1] = {Int64GetDatum(r->id)};
		int64	   *ids;

		if (r->match.all_metrics)
			continue;
		catalog_execute("SELECT metric_id FROM tripl.alert_rule_metrics WHERE rule_id = $1 ORDER BY 1",
						1, t1, v1, NULL, true, 0);
		ids = palloc(sizeof(int64) * (SPI_processed + 1));
		for (i = 0; i < SPI_processed; i++)
			ids[i] = spi_int64(i, 0);
		r->match.metric_ids = ids;
		r->match.n_metric_ids = (int) SPI_processed;
	}
	return rules;
}

/* A rule x metric state row */
typedef struct StateRow
{
	int64		metric_id;
	AlertRuleState s;
	int			direction;		/* +1 spike, -1 drop, 0 unknown */
	char		incident[37];	/* empty if unknown */
	double		peak_actual;	/* the open incident's peak (NaN: none) */
	double		peak_expected;
	double		peak_z;
	int64		peak_bucket;
} StateRow;

/* The rule's stored states */
static List *
load_states(int64 rule)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(rule)};
	List	   *result = NIL;
	uint64		i;

	catalog_execute("SELECT metric_id, active::int, opened_at, closed_at, last_notified_at, last_anomaly_bucket, "
					"direction, incident_id::text, peak_actual, peak_expected, peak_z, peak_bucket "
					"FROM tripl.alert_state WHERE rule_id = $1", 1, types, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		StateRow   *sr = palloc0(sizeof(StateRow));
		bool		isnull;

		sr->metric_id = spi_int64(i, 0);
		sr->s.exists = true;
		sr->s.active = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull)) != 0;
		sr->s.opened_at = cell_time(i, 2);
		sr->s.closed_at = cell_time(i, 3);
		sr->s.last_notified_at = cell_time(i, 4);
		sr->s.last_anomaly_bucket = cell_time(i, 5);
		sr->direction = spi_text(i, 6) == NULL ? 0 : strcmp(spi_text(i, 6), "spike") == 0 ? 1 : -1;
		strlcpy(sr->incident, spi_text(i, 7) ? spi_text(i, 7) : "", sizeof(sr->incident));
		sr->peak_actual = cell_float(i, 8);
		sr->peak_expected = cell_float(i, 9);
		sr->peak_z = cell_float(i, 10);
		sr->peak_bucket = cell_time(i, 11);
		result = lappend(result, sr);
	}
	return result;
}

/* A time as a Datum (with null flag) */
static void
time_param(int64 t, Datum *d, char *null)
{
	if (t == ALERT_TIME_NONE)
	{
		*d = (Datum) 0;
		*null = 'n';
	}
	else
	{
		*d = TimestampTzGetDatum(unix_to_ts(t));
		*null = ' ';
	}
}

/*
 * Persist a rule x metric state; peak, when given, becomes the incident's
 * peak (NULL keeps the stored one)
 */
static void
save_state(int64 rule, int64 metric, const AlertRuleState *s, const char *direction, const char *incident,
		   const AlertItem *peak)
{
	Oid			types[14] = {INT8OID, INT8OID, BOOLOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, UUIDOID, BOOLOID, FLOAT8OID, FLOAT8OID, FLOAT8OID, TIMESTAMPTZOID};
	Datum		values[14];
	char		nulls[15] = "              ";
	int			k;

	values[0] = Int64GetDatum(rule);
	values[1] = Int64GetDatum(metric);
	values[2] = BoolGetDatum(s->active);
	spi_param_text(values, nulls, 3, direction);
	time_param(s->opened_at, &values[4], &nulls[4]);
	time_param(s->closed_at, &values[5], &nulls[5]);
	time_param(s->last_notified_at, &values[6], &nulls[6]);
	time_param(s->last_anomaly_bucket, &values[7], &nulls[7]);
	if (incident)
		values[8] = DirectFunctionCall1(uuid_in, CStringGetDatum(incident));
	else
		nulls[8] = 'n';
	values[9] = BoolGetDatum(peak != NULL);
	for (k = 10; k < 13; k++)
	{
		double		v = peak == NULL ? NAN : k == 10 ? peak->actual : k == 11 ? peak->expected : peak->z;

		values[k] = Float8GetDatum(v);
		nulls[k] = isfinite(v) ? ' ' : 'n';
	}
	time_param(peak ? peak->bucket : ALERT_TIME_NONE, &values[13], &nulls[13]);
	catalog_execute("INSERT INTO tripl.alert_state AS s (rule_id, metric_id, active, direction, opened_at, "
					"closed_at, last_notified_at, last_anomaly_bucket, incident_id, "
					"peak_actual, peak_expected, peak_z, peak_bucket) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, $13, $14) "
					"ON CONFLICT (rule_id, metric_id) DO UPDATE SET active = EXCLUDED.active, "
					"direction = coalesce(EXCLUDED.direction, s.direction), opened_at = EXCLUDED.opened_at, "
					"closed_at = EXCLUDED.closed_at, last_notified_at = EXCLUDED.last_notified_at, "
					"last_anomaly_bucket = EXCLUDED.last_anomaly_bucket, "
					"incident_id = coalesce(EXCLUDED.incident_id, s.incident_id), "
					"peak_actual = CASE WHEN $10 THEN $11 ELSE s.peak_actual END, "
					"peak_expected = CASE WHEN $10 THEN $12 ELSE s.peak_expected END, "
					"peak_z = CASE WHEN $10 THEN $13 ELSE s.peak_z END, "
					"peak_bucket = CASE WHEN $10 THEN $14 ELSE s.peak_bucket END",
					14, types, values, nulls, false, 0);
}

/* One event of an evaluation, for tripl.evaluate_alerts */
typedef struct AlertEventRow
{
	char	   *rule;
	char	   *metric;
	const char *event;
	bool		sent;
	bool		muted;
} AlertEventRow;

/* Buffer items (anomalies or resolutions) into a digest destination's pending set */
static int
buffer_digest(RuleDef *r, List *items, TimestampTz now)
{
	ListCell   *lc;

	foreach(lc, items)
	{
		AlertItem  *it = lfirst(lc);
		Oid			types[7] = {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TEXTOID};
		Datum		values[7];

		values[0] = Int64GetDatum(r->dest.id);
		values[1] = Int64GetDatum(r->id);
		values[2] = Int64GetDatum(it->metric_id);
		values[3] = CStringGetTextDatum(it->direction > 0 ? "spike" : "drop");
		values[4] = CStringGetTextDatum(alert_msg_item_json(it));
		values[5] = TimestampTzGetDatum(now);
		values[6] = CStringGetTextDatum(it->resolved ? "resolved" : "anomaly");
		catalog_execute("INSERT INTO tripl.digest_items (destination_id, rule_id, metric_id, direction, item, "
						"updated_at, event) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7) "
						"ON CONFLICT (destination_id, rule_id, metric_id, direction, event) DO UPDATE "
						"SET item = EXCLUDED.item, updated_at = EXCLUDED.updated_at",
						7, types, values, NULL, false, 0);
	}
	return list_length(items);
}

/* The reference of the issue a tracker opens for one incident */
static char *
ticket_ref(int64 dest_id, const AlertItem *it)
{
	return delivery_key(psprintf("ticket:" INT64_FORMAT ":%s:" INT64_FORMAT, dest_id, it->incident, it->opened_at));
}

/* A tracker (jira, linear) delivery: open the incident's issue, comment on it, or resolve it */
static bool
send_jira(RuleDef *r, AlertItem *it, const char *message, const char *action, TimestampTz now)
{
	char	   *ref = ticket_ref(r->dest.id, it);
	char	   *key = delivery_key(psprintf("jira:%s:%s:" INT64_FORMAT ":" INT64_FORMAT, ref, action,
											it->bucket, (int64) now));

	return enqueue(r->id, r->dest.id, strcmp(action, "resolve") == 0 ? "resolution" : "alert", key,
				   alert_msg_jira(it, r->name, message, action, ref), now) > 0;
}

/* Enqueue what a rule sends now to an immediate destination */
static int
send_items(RuleDef *r, List *items, TimestampTz now)
{
	StringInfoData what;
	ListCell   *lc;
	char	   *message;
	int			n = 0;

	if (strcmp(r->dest.type, "jira") == 0 || strcmp(r->dest.type, "linear") == 0)
	{
		/* one issue per incident: its first message opens it, later ones comment */
		foreach(lc, items)
		{
			AlertItem  *it = lfirst(lc);

			message = alert_msg_render(r->tmpl, r->name, &r->dest, list_make1(it), ALERT_MSG_ALERT);
			if (send_jira(r, it, message, it->followup ? "comment" : "open", now))
				n++;
		}
		return n;
	}

	if (strcmp(r->dest.type, "pagerduty") == 0)
	{
		foreach(lc, items)
		{
			AlertItem  *it = lfirst(lc);

			message = alert_msg_render(r->tmpl, r->name, &r->dest, list_make1(it), ALERT_MSG_ALERT);
			if (enqueue(r->id, r->dest.id, "alert",
						delivery_key(psprintf("pd:%s:" INT64_FORMAT ":" INT64_FORMAT, it->incident,
											  it->bucket, (int64) now)),
						alert_msg_pagerduty(it, message), now) > 0)
				n++;
		}
		return n;
	}
	initStringInfo(&what);
	appendStringInfo(&what, "alert:" INT64_FORMAT ":" INT64_FORMAT ":" INT64_FORMAT, r->id, r->dest.id, (int64) now);
	foreach(lc, items)
	{
		AlertItem  *it = lfirst(lc);

		appendStringInfo(&what, ":" INT64_FORMAT "@" INT64_FORMAT "%c", it->metric_id, it->bucket,
						 it->direction > 0 ? '+' : '-');
	}
	message = alert_msg_render(r->tmpl, r->name, &r->dest, items, ALERT_MSG_ALERT);
	{
		char	   *key = delivery_key(what.data);

		if (enqueue(r->id, r->dest.id, "alert", key,
					alert_msg_payload(&r->dest, r->id, r->name, message, items, key, ALERT_MSG_ALERT), now) > 0)
			n++;
	}
	return n;
}

/*
 * When an incident closes: its resolution, if the rule asks for one and a
 * message about this incident went out (it was notified since it opened).
 * Returns the resolution item, or NULL.  sr is the state before closing.
 */
static AlertItem *
resolution_item(RuleDef *r, const StateRow *sr, int64 metric_id, int64 now_us)
{
	AlertItem  *it;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(metric_id)};

	if (!r->notify_on_resolve || !sr->s.active || sr->incident[0] == '\0' ||
		sr->s.last_notified_at == ALERT_TIME_NONE || sr->s.last_notified_at < sr->s.opened_at)
		return NULL;
	catalog_execute("SELECT name, unit, description, timezone FROM tripl.metrics WHERE id = $1",
					1, types, values, NULL, true, 0);
	if (SPI_processed == 0)
		return NULL;
	it = palloc0(sizeof(AlertItem));
	it->metric_id = metric_id;
	it->metric = (char *) spi_text(0, 0);
	it->unit = (char *) spi_text(0, 1);
	it->description = (char *) spi_text(0, 2);
	it->timezone = (char *) spi_text(0, 3);
	it->direction = sr->direction >= 0 ? 1 : -1;
	it->actual = sr->peak_actual;
	it->expected = sr->peak_expected;
	it->z = sr->peak_z;
	it->bucket = sr->peak_bucket != ALERT_TIME_NONE ? sr->peak_bucket : sr->s.last_anomaly_bucket;
	strlcpy(it->incident, sr->incident, sizeof(it->incident));
	it->resolved = true;
	it->opened_at = sr->s.opened_at;
	it->closed_at = now_us;
	return it;
}

/*
 * Enqueue the resolution of one incident (exactly once: its key is the
 * incident and the time it opened), or buffer it into a digest; counted
 * in the summary
 */
static void
send_resolution(RuleDef *r, AlertItem *it, TimestampTz now, AlertSummary *summary)
{
	char	   *key;
	char	   *message;
	char	   *payload;

	if (r->dest.schedule != NULL)
	{
		summary->buffered += buffer_digest(r, list_make1(it), now);
		return;
	}
	key = delivery_key(psprintf("resolve:" INT64_FORMAT ":" INT64_FORMAT ":%s:" INT64_FORMAT,
								r->id, r->dest.id, it->incident, it->opened_at));
	message = alert_msg_render(NULL, r->name, &r->dest, list_make1(it), ALERT_MSG_RESOLUTION);
	if (strcmp(r->dest.type, "jira") == 0 || strcmp(r->dest.type, "linear") == 0)
	{
		if (send_jira(r, it, message, "resolve", now))
			summary->enqueued++;
		return;
	}
	if (strcmp(r->dest.type, "pagerduty") == 0)
		payload = alert_msg_pagerduty(it, message);
	else
		payload = alert_msg_payload(&r->dest, r->id, r->name, message, list_make1(it), key,
									ALERT_MSG_RESOLUTION);
	if (enqueue(r->id, r->dest.id, "resolution", key, payload, now) > 0)
		summary->enqueued++;
}

/*
 * Evaluate every enabled rule against the current signals.  Serialised by
 * an advisory lock; the caller's transaction commits state and outbox
 * together.
 */
void
alert_evaluate(TimestampTz now, AlertSummary *summary, List **events)
{
	List	   *candidates;
	List	   *rules;
	ListCell   *lr;
	int64		now_us = ts_to_unix(now);

	memset(summary, 0, sizeof(AlertSummary));
	catalog_execute(psprintf("SELECT pg_advisory_xact_lock(%d, 0)", ALERT_LOCK_KEY), 0, NULL, NULL, NULL, false, 0);
	candidates = alert_candidates(now);
	rules = load_rules(now);
	foreach(lr, rules)
	{
		RuleDef    *r = lfirst(lr);
		List	   *states = load_states(r->id);
		List	   *to_send = NIL;
		ListCell   *lc;
		bool		digest = r->dest.schedule != NULL;

		summary->rules++;
		/* metrics with a candidate in the rule's scope */
		foreach(lc, candidates)
		{
			Candidate  *c = lfirst(lc);
			AlertSignal sig;
			AlertRuleState prev;
			AlertEvaluation ev;
			AlertTransition tr;
			ListCell   *ls;
			StateRow   *before = NULL;
			AlertItem  *resolution = NULL;
			const AlertItem *peak = NULL;
			bool		in_scope = r->match.all_metrics;
			int			k;

			for (k = 0; k < r->match.n_metric_ids && !in_scope; k++)
				in_scope = (r->match.metric_ids[k] == c->item.metric_id);
			if (!in_scope)
				continue;
			memset(&prev, 0, sizeof(prev));
			prev.exists = false;
			prev.opened_at = prev.closed_at = prev.last_notified_at = prev.last_anomaly_bucket = ALERT_TIME_NONE;
			foreach(ls, states)
			{
				StateRow   *sr = lfirst(ls);

				if (sr->metric_id == c->item.metric_id)
				{
					prev = sr->s;
					before = sr;
					sr->metric_id = -1;		/* handled */
				}
			}
			sig.metric_id = c->item.metric_id;
			sig.direction = c->item.direction;
			sig.actual = c->item.actual;
			sig.expected = c->item.expected;
			ev.matched = alert_rule_match(&r->match, &sig) == ALERT_MATCH;
			ev.anomaly_bucket = c->item.bucket;
			ev.now = now_us;
			ev.cooldown_us = r->cooldown_us;
			ev.is_digest = digest;
			ev.muted = r->muted;
			alert_state_transition(&prev, &ev, &tr);
			if (tr.event == ALERT_STATE_NONE)
				continue;
			tripl_incident_id(r->id, c->item.metric_id, c->item.direction > 0 ? "spike" : "drop",
							  c->item.incident);
			if (tr.send)
			{
				load_drivers(c);
				alert_state_mark_notified(&tr.state, now_us);
				c->item.opened_at = tr.state.opened_at;
				c->item.followup = (tr.event == ALERT_STATE_STILL_ACTIVE);
				to_send = lappend(to_send, &c->item);
			}
			/* the incident's peak: the anomaly with the largest |z| since it opened */
			if (ev.matched && (tr.event != ALERT_STATE_STILL_ACTIVE || before == NULL ||
							   !(fabs(before->peak_z) >= fabs(c->item.z))))
				peak = &c->item;
			if (tr.event == ALERT_STATE_CLOSED && before != NULL)
				resolution = resolution_item(r, before, c->item.metric_id, now_us);
			save_state(r->id, c->item.metric_id, &tr.state,
					   ev.matched ? (c->item.direction > 0 ? "spike" : "drop") : NULL,
					   ev.matched ? c->item.incident : NULL, peak);
			if (resolution)
				send_resolution(r, resolution, now, summary);
			summary->transitions++;
			if (events)
			{
				AlertEventRow *e = palloc0(sizeof(AlertEventRow));

				e->rule = r->name;
				e->metric = c->item.metric;
				e->event = alert_state_event_name(tr.event);
				e->sent = tr.send || resolution != NULL;
				e->muted = tr.muted_send;
				*events = lappend(*events, e);
			}
		}
		/* active states whose metric has no matching candidate now close */
		foreach(lc, states)
		{
			StateRow   *sr = lfirst(lc);
			AlertEvaluation ev;
			AlertTransition tr;
			AlertItem  *resolution;

			if (sr->metric_id < 0 || !sr->s.active)
				continue;
			memset(&ev, 0, sizeof(ev));
			ev.matched = false;
			ev.now = now_us;
			ev.cooldown_us = r->cooldown_us;
			ev.is_digest = digest;
			ev.muted = r->muted;
			alert_state_transition(&sr->s, &ev, &tr);
			resolution = resolution_item(r, sr, sr->metric_id, now_us);
			save_state(r->id, sr->metric_id, &tr.state, NULL, NULL, NULL);
			if (resolution)
				send_resolution(r, resolution, now, summary);
			summary->transitions++;
			if (events)
			{
				AlertEventRow *e = palloc0(sizeof(AlertEventRow));
				Oid			t1[1] = {INT8OID};
				Datum		v1[1] = {Int64GetDatum(sr->metric_id)};

				catalog_execute("SELECT name FROM tripl.metrics WHERE id = $1", 1, t1, v1, NULL, true, 0);
				e->rule = r->name;
				e->metric = SPI_processed ? (char *) spi_text(0, 0) : "?";
				e->event = alert_state_event_name(tr.event);
				e->sent = resolution != NULL;
				*events = lappend(*events, e);
			}
		}
		if (to_send != NIL)
		{
			if (digest)
				summary->buffered += buffer_digest(r, to_send, now);
			else
				summary->enqueued += send_items(r, to_send, now);
		}
	}
	summary->flushed = alert_flush_digests(now);
}

/*
 * Send the digests whose schedule fired since their last flush, and at
 * once what a destination buffered before its schedule was removed
 */
int
alert_flush_digests(TimestampTz now)
{
	List	   *dests = NIL;
	ListCell   *lc;
	int			flushed = 0;
	uint64		i;
	int64		now_us = ts_to_unix(now);

	catalog_execute("SELECT id, name, type, chat_id, schedule, last_flushed_at, created_at "
					"FROM tripl.destinations d WHERE enabled AND (schedule IS NOT NULL OR EXISTS "
					"(SELECT 1 FROM tripl.digest_items g WHERE g.destination_id = d.id)) ORDER BY id",
					0, NULL, NULL, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		AlertDestination *d = palloc0(sizeof(AlertDestination));
		int64	   *since = palloc(sizeof(int64));

		d->id = spi_int64(i, 0);
		d->name = (char *) spi_text(i, 1);
		d->type = (char *) spi_text(i, 2);
		d->chat_id = (char *) spi_text(i, 3);
		d->schedule = (char *) spi_text(i, 4);
		*since = cell_time(i, 5) != ALERT_TIME_NONE ? cell_time(i, 5) : cell_time(i, 6);
		dests = lappend(dests, list_make2(d, since));
	}
	foreach(lc, dests)
	{
		List	   *pair = lfirst(lc);
		AlertDestination *d = linitial(pair);
		int64		since = *(int64 *) lsecond(pair);
		CronSchedule cs;
		char		err[256];
		int64		next;
		Oid			types[2] = {INT8OID, TIMESTAMPTZOID};
		Datum		values[2];
		List	   *items = NIL;
		List	   *resolved = NIL;
		StringInfoData json;

		if (d->schedule != NULL)
		{
			if (!cron_parse(d->schedule, &cs, err, sizeof(err)))
				continue;
			next = cron_next(&cs, since);
			if (next < 0 || next > now_us)
				continue;
		}
		values[0] = Int64GetDatum(d->id);
		values[1] = TimestampTzGetDatum(now);
		catalog_execute("DELETE FROM tripl.digest_items WHERE destination_id = $1 "
						"RETURNING item::text, (item->>'scope_ref')::int8, item->>'scope_name', "
						"item->>'direction', (item->>'actual_count')::float8, "
						"(item->>'expected_count')::float8, (item->>'z_score')::float8, "
						"item->>'detector', (item->>'bucket')::timestamptz, item->>'unit', item->>'incident_id', "
						"(event = 'resolved')::int, (item->>'opened_at')::timestamptz, (item->>'closed_at')::timestamptz, "
						"(SELECT m.timezone FROM tripl.metrics m WHERE m.id = (item->>'scope_ref')::int8)",
						1, types, values, NULL, false, 0);
		initStringInfo(&json);
		for (i = 0; i < SPI_processed; i++)
		{
			AlertItem  *it = palloc0(sizeof(AlertItem));

			it->metric_id = spi_int64(i, 1);
			it->metric = (char *) spi_text(i, 2);
			it->direction = strcmp(spi_text(i, 3), "spike") == 0 ? 1 : -1;
			it->actual = cell_float(i, 4);
			it->expected = cell_float(i, 5);
			it->z = cell_float(i, 6);
			it->detector = (char *) spi_text(i, 7);
			it->bucket = cell_time(i, 8);
			it->unit = (char *) spi_text(i, 9);
			strlcpy(it->incident, spi_text(i, 10) ? spi_text(i, 10) : "", sizeof(it->incident));
			it->resolved = strcmp(spi_text(i, 11), "1") == 0;
			it->opened_at = cell_time(i, 12);
			it->closed_at = cell_time(i, 13);
			it->timezone = (char *) spi_text(i, 14);
			if (it->resolved)
				resolved = lappend(resolved, it);
			else
				items = lappend(items, it);
		}
		/* anomalies first, then the incidents that closed */
		items = list_concat(items, resolved);
		if (items != NIL)
		{
			char	   *message = alert_msg_render(NULL, NULL, d, items, ALERT_MSG_DIGEST);
			char	   *key = delivery_key(psprintf("digest:" INT64_FORMAT ":" INT64_FORMAT, d->id, now_us));

			if (enqueue(0, d->id, "digest", key,
						alert_msg_payload(d, 0, NULL, message, items, key, ALERT_MSG_DIGEST), now) > 0)
				flushed++;
		}
		catalog_execute("UPDATE tripl.destinations SET last_flushed_at = $2 WHERE id = $1",
						2, types, values, NULL, false, 0);
	}
	return flushed;
}

/* SQL: tripl.evaluate_alerts() */
Datum
tripl_evaluate_alerts(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	AlertSummary summary;
	List	   *events = NIL;
	ListCell   *lc;

	alert_require_admin("evaluate alert rules");
	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	alert_evaluate(tripl_now(), &summary, &events);
	foreach(lc, events)
	{
		AlertEventRow *e = lfirst(lc);
		Datum		o[5];
		bool		n[5] = {false, false, false, false, false};

		o[0] = CStringGetTextDatum(e->rule);
		o[1] = CStringGetTextDatum(e->metric);
		o[2] = CStringGetTextDatum(e->event);
		o[3] = BoolGetDatum(e->sent);
		o[4] = BoolGetDatum(e->muted);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, o, n);
	}
	SPI_finish();
	return (Datum) 0;
}

/* SQL: tripl.test_destination(name) */
Datum
tripl_test_destination(PG_FUNCTION_ARGS)
{
	char	   *name = fn_arg_text(fcinfo, 0);
	Oid			owner;
	AlertDestination d;
	TimestampTz now = tripl_now();
	StringInfoData b;
	char	   *key;
	char	   *message;
	int64		id;
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	alert_require_admin("test an alert destination");
	SPI_connect();
	d.id = alert_destination_id(name, &owner, &d.type);
	alert_require_destination_owner(owner, name, "test it");
	d.name = name;
	values[0] = Int64GetDatum(d.id);
	catalog_execute("SELECT chat_id FROM tripl.destinations WHERE id = $1", 1, types, values, NULL, true, 0);
	d.chat_id = (char *) spi_text(0, 0);
	key = random_key();
	message = psprintf("tripl test message for destination \"%s\" in database \"%s\"", name,
					   get_database_name(MyDatabaseId));
	initStringInfo(&b);
	if (strcmp(d.type, "webhook") == 0)
	{
		appendStringInfoString(&b, "{\"event\": \"tripl.destination_test\", \"destination\": {");
		appendStringInfo(&b, "\"id\": " INT64_FORMAT ", ", d.id);
		alert_msg_json_string(&b, "name", name);
		appendStringInfoString(&b, "}, ");
		alert_msg_json_string(&b, "message", message);
		appendStringInfoString(&b, ", ");
		alert_msg_json_string(&b, "idempotency_key", key);
		appendStringInfoChar(&b, '}');
	}
	else if (strcmp(d.type, "jira") == 0 || strcmp(d.type, "linear") == 0)
		appendStringInfoString(&b, "{\"action\": \"test\"}");	/* reads the project or team: checks the login */
	else if (strcmp(d.type, "pagerduty") == 0)
	{
		/* resolving an unknown dedup key checks the routing key without paging anyone */
		appendStringInfoString(&b, "{\"event_action\": \"resolve\", ");
		alert_msg_json_string(&b, "dedup_key", psprintf("tripl-test-%s", key));
		appendStringInfoChar(&b, '}');
	}
	else
		appendStringInfoString(&b, alert_msg_payload(&d, 0, NULL, template_escape(message, alert_msg_escape(d.type)),
													 NIL, key, ALERT_MSG_TEST));
	id = enqueue(0, d.id, "test", key, b.data, now);
	SPI_finish();
	PG_RETURN_INT64(id);
}
