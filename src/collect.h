/*-------------------------------------------------------------------------
 *
 * collect.h
 *	  Collection: computing time-bucketed metric values from their sources
 *	  and storing them, batched so that all due metrics of one fact table
 *	  (or event source) are computed in one scan per chunk.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COLLECT_H
#define TRIPL_COLLECT_H

#include "postgres.h"

#include "defs.h"
#include "core/grid.h"

/* The outcome of collecting one metric */
typedef struct CollectResult
{
	MetricDef  *metric;
	GridWindow	window;			/* Unix-epoch microseconds */
	int			rows_written;
	bool		ok;
	char	   *error;
} CollectResult;

extern List *collect_run(List *metrics, List *windows, TimestampTz now, bool replay);
extern char *collect_metric_sql(MetricDef *m);

#endif							/* TRIPL_COLLECT_H */
