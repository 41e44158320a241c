/*-------------------------------------------------------------------------
 *
 * worker_shmem.h
 *	  tripl's shared memory: one slot per database, read and written by
 *	  the workers (worker.c) and by ordinary backends (worker_shmem.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_WORKER_SHMEM_H
#define TRIPL_WORKER_SHMEM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#define TRIPL_MAX_DATABASES		64

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_UNKNOWN,				/* not probed yet */
	SLOT_ACTIVE,				/* the extension is installed */
	SLOT_ABSENT,				/* the extension is not installed (or this is
								 * a Citus worker node) */
	SLOT_PAUSED					/* a statement needs the database to itself
								 * (DROP, RENAME, CREATE ... TEMPLATE) */
} SlotState;

typedef struct DatabaseSlot
{
	Oid			dboid;
	char		dbname[NAMEDATALEN];
	SlotState	state;
	TimestampTz state_since;
	bool		register_request;
	pid_t		scheduler_pid;
	pid_t		delivery_pid;
	Latch	   *scheduler_latch;
	Latch	   *delivery_latch;
	TimestampTz scheduler_starting;
	TimestampTz delivery_starting;
	TimestampTz scheduler_started_at;
	TimestampTz last_tick;
	int64		ticks;
	TimestampTz last_failure_log;
	bool		citus_worker_logged;	/* said once: a Citus worker node */
} DatabaseSlot;

typedef struct TriplShared
{
	LWLock	   *lock;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	DatabaseSlot slots[TRIPL_MAX_DATABASES];
} TriplShared;

/* NULL unless tripl is in shared_preload_libraries */
extern TriplShared *worker_shared;

/* Install the shared memory and ProcessUtility hooks (from _PG_init) */
extern void worker_shmem_init(void);

/* A database's slot, optionally created (the caller holds the lock) */
extern DatabaseSlot *worker_find_slot(Oid dboid, bool create);

/* A delivery was enqueued: wake the delivery worker once this commits */
extern void worker_wake_delivery(void);

#endif							/* TRIPL_WORKER_SHMEM_H */
