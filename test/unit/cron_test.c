/*-------------------------------------------------------------------------
 *
 * cron_test.c
 *	  Unit tests for the five-field cron schedule parser and evaluator.
 *
 *	  Expected fire times were computed by hand from a calendar; a brute
 *	  force minute-by-minute oracle (built on gmtime_r, not on cron.c's
 *	  calendar code) cross-checks cron_next() over many expressions.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include <time.h>

#include "cron.h"

/* "YYYY-MM-DD HH:MM" (UTC) to microseconds since the epoch, via timegm */
static int64_t
ts(const char *s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min) != 5)
	{
		fprintf(stderr, "bad timestamp literal %s\n", s);
		abort();
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t) timegm(&tm) * CORE_USECS_PER_SEC;
}

/* Format microseconds as "YYYY-MM-DD HH:MM" (or "none" for -1) */
static const char *
fmt(int64_t us, char *buf, size_t len)
{
	time_t		t;
	struct tm	tm;

	if (us == -1)
	{
		snprintf(buf, len, "none");
		return buf;
	}
	t = (time_t) (us / CORE_USECS_PER_SEC - ((us % CORE_USECS_PER_SEC) < 0));
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min);
	return buf;
}

/* Independent oracle: does the schedule fire at minute t (seconds)? */
static bool
oracle_matches(const CronSchedule *s, time_t t)
{
	struct tm	tm;
	bool		dom_ok,
				dow_ok,
				day_ok;

	gmtime_r(&t, &tm);
	if (!((s->minutes >> tm.tm_min) & 1) || !((s->hours >> tm.tm_hour) & 1) ||
		!((s->months >> (tm.tm_mon + 1)) & 1))
		return false;
	dom_ok = (s->days_of_month >> tm.tm_mday) & 1;
	dow_ok = (s->days_of_week >> tm.tm_wday) & 1;
	if (!s->dom_star && !s->dow_star)
		day_ok = dom_ok || dow_ok;
	else
		day_ok = dom_ok && dow_ok;
	return day_ok;
}

typedef struct NextCase
{
	const char *expr;
	const char *after;
	const char *expect;			/* "none" for -1 */
	const char *what;
} NextCase;

