/*
 * grid_test.c
 *	  Unit tests for the bucket grid, against values worked out by hand and
 *	  against PostgreSQL's documented date_bin behaviour.
 */
#include "unit.h"
#include "grid.h"

#define H CORE_USECS_PER_HOUR
#define D CORE_USECS_PER_DAY
#define W CORE_USECS_PER_WEEK
#define MIN CORE_USECS_PER_MINUTE

/*
 * A synthetic zone: UTC-5, and UTC-4 ("summer") from 2024-03-10 07:00 UTC
 * (02:00 local, skipped) to 2024-11-03 06:00 UTC (01:00 local, repeated)
 * -- New York's 2024 rules.  to_utc reads a skipped time with the offset
 * before the change and a repeated one as the first (summer) reading.
 */
#define SUMMER_FROM INT64_C(1710054000000000)	/* 2024-03-10 07:00 UTC */
#define SUMMER_TO	INT64_C(1730613600000000)	/* 2024-11-03 06:00 UTC */

static int64_t
fake_local(const void *arg, int64_t utc)
{
	(void) arg;
	return utc + ((utc >= SUMMER_FROM && utc < SUMMER_TO) ? -4 : -5) * CORE_USECS_PER_HOUR;
}

static int64_t
fake_utc(const void *arg, int64_t local)
{
	int64_t		summer = local + 4 * CORE_USECS_PER_HOUR;

	if (summer >= SUMMER_FROM && summer < SUMMER_TO && fake_local(arg, summer) == local)
		return summer;
	return local + 5 * CORE_USECS_PER_HOUR;
}

/* Unix microseconds of a UTC date and time */
static int64_t
utc_at(int y, int mo, int d, int h, int mi)
{
	return grid_days_from_civil(y, mo, d) * CORE_USECS_PER_DAY + h * CORE_USECS_PER_HOUR + mi * CORE_USECS_PER_MINUTE;
}

/* Calendar grids in the synthetic zone, against dates worked out by hand */
static void
calendar_checks(void)
{
	Grid		g;
	GridWindow	w;
	int64_t    *b;
	int64_t		sw;
	int			n;
	GridWindow *chunks;

	CHECK(grid_classify(0, 1, 0, true, &g) == NULL && g.unit == GRID_FIXED && g.width == D, "a UTC day is the 0.1 grid");
	CHECK(grid_classify(1, 0, 0, true, &g) == NULL && g.unit == GRID_MONTH, "a UTC month is a calendar month");
	CHECK(grid_classify(2, 0, 0, true, &g) != NULL, "two months are refused");
	CHECK(grid_classify(0, 2, 0, false, &g) != NULL, "two days in a zone are refused");
	CHECK(grid_classify(0, 0, 7 * H, false, &g) != NULL && grid_classify(0, 0, 7 * H, true, &g) == NULL,
		  "7 hours: refused in a zone, fine in UTC");
	CHECK(grid_classify(0, 14, 0, false, &g) == NULL && g.unit == GRID_FIXED, "whole weeks stay UTC");
	CHECK(grid_classify(0, 0, 90 * MIN, false, &g) == NULL && g.unit == GRID_LOCAL, "90 minutes divide a day");

	(void) grid_classify(0, 1, 0, false, &g);
	g.zone.to_local = fake_local;
	g.zone.to_utc = fake_utc;
	/* 2024-03-10 12:00 UTC is 08:00 summer time: the day began at 05:00 UTC */
	CHECK(grid_start(&g, utc_at(2024, 3, 10, 12, 0)) == utc_at(2024, 3, 10, 5, 0), "local midnight before the change");
	CHECK(grid_next(&g, utc_at(2024, 3, 10, 5, 0)) == utc_at(2024, 3, 11, 4, 0), "the spring day has 23 hours");
	CHECK(grid_next(&g, utc_at(2024, 11, 3, 4, 0)) == utc_at(2024, 11, 4, 5, 0), "the autumn day has 25 hours");
	CHECK(grid_step(&g, utc_at(2024, 3, 12, 4, 0), -3) == utc_at(2024, 3, 9, 5, 0), "three days back over the change");
	w.from = utc_at(2024, 3, 9, 5, 0);
	w.to = utc_at(2024, 3, 12, 4, 0);
	b = grid_bounds(&g, w, &n);
	CHECK(n == 3 && b[1] == utc_at(2024, 3, 10, 5, 0) && b[2] == utc_at(2024, 3, 11, 4, 0) && b[3] == w.to,
		  "boundaries of three local days");
	core_free(b);
	CHECK(grid_season_time(&g, utc_at(2024, 3, 11, 4, 0), &sw) == utc_at(2024, 3, 11, 0, 0) && sw == D,
		  "a local day's season time is its local midnight");

	(void) grid_classify(1, 0, 0, false, &g);
	g.zone.to_local = fake_local;
	g.zone.to_utc = fake_utc;
	CHECK(grid_start(&g, utc_at(2024, 3, 1, 3, 0)) == utc_at(2024, 2, 1, 5, 0), "03:00 UTC on March 1st is still February");
	CHECK(grid_next(&g, utc_at(2024, 2, 1, 5, 0)) == utc_at(2024, 3, 1, 5, 0), "February 2024 has 29 days");
	w.from = utc_at(2024, 1, 1, 5, 0);
	w.to = utc_at(2025, 1, 1, 5, 0);
	CHECK(grid_buckets(&g, w, 100) == 12, "a local year has 12 months");
	CHECK(grid_split(&g, w, 5, &chunks) == 3 && chunks[1].from == utc_at(2024, 6, 1, 4, 0) &&
		  chunks[2].to == w.to, "chunks of 5 months");
	core_free(chunks);

	(void) grid_classify(0, 0, 6 * H, false, &g);
	g.zone.to_local = fake_local;
	g.zone.to_utc = fake_utc;
	/* 6-hour buckets from local midnight plus elapsed time on the 23-hour day */
	CHECK(grid_next(&g, utc_at(2024, 3, 10, 5, 0)) == utc_at(2024, 3, 10, 11, 0) &&
		  grid_next(&g, utc_at(2024, 3, 10, 23, 0)) == utc_at(2024, 3, 11, 4, 0), "the last 6-hour bucket of a 23-hour day is 5 hours");
	CHECK(grid_start(&g, utc_at(2024, 3, 11, 3, 59)) == utc_at(2024, 3, 10, 23, 0), "date_bin from local midnight");
	CHECK(grid_season_time(&g, utc_at(2024, 11, 4, 4, 0), &sw) == INT64_MIN, "the 25th hour has no season slot");
}

