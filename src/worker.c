/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  tripl's background workers, when tripl is in shared_preload_libraries:
 *
 *	  - the launcher ("tripl launcher") connects to no database, lists the
 *	    databases that allow connections (optionally only those named in
 *	    tripl.databases) and keeps one scheduler per database that has the
 *	    extension, plus one delivery worker per such database;
 *	  - a scheduler ("tripl scheduler <db>") runs tripl.tick() every
 *	    tripl.tick_interval, committing "running" markers for the metrics it
 *	    collects first, and exits quietly where the extension is absent
 *	    or the database is on a Citus worker node (the coordinator collects);
 *	  - a delivery worker ("tripl delivery <db>") sends the outbox, sleeping
 *	    on its latch until a transaction that enqueued a delivery commits
 *	    (or the next retry is due) — no polling.
 *
 *	  Nothing starts before recovery has finished, so a standby runs
 *	  nothing and a promoted one starts scheduling.  CREATE EXTENSION
 *	  registers the database with the launcher at once; DROP EXTENSION is
 *	  noticed by the workers within seconds.  Statements that need a
 *	  database to themselves -- DROP DATABASE, ALTER DATABASE ... RENAME or
 *	  SET TABLESPACE, CREATE DATABASE ... TEMPLATE -- stop its workers first
 *	  (a ProcessUtility hook), so they are never refused because of them;
 *	  the workers come back when the statement's transaction ends (under
 *	  the new name after a rename).  A database taken out of
 *	  tripl.databases (reload) has its workers stopped.  Workers that die
 *	  are started again by the launcher; tripl.scheduler = off (reload)
 *	  makes every worker idle.  All waits are latch waits with
 *	  WL_EXIT_ON_PM_DEATH.
 *
 *	  The shared memory the workers and ordinary backends share (a slot per
 *	  database), the ProcessUtility hook and the wake-up at commit are in
 *	  worker_shmem.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "collect_due.h"
#include "deliver.h"
#include "guc.h"
#include "spiutil.h"
#include "tick.h"
#include "tripl.h"
#include "worker.h"
#include "worker_shmem.h"

PGDLLEXPORT void tripl_launcher_main(Datum arg);
PGDLLEXPORT void tripl_scheduler_main(Datum arg);
PGDLLEXPORT void tripl_delivery_main(Datum arg);

#define START_TIMEOUT_USECS		(30 * USECS_PER_SEC)
#define ABSENT_RECHECK_USECS	(5 * USECS_PER_MINUTE)
#define PAUSED_TIMEOUT_USECS	(60 * USECS_PER_SEC)
#define LOG_INTERVAL_USECS		(60 * USECS_PER_SEC)

static DatabaseSlot *my_slot = NULL;

/* Register the launcher (called from _PG_init when preloaded) */
void
worker_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tripl");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "tripl_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tripl launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "tripl launcher");
	RegisterBackgroundWorker(&worker);
}

/*--------------------------------------------------------------------
 * Common worker plumbing
 *--------------------------------------------------------------------
 */

/* Process a pending configuration reload */
static void
reload_if_asked(void)
{
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
	}
}

/* Did the last extension_installed() find a Citus worker node? */
static bool citus_worker_seen = false;

/*
 * Is this database a Citus worker node?  Citus keeps the node's group in
 * pg_dist_local_group: 0 on the coordinator (and on a node not added to a
 * cluster yet), the worker's own group on a worker.  The caller is in a
 * transaction.
 */
static bool
citus_worker_node(void)
{
	bool		worker = false;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_dist_local_group WHERE groupid <> 0", true, 1) == SPI_OK_SELECT)
		worker = SPI_processed > 0;
	PopActiveSnapshot();
	SPI_finish();
	return worker;
}

/*
 * Is the extension installed in this database, and does tripl run here?
 * Not on a Citus worker node: Citus propagates CREATE EXTENSION tripl from
 * the coordinator, and the copy of tripl's catalog on a worker stays empty
 * (doc/citus.md, "Installing").
 */
static bool
extension_installed(void)
{
	bool		present;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("tripl", true));
	citus_worker_seen = present && citus_worker_node();
	CommitTransactionCommand();
	return present && !citus_worker_seen;
}

