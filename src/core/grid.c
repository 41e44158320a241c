/*-------------------------------------------------------------------------
 *
 * grid.c
 *	  The bucket grid (pure C): floor/ceil onto the grid, whole-bucket
 *	  windows, chunking that never splits a bucket, width validation.
 *
 *-------------------------------------------------------------------------
 */
#include <string.h>

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

/*--------------------------------------------------------------------
 * Calendar grids (doc/collection.md, "Calendar time")
 *--------------------------------------------------------------------
 */

/*
 * Classify an interval (months, days, microseconds) as the bucket of a
 * metric in UTC or in another zone.  Returns NULL and fills g (the zone
 * left empty: UTC) when acceptable, else a description of the problem.
 */
const char *
grid_classify(int64_t months, int64_t days, int64_t usecs, bool utc, Grid *g)
{
	int64_t		w;
	const char *problem;

	memset(g, 0, sizeof(Grid));
	if (months < 0 || days < 0 || usecs < 0)
		return "a bucket width must be positive";
	if (months != 0)
	{
		if (days != 0 || usecs != 0 || (months != 1 && months != 3 && months != 12))
			return "a bucket width with a month or year part must be '1 month', '3 months' or '1 year'";
		g->unit = months == 1 ? GRID_MONTH : months == 3 ? GRID_QUARTER : GRID_YEAR;
		g->width = (months == 1 ? 30 : months == 3 ? 91 : 365) * CORE_USECS_PER_DAY;
		return NULL;
	}
	problem = grid_width_problem(0, days, usecs, &w);
	if (problem)
		return problem;
	g->width = w;
	g->unit = GRID_FIXED;
	if (utc || (w % CORE_USECS_PER_WEEK == 0 && w != CORE_USECS_PER_WEEK))
		return NULL;
	if (w == CORE_USECS_PER_DAY)
		g->unit = GRID_DAY;
	else if (w == CORE_USECS_PER_WEEK)
		g->unit = GRID_WEEK;
	else if (w < CORE_USECS_PER_DAY && CORE_USECS_PER_DAY % w == 0)
		g->unit = GRID_LOCAL;
	else if (w < CORE_USECS_PER_DAY)
		return "in a time zone other than UTC, a bucket shorter than a day must divide 24 hours";
	else
		return "in a time zone other than UTC, a bucket of a day or more must be '1 day', '1 week' (or whole weeks), '1 month', '3 months' or '1 year'";
	return NULL;
}

/* A fixed UTC grid of a width */
Grid
grid_fixed(int64_t width)
{
	Grid		g;

	memset(&g, 0, sizeof(g));
	g.unit = GRID_FIXED;
	g.width = width;
	return g;
}

/* Do two grids place every instant in the same bucket? */
bool
grid_same(const Grid *a, const Grid *b)
{
	return a->unit == b->unit && a->width == b->width && a->zone.arg == b->zone.arg;
}

/* Wall-clock time of an instant, and back */
static int64_t
zone_local(const Grid *g, int64_t t)
{
	return g->zone.to_local ? g->zone.to_local(g->zone.arg, t) : t;
}

static int64_t
zone_utc(const Grid *g, int64_t l)
{
	return g->zone.to_utc ? g->zone.to_utc(g->zone.arg, l) : l;
}

/* Truncate a wall-clock time to a calendar unit (date_trunc's fields) */
static int64_t
local_trunc(GridUnit unit, int64_t l)
{
	int64_t		days = grid_floor_div(l, CORE_USECS_PER_DAY);
	int64_t		y;
	int			m;
	int			d;

	switch (unit)
	{
		case GRID_WEEK:
			return (4 + grid_floor_div(days - 4, 7) * 7) * CORE_USECS_PER_DAY;
		case GRID_MONTH:
		case GRID_QUARTER:
		case GRID_YEAR:
			grid_civil_from_days(days, &y, &m, &d);
			m = unit == GRID_MONTH ? m : unit == GRID_QUARTER ? ((m - 1) / 3) * 3 + 1 : 1;
			return grid_days_from_civil(y, m, 1) * CORE_USECS_PER_DAY;
		default:
			return days * CORE_USECS_PER_DAY;
	}
}