int
main(void)
{
	GridWindow	w;
	GridWindow *chunks;
	int			n;
	int64_t		width;

	/* 2026-11-28 16:57:14 UTC = 1795885034 s since the epoch */
	int64_t		t = INT64_C(1795885034) * CORE_USECS_PER_SEC;

	CHECK(grid_floor(t, H) == INT64_C(1795881600) * CORE_USECS_PER_SEC, "hourly floor drops minutes and seconds");
	CHECK(grid_floor(t, 15 * MIN) == INT64_C(1795884300) * CORE_USECS_PER_SEC, "15-minute floor: 16:45");
	CHECK(grid_floor(t, D) == INT64_C(1795824000) * CORE_USECS_PER_SEC, "daily floor is UTC midnight");
	/* 2026-11-28 is a Saturday; the Monday before is 2026-11-23 = 1795392000 */
	CHECK(grid_floor(t, W) == INT64_C(1795392000) * CORE_USECS_PER_SEC, "weekly floor is the Monday before");
	CHECK(grid_floor(t, 2 * W) % W == 4 * D, "two-week buckets are Monday-anchored too");
	CHECK(grid_origin(W) == 4 * D && grid_origin(D) == 0 && grid_origin(3 * D) == 0, "origins");
	/* 6-hour buckets: 12:00-18:00 */
	CHECK(grid_floor(t, 6 * H) == INT64_C(1795867200) * CORE_USECS_PER_SEC, "6-hour floor: 12:00");
	/* before the epoch: 1969-12-31 23:30 floors to 1969-12-31 23:00 */
	CHECK(grid_floor(-30 * MIN, H) == -H, "negative times floor downwards");
	CHECK(grid_floor(-1, W) == -3 * D && grid_floor(-W, W) == -10 * D, "weeks before 1970: Mondays 1969-12-29 and 1969-12-22");
	CHECK(grid_floor(0, H) == 0 && grid_floor(H, H) == H && grid_floor(H - 1, H) == 0, "boundaries are half-open");
	CHECK(grid_ceil(H + 1, H) == 2 * H && grid_ceil(H, H) == H, "ceil");
	CHECK(grid_aligned(3 * H, H) && !grid_aligned(3 * H + 1, H), "aligned");

	w.from = H + 5;
	w.to = 5 * H - 5;
	w = grid_widen(w, H);
	CHECK(w.from == H && w.to == 5 * H, "widen goes outwards to whole buckets");
	CHECK(grid_count(w, H) == 4, "count");

	w.from = 0;
	w.to = 10 * H;
	n = grid_chunks(w, H, 4, &chunks);
	CHECK(n == 3, "10 buckets in chunks of 4 make 3 chunks");
	CHECK(chunks[0].from == 0 && chunks[0].to == 4 * H && chunks[1].from == 4 * H &&
		  chunks[2].from == 8 * H && chunks[2].to == 10 * H, "chunks cover the window without splitting buckets");
	core_free(chunks);
	w.to = 0;
	n = grid_chunks(w, H, 4, &chunks);
	CHECK(n == 0, "empty window has no chunks");
	core_free(chunks);

	CHECK(grid_width_problem(0, 0, H, &width) == NULL && width == H, "1 hour is a width");
	CHECK(grid_width_problem(0, 7, 0, &width) == NULL && width == W, "7 days is a width");
	CHECK(grid_width_problem(1, 0, 0, &width) != NULL, "months are refused");
	CHECK(grid_width_problem(0, 0, 59 * CORE_USECS_PER_SEC, &width) != NULL, "under a minute is refused");
	CHECK(grid_width_problem(0, 0, MIN + 1, &width) != NULL, "fractional seconds are refused");
	CHECK(grid_width_problem(0, -1, 0, &width) != NULL, "negative is refused");
	CHECK(grid_width_problem(0, 400, 0, &width) != NULL, "over 366 days is refused");
	/* calendar: day numbers of dates worked out independently (days since 1970-01-01) */
	{
		static const struct
		{
			int64_t		y;
			int			m;
			int			d;
			int64_t		days;
		}			dates[] = {
			{1970, 1, 1, 0}, {1969, 12, 31, -1}, {2000, 2, 29, 11016}, {2000, 3, 1, 11017},
			{1900, 2, 28, -25509}, {1900, 3, 1, -25508}, {2400, 2, 29, 157113},
			{1600, 3, 1, -135080}, {2026, 11, 28, 20785}, {1, 1, 1, -719162}, {9999, 12, 31, 2932896},
		};
		int64_t		z;
		int64_t		y;
		int			m;
		int			d;
		int			bad = 0;

		for (n = 0; n < (int) (sizeof(dates) / sizeof(dates[0])); n++)
		{
			grid_civil_from_days(dates[n].days, &y, &m, &d);
			if (grid_days_from_civil(dates[n].y, dates[n].m, dates[n].d) != dates[n].days ||
				y != dates[n].y || m != dates[n].m || d != dates[n].d)
				bad++;
		}
		CHECK(bad == 0, "day numbers of known dates, both ways (leap days, 1900, 2400, year 1, year 9999)");

		/* walking day by day from 0001-01-01 to 9999-12-31 steps the calendar by one day */
		bad = 0;
		grid_civil_from_days(-719162, &y, &m, &d);
		for (z = -719161; z <= 2932896 && bad == 0; z++)
		{
			int64_t		y2;
			int			m2;
			int			d2;

			grid_civil_from_days(z, &y2, &m2, &d2);
			if (!((y2 == y && m2 == m && d2 == d + 1) ||
				  (y2 == y && m2 == m + 1 && d2 == 1 && d >= 28) ||
				  (y2 == y + 1 && m2 == 1 && d2 == 1 && m == 12 && d == 31)) ||
				grid_days_from_civil(y2, m2, d2) != z)
				bad++;
			y = y2;
			m = m2;
			d = d2;
		}
		CHECK(bad == 0, "every day of years 1 to 9999 follows the one before and maps back");
	}

	CHECK(grid_floor_div(-7, 2) == -4 && grid_floor_div(7, 2) == 3 && grid_floor_div(-8, 2) == -4,
		  "floor division rounds towards minus infinity");

	calendar_checks();
	return unit_done();
}