static const NextCase next_cases[] = {
	{"*/15 9-17 * * 1-5", "2026-01-16 17:50", "2026-01-19 09:00", "weekday business hours: Fri 17:50 -> Mon 09:00"},
	{"*/15 9-17 * * 1-5", "2026-01-16 17:44", "2026-01-16 17:45", "weekday business hours: last slot of the day"},
	{"*/15 9-17 * * 1-5", "2026-01-16 17:45", "2026-01-19 09:00", "strictly after: exact fire time is skipped"},
	{"*/15 9-17 * * 1-5", "2026-01-19 08:59", "2026-01-19 09:00", "Mon 08:59 -> 09:00"},
	{"*/15 9-17 * * 1-5", "2026-01-19 09:00", "2026-01-19 09:15", "Mon 09:00 -> 09:15"},
	{"0 0 29 2 *", "2026-01-01 00:00", "2028-02-29 00:00", "Feb 29 from 2026 -> 2028"},
	{"0 0 29 2 *", "2028-02-29 00:00", "2032-02-29 00:00", "Feb 29 -> next leap year"},
	{"0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00", "Feb 29 skips 2100 (not a leap year)"},
	{"0 0 30 2 *", "2026-01-01 00:00", "none", "Feb 30 never fires"},
	{"0 0 31 4,6,9,11 *", "2026-01-01 00:00", "none", "31st of 30-day months never fires"},
	{"0 12 31 * *", "2026-01-31 12:00", "2026-03-31 12:00", "31st skips February"},
	{"0 12 31 * *", "2026-04-01 00:00", "2026-05-31 12:00", "31st skips April"},
	{"0 12 31 * *", "2026-07-31 11:59", "2026-07-31 12:00", "31st of July same day"},
	{"0 12 31 * *", "2026-07-31 12:00", "2026-08-31 12:00", "31st July -> 31st August"},
	{"0 0 13 * 5", "2026-01-01 00:00", "2026-01-02 00:00", "dom/dow OR: Friday 2 Jan matches"},
	{"0 0 13 * 5", "2026-01-09 00:00", "2026-01-13 00:00", "dom/dow OR: Tuesday 13th matches"},
	{"0 0 13 * fri", "2026-01-13 00:00", "2026-01-16 00:00", "dom/dow OR: next Friday"},
	{"0 0 31 2 1", "2026-01-01 00:00", "2026-02-02 00:00", "dom/dow OR: impossible dom, Monday in Feb"},
	{"0 0 */2 * 1", "2026-01-01 00:00", "2026-01-05 00:00", "dom starts with *: AND (odd day and Monday)"},
	{"0 0 */2 * 1", "2026-01-05 00:00", "2026-01-19 00:00", "dom starts with *: Monday 12th is even, skipped"},
	{"0 0 1 * */2", "2026-01-01 00:00", "2026-02-01 00:00", "dow starts with *: AND (1st and Sun/Tue/Thu/Sat)"},
	{"0 0 * * 0", "2026-01-01 00:00", "2026-01-04 00:00", "weekday 0 is Sunday"},
	{"0 0 * * 7", "2026-01-01 00:00", "2026-01-04 00:00", "weekday 7 is Sunday"},
	{"0 0 * * SUN", "2026-01-01 00:00", "2026-01-04 00:00", "weekday name SUN"},
	{"0 0 * * 5-7", "2026-01-03 00:00", "2026-01-04 00:00", "range 5-7 includes Sunday"},
	{"0 0 * * 5-7", "2026-01-04 00:00", "2026-01-09 00:00", "range 5-7 excludes Monday..Thursday"},
	{"30 6 * jan,jul mon-fri", "2026-02-01 00:00", "2026-07-01 06:30", "month names and weekday range"},
	{"30 6 * Jan-Mar *", "2026-03-31 06:30", "2027-01-01 06:30", "month name range, year rollover"},
	{"5 4 * * *", "2026-01-01 04:05", "2026-01-02 04:05", "daily 04:05"},
	{"* * * * *", "2026-01-01 00:00", "2026-01-01 00:01", "every minute"},
	{"1-30/5 * * * *", "2026-01-01 00:26", "2026-01-01 01:01", "range with step wraps to next hour"},
	{"10/20 * * * *", "2026-01-01 00:31", "2026-01-01 00:50", "a/n means a-max/n"},
	{"59 23 31 12 *", "2026-12-31 23:59", "2027-12-31 23:59", "last minute of the year"},
	{"0 0 1 1 *", "1969-06-01 00:00", "1970-01-01 00:00", "before the epoch"},
	{"0 9,17 * * *", "2026-01-01 09:00", "2026-01-01 17:00", "hour list"},
	{"0 0 1,15 * *", "2026-01-02 00:00", "2026-01-15 00:00", "day list"},
	{"@hourly", "2026-01-01 10:30", "2026-01-01 11:00", "@hourly"},
	{"@daily", "2026-01-01 00:00", "2026-01-02 00:00", "@daily"},
	{"@midnight", "2026-01-01 23:59", "2026-01-02 00:00", "@midnight"},
	{"@weekly", "2026-01-01 00:00", "2026-01-04 00:00", "@weekly: Sunday"},
	{"@monthly", "2026-01-15 00:00", "2026-02-01 00:00", "@monthly"},
	{"@yearly", "2026-01-01 00:00", "2027-01-01 00:00", "@yearly"},
	{"@ANNUALLY", "2026-06-01 00:00", "2027-01-01 00:00", "@annually, case-insensitive"},
	{"  0  0\t* *   *  ", "2026-01-01 00:00", "2026-01-02 00:00", "extra blanks and tabs"},
};

typedef struct ErrCase
{
	const char *expr;
	const char *message;		/* expected error text, or NULL: any */
} ErrCase;

