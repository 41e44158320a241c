/*-------------------------------------------------------------------------
 *
 * tick.c
 *	  tripl.tick(): one full pass — collect due metrics, detect the ones
 *	  whose values changed, evaluate alert rules (enqueueing deliveries),
 *	  prune history — guarded by a transaction-level advisory lock, so it
 *	  never overlaps itself whoever calls it (the scheduler worker, pg_cron,
 *	  a person).  A second concurrent call returns at once, saying it
 *	  skipped.  Also the tick's row in the run log (runlog.c) and the
 *	  log's retention.
 *
 *	  A restore loads tripl's tables with COPY (or INSERT) while the new
 *	  database's scheduler may already be ticking.  A tick in the middle
 *	  would write rows the load is still to bring (a duplicate key fails
 *	  the restore) and alert from half the data.  So every statement that
 *	  writes one of those tables other than through tripl's functions
 *	  notes its session in tripl.restore_sessions (a trigger), and ticks
 *	  skip while such a session of the database is still connected.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "alert.h"
#include "collect.h"
#include "collect_due.h"
#include "guc.h"
#include "monitor.h"
#include "runlog.h"
#include "spiutil.h"
#include "subxact.h"
#include "tick.h"
#include "tripl.h"

TRIPL_SQL_FUNCTION(tripl_tick);
TRIPL_SQL_FUNCTION(tripl_note_restore_session);

/* Remember the first error of a tick */
static void
note_error(TickSummary *s, const char *what, const char *error)
{
	runlog_note_error(&s->first_error, what, error);
}

/*
 * Is another session of this database loading tripl's tables (a
 * restore)?  Returns its pid, or 0.  Forgets noted sessions that are gone.
 */
static int
restore_session(void)
{
	int			n;
	int			i;
	int32	   *pids;
	TimestampTz *starts;
	Datum	   *gone;
	int			ngone = 0;
	int			blocking = 0;
	int			nbackends;

	catalog_execute("SELECT pid, backend_start FROM tripl.restore_sessions", 0, NULL, NULL, NULL, true, 0);
	n = (int) SPI_processed;
	if (n == 0)
		return 0;
	pids = palloc(sizeof(int32) * n);
	starts = palloc(sizeof(TimestampTz) * n);
	gone = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		pids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		starts[i] = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
	}
	nbackends = pgstat_fetch_stat_numbackends();
	for (i = 0; i < n; i++)
	{
		bool		alive = false;
		int			b;

		for (b = 1; b <= nbackends && !alive; b++)
		{
			LocalPgBackendStatus *l = pgstat_fetch_stat_local_beentry(b);

			alive = l != NULL && l->backendStatus.st_procpid == pids[i] &&
				l->backendStatus.st_databaseid == MyDatabaseId &&
				l->backendStatus.st_proc_start_timestamp == starts[i];
		}
		if (!alive)
			gone[ngone++] = Int32GetDatum(pids[i]);
		else if (pids[i] != MyProcPid && blocking == 0)
			blocking = pids[i];
	}
	if (ngone > 0 && !XactReadOnly)
	{
		Oid			types[1] = {INT4ARRAYOID};
		Datum		values[1];

		values[0] = PointerGetDatum(construct_array(gone, ngone, INT4OID, 4, true, TYPALIGN_INT));
		catalog_execute("DELETE FROM tripl.restore_sessions WHERE pid = ANY($1)", 1, types, values,
						NULL, false, 0);
	}
	return blocking;
}

/*
 * Take the tick lock, unless another tick has it or a restore is loading
 * tripl's tables.  Returns false when the tick may run; else true, with
 * summary->skipped and skip_reason filled in.  The caller is connected to
 * SPI.
 */
bool
tick_blocked(TickSummary *s)
{
	int			pid;

	catalog_execute(psprintf("SELECT pg_try_advisory_xact_lock(%d, 0)", TRIPL_TICK_LOCK_KEY),
					0, NULL, NULL, NULL, false, 0);
	if (strcmp(spi_text(0, 0), "t") != 0)
	{
		s->skipped = true;
		s->skip_reason = TICK_SKIP_LOCKED;
		return true;
	}
	pid = restore_session();
	if (pid != 0)
	{
		s->skipped = true;
		s->skip_reason = psprintf("a restore is loading tripl's tables (session %d)", pid);
		return true;
	}
	return false;
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
 * (and summary->skipped) when another tick holds the lock or a restore is
 * loading tripl's tables.
 */
bool
tick_run(TimestampTz now, List *due, TickSummary *s)
{
	List	   *metrics = NIL;
	List	   *windows = NIL;
	ListCell   *lc;
	AlertSummary as;

	memset(s, 0, sizeof(TickSummary));
	if (tick_blocked(s))
		return false;

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
	foreach(lc, collect_run(metrics, windows, now, false))
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

/* A tick's summary as JSON text */
static char *
tick_summary_json(const TickSummary *s, TimestampTz started, TimestampTz finished)
{
	StringInfoData b;

	initStringInfo(&b);
	if (s->skipped)
	{
		appendStringInfoString(&b, "{\"skipped\": true, \"reason\": ");
		escape_json(&b, s->skip_reason ? s->skip_reason : TICK_SKIP_LOCKED);
		appendStringInfoChar(&b, '}');
	}
	else
	{
		appendStringInfo(&b, "{\"skipped\": false, \"collected\": %d, \"collect_failed\": %d, "
						 "\"detected\": %d, \"anomalies\": %d, \"deliveries_enqueued\": %d, "
						 "\"digest_items\": %d, \"pruned\": %d, \"duration_ms\": %.1f, \"error\": ",
						 s->collected, s->collect_failed, s->detected, s->anomalies, s->enqueued,
						 s->buffered, s->pruned, (finished - started) / 1000.0);
		runlog_end_details(&b, s->first_error);
	}
	return b.data;
}

/* A tick's summary as jsonb (what tripl.tick() returns) */
Jsonb *
tick_summary_jsonb(const TickSummary *s, TimestampTz started, TimestampTz finished)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(tick_summary_json(s, started, finished))));
}

