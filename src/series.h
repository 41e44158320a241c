/*-------------------------------------------------------------------------
 *
 * series.h
 *	  The grid a series is read on, shared by tripl.series and
 *	  tripl.breakdown_series.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_SERIES_H
#define TRIPL_SERIES_H

#include "postgres.h"

#include "fmgr.h"

#include "defs.h"

typedef struct SeriesGrid
{
	int64		width;			/* fixed grids; calendar grids use bounds */
	int64	   *bounds;			/* calendar grids: n + 1 bucket starts, or
								 * NULL */
	int64		start;			/* first bucket (Unix us) */
	int64		end;			/* exclusive */
	int			n;
	bool		count_shaped;
	int64		filled_from;	/* collected range, for zero-filling */
	int64		filled_to;
} SeriesGrid;

extern void series_grid(MetricDef *m, FunctionCallInfo fcinfo, int from_arg, SeriesGrid *g);
extern bool series_zero_filled(const SeriesGrid *g, int64 bucket);
extern int64 series_bucket(const SeriesGrid *g, int i);
extern int	series_index(const SeriesGrid *g, int64 bucket);

#endif							/* TRIPL_SERIES_H */