static const ErrCase err_cases[] = {
	{"", "empty cron expression"},
	{"   ", "empty cron expression"},
	{"* * * *", "cron expression must have 5 fields, found 4"},
	{"* * * * * *", "cron expression must have 5 fields, found 6"},
	{"0 0 1 1 * 2026", "cron expression must have 5 fields, found 6"},
	{"60 * * * *", "minute field: value out of range in \"60\""},
	{"* 24 * * *", "hour field: value out of range in \"24\""},
	{"* * 0 * *", "day-of-month field: value out of range in \"0\""},
	{"* * 32 * *", "day-of-month field: value out of range in \"32\""},
	{"* * * 0 *", "month field: value out of range in \"0\""},
	{"* * * 13 *", "month field: value out of range in \"13\""},
	{"* * * * 8", "day-of-week field: value out of range in \"8\""},
	{"*/0 * * * *", "minute field: step out of range in \"*/0\""},
	{"*/60 * * * *", "minute field: step out of range in \"*/60\""},
	{"*/ * * * *", "minute field: invalid step in \"*/\""},
	{"*/x * * * *", "minute field: invalid step in \"*/x\""},
	{"1/2/3 * * * *", "minute field: invalid step in \"1/2/3\""},
	{"5-1 * * * *", "minute field: range start is after range end in \"5-1\""},
	{"1-2-3 * * * *", "minute field: invalid value in \"1-2-3\""},
	{"1,,2 * * * *", "minute field: empty list item"},
	{"1, * * * *", "minute field: empty list item"},
	{",1 * * * *", "minute field: empty list item"},
	{"-1 * * * *", "minute field: invalid value in \"-1\""},
	{"*5 * * * *", "minute field: invalid value in \"*5\""},
	{"a * * * *", "minute field: invalid value in \"a\""},
	{"* * * foo *", "month field: invalid value in \"foo\""},
	{"* * * janx *", "month field: invalid value in \"janx\""},
	{"* * * * fri-mon", "day-of-week field: range start is after range end in \"fri-mon\""},
	{"* * * * 1-", "day-of-week field: invalid range in \"1-\""},
	{"* * jan * *", "day-of-month field: invalid value in \"jan\""},
	{"@reboot", "unknown cron macro \"@reboot\""},
	{"@", "unknown cron macro \"@\""},
	{"@daily 5", "unexpected text after @daily"},
	{"99999999999999999999 * * * *", "minute field: value out of range in \"99999999999999999999\""},
};

/* Check every hand-computed next-fire case */
static void
test_next_cases(void)
{
	size_t		i;

	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++)
	{
		const NextCase *c = &next_cases[i];
		CronSchedule s;
		char		err[256];
		char		got[64];
		char		what[256];
		bool		ok = cron_parse(c->expr, &s, err, sizeof(err));

		snprintf(what, sizeof(what), "parse \"%s\"", c->expr);
		CHECK(ok, what);
		if (!ok)
		{
			printf("#   error: %s\n", err);
			continue;
		}
		snprintf(what, sizeof(what), "%s [%s after %s]", c->what, c->expr, c->after);
		CHECK_STR(fmt(cron_next(&s, ts(c->after)), got, sizeof(got)), c->expect, what);
	}
}

/* Sub-minute starting points and exact return values */
static void
test_next_precision(void)
{
	CronSchedule s;
	char		err[128];

	cron_parse("* * * * *", &s, err, sizeof(err));
	CHECK(cron_next(&s, ts("2026-01-01 00:00") + 30 * CORE_USECS_PER_SEC) ==
		  ts("2026-01-01 00:01"), "mid-minute start rounds up to the next minute");
	CHECK(cron_next(&s, ts("2026-01-01 00:00") + 1) == ts("2026-01-01 00:01"),
		  "one microsecond past a minute");
	CHECK(cron_next(&s, ts("2026-01-01 00:00") - 1) == ts("2026-01-01 00:00"),
		  "one microsecond before a minute fires at that minute");
	CHECK(cron_next(&s, -1) == 0, "just before the epoch -> epoch");
	CHECK(cron_next(&s, -CORE_USECS_PER_MINUTE - 1) == -CORE_USECS_PER_MINUTE,
		  "negative time floors correctly");
	CHECK(cron_next(&s, 0) == CORE_USECS_PER_MINUTE, "epoch -> epoch + 1 minute");
	CHECK(cron_next(&s, INT64_MAX) == -1, "INT64_MAX does not overflow");
	CHECK(cron_next(&s, INT64_MAX - CORE_USECS_PER_DAY) == -1, "near INT64_MAX");
	CHECK(cron_next(&s, ts("2026-01-01 00:00")) % CORE_USECS_PER_MINUTE == 0,
		  "result on a whole minute");
	CHECK(cron_next(&s, INT64_MIN) == -1 || cron_next(&s, INT64_MIN) > INT64_MIN,
		  "INT64_MIN does not crash");

	cron_parse("0 0 30 2 *", &s, err, sizeof(err));
	CHECK(cron_next(&s, 0) == -1, "Feb 30 gives -1");
	cron_parse("0 0 * * *", &s, err, sizeof(err));
	CHECK(cron_next(&s, ts("2026-01-01 00:00")) == ts("2026-01-02 00:00"), "daily from midnight");
}

