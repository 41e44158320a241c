/*-------------------------------------------------------------------------
 *
 * worker_shmem.c
 *	  tripl's shared memory: one slot per database (its workers' pids and
 *	  latches, its state), and what changes it from ordinary backends: the
 *	  ProcessUtility hook that stops a database's workers before a
 *	  statement that needs the database to itself, CREATE EXTENSION
 *	  registering the database, and waking the delivery worker when a
 *	  transaction that enqueued a delivery commits.  The workers themselves
 *	  are worker.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "tripl.h"
#include "worker_shmem.h"

TRIPL_SQL_FUNCTION(tripl_worker_status);
TRIPL_SQL_FUNCTION(tripl_register_database);

#define MAX_PAUSED_DATABASES	4

TriplShared *worker_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static ProcessUtility_hook_type prev_process_utility_hook = NULL;
static bool wake_registered = false;
static bool wake_pending = false;
static bool register_pending = false;	/* CREATE EXTENSION, told at commit */
static Oid	paused_databases[MAX_PAUSED_DATABASES]; /* let back at transaction end */
static int	n_paused = 0;

static void ensure_xact_callback(void);

/*--------------------------------------------------------------------
 * Shared memory and hooks
 *--------------------------------------------------------------------
 */

/* Ask for our shared memory (PostgreSQL 15's shmem_request_hook) */
static void
tripl_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(TriplShared)));
	RequestNamedLWLockTranche("tripl", 1);
}

/* Create or attach to our shared memory */
static void
tripl_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	worker_shared = ShmemInitStruct("tripl", sizeof(TriplShared), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(TriplShared));
		worker_shared->lock = &(GetNamedLWLockTranche("tripl"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Find a database's slot (the caller holds the lock) */
DatabaseSlot *
worker_find_slot(Oid dboid, bool create)
{
	int			i;
	DatabaseSlot *free_slot = NULL;

	for (i = 0; i < TRIPL_MAX_DATABASES; i++)
	{
		DatabaseSlot *s = &worker_shared->slots[i];

		if (s->state != SLOT_FREE && s->dboid == dboid)
			return s;
		if (s->state == SLOT_FREE && free_slot == NULL)
			free_slot = s;
	}
	if (!create || free_slot == NULL)
		return NULL;
	memset(free_slot, 0, sizeof(DatabaseSlot));
	free_slot->dboid = dboid;
	free_slot->state = SLOT_UNKNOWN;
	free_slot->state_since = GetCurrentTimestamp();
	return free_slot;
}

/*
 * Stop a database's workers and wait for them, before a statement that
 * needs the database to itself.  The launcher starts no new ones until
 * this transaction ends (release_paused_databases).
 */
static void
stop_database_workers(Oid dboid)
{
	DatabaseSlot *s;
	pid_t		pids[2] = {0, 0};
	int			waited;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	s = worker_find_slot(dboid, false);
	if (s)
	{
		s->state = SLOT_PAUSED;
		s->state_since = GetCurrentTimestamp();
		s->scheduler_starting = 0;
		s->delivery_starting = 0;
		pids[0] = s->scheduler_pid;
		pids[1] = s->delivery_pid;
	}
	LWLockRelease(worker_shared->lock);
	if (s == NULL)
		return;
	if (n_paused < MAX_PAUSED_DATABASES)
	{
		ensure_xact_callback();
		paused_databases[n_paused++] = dboid;
	}
	if (pids[0])
		kill(pids[0], SIGTERM);
	if (pids[1])
		kill(pids[1], SIGTERM);
	for (waited = 0; waited < 500; waited++)
	{
		bool		gone;

		LWLockAcquire(worker_shared->lock, LW_SHARED);
		gone = (s->scheduler_pid == 0 && s->delivery_pid == 0);
		LWLockRelease(worker_shared->lock);
		if (gone)
			break;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10000L);
	}
}

/* Let the launcher start the workers of the databases this transaction paused */
static void
release_paused_databases(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < n_paused; i++)
	{
		DatabaseSlot *s = worker_find_slot(paused_databases[i], false);

		/* a dropped database is gone from the launcher's next list */
		if (s && s->state == SLOT_PAUSED)
		{
			s->state = SLOT_UNKNOWN;
			s->state_since = now;
		}
	}
	LWLockRelease(worker_shared->lock);
	n_paused = 0;
	if (worker_shared->launcher_latch)
		SetLatch(worker_shared->launcher_latch);
}

/*
 * The database a utility statement needs to itself -- no other sessions
 * may be connected to it -- or InvalidOid
 */