/* Exit callback: a scheduler leaves its slot */
static void
scheduler_exit(int code, Datum arg)
{
	if (worker_shared == NULL || my_slot == NULL)
		return;
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	if (my_slot->scheduler_pid == MyProcPid)
	{
		my_slot->scheduler_pid = 0;
		my_slot->scheduler_latch = NULL;
	}
	LWLockRelease(worker_shared->lock);
}

/* Exit callback: a delivery worker leaves its slot */
static void
delivery_exit(int code, Datum arg)
{
	if (worker_shared == NULL || my_slot == NULL)
		return;
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	if (my_slot->delivery_pid == MyProcPid)
	{
		my_slot->delivery_pid = 0;
		my_slot->delivery_latch = NULL;
	}
	LWLockRelease(worker_shared->lock);
}

/* Common start of a per-database worker; returns false when it should exit */
static bool
attach_database_worker(Oid dboid, bool scheduler)
{
	bool		ok = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	my_slot = worker_find_slot(dboid, false);
	if (my_slot == NULL || my_slot->state == SLOT_PAUSED)
		ok = false;
	else if (scheduler)
	{
		if (my_slot->scheduler_pid != 0 && my_slot->scheduler_pid != MyProcPid &&
			kill(my_slot->scheduler_pid, 0) == 0)
			ok = false;			/* another scheduler is alive */
		else
		{
			my_slot->scheduler_pid = MyProcPid;
			my_slot->scheduler_latch = MyLatch;
			my_slot->scheduler_starting = 0;
			my_slot->scheduler_started_at = GetCurrentTimestamp();
		}
	}
	else
	{
		if (my_slot->delivery_pid != 0 && my_slot->delivery_pid != MyProcPid &&
			kill(my_slot->delivery_pid, 0) == 0)
			ok = false;
		else
		{
			my_slot->delivery_pid = MyProcPid;
			my_slot->delivery_latch = MyLatch;
			my_slot->delivery_starting = 0;
		}
	}
	LWLockRelease(worker_shared->lock);
	if (!ok)
	{
		my_slot = NULL;
		return false;
	}
	before_shmem_exit(scheduler ? scheduler_exit : delivery_exit, (Datum) 0);
	return true;
}

/*--------------------------------------------------------------------
 * The scheduler
 *--------------------------------------------------------------------
 */

/*
 * Phase 1 of a worker tick: mark the due metrics running, committed.
 * Returns false when the tick skips (its row is then written here).
 */
static bool
mark_due_running(TimestampTz now, TimestampTz started)
{
	bool		got_lock;
	TickSummary skip;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "tripl: marking due metrics");
	memset(&skip, 0, sizeof(skip));
	got_lock = !tick_blocked(&skip);
	if (!got_lock)
		tick_log_skipped(started, &skip);
	else
	{
		ListCell   *lc;
		List	   *due = collect_due_metrics(now, 0, false);
		Datum	   *d = palloc(sizeof(Datum) * (list_length(due) + 1));
		int			n = 0;

		foreach(lc, due)
			d[n++] = Int64GetDatum(((DueItem *) lfirst(lc))->m->id);
		if (n > 0)
		{
			Oid			types[2] = {INT8ARRAYOID, TIMESTAMPTZOID};
			Datum		values[2];

			values[0] = PointerGetDatum(spi_int8_array(d, n));
			values[1] = TimestampTzGetDatum(now);
			catalog_execute("UPDATE tripl.metric_state SET last_status = 'running', last_started_at = $2 "
							"WHERE metric_id = ANY($1)", 2, types, values, NULL, false, 0);
		}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	return got_lock;
}

/* Phase 2 of a worker tick: the pass itself, in one transaction */
static void
run_marked_tick(TimestampTz now, TimestampTz started)
{
	TickSummary s;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "tripl: tick");
	(void) tick_run(now, collect_due_metrics(now, 0, true), &s);
	if (s.skipped)
		tick_log_skipped(started, &s);
	else
		tick_log("tick", started, &s, NULL);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
}

