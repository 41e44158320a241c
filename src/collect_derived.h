/*-------------------------------------------------------------------------
 *
 * collect_derived.h
 *	  Derived metrics in a collection pass: which ones, in which order and
 *	  over which windows, and their values from their inputs' stored
 *	  values (collect_derived.c).  Internal to collection (collect.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COLLECT_DERIVED_H
#define TRIPL_COLLECT_DERIVED_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "collect_slot.h"
#include "core/grid.h"
#include "defs.h"

extern bool collect_derived_is(const MetricDef *m);
extern List *collect_derived_plan(List **tasks, List *derived);
extern void collect_derived_check_inputs(MetricTask *t);
extern int	collect_derived_values(MetricTask *t, GridWindow chunk, const Grid *g,
								   int64 **buckets, double **vals);
extern char *collect_derived_explain(MetricDef *m);

#endif							/* TRIPL_COLLECT_DERIVED_H */