/* Write a tick's row to the run log */
void
tick_log(const char *kind, TimestampTz started, const TickSummary *s, const char *error)
{
	RunLogRow	r;

	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.started_at = started;
	r.skipped = s->skipped;
	r.metrics_collected = s->collected;
	r.metrics_failed = s->collect_failed;
	r.metrics_detected = s->detected;
	r.anomalies = s->anomalies;
	r.deliveries = s->enqueued;
	r.error = error ? error : s->first_error;
	r.details = tick_summary_json(s, started, GetCurrentTimestamp());
	runlog_write(&r);
}

/*
 * Write the row of a tick that skipped.  It does not take the tick lock,
 * and never fails the tick: in a read-only transaction it writes nothing,
 * and an error writing it is dropped (but a cancel is not).
 */
/* The arguments of writing a skipped tick's row */
typedef struct SkippedRow
{
	TimestampTz started;
	const TickSummary *s;
} SkippedRow;

/* Subtransaction body: write a skipped tick's row */
static void
skipped_row_body(void *arg)
{
	SkippedRow *row = arg;

	tick_log("tick", row->started, row->s, NULL);
}

void
tick_log_skipped(TimestampTz started, const TickSummary *s)
{
	SkippedRow	row = {started, s};
	ErrorData  *edata;

	if (XactReadOnly || RecoveryInProgress())
		return;
	edata = subxact_run(skipped_row_body, &row);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	FreeErrorData(edata);
}

/*
 * After a crash or a promotion, or a tick that failed as a whole: "running"
 * markers of collections that were interrupted become errors without
 * backoff, so the metrics are collected again at once.  error says why
 * (NULL: the server stopped).
 */
int
tick_sweep_stale_running(const char *error)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(error ? psprintf("interrupted: %s", error)
									: "interrupted: the server stopped while collecting");
	catalog_execute("UPDATE tripl.metric_state SET last_status = 'error', "
					"last_error = $1, last_failed_at = NULL "
					"WHERE last_status = 'running'", 1, types, values, NULL, false, 0);
	return (int) SPI_processed;
}

/* SQL: tripl.tick() */
Datum
tripl_tick(PG_FUNCTION_ARGS)
{
	TickSummary s;
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext spi_cxt;
	Jsonb	   *result;

	SPI_connect();
	(void) tick_run(tripl_now(), NIL, &s);
	if (s.skipped)
		tick_log_skipped(started, &s);
	else
		tick_log("tick", started, &s, NULL);

	/*
	 * The result goes back to the executor: build it in the caller's
	 * context.  SPI_finish() deletes the SPI procedure context, and a jsonb
	 * built there would be freed memory by the time the executor reads it
	 * (a crash once a big pass has grown that context into separately
	 * malloc'ed blocks).
	 */
	spi_cxt = MemoryContextSwitchTo(caller);
	result = tick_summary_jsonb(&s, started, GetCurrentTimestamp());
	MemoryContextSwitchTo(spi_cxt);
	SPI_finish();
	PG_RETURN_JSONB_P(result);
}

/*
 * Trigger on the tables pg_dump keeps (AFTER INSERT, FOR EACH STATEMENT):
 * a statement that writes one of them other than through tripl's
 * functions, which write as the catalog owner, is a restore (or a
 * superuser at work): note its session, so that ticks wait for it.
 */
Datum
tripl_note_restore_session(PG_FUNCTION_ARGS)
{
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2];

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("tripl._note_restore_session() must be called as a trigger")));
	if (InLocalUserIdChange() || InSecurityRestrictedOperation())
		return PointerGetDatum(NULL);
	values[0] = Int32GetDatum(MyProcPid);
	values[1] = TimestampTzGetDatum(MyStartTimestamp);
	SPI_connect();
	catalog_execute("INSERT INTO tripl.restore_sessions (pid, backend_start, noted_at) VALUES ($1, $2, now()) "
					"ON CONFLICT (pid) DO UPDATE SET backend_start = EXCLUDED.backend_start, "
					"noted_at = EXCLUDED.noted_at",
					2, types, values, NULL, false, 0);
	SPI_finish();
	return PointerGetDatum(NULL);
}