/* Start of the bucket containing t: date_trunc(unit, t, zone) or date_bin */
int64_t
grid_start(const Grid *g, int64_t t)
{
	int64_t		day;

	switch (g->unit)
	{
		case GRID_FIXED:
			return grid_floor(t, g->width);
		case GRID_LOCAL:
			/* date_bin(width, t, date_trunc('day', t, zone)) */
			day = zone_utc(g, local_trunc(GRID_DAY, zone_local(g, t)));
			return day + grid_floor_div(t - day, g->width) * g->width;
		default:
			return zone_utc(g, local_trunc(g->unit, zone_local(g, t)));
	}
}

/*
 * Start of the bucket after the one starting at b.  A calendar bucket is
 * within half its nominal length of it (DST changes move a day by an hour
 * or two), so the next one contains b + 1.5 nominal lengths.
 */
int64_t
grid_next(const Grid *g, int64_t b)
{
	Grid		day;
	int64_t		n;

	switch (g->unit)
	{
		case GRID_FIXED:
			return b + g->width;
		case GRID_LOCAL:
			/* the width, cut at the next local midnight */
			day = *g;
			day.unit = GRID_DAY;
			day.width = CORE_USECS_PER_DAY;
			n = grid_next(&day, grid_start(&day, b));
			return b + g->width < n ? b + g->width : n;
		default:
			n = grid_start(g, b + g->width + g->width / 2);
			return n > b ? n : b + g->width;
	}
}

/* The bucket start k buckets after (k < 0: before) the bucket start b */
int64_t
grid_step(const Grid *g, int64_t b, int64_t k)
{
	if (g->unit == GRID_FIXED)
		return b + k * g->width;
	for (; k > 0; k--)
		b = grid_next(g, b);
	for (; k < 0; k++)
		b = grid_start(g, b - 1);
	return b;
}

/* Smallest bucket start >= t */
int64_t
grid_up(const Grid *g, int64_t t)
{
	int64_t		s = grid_start(g, t);

	return s == t ? s : grid_next(g, s);
}

/* Buckets in an aligned window; more than cap: cap + 1 */
int64_t
grid_buckets(const Grid *g, GridWindow w, int64_t cap)
{
	int64_t		n = 0;
	int64_t		b;

	if (g->unit == GRID_FIXED)
		return grid_count(w, g->width);
	for (b = w.from; b < w.to && n <= cap; b = grid_next(g, b))
		n++;
	return n;
}

/* Widen a window outwards to whole buckets */
GridWindow
grid_cover(const Grid *g, GridWindow w)
{
	GridWindow	r;

	if (g->unit == GRID_FIXED)
		return grid_widen(w, g->width);
	r.from = grid_start(g, w.from);
	r.to = grid_up(g, w.to);
	if (r.to < r.from)
		r.to = r.from;
	return r;
}

/* grid_chunks on any grid */
int
grid_split(const Grid *g, GridWindow w, int64_t max_buckets, GridWindow **chunks)
{
	int64_t		total;
	int64_t		n;
	int64_t		i;
	int64_t		b;
	GridWindow *out;

	if (g->unit == GRID_FIXED)
		return grid_chunks(w, g->width, max_buckets, chunks);
	if (max_buckets < 1)
		max_buckets = 1;
	total = grid_buckets(g, w, INT64_MAX - 1);
	n = (total + max_buckets - 1) / max_buckets;
	out = core_alloc(sizeof(GridWindow) * (size_t) (n > 0 ? n : 1));
	b = w.from;
	for (i = 0; i < n; i++)
	{
		out[i].from = b;
		b = grid_step(g, b, max_buckets);
		if (b > w.to || i == n - 1)
			b = w.to;
		out[i].to = b;
	}
	*chunks = out;
	return (int) n;
}

/*
 * The bucket boundaries of an aligned window: *n buckets, *n + 1 starts
 * (the last is w.to), core_alloc'ed.
 */