/* Every error case fails with the expected message */
static void
test_errors(void)
{
	size_t		i;

	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++)
	{
		const ErrCase *c = &err_cases[i];
		CronSchedule s;
		char		err[256];
		char		what[256];
		bool		ok;

		err[0] = '\0';
		ok = cron_parse(c->expr, &s, err, sizeof(err));
		snprintf(what, sizeof(what), "rejects \"%s\"", c->expr);
		CHECK(!ok, what);
		if (c->message != NULL)
		{
			snprintf(what, sizeof(what), "message for \"%s\"", c->expr);
			CHECK_STR(err, c->message, what);
		}
	}
}

/* Bitmask results of parsing */
static void
test_masks(void)
{
	CronSchedule s;
	char		err[128];
	char		tiny[8];

	CHECK(cron_parse("*/15 9-17 * * 1-5", &s, err, sizeof(err)), "parse business hours");
	CHECK(s.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 15) | (UINT64_C(1) << 30) | (UINT64_C(1) << 45)),
		  "minutes */15 = 0,15,30,45");
	CHECK(s.hours == (((UINT32_C(1) << 18) - 1) & ~((UINT32_C(1) << 9) - 1)), "hours 9-17");
	CHECK(s.days_of_week == 0x3e, "weekdays 1-5");
	CHECK(s.dom_star && !s.dow_star, "star flags");
	CHECK(s.months == 0x1ffe, "all months");
	CHECK(s.days_of_month == 0xfffffffeU, "all days 1..31");

	CHECK(cron_parse("0 0 * * 0-7", &s, err, sizeof(err)) && s.days_of_week == 0x7f,
		  "0-7 is all weekdays");
	CHECK(cron_parse("0 0 * * *", &s, err, sizeof(err)) && s.days_of_week == 0x7f,
		  "* is all weekdays");
	CHECK(cron_parse("0 0 * * */2", &s, err, sizeof(err)) && s.days_of_week == 0x55 && s.dow_star,
		  "*/2 weekdays = sun,tue,thu,sat and counts as *");
	CHECK(cron_parse("0 0 * * 7/2", &s, err, sizeof(err)) && s.days_of_week == 0x01,
		  "7/2 = Sunday only");
	CHECK(cron_parse("0 0 1 * Mon,wed,FRI", &s, err, sizeof(err)) && s.days_of_week == 0x2a && !s.dom_star,
		  "weekday name list, mixed case");
	CHECK(cron_parse("0 0 1 dec *", &s, err, sizeof(err)) && s.months == (1 << 12), "dec");
	CHECK(cron_parse("0-59/30 0 1 jan-dec/3 *", &s, err, sizeof(err)) &&
		  s.months == ((1 << 1) | (1 << 4) | (1 << 7) | (1 << 10)) &&
		  s.minutes == ((UINT64_C(1) << 0) | (UINT64_C(1) << 30)),
		  "name range with step");
	CHECK(cron_parse("59 23 31 12 6", &s, err, sizeof(err)) &&
		  s.minutes == (UINT64_C(1) << 59) && s.hours == (UINT32_C(1) << 23) &&
		  s.days_of_month == (UINT32_C(1) << 31),
		  "maximum values");
	CHECK(!cron_parse("61 * * * *", &s, tiny, sizeof(tiny)) && strlen(tiny) == sizeof(tiny) - 1,
		  "error message truncated to the buffer");
	CHECK(!cron_parse("61 * * * *", &s, NULL, 0), "NULL error buffer is fine");
	CHECK(cron_parse("@hourly", &s, NULL, 0) && s.minutes == 1 && s.hours == 0xffffff, "@hourly mask");
}