static Oid
database_needed_alone(Node *parsetree)
{
	ListCell   *lc;

	if (IsA(parsetree, DropdbStmt))
		return get_database_oid(((DropdbStmt *) parsetree)->dbname, true);
	if (IsA(parsetree, RenameStmt) && ((RenameStmt *) parsetree)->renameType == OBJECT_DATABASE)
		return get_database_oid(((RenameStmt *) parsetree)->subname, true);
	if (IsA(parsetree, CreatedbStmt))
	{
		const char *template_name = "template1";

		foreach(lc, ((CreatedbStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
				template_name = defGetString(opt);
		}
		return get_database_oid(template_name, true);
	}
	if (IsA(parsetree, AlterDatabaseStmt))
	{
		foreach(lc, ((AlterDatabaseStmt *) parsetree)->options)
		{
			DefElem    *opt = lfirst(lc);

			if (strcmp(opt->defname, "tablespace") == 0)
				return get_database_oid(((AlterDatabaseStmt *) parsetree)->dbname, true);
		}
	}
	return InvalidOid;
}

/*
 * ProcessUtility hook: a statement that needs a database to itself (DROP,
 * RENAME, SET TABLESPACE, or CREATE DATABASE from it as a template) stops
 * that database's workers first
 */
static void
tripl_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params,
					  QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (worker_shared)
	{
		Oid			dboid = database_needed_alone(parsetree);

		/* only for those who may run it: it fails for anyone else */
		if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
			stop_database_workers(dboid);
	}
	if (prev_process_utility_hook)
		prev_process_utility_hook(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* Install the hooks (called from _PG_init when preloaded) */
void
worker_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = tripl_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = tripl_shmem_startup;
	prev_process_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = tripl_process_utility;
}

/*--------------------------------------------------------------------
 * Waking the delivery worker when an enqueuing transaction commits
 *--------------------------------------------------------------------
 */

/* Tell the launcher that this database has the extension now */
static void
register_now(void)
{
	LWLockAcquire(worker_shared->lock, LW_EXCLUSIVE);
	{
		DatabaseSlot *s = worker_find_slot(MyDatabaseId, true);

		if (s)
		{
			s->register_request = true;
			if (s->state == SLOT_ABSENT)
				s->state = SLOT_UNKNOWN;
		}
	}
	LWLockRelease(worker_shared->lock);
	if (worker_shared->launcher_latch)
		SetLatch(worker_shared->launcher_latch);
}

/*
 * At commit: wake the delivery worker if a delivery was enqueued, and tell
 * the launcher about a CREATE EXTENSION (before commit, a scheduler it
 * started would not see the extension yet).  At commit or abort: let back
 * the workers of databases a statement paused.
 */
static void
wake_xact_callback(XactEvent event, void *arg)
{
	if (n_paused > 0 && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
						 event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT))
		release_paused_databases();
	if (!wake_pending && !register_pending)
		return;
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		Latch	   *latch = NULL;

		if (register_pending)
			register_now();
		if (wake_pending)
		{
			LWLockAcquire(worker_shared->lock, LW_SHARED);
			{
				DatabaseSlot *s = worker_find_slot(MyDatabaseId, false);

				if (s && s->delivery_pid != 0)
					latch = s->delivery_latch;
			}
			LWLockRelease(worker_shared->lock);
			if (latch)
				SetLatch(latch);
		}
		wake_pending = false;
		register_pending = false;
	}
	else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
	{
		wake_pending = false;
		register_pending = false;
	}
}

/* Register the transaction callback once per process */
static void
ensure_xact_callback(void)
{
	if (!wake_registered)
	{
		RegisterXactCallback(wake_xact_callback, NULL);
		wake_registered = true;
	}
}

/* A delivery was enqueued: wake the delivery worker once this commits */
void
worker_wake_delivery(void)
{
	if (worker_shared == NULL)
		return;
	ensure_xact_callback();
	wake_pending = true;
}

/* SQL: tripl._register_database() — CREATE EXTENSION tells the launcher */
Datum
tripl_register_database(PG_FUNCTION_ARGS)
{
	if (worker_shared == NULL)
		PG_RETURN_VOID();
	ensure_xact_callback();
	register_pending = true;
	PG_RETURN_VOID();
}

/* SQL: tripl.worker_status() */
Datum
tripl_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	DatabaseSlot copy[TRIPL_MAX_DATABASES];
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (worker_shared == NULL)
		return (Datum) 0;
	LWLockAcquire(worker_shared->lock, LW_SHARED);
	memcpy(copy, worker_shared->slots, sizeof(copy));
	LWLockRelease(worker_shared->lock);
	for (i = 0; i < TRIPL_MAX_DATABASES; i++)
	{
		Datum		v[6];
		bool		n[6] = {false, false, false, false, false, false};

		if (copy[i].state != SLOT_ACTIVE && copy[i].scheduler_pid == 0)
			continue;
		v[0] = CStringGetTextDatum(copy[i].dbname);
		v[1] = Int32GetDatum(copy[i].scheduler_pid);
		n[1] = copy[i].scheduler_pid == 0;
		v[2] = Int32GetDatum(copy[i].delivery_pid);
		n[2] = copy[i].delivery_pid == 0;
		v[3] = TimestampTzGetDatum(copy[i].last_tick);
		n[3] = copy[i].last_tick == 0;
		v[4] = Int64GetDatum(copy[i].ticks);
		v[5] = TimestampTzGetDatum(copy[i].scheduler_started_at);
		n[5] = copy[i].scheduler_started_at == 0;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}
