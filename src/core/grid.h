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
 *	  A Grid adds calendar time (doc/collection.md, "Calendar time"): days,
 *	  weeks, months, quarters and years in a time zone, and sub-day widths
 *	  counted from local midnight.  The core knows the civil calendar; the
 *	  zone's UTC offsets come from the caller (GridZone), asked once per
 *	  bucket boundary, never per row.
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

/* What a bucket is */
typedef enum GridUnit
{
	GRID_FIXED = 0,				/* the epoch grid above (every UTC grid but
								 * months, quarters and years) */
	GRID_LOCAL,					/* width dividing 24 h, from local midnight */
	GRID_DAY,
	GRID_WEEK,					/* from Monday */
	GRID_MONTH,
	GRID_QUARTER,
	GRID_YEAR
} GridUnit;

/*
 * A time zone as the core sees it: to_local gives the wall-clock time of
 * an instant (as Unix-epoch microseconds of that wall-clock time read as
 * UTC); to_utc the instant of a wall-clock time (for a time a DST change
 * skips or repeats, PostgreSQL's rule).  Both NULL: UTC.
 */
typedef struct GridZone
{
	int64_t		(*to_local) (const void *arg, int64_t utc);
	int64_t		(*to_utc) (const void *arg, int64_t local);
	const void *arg;
} GridZone;

typedef struct Grid
{
	GridUnit	unit;
	int64_t		width;			/* FIXED and LOCAL: the width; calendar units:
								 * their nominal length (1 day, 7 days, 30,
								 * 91 and 365 days) */
	GridZone	zone;
} Grid;

extern const char *grid_classify(int64_t months, int64_t days, int64_t usecs, bool utc,
								 Grid *g);
extern Grid grid_fixed(int64_t width);
extern bool grid_same(const Grid *a, const Grid *b);
extern int64_t grid_start(const Grid *g, int64_t t);
extern int64_t grid_next(const Grid *g, int64_t b);
extern int64_t grid_step(const Grid *g, int64_t b, int64_t k);
extern int64_t grid_up(const Grid *g, int64_t t);
extern int64_t grid_buckets(const Grid *g, GridWindow w, int64_t cap);
extern GridWindow grid_cover(const Grid *g, GridWindow w);
extern int	grid_split(const Grid *g, GridWindow w, int64_t max_buckets, GridWindow **chunks);
extern int64_t *grid_bounds(const Grid *g, GridWindow w, int *n);
extern const char *grid_window_buckets(const Grid *g, int64_t months, int64_t days, int64_t usecs,
									   int64_t *k);
extern int64_t grid_season_time(const Grid *g, int64_t b, int64_t *season_width);

#endif							/* TRIPL_GRID_H */
