/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Parsing and evaluation of five-field cron schedules, in UTC.
 *
 *	  A schedule is kept as one bitmask per field.  cron_next() walks
 *	  forward day by day (whole months at a time when the month does not
 *	  match) and only looks at hours and minutes on days that match, so a
 *	  search over years costs a few thousand cheap steps at most.
 *
 *-------------------------------------------------------------------------
 */
#include "cron.h"
#include "grid.h"

#include <stdio.h>
#include <string.h>

/* Which field of the expression is being parsed */
typedef struct CronField
{
	const char *name;
	int			min;
	int			max;
	const char *const *names;	/* 3-letter names for min.., or NULL */
} CronField;

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const cron_dow_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

static const CronField cron_fields[5] = {
	{"minute", 0, 59, NULL},
	{"hour", 0, 23, NULL},
	{"day-of-month", 1, 31, NULL},
	{"month", 1, 12, cron_month_names},
	{"day-of-week", 0, 7, cron_dow_names},
};

/* Is c a blank that separates fields? */
static bool
cron_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

/* ASCII lower-case */
static char
cron_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Length of [start, end) for quoting in a message, at most 40 bytes */
static int
cron_clip(const char *start, const char *end)
{
	return (end - start > 40) ? 40 : (int) (end - start);
}

/*
 * Parse one value (a number or, where allowed, a name) at *p within
 * [*p, end).  Returns false on a malformed or out-of-range value.
 */
static bool
cron_parse_value(const CronField *f, const char **p, const char *end,
				 int *value, bool *out_of_range)
{
	const char *s = *p;

	*out_of_range = false;
	if (s < end && *s >= '0' && *s <= '9')
	{
		long		v = 0;

		while (s < end && *s >= '0' && *s <= '9')
		{
			if (v < 1000)
				v = v * 10 + (*s - '0');
			s++;
		}
		if (v < f->min || v > f->max)
			*out_of_range = true;
		*value = (int) v;
		*p = s;
		return !*out_of_range;
	}
	if (f->names != NULL && end - s >= 3)
	{
		int			i;

		for (i = 0; f->names[i] != NULL; i++)
		{
			if (cron_lower(s[0]) == f->names[i][0] &&
				cron_lower(s[1]) == f->names[i][1] &&
				cron_lower(s[2]) == f->names[i][2] &&
				(end - s == 3 || !((s[3] >= 'a' && s[3] <= 'z') ||
								   (s[3] >= 'A' && s[3] <= 'Z'))))
			{
				*value = f->min + i;
				*p = s + 3;
				return true;
			}
		}
	}
	return false;
}

/*
 * Parse one field [start, end) into a bitmask.  *starred is set when the
 * field text begins with "*".
 */
