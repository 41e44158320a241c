/*-------------------------------------------------------------------------
 *
 * tick.h
 *	  One full pass of tripl's work (collect, detect, alert, prune) and its
 *	  row in the run log (tick.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_TICK_H
#define TRIPL_TICK_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

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

extern bool tick_run(TimestampTz now, List *due, TickSummary *summary);
extern bool tick_blocked(TickSummary *summary);
extern Jsonb *tick_summary_jsonb(const TickSummary *s, TimestampTz started, TimestampTz finished);
extern void tick_log(const char *kind, TimestampTz started, const TickSummary *s, const char *error);
extern void tick_log_skipped(TimestampTz started, const TickSummary *s);
extern int	tick_sweep_stale_running(const char *error);

#endif							/* TRIPL_TICK_H */
