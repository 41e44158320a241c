/*-------------------------------------------------------------------------
 *
 * grid.h
 *	  The bucket grid: UTC, epoch-anchored, half-open buckets.
 *
 *	  A bucket of width W starts at origin + k*W for some integer k.  The
 *	  origin is the Unix epoch (1970-01-01 00:00 UTC), or Monday 1970-01-05
 *	  when W is a whole number of weeks, so weekly buckets start on Monday.
 *	  This is exactly PostgreSQL's date_bin(W, ts, origin).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_GRID_H
#define TRIPL_GRID_H

#include "core.h"

/* Smallest and largest bucket widths tripl accepts */
#define GRID_MIN_WIDTH	CORE_USECS_PER_MINUTE
#define GRID_MAX_WIDTH	(INT64_C(366) * CORE_USECS_PER_DAY)

/* A half-open window [from, to) */
typedef struct GridWindow
{
	int64_t		from;
	int64_t		to;
} GridWindow;

extern int64_t grid_floor_div(int64_t a, int64_t b);
extern int64_t grid_days_from_civil(int64_t year, int month, int day);
extern void grid_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
extern int64_t grid_origin(int64_t width);
extern int64_t grid_floor(int64_t t, int64_t width);
extern int64_t grid_ceil(int64_t t, int64_t width);
extern bool grid_aligned(int64_t t, int64_t width);
extern int64_t grid_count(GridWindow w, int64_t width);
extern GridWindow grid_widen(GridWindow w, int64_t width);
extern int	grid_chunks(GridWindow w, int64_t width, int64_t max_buckets,
						GridWindow **chunks);
extern const char *grid_width_problem(int64_t months, int64_t days, int64_t usecs,
									  int64_t *width);

#endif							/* TRIPL_GRID_H */