static bool
cron_parse_field(const CronField *f, const char *start, const char *end,
				 uint64_t *mask, bool *starred, char *errbuf, size_t errlen)
{
	const char *item = start;

	*mask = 0;
	*starred = (*start == '*');
	while (item < end)
	{
		const char *item_end = item;
		const char *p = item;
		int			lo,
					hi,
					step = 1;
		bool		oor = false;
		int			v;

		while (item_end < end && *item_end != ',')
			item_end++;
		if (item_end == item)
			return core_errorf(errbuf, errlen, "%s field: empty list item",
							  f->name);

		if (*p == '*')
		{
			lo = f->min;
			hi = f->max;
			/* 7 is only an alias of Sunday; "*" means 0..6 */
			if (f->max == 7)
				hi = 6;
			p++;
		}
		else
		{
			if (!cron_parse_value(f, &p, item_end, &lo, &oor))
				return core_errorf(errbuf, errlen,
								  oor ? "%s field: value out of range in \"%.*s\"" :
								  "%s field: invalid value in \"%.*s\"",
								  f->name, cron_clip(item, item_end), item);
			hi = lo;
			if (p < item_end && *p == '-')
			{
				p++;
				if (!cron_parse_value(f, &p, item_end, &hi, &oor))
					return core_errorf(errbuf, errlen,
									  oor ? "%s field: value out of range in \"%.*s\"" :
									  "%s field: invalid range in \"%.*s\"",
									  f->name, cron_clip(item, item_end), item);
				if (hi < lo)
					return core_errorf(errbuf, errlen,
									  "%s field: range start is after range end in \"%.*s\"",
									  f->name, cron_clip(item, item_end), item);
			}
			else if (p < item_end && *p == '/')
			{
				/* "a/n" means "a-max/n" */
				hi = (f->max == 7) ? 6 : f->max;
				if (lo > hi)
					hi = lo;
			}
		}

		if (p < item_end && *p == '/')
		{
			long		st = 0;
			const char *digits;

			p++;
			digits = p;
			while (p < item_end && *p >= '0' && *p <= '9')
			{
				if (st < 1000)
					st = st * 10 + (*p - '0');
				p++;
			}
			if (p == digits || p != item_end)
				return core_errorf(errbuf, errlen,
								  "%s field: invalid step in \"%.*s\"",
								  f->name, cron_clip(item, item_end), item);
			if (st < 1 || st > f->max)
				return core_errorf(errbuf, errlen,
								  "%s field: step out of range in \"%.*s\"",
								  f->name, cron_clip(item, item_end), item);
			step = (int) st;
		}
		if (p != item_end)
			return core_errorf(errbuf, errlen,
							  "%s field: invalid value in \"%.*s\"",
							  f->name, cron_clip(item, item_end), item);

		for (v = lo; v <= hi; v += step)
			*mask |= (f->max == 7 && v == 7) ? UINT64_C(1) : (UINT64_C(1) << v);

		item = item_end;
		if (item < end)
		{
			/* skip the comma; a trailing comma leaves an empty item */
			item++;
			if (item == end)
				return core_errorf(errbuf, errlen,
								  "%s field: empty list item", f->name);
		}
	}
	return true;
}

/* Parse a cron expression or macro */
bool
cron_parse(const char *expr, CronSchedule *out, char *errbuf, size_t errlen)
{
	static const struct
	{
		const char *name;
		const char *expansion;
	}			macros[] = {
		{"@yearly", "0 0 1 1 *"},
		{"@annually", "0 0 1 1 *"},
		{"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"},
		{"@daily", "0 0 * * *"},
		{"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	const char *start[5];
	const char *end[5];
	const char *p;
	int			nfields = 0;
	int			i;
	CronSchedule s;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';

	p = expr;
	while (cron_is_space(*p))
		p++;
	if (*p == '\0')
		return core_errorf(errbuf, errlen, "empty cron expression");

	if (*p == '@')
	{
		const char *w = p;
		size_t		wlen;
		const char *rest;

		while (*p != '\0' && !cron_is_space(*p))
			p++;
		wlen = (size_t) (p - w);
		rest = p;
		while (cron_is_space(*rest))
			rest++;
		for (i = 0; i < (int) (sizeof(macros) / sizeof(macros[0])); i++)
		{
			size_t		j;

			if (strlen(macros[i].name) != wlen)
				continue;
			for (j = 0; j < wlen; j++)
				if (cron_lower(w[j]) != macros[i].name[j])
					break;
			if (j == wlen)
			{
				if (*rest != '\0')
					return core_errorf(errbuf, errlen,
									  "unexpected text after %s",
									  macros[i].name);
				return cron_parse(macros[i].expansion, out, errbuf, errlen);
			}
		}
		return core_errorf(errbuf, errlen, "unknown cron macro \"%.*s\"",
						  cron_clip(w, p), w);
	}

	while (*p != '\0')
	{
		if (nfields == 5)
		{
			int			extra = 5;

			while (*p != '\0')
			{
				while (*p != '\0' && !cron_is_space(*p))
					p++;
				extra++;
				while (cron_is_space(*p))
					p++;
			}
			if (errbuf != NULL && errlen > 0)
				snprintf(errbuf, errlen,
						 "cron expression must have 5 fields, found %d", extra);
			return false;
		}
		start[nfields] = p;
		while (*p != '\0' && !cron_is_space(*p))
			p++;
		end[nfields] = p;
		nfields++;
		while (cron_is_space(*p))
			p++;
	}
	if (nfields != 5)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen,
					 "cron expression must have 5 fields, found %d", nfields);
		return false;
	}

	for (i = 0; i < 5; i++)
	{
		uint64_t	mask;
		bool		starred;

		if (!cron_parse_field(&cron_fields[i], start[i], end[i], &mask,
							  &starred, errbuf, errlen))
			return false;
		switch (i)
		{
			case 0:
				s.minutes = mask;
				break;
			case 1:
				s.hours = (uint32_t) mask;
				break;
			case 2:
				s.days_of_month = (uint32_t) mask;
				s.dom_star = starred;
				break;
			case 3:
				s.months = (uint16_t) mask;
				break;
			default:
				s.days_of_week = (uint8_t) mask;
				s.dow_star = starred;
				break;
		}
	}
	*out = s;
	return true;
}