/*
 * One tick in the worker: running markers committed first, then the pass.
 * An error is logged, recorded in tripl.runs and the markers released; the
 * scheduler carries on (or leaves quietly if the extension was dropped).
 */
static void
scheduler_tick(MemoryContext loop_cxt)
{
	TimestampTz started = GetCurrentTimestamp();

	PG_TRY();
	{
		TimestampTz now;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		now = tripl_now();
		CommitTransactionCommand();
		if (mark_due_running(now, started))
			run_marked_tick(now, started);
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		TickSummary s;

		MemoryContextSwitchTo(loop_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		if (!extension_installed())
			proc_exit(0);
		ereport(LOG,
				(errmsg("tripl: tick failed in database \"%s\": %s", my_slot->dbname, edata->message)));
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		memset(&s, 0, sizeof(s));
		tick_log("tick", started, &s, edata->message);
		(void) tick_sweep_stale_running(psprintf("the tick failed: %s", edata->message));
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_stat(false);
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	my_slot->last_tick = GetCurrentTimestamp();
	my_slot->ticks++;
	LWLockRelease(worker_shared->lock);
}

/* Entry point of a scheduler; arg is the database OID */
void
tripl_scheduler_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext loop_cxt;
	TimestampTz next_tick = 0;
	TimestampTz next_check = 0;

	if (!attach_database_worker(dboid, true))
		proc_exit(0);
	pgstat_report_appname(psprintf("tripl scheduler %s", my_slot->dbname));
	if (!extension_installed())
	{
		bool		log_worker;

		LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
		my_slot->state = SLOT_ABSENT;
		my_slot->state_since = GetCurrentTimestamp();
		my_slot->register_request = false;
		log_worker = citus_worker_seen && !my_slot->citus_worker_logged;
		my_slot->citus_worker_logged = citus_worker_seen;
		LWLockRelease(worker_shared->lock);
		if (log_worker)
			ereport(LOG,
					(errmsg("tripl: database \"%s\" is on a Citus worker node: no scheduler runs here",
							my_slot->dbname),
					 errdetail("tripl collects distributed tables from the coordinator.")));
		proc_exit(0);
	}
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	my_slot->state = SLOT_ACTIVE;
	my_slot->register_request = false;
	LWLockRelease(worker_shared->lock);
	if (worker_shared->launcher_latch)
		SetLatch(worker_shared->launcher_latch);

	/* runs interrupted by a crash or a failover are done with */
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (tick_sweep_stale_running(NULL) > 0)
		ereport(LOG, (errmsg("tripl: released collections interrupted by a restart in database \"%s\"",
							 my_slot->dbname)));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "tripl scheduler loop", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		wait_ms;

		CHECK_FOR_INTERRUPTS();
		reload_if_asked();
		MemoryContextReset(loop_cxt);
		if (now >= next_check)
		{
			if (!extension_installed())
				proc_exit(0);
			next_check = now + 2 * USECS_PER_SEC;
		}
		if (tripl_scheduler_enabled && now >= next_tick)
		{
			MemoryContext old = MemoryContextSwitchTo(loop_cxt);

			scheduler_tick(loop_cxt);
			MemoryContextSwitchTo(old);
			next_tick = GetCurrentTimestamp() + (int64) tripl_tick_interval_ms * 1000;
		}
		else if (!tripl_scheduler_enabled)
			next_tick = 0;
		now = GetCurrentTimestamp();
		wait_ms = 2000;
		if (tripl_scheduler_enabled && next_tick > now)
			wait_ms = Min(wait_ms, (long) ((next_tick - now) / 1000) + 1);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 wait_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*--------------------------------------------------------------------
 * The delivery worker
 *--------------------------------------------------------------------
 */

/*
 * Milliseconds until the next delivery is due (bounded), from the outbox.
 * Deliveries of disabled destinations are not due (a pass would not claim
 * them); enabling a destination wakes the worker.
 */
static long
next_delivery_ms(void)
{
	long		ms = 60000;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	catalog_execute("SELECT (extract(epoch FROM least(min(d.next_attempt_at) FILTER (WHERE d.status = 'pending'), "
					"min(d.lease_until) FILTER (WHERE d.status = 'sending')) - tripl.now()) * 1000)::int8 "
					"FROM tripl.deliveries d JOIN tripl.destinations x ON x.id = d.destination_id AND x.enabled "
					"WHERE d.status IN ('pending', 'sending')",
					0, NULL, NULL, NULL, true, 0);
	if (SPI_processed == 1 && !spi_isnull(0, 0))
		ms = (long) Max(Min(spi_int64(0, 0), 60000), 50);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return ms;
}

/* Entry point of a delivery worker; arg is the database OID */
void
tripl_delivery_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	volatile TimestampTz next_check = 0;
	volatile TimestampTz started = 0;

	if (!attach_database_worker(dboid, false))
		proc_exit(0);
	pgstat_report_appname(psprintf("tripl delivery %s", my_slot->dbname));
	for (;;)
	{
		long		wait_ms = 60000;
		TimestampTz now = GetCurrentTimestamp();

		CHECK_FOR_INTERRUPTS();
		reload_if_asked();
		if (now >= next_check)
		{
			if (!extension_installed())
				proc_exit(0);
			next_check = now + 2 * USECS_PER_SEC;
		}
		if (tripl_scheduler_enabled)
		{
			started = GetCurrentTimestamp();
			PG_TRY();
			{
				int			claimed;

				do
				{
					(void) deliver_pass(100, &claimed);
					CHECK_FOR_INTERRUPTS();
				} while (claimed == 100);
				wait_ms = next_delivery_ms();
			}
			PG_CATCH();
			{
				ErrorData  *edata;

				MemoryContextSwitchTo(TopMemoryContext);
				edata = CopyErrorData();
				FlushErrorState();
				AbortCurrentTransaction();
				if (!extension_installed())
					proc_exit(0);
				ereport(LOG,
						(errmsg("tripl: delivery pass failed in database \"%s\": %s",
								my_slot->dbname, edata->message)));
				deliver_log_pass(started, 0, 0, edata->message);
				FreeErrorData(edata);
				wait_ms = 1000;
			}
			PG_END_TRY();
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(wait_ms, 2000L), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/*--------------------------------------------------------------------
 * The launcher
 *--------------------------------------------------------------------
 */

/* A database that allows connections */
typedef struct DbEntry
{
	Oid			oid;
	char		name[NAMEDATALEN];
} DbEntry;

/*
 * The databases workers may run in.  *valid is false when tripl.databases
 * cannot be read (then no worker is stopped for not being listed).
 */
static List *
list_databases(bool *valid)
{
	List	   *result = NIL;
	List	   *wanted = NIL;
	char	   *raw;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;

	*valid = true;
	if (tripl_databases && tripl_databases[0] != '\0')
	{
		raw = pstrdup(tripl_databases);
		if (!SplitIdentifierString(raw, ',', &wanted))
		{
			ereport(LOG, (errmsg("tripl: tripl.databases is not a valid list of names")));
			*valid = false;
		}
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		DbEntry    *e;
		MemoryContext old;

		if (!db->datallowconn || db->datistemplate || database_is_invalid_form(db))
			continue;
		if (wanted != NIL)
		{
			ListCell   *lc;
			bool		found = false;

			foreach(lc, wanted)
				found = found || strcmp((char *) lfirst(lc), NameStr(db->datname)) == 0;
			if (!found)
				continue;
		}
		old = MemoryContextSwitchTo(caller);
		e = palloc(sizeof(DbEntry));
		e->oid = db->oid;
		strlcpy(e->name, NameStr(db->datname), NAMEDATALEN);
		result = lappend(result, e);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/* Start a per-database worker; false when no slot was free */
static bool
start_worker(const DbEntry *db, bool scheduler)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "tripl");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, scheduler ? "tripl_scheduler_main" : "tripl_delivery_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "tripl %s %s", scheduler ? "scheduler" : "delivery", db->name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "tripl %s", scheduler ? "scheduler" : "delivery");
	worker.bgw_main_arg = ObjectIdGetDatum(db->oid);
	worker.bgw_notify_pid = MyProcPid;
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/* One round of the launcher: make every database's workers what they should be */
static void
launcher_round(void)
{
	bool		valid;
	List	   *dbs = list_databases(&valid);
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();
	int			i;
	pid_t		stop[2 * TRIPL_MAX_DATABASES];
	int			nstop = 0;

	foreach(lc, dbs)
	{
		DbEntry    *db = lfirst(lc);
		DatabaseSlot *s;
		bool		want_scheduler = false;
		bool		want_delivery = false;

		LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
		s = worker_find_slot(db->oid, true);
		if (s == NULL)
		{
			LWLockRelease(worker_shared->lock);
			continue;
		}
		strlcpy(s->dbname, db->name, NAMEDATALEN);
		if (s->state == SLOT_PAUSED && now - s->state_since > PAUSED_TIMEOUT_USECS)
			s->state = SLOT_UNKNOWN;	/* the drop did not happen */
		if (s->state == SLOT_ABSENT && !s->register_request &&
			now - s->state_since > ABSENT_RECHECK_USECS)
			s->state = SLOT_UNKNOWN;	/* look again now and then */
		if (s->state != SLOT_PAUSED && s->state != SLOT_ABSENT)
		{
			want_scheduler = s->scheduler_pid == 0 &&
				(s->scheduler_starting == 0 || now - s->scheduler_starting > START_TIMEOUT_USECS);
			want_delivery = s->state == SLOT_ACTIVE && s->delivery_pid == 0 &&
				(s->delivery_starting == 0 || now - s->delivery_starting > START_TIMEOUT_USECS);
			if (want_scheduler)
				s->scheduler_starting = now;
			if (want_delivery)
				s->delivery_starting = now;
		}
		LWLockRelease(worker_shared->lock);

		if ((want_scheduler && !start_worker(db, true)) ||
			(want_delivery && !start_worker(db, false)))
		{
			LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
			if (want_scheduler)
				s->scheduler_starting = 0;
			if (want_delivery)
				s->delivery_starting = 0;
			if (now - s->last_failure_log > LOG_INTERVAL_USECS)
			{
				s->last_failure_log = now;
				LWLockRelease(worker_shared->lock);
				ereport(LOG,
						(errmsg("tripl: could not start a background worker for database \"%s\": no free slot",
								db->name),
						 errhint("Raise max_worker_processes (now %d); tripl needs two per database that uses it.",
								 max_worker_processes)));
			}
			else
				LWLockRelease(worker_shared->lock);
		}
	}

	/*
	 * Forget databases that are gone; stop the workers of those still there
	 * but no longer wanted (taken out of tripl.databases, closed to
	 * connections, made a template)
	 */
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < TRIPL_MAX_DATABASES; i++)
	{
		DatabaseSlot *s = &worker_shared->slots[i];
		bool		present = false;

		if (s->state == SLOT_FREE)
			continue;
		foreach(lc, dbs)
			present = present || ((DbEntry *) lfirst(lc))->oid == s->dboid;
		if (present)
			continue;
		if (s->scheduler_pid == 0 && s->delivery_pid == 0)
			s->state = SLOT_FREE;
		else if (valid)
		{
			if (s->scheduler_pid != 0)
				stop[nstop++] = s->scheduler_pid;
			if (s->delivery_pid != 0)
				stop[nstop++] = s->delivery_pid;
		}
	}
	LWLockRelease(worker_shared->lock);
	for (i = 0; i < nstop; i++)
		(void) kill(stop[i], SIGTERM);
}

/* Entry point of the launcher */
void
tripl_launcher_main(Datum arg)
{
	MemoryContext round_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("tripl launcher");
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	worker_shared->launcher_pid = MyProcPid;
	worker_shared->launcher_latch = MyLatch;
	LWLockRelease(worker_shared->lock);

	round_cxt = AllocSetContextCreate(TopMemoryContext, "tripl launcher round", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		reload_if_asked();
		if (tripl_scheduler_enabled && !RecoveryInProgress())
		{
			MemoryContext old = MemoryContextSwitchTo(round_cxt);

			launcher_round();
			MemoryContextSwitchTo(old);
			MemoryContextReset(round_cxt);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 2000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