int64_t *
grid_bounds(const Grid *g, GridWindow w, int *n)
{
	int64_t		count = grid_buckets(g, w, INT32_MAX - 1);
	int64_t    *out = core_alloc(sizeof(int64_t) * (size_t) (count + 1));
	int64_t		i;

	out[0] = w.from;
	for (i = 1; i <= count; i++)
		out[i] = i == count ? w.to : grid_next(g, out[i - 1]);
	*n = (int) count;
	return out;
}

/*
 * The bucket's position for seasons (doc/detection.md, "Calendar time"): a
 * time on a regular grid of *season_width whose weekly and daily phases are
 * the local weekday and time of day.  Day and week buckets: their local
 * start; sub-day buckets: local midnight plus their elapsed time (the
 * 25th hour of a 25-hour day has none: INT64_MIN); months, quarters and
 * years: their number times a week / 12, / 4 or 1, so that a year is the
 * weekly period.  Fixed grids: the bucket itself.
 */
int64_t
grid_season_time(const Grid *g, int64_t b, int64_t *season_width)
{
	int64_t		l = zone_local(g, b);
	int64_t		day;
	int64_t		y;
	int			m;
	int			d;

	*season_width = g->width;
	switch (g->unit)
	{
		case GRID_FIXED:
			return b;
		case GRID_DAY:
		case GRID_WEEK:
			return local_trunc(g->unit, l);
		case GRID_LOCAL:
			day = local_trunc(GRID_DAY, l);
			b -= zone_utc(g, day);
			return b >= CORE_USECS_PER_DAY ? INT64_MIN : day + b;
		default:
			grid_civil_from_days(grid_floor_div(l, CORE_USECS_PER_DAY), &y, &m, &d);
			if (g->unit == GRID_MONTH)
			{
				*season_width = CORE_USECS_PER_WEEK / 12;
				return (y * 12 + m - 1) * *season_width;
			}
			if (g->unit == GRID_QUARTER)
			{
				*season_width = CORE_USECS_PER_WEEK / 4;
				return (y * 4 + (m - 1) / 3) * *season_width;
			}
			*season_width = CORE_USECS_PER_WEEK;
			return 4 * CORE_USECS_PER_DAY + y * CORE_USECS_PER_WEEK;
	}
}

/*
 * How many buckets of g a rolling window of (months, days, usecs) spans
 * (doc/definitions.md, "Rolling windows"): fixed and sub-day grids count
 * elapsed time; local days and weeks count days (a local day of 23 or 25
 * hours is one day); months, quarters and years count months.  NULL and
 * *k, or why the window is not a whole positive number of buckets.
 */
const char *
grid_window_buckets(const Grid *g, int64_t months, int64_t days, int64_t usecs, int64_t *k)
{
	int64_t		unit;

	*k = 0;
	if (months < 0 || days < 0 || usecs < 0 || (months == 0 && days == 0 && usecs == 0))
		return "it must be positive";
	switch (g->unit)
	{
		case GRID_FIXED:
		case GRID_LOCAL:
			if (months != 0)
				return "months and years vary in length: use days, for example '28 days'";
			if (days > INT64_MAX / CORE_USECS_PER_DAY / 2)
				return "it is too long";
			usecs += days * CORE_USECS_PER_DAY;
			if (usecs % g->width != 0)
				return "it is not a whole multiple of the bucket";
			*k = usecs / g->width;
			return NULL;
		case GRID_DAY:
		case GRID_WEEK:
			if (months != 0 || usecs != 0)
				return "a window over local days or weeks is a whole number of days, for example '28 days'";
			unit = g->unit == GRID_DAY ? 1 : 7;
			if (days % unit != 0)
				return "it is not a whole multiple of the bucket";
			*k = days / unit;
			return NULL;
		default:
			if (days != 0 || usecs != 0)
				return "a window over months is a whole number of months, for example '3 months'";
			unit = g->unit == GRID_MONTH ? 1 : g->unit == GRID_QUARTER ? 3 : 12;
			if (months % unit != 0)
				return "it is not a whole multiple of the bucket";
			*k = months / unit;
			return NULL;
	}
}