/* Does the schedule allow this calendar day? */
static bool
cron_day_matches(const CronSchedule *s, int64_t days, int mon, int mday)
{
	int			wday = (int) (((days % 7) + 7 + 4) % 7);	/* 1970-01-01: Thu */
	bool		dom_ok = (s->days_of_month >> mday) & 1;
	bool		dow_ok = (s->days_of_week >> wday) & 1;

	if (!((s->months >> mon) & 1))
		return false;
	if (!s->dom_star && !s->dow_star)
		return dom_ok || dow_ok;
	return dom_ok && dow_ok;
}

/* Does the schedule fire at the minute containing t_us? */
bool
cron_matches(const CronSchedule *s, int64_t t_us)
{
	int64_t		minute = grid_floor_div(t_us, CORE_USECS_PER_MINUTE);
	int64_t		days = grid_floor_div(minute, 1440);
	int			mod = (int) (minute - days * 1440);
	int64_t		y;
	int			m,
				d;

	grid_civil_from_days(days, &y, &m, &d);
	return cron_day_matches(s, days, m, d) &&
		((s->hours >> (mod / 60)) & 1) &&
		((s->minutes >> (mod % 60)) & 1);
}

/* First fire time strictly after after_us, or -1 within the horizon */
int64_t
cron_next(const CronSchedule *s, int64_t after_us)
{
	int64_t		minute;
	int64_t		days;
	int64_t		last_day;
	int			start_min;		/* minute of day to start from, on day one */

	if (s->minutes == 0 || s->hours == 0 || s->days_of_month == 0 ||
		s->months == 0 || s->days_of_week == 0)
		return -1;
	/* stay clear of int64 overflow at the far end */
	if (after_us > INT64_MAX - (int64_t) (CRON_HORIZON_DAYS + 2) * CORE_USECS_PER_DAY)
		return -1;

	minute = grid_floor_div(after_us, CORE_USECS_PER_MINUTE) + 1;
	days = grid_floor_div(minute, 1440);
	start_min = (int) (minute - days * 1440);
	last_day = days + CRON_HORIZON_DAYS;

	while (days <= last_day)
	{
		int64_t		y;
		int			m,
					d;
		int			h;

		grid_civil_from_days(days, &y, &m, &d);
		if (!((s->months >> m) & 1))
		{
			/* jump to the first day of the next month */
			int64_t		ny = (m == 12) ? y + 1 : y;
			int			nm = (m == 12) ? 1 : m + 1;

			days = grid_days_from_civil(ny, nm, 1);
			start_min = 0;
			continue;
		}
		if (cron_day_matches(s, days, m, d))
		{
			for (h = start_min / 60; h < 24; h++)
			{
				int			mi;

				if (!((s->hours >> h) & 1))
					continue;
				mi = (h == start_min / 60) ? start_min % 60 : 0;
				for (; mi < 60; mi++)
				{
					if ((s->minutes >> mi) & 1)
						return (days * 1440 + h * 60 + mi) * CORE_USECS_PER_MINUTE;
				}
			}
		}
		days++;
		start_min = 0;
	}
	return -1;
}
