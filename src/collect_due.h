/*-------------------------------------------------------------------------
 *
 * collect_due.h
 *	  Which metrics are due for collection, over which window
 *	  (collect_due.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COLLECT_DUE_H
#define TRIPL_COLLECT_DUE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "core/grid.h"
#include "defs.h"

/* A metric that is due, with its resume window */
typedef struct DueItem
{
	MetricDef  *m;
	GridWindow	win;
	int64		overdue;
} DueItem;

extern List *collect_due_metrics(TimestampTz now, int limit, bool ignore_running);
extern GridWindow collect_forced_window(MetricDef *m, int64 now);

#endif							/* TRIPL_COLLECT_DUE_H */
