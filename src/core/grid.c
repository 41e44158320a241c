/*-------------------------------------------------------------------------
 *
 * grid.c
 *	  The bucket grid (pure C): floor/ceil onto the grid, whole-bucket
 *	  windows, chunking that never splits a bucket, width validation.
 *
 *-------------------------------------------------------------------------
 */
#include "grid.h"

/* Division rounding towards negative infinity */
int64_t
grid_floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

/* Day number (days since 1970-01-01) of a proleptic Gregorian date (H. Hinnant) */
int64_t
grid_days_from_civil(int64_t year, int month, int day)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	year -= month <= 2 ? 1 : 0;
	era = grid_floor_div(year, 400);
	yoe = year - era * 400;
	doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Proleptic Gregorian date of a day number (days since 1970-01-01) */
void
grid_civil_from_days(int64_t z, int64_t *year, int *month, int *day)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;
	int			m;

	z += 719468;
	era = grid_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*day = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = m;
	*year = yoe + era * 400 + (m <= 2 ? 1 : 0);
}

/* The grid origin for a width: the epoch, or Monday 1970-01-05 for weeks */
int64_t
grid_origin(int64_t width)
{
	if (width % CORE_USECS_PER_WEEK == 0)
		return 4 * CORE_USECS_PER_DAY;
	return 0;
}

/* Start of the bucket containing t */
int64_t
grid_floor(int64_t t, int64_t width)
{
	int64_t		origin = grid_origin(width);

	return origin + grid_floor_div(t - origin, width) * width;
}

/* Smallest bucket start >= t */
int64_t
grid_ceil(int64_t t, int64_t width)
{
	int64_t		f = grid_floor(t, width);

	return (f == t) ? f : f + width;
}

/* Is t a bucket start? */
bool
grid_aligned(int64_t t, int64_t width)
{
	return grid_floor(t, width) == t;
}

/* Number of buckets in an aligned window (0 when empty) */
int64_t
grid_count(GridWindow w, int64_t width)
{
	if (w.to <= w.from)
		return 0;
	return (w.to - w.from) / width;
}

/* Widen a window outwards to whole buckets */
GridWindow
grid_widen(GridWindow w, int64_t width)
{
	GridWindow	r;

	r.from = grid_floor(w.from, width);
	r.to = grid_ceil(w.to, width);
	if (r.to < r.from)
		r.to = r.from;
	return r;
}

/*
 * Split an aligned window into consecutive chunks of at most max_buckets
 * buckets each.  Returns the number of chunks; *chunks is core_alloc'ed.
 */
int
grid_chunks(GridWindow w, int64_t width, int64_t max_buckets, GridWindow **chunks)
{
	int64_t		total = grid_count(w, width);
	int64_t		n;
	int64_t		i;
	GridWindow *out;

	if (max_buckets < 1)
		max_buckets = 1;
	n = (total + max_buckets - 1) / max_buckets;
	out = core_alloc(sizeof(GridWindow) * (size_t) (n > 0 ? n : 1));
	for (i = 0; i < n; i++)
	{
		out[i].from = w.from + i * max_buckets * width;
		out[i].to = out[i].from + max_buckets * width;
		if (out[i].to > w.to)
			out[i].to = w.to;
	}
	*chunks = out;
	return (int) n;
}

/*
 * Check an interval (months, days, microseconds) as a bucket width.
 * Returns NULL and sets *width when acceptable, else a description of the
 * problem.  Days count as 24 hours: buckets are UTC.
 */
const char *
grid_width_problem(int64_t months, int64_t days, int64_t usecs, int64_t *width)
{
	int64_t		w;

	if (months != 0)
		return "a bucket width cannot have a month or year part";
	if (days < 0 || usecs < 0)
		return "a bucket width must be positive";
	if (days > 366)
		return "a bucket width can be at most 366 days";
	w = days * CORE_USECS_PER_DAY + usecs;
	if (w < GRID_MIN_WIDTH)
		return "a bucket width must be at least 1 minute";
	if (w > GRID_MAX_WIDTH)
		return "a bucket width can be at most 366 days";
	if (w % CORE_USECS_PER_SEC != 0)
		return "a bucket width must be a whole number of seconds";
	*width = w;
	return NULL;
}
