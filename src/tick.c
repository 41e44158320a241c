/*-------------------------------------------------------------------------
 *
 * tick.c
 *	  tripl.tick(): one full pass — collect due metrics, detect the ones
 *	  whose values changed, evaluate alert rules (enqueueing deliveries),
 *	  prune history — guarded by a transaction-level advisory lock, so it
 *	  never overlaps itself whoever calls it (the scheduler worker, pg_cron,
 *	  a person).  A second concurrent call returns at once, saying it
 *	  skipped.  Also the run log (tripl.runs) and its retention.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "alert.h"
#include "collect.h"
#include "monitor.h"
#include "tick.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_tick);

/* Remember the first error of a pass */
static void
note_error(TickSummary *s, const char *what, const char *error)
{
	if (error && s->first_error == NULL)
		s->first_error = psprintf("%s: %s", what, error);
}

/* Delete run-log rows and finished deliveries past their retention */
static int
prune(TimestampTz now)
{
	Oid			types[4] = {TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID};
	Datum		values[4];
	int			pruned;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int64GetDatum((int64) tripl_run_retention_s * USECS_PER_SEC);
	values[2] = Int64GetDatum((int64) tripl_run_error_retention_s * USECS_PER_SEC);
	values[3] = Int64GetDatum((int64) tripl_delivery_retention_s * USECS_PER_SEC);
	catalog_execute("DELETE FROM tripl.runs WHERE id IN (SELECT id FROM tripl.runs WHERE "
					"(error IS NULL AND finished_at < $1 - $2 * interval '1 microsecond') "
					"OR finished_at < $1 - $3 * interval '1 microsecond' LIMIT 10000)",
					4, types, values, NULL, false, 0);
	pruned = (int) SPI_processed;
	catalog_execute("DELETE FROM tripl.deliveries WHERE id IN (SELECT id FROM tripl.deliveries WHERE "
					"status IN ('sent', 'dead') AND coalesce(sent_at, next_attempt_at) < $1 - $4 * interval '1 microsecond' "
					"LIMIT 10000)",
					4, types, values, NULL, false, 0);
	return pruned + (int) SPI_processed;
}

/*
 * One pass.  The caller is connected to SPI inside a transaction.  due is
 * the list of DueItems to collect, or NIL to compute it now.  Returns false
 * (and summary->skipped) when another tick holds the lock.
 */
bool
tick_run(TimestampTz now, List *due, TickSummary *s)
{
	List	   *metrics = NIL;
	List	   *windows = NIL;
	ListCell   *lc;
	AlertSummary as;

	memset(s, 0, sizeof(TickSummary));
	catalog_execute(psprintf("SELECT pg_try_advisory_xact_lock(%d, 0)", TRIPL_TICK_LOCK_KEY),
					0, NULL, NULL, NULL, false, 0);
	if (strcmp(spi_text(0, 0), "t") != 0)
	{
		s->skipped = true;
		return false;
	}

	/* collect */
	if (due == NIL)
		due = collect_due_metrics(now, 0, false);
	foreach(lc, due)
	{
		DueItem    *d = lfirst(lc);
		GridWindow *w = palloc(sizeof(GridWindow));

		*w = d->win;
		metrics = lappend(metrics, d->m);
		windows = lappend(windows, w);
	}
	foreach(lc, collect_run(metrics, windows, now))
	{
		CollectResult *r = lfirst(lc);

		if (r->ok)
			s->collected++;
		else
		{
			s->collect_failed++;
			note_error(s, r->metric->name, r->error);
		}
	}

	/* detect what changed */
	foreach(lc, monitor_detect(monitor_changed_metrics(), now))
	{
		DetectResult *r = lfirst(lc);

		s->detected++;
		if (r->error)
			note_error(s, r->metric->name, r->error);
		else
			s->anomalies += r->anomalies;
	}

	/* alert */
	alert_evaluate(now, &as, NULL);
	s->enqueued = as.enqueued + as.flushed;
	s->buffered = as.buffered;

	s->pruned = prune(now);
	return true;
}

/* A tick's summary as jsonb */
Jsonb *
tick_summary_jsonb(const TickSummary *s, TimestampTz started, TimestampTz finished)
{
	StringInfoData b;

	initStringInfo(&b);
	if (s->skipped)
		appendStringInfoString(&b, "{\"skipped\": true, \"reason\": \"another tick is running\"}");
	else
	{
		appendStringInfo(&b, "{\"skipped\": false, \"collected\": %d, \"collect_failed\": %d, "
						 "\"detected\": %d, \"anomalies\": %d, \"deliveries_enqueued\": %d, "
						 "\"digest_items\": %d, \"pruned\": %d, \"duration_ms\": %.1f, \"error\": ",
						 s->collected, s->collect_failed, s->detected, s->anomalies, s->enqueued,
						 s->buffered, s->pruned, (finished - started) / 1000.0);
		if (s->first_error)
			escape_json(&b, s->first_error);
		else
			appendStringInfoString(&b, "null");
		appendStringInfoChar(&b, '}');
	}
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
}

/* Write one row to the run log */
void
run_log(const char *kind, TimestampTz started, const TickSummary *s, const char *error)
{
	Oid			types[11] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, BOOLOID, INT4OID, INT4OID,
	INT4OID, INT4OID, INT4OID, TEXTOID, JSONBOID};
	Datum		values[11];
	char		nulls[12] = "           ";
	TimestampTz finished = GetCurrentTimestamp();

	values[0] = CStringGetTextDatum(kind);
	values[1] = TimestampTzGetDatum(started);
	values[2] = TimestampTzGetDatum(finished);
	values[3] = BoolGetDatum(s->skipped);
	values[4] = Int32GetDatum(s->collected);
	values[5] = Int32GetDatum(s->collect_failed);
	values[6] = Int32GetDatum(s->detected);
	values[7] = Int32GetDatum(s->anomalies);
	values[8] = Int32GetDatum(s->enqueued);
	if (error || s->first_error)
		values[9] = CStringGetTextDatum(error ? error : s->first_error);
	else
		nulls[9] = 'n';
	values[10] = JsonbPGetDatum(tick_summary_jsonb(s, started, finished));
	catalog_execute("INSERT INTO tripl.runs (kind, started_at, finished_at, skipped, metrics_collected, "
					"metrics_failed, metrics_detected, anomalies, deliveries, error, details) "
					"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
					11, types, values, nulls, false, 0);
}

/*
 * After a crash or a promotion: "running" markers of collections that were
 * interrupted become errors without backoff, so the metrics are collected
 * again at once.
 */
int
sweep_stale_running(void)
{
	catalog_execute("UPDATE tripl.metric_state SET last_status = 'error', "
					"last_error = 'interrupted: the server stopped while collecting', last_failed_at = NULL "
					"WHERE last_status = 'running'", 0, NULL, NULL, NULL, false, 0);
	return (int) SPI_processed;
}

/* SQL: tripl.tick() */
Datum
tripl_tick(PG_FUNCTION_ARGS)
{
	TickSummary s;
	TimestampTz started = GetCurrentTimestamp();
	Jsonb	   *result;

	SPI_connect();
	(void) tick_run(tripl_now(), NIL, &s);
	if (!s.skipped)
		run_log("tick", started, &s, NULL);
	result = tick_summary_jsonb(&s, started, GetCurrentTimestamp());
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}
