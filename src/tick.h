/*-------------------------------------------------------------------------
 *
 * tick.h
 *	  One full pass of tripl's work (collect, detect, alert, prune), the run
 *	  log, and the background workers that run it on a schedule.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_TICK_H
#define TRIPL_TICK_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* Settings (tripl.c) */
extern bool tripl_scheduler_enabled;
extern int	tripl_tick_interval_ms;
extern char *tripl_databases;
extern int	tripl_run_retention_s;
extern int	tripl_run_error_retention_s;
extern int	tripl_delivery_retention_s;

/* Advisory lock key of the tick ('tick') */
#define TRIPL_TICK_LOCK_KEY 1953063787

/* What a tick did */
typedef struct TickSummary
{
	bool		skipped;
	int			collected;
	int			collect_failed;
	int			detected;
	int			anomalies;
	int			enqueued;
	int			buffered;
	int			pruned;
	char	   *first_error;
	const char *skip_reason;	/* when skipped */
} TickSummary;

/* Why a tick skipped */
#define TICK_SKIP_LOCKED	"another tick is running"

/* One row of the run log, tripl.runs */
typedef struct RunLogRow
{
	const char *kind;			/* tick | collect | detect | deliver */
	TimestampTz started_at;		/* finished_at is when the row is written */
	bool		skipped;
	int			metrics_collected;
	int			metrics_failed;
	int			metrics_detected;
	int			anomalies;
	int			deliveries;
	const char *error;			/* NULL: none */
	const char *details;		/* a JSON object, or NULL */
} RunLogRow;

extern bool tick_run(TimestampTz now, List *due, TickSummary *summary);
extern bool tick_blocked(TickSummary *summary);
extern Jsonb *tick_summary_jsonb(const TickSummary *s, TimestampTz started, TimestampTz finished);
extern void run_log(const char *kind, TimestampTz started, const TickSummary *s, const char *error);
extern void run_log_row(const RunLogRow *row);
extern void run_log_skipped(TimestampTz started, const TickSummary *s);
extern void run_note_error(char **first_error, const char *what, const char *error);
extern int	sweep_stale_running(void);

/* worker.c */
extern void tripl_worker_shmem_init(void);
extern void tripl_register_launcher(void);
extern void tripl_wake_delivery(void);

#endif							/* TRIPL_TICK_H */