/* Garbage and huge inputs do not crash */
static void
test_garbage(void)
{
	static const char *const garbage[] = {
		"\x01\x02\x03", "* * * * *\x7f", "\xff\xfe * * * *", "////", "*-*-*-*-*",
		"* * * * * * * * * * * * * * * * * * * * * * * * * * * * *", "@@@", "*/*",
		"1-", "-", "/", ",", "* * * * ,", "@hourly@daily", "0 0 0x10 * *",
	};
	size_t		i;
	char	   *huge;
	CronSchedule s;
	char		err[128];
	size_t		n = 1 << 20;

	for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++)
	{
		char		what[128];

		snprintf(what, sizeof(what), "garbage %zu rejected", i);
		CHECK(!cron_parse(garbage[i], &s, err, sizeof(err)), what);
	}

	huge = core_alloc(n + 1);
	memset(huge, '1', n);
	CHECK(!cron_parse(huge, &s, err, sizeof(err)), "1 MB digit string rejected");
	for (i = 0; i < n; i++)
		huge[i] = (i % 2) ? ',' : '5';
	huge[n - 1] = '5';
	CHECK(!cron_parse(huge, &s, err, sizeof(err)), "1 MB list in one field: wrong field count");
	CHECK_STR(err, "cron expression must have 5 fields, found 1", "... message");
	for (i = 0; i < n; i++)
		huge[i] = (i % 2) ? ' ' : '*';
	CHECK(!cron_parse(huge, &s, err, sizeof(err)), "half a million fields rejected");
	CHECK_STR(err, "cron expression must have 5 fields, found 524288", "... counted");
	core_free(huge);
}

/* Cross-check cron_next against a minute-by-minute oracle */
static void
test_oracle(void)
{
	static const char *const exprs[] = {
		"*/7 */5 * * *", "0 0 13 * 5", "15 3 */3 * 1-5", "0 12 31 * *", "0 0 * 2 1",
		"30 */2 1,15,28 * 0", "0 0 29 2 *", "0 9-17/4 * * mon-fri", "59 23 * * 6",
		"0 0 1 * *", "5 5 5 5 5", "0 * 30 * 3", "*/10 1 * jun-aug sun", "0 0 * * 7",
	};
	static const char *const starts[] = {
		"2026-01-01 00:00", "2026-02-27 23:59", "2027-12-31 23:30", "2028-02-28 12:00",
	};
	size_t		i,
				j;
	int			mismatches = 0;
	int			compared = 0;

	for (i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++)
	{
		CronSchedule s;
		char		err[128];

		if (!cron_parse(exprs[i], &s, err, sizeof(err)))
		{
			mismatches++;
			continue;
		}
		for (j = 0; j < sizeof(starts) / sizeof(starts[0]); j++)
		{
			int64_t		after = ts(starts[j]);
			time_t		t = (time_t) (after / CORE_USECS_PER_SEC) + 60;
			time_t		limit = t + 120 * 86400;
			int64_t		want = -1;
			int64_t		got;
			int			k;

			for (; t < limit; t += 60)
			{
				if (oracle_matches(&s, t))
				{
					want = (int64_t) t * CORE_USECS_PER_SEC;
					break;
				}
			}
			/* chain a few calls to test successive fire times too */
			for (k = 0; k < 5 && want != -1; k++)
			{
				got = cron_next(&s, after);
				compared++;
				if (got != want)
				{
					char		a[64],
								b[64];

					mismatches++;
					printf("# %s after %s: got %s want %s\n", exprs[i], starts[j],
						   fmt(got, a, sizeof(a)), fmt(want, b, sizeof(b)));
					break;
				}
				CHECK(cron_matches(&s, got), "cron_matches agrees with cron_next");
				after = got;
				for (t = (time_t) (got / CORE_USECS_PER_SEC) + 60, want = -1; t < limit + 120 * 86400; t += 60)
				{
					if (oracle_matches(&s, t))
					{
						want = (int64_t) t * CORE_USECS_PER_SEC;
						break;
					}
				}
			}
		}
	}
	CHECK(compared > 100, "oracle compared many fire times");
	CHECK(mismatches == 0, "cron_next agrees with the brute-force oracle");
}

/* Long searches stay cheap */
static void
test_speed(void)
{
	CronSchedule s;
	char		err[128];
	clock_t		t0;
	double		secs;
	int			i;
	int64_t		sum = 0;

	cron_parse("0 0 30 2 *", &s, err, sizeof(err));
	t0 = clock();
	for (i = 0; i < 2000; i++)
		sum += cron_next(&s, ts("2026-01-01 00:00") + i * CORE_USECS_PER_HOUR);
	secs = (double) (clock() - t0) / CLOCKS_PER_SEC;
	printf("# 2000 full-horizon searches took %.3f s\n", secs);
	CHECK(sum == -2000, "full-horizon searches return -1");
	CHECK(secs < 2.0, "2000 ten-year searches in under 2 s");
}

/* Run every test group and print the TAP plan */
int
main(void)
{
	test_next_cases();
	test_next_precision();
	test_errors();
	test_masks();
	test_garbage();
	test_oracle();
	test_speed();
	return unit_done();
}
