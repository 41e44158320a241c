/*-------------------------------------------------------------------------
 *
 * plot.c
 *	  Drawing a metric's series as a self-contained SVG (see plot.h).
 *
 *	  Layout (PLOT_WIDTH x PLOT_HEIGHT): title and subtitle at the top left,
 *	  the legend on the subtitle line at the right, the plot area below with
 *	  y labels at its left and x labels under it.  The band and the lines
 *	  are clipped to the plot area; anomaly dots are drawn last, on top.
 *
 *	  Every number written into the SVG goes through svg_num() or the tick
 *	  formatters, which never print "nan" or "inf": values are checked for
 *	  finiteness first and coordinates are clamped.
 *
 *-------------------------------------------------------------------------
 */
#include "corebuf.h"
#include "grid.h"
#include "plot.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The plot area */
#define AREA_RIGHT		(PLOT_WIDTH - 16)
#define AREA_TOP		58
#define AREA_BOTTOM		(PLOT_HEIGHT - 36)

/* Values beyond this magnitude are drawn at it */
#define VALUE_LIMIT		1e300
/* Coordinates are clamped this far outside the picture (then clipped) */
#define COORD_LIMIT		1e5

/* Colours besides the anomaly colours (plot.h) */
#define COLOR_TEXT		"#222222"
#define COLOR_MUTED		"#666666"
#define COLOR_GRID		"#e8e8e8"
#define COLOR_AXIS		"#9e9e9e"
#define COLOR_VALUE		"#37474f"
#define COLOR_EXPECTED	"#8d8d8d"
#define COLOR_BAND		"#90a4ae"

/* Growable output buffer on core_alloc */
typedef CoreBuf PlotBuf;

/* Where things go: the plot area and the domains mapped onto it */
typedef struct PlotFrame
{
	double		left;
	double		right;
	double		top;
	double		bottom;
	int64_t		t0;				/* x domain, Unix microseconds */
	int64_t		t1;
	double		y0;				/* y domain */
	double		y1;
	const PlotInput *in;		/* its time zone */
} PlotFrame;

static const char *const month_names[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Is v a drawable number? */
static bool
finite_at(const double *a, int i)
{
	return a != NULL && isfinite(a[i]);
}

/* v limited to +-VALUE_LIMIT */
static double
clamp_value(double v)
{
	if (v > VALUE_LIMIT)
		return VALUE_LIMIT;
	if (v < -VALUE_LIMIT)
		return -VALUE_LIMIT;
	return v;
}

/* A coordinate for the SVG: finite, clamped, one decimal */
static void
svg_num(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		v = 0;
	if (v > COORD_LIMIT)
		v = COORD_LIMIT;
	if (v < -COORD_LIMIT)
		v = -COORD_LIMIT;
	v = round(v * 10) / 10;
	if (v == 0)
		v = 0;					/* no "-0" */
	if (v == floor(v))
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.1f", v);
}

/* Append " x y" (or "x y" when first) for a point */
static void
pbuf_point(PlotBuf *b, const char *cmd, double x, double y)
{
	char		xs[32];
	char		ys[32];

	svg_num(xs, sizeof(xs), x);
	svg_num(ys, sizeof(ys), y);
	corebuf_printf(b, "%s%s %s", cmd, xs, ys);
}

/* The parts of a time */
typedef struct PlotTime
{
	int64_t		year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
} PlotTime;

/* Split a Unix-microsecond time into UTC parts */
static PlotTime
split_time(int64_t t)
{
	PlotTime	pt;
	int64_t		days = grid_floor_div(t, CORE_USECS_PER_DAY);
	int64_t		secs = (t - days * CORE_USECS_PER_DAY) / CORE_USECS_PER_SEC;

	grid_civil_from_days(days, &pt.year, &pt.month, &pt.day);
	pt.hour = (int) (secs / 3600);
	pt.minute = (int) (secs / 60 % 60);
	pt.second = (int) (secs % 60);
	return pt;
}

/* "2026-03-21 09:00" (with ":SS" when the seconds are not zero) */
static void
format_datetime(int64_t t, char *buf, size_t len)
{
	PlotTime	pt = split_time(t);

	if (pt.second != 0)
		snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d:%02d", (long long) pt.year,
				 pt.month, pt.day, pt.hour, pt.minute, pt.second);
	else
		snprintf(buf, len, "%04lld-%02d-%02d %02d:%02d", (long long) pt.year,
				 pt.month, pt.day, pt.hour, pt.minute);
}

/* The wall-clock time of an instant in the input's zone */
static int64_t
local_time(const PlotInput *in, int64_t t)
{
	return in->zone.to_local ? in->zone.to_local(in->zone.arg, t) : t;
}

/* "2026-03-21 09:00 EST": an instant in the input's zone, with its abbreviation */
static void
format_when(const PlotInput *in, int64_t t, char *buf, size_t len)
{
	char		dt[40];
	char		abbrev[16] = "UTC";

	format_datetime(local_time(in, t), dt, sizeof(dt));
	if (in->zone.to_local && in->zone_abbrev)
		in->zone_abbrev(in->zone.arg, t, abbrev, sizeof(abbrev));
	snprintf(buf, len, "%s %s", dt, abbrev);
}

/* A value for a tooltip: up to 3 decimals, or 4 significant digits */
static void
format_value(double v, char *buf, size_t len)
{
	double		av = fabs(v);

	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (av == 0 || (av >= 1e-3 && av < 1e15))
	{
		char	   *p;

		snprintf(buf, len, "%.3f", v);
		p = buf + strlen(buf) - 1;
		while (p > buf && *p == '0')
			*p-- = '\0';
		if (p > buf && *p == '.')
			*p = '\0';
		if (strcmp(buf, "-0") == 0)
			snprintf(buf, len, "0");
	}
	else
		snprintf(buf, len, "%.4g", v);
}

/*
 * Decode one UTF-8 character at s (n bytes left); returns its length and
 * stores the code point, or U+FFFD (length 1) for an invalid sequence.
 */
static int
utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned	c = s[0];
	int			len;
	unsigned	v;
	unsigned	min;
	int			i;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0)
	{
		len = 2;
		v = c & 0x1F;
		min = 0x80;
	}
	else if ((c & 0xF0) == 0xE0)
	{
		len = 3;
		v = c & 0x0F;
		min = 0x800;
	}
	else if ((c & 0xF8) == 0xF0)
	{
		len = 4;
		v = c & 0x07;
		min = 0x10000;
	}
	else
	{
		*cp = 0xFFFD;
		return 1;
	}
	if ((size_t) len > n)
	{
		*cp = 0xFFFD;
		return 1;
	}
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*cp = 0xFFFD;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
	{
		*cp = 0xFFFD;
		return 1;
	}
	*cp = v;
	return len;
}

/*
 * Append user text as XML character data (also safe inside an attribute
 * value): & < > " ' escaped, control characters as spaces, non-ASCII as
 * character references.  At most max_chars characters are written; a
 * longer text ends in an ellipsis.
 */
static void
pbuf_xml_text(PlotBuf *b, const char *s, int max_chars)
{
	const unsigned char *p = (const unsigned char *) (s ? s : "");
	size_t		left = strlen((const char *) p);
	int			written = 0;

	while (left > 0)
	{
		unsigned	cp;
		int			len = utf8_decode(p, left, &cp);

		if (written == max_chars)
		{
			corebuf_puts(b, "&#8230;");
			return;
		}
		switch (cp)
		{
			case '&':
				corebuf_puts(b, "&amp;");
				break;
			case '<':
				corebuf_puts(b, "&lt;");
				break;
			case '>':
				corebuf_puts(b, "&gt;");
				break;
			case '"':
				corebuf_puts(b, "&quot;");
				break;
			case '\'':
				corebuf_puts(b, "&#39;");
				break;
			default:
				if (cp < 0x20 || cp == 0x7F)
					corebuf_puts(b, " ");
				else if (cp < 0x80)
				{
					char		c = (char) cp;

					corebuf_append(b, &c, 1);
				}
				else
				{
					/* U+FFFE and U+FFFF are not XML characters */
					if (cp == 0xFFFE || cp == 0xFFFF)
						cp = 0xFFFD;
					corebuf_printf(b, "&#%u;", cp);
				}
				break;
		}
		written++;
		p += len;
		left -= (size_t) len;
	}
}

/* Number of characters (code points) in a UTF-8 string, up to limit */
static int
utf8_chars(const char *s, int limit)
{
	const unsigned char *p = (const unsigned char *) (s ? s : "");
	size_t		left = strlen((const char *) p);
	int			n = 0;

	while (left > 0 && n < limit)
	{
		unsigned	cp;
		int			len = utf8_decode(p, left, &cp);

		p += len;
		left -= (size_t) len;
		n++;
	}
	return n;
}

/*
 * Nice ticks: see plot.h.
 */
int
plot_nice_ticks(double lo, double hi, int target, double *ticks, double *step)
{
	double		raw;
	double		mag;
	double		norm;
	double		st;
	double		first;
	double		last;
	double		count;
	int			n;
	int			i;
	int			tries;

	*step = 0;
	if (!isfinite(lo) || !isfinite(hi))
		return 0;
	lo = clamp_value(lo);
	hi = clamp_value(hi);
	if (lo > hi)
	{
		double		t = lo;

		lo = hi;
		hi = t;
	}
	if (target < 1)
		target = 1;
	if (target > PLOT_MAX_TICKS / 2)
		target = PLOT_MAX_TICKS / 2;
	if (hi == lo)
	{
		double		d = lo != 0 ? fabs(lo) * 0.1 : 1;

		lo -= d;
		hi += d;
	}
	/* halves first: hi - lo may overflow */
	raw = (hi / 2 - lo / 2) * 2 / target;
	if (!(raw >= 1e-300))
		raw = 1e-300;
	mag = pow(10, floor(log10(raw)));
	norm = raw / mag;
	if (norm <= 1)
		st = mag;
	else if (norm <= 2)
		st = 2 * mag;
	else if (norm <= 5)
		st = 5 * mag;
	else
		st = 10 * mag;

	/* widen the step until the ticks fit (only floating-point edge cases) */
	for (tries = 0;; tries++)
	{
		first = floor(lo / st) * st;
		last = ceil(hi / st) * st;
		count = round((last / 2 - first / 2) * 2 / st) + 1;
		if ((count <= PLOT_MAX_TICKS && count >= 2) || tries >= 8)
			break;
		st *= count < 2 ? 0.5 : 2;
	}
	if (!isfinite(count) || count > PLOT_MAX_TICKS)
		count = PLOT_MAX_TICKS;
	if (count < 2)
		count = 2;
	n = (int) count;
	for (i = 0; i < n; i++)
	{
		double		t = first + i * st;

		if (fabs(t) < st * 1e-9)
			t = 0;
		ticks[i] = t;
	}
	*step = st;
	return n;
}

/* Drop trailing zeros of the fraction in buf ("1.50" -> "1.5", "2.0" -> "2") */
static void
trim_fraction(char *buf)
{
	char	   *dot = strchr(buf, '.');
	char	   *p;

	if (dot == NULL)
		return;
	p = buf + strlen(buf) - 1;
	while (p > dot && *p == '0')
		*p-- = '\0';
	if (p == dot)
		*p = '\0';
}

/*
 * Compact tick label: see plot.h.
 */
void
plot_format_tick(double v, double step, char *buf, size_t len)
{
	static const struct
	{
		double		div;
		const char *suffix;
	}			units[] = {
		{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}, {1, ""}
	};
	double		av;
	double		s;
	int			u;
	int			decimals;
	char		num[64];

	if (len == 0)
		return;
	if (!isfinite(v))
	{
		snprintf(buf, len, "-");
		return;
	}
	v = clamp_value(v);
	if (isfinite(step) && step > 0 && fabs(v / step) < 1e15)
		v = round(v / step) * step;
	av = fabs(v);
	if (av < 1e-300)
	{
		snprintf(buf, len, "0");
		return;
	}
	if (av >= 1e15 || (av < 1e-6 && !(step >= 1e-6)))
	{
		snprintf(buf, len, "%.3g", v);
		return;
	}
	for (u = 0; u < 4 && units[u].div > av; u++)
		;
	s = (isfinite(step) && step > 0) ? step / units[u].div : 1;
	for (decimals = 0; decimals < 9; decimals++)
	{
		double		scaled = s * pow(10, decimals);

		if (fabs(scaled - round(scaled)) < 1e-6 * scaled && round(scaled) >= 1)
			break;
	}
	snprintf(num, sizeof(num), "%.*f", decimals, v / units[u].div);
	trim_fraction(num);
	if (strcmp(num, "-0") == 0)
		snprintf(num, sizeof(num), "0");
	snprintf(buf, len, "%s%s", num, strcmp(num, "0") == 0 ? "" : units[u].suffix);
}

/* Steps of time ticks */
typedef enum TimeStepKind
{
	STEP_FIXED,					/* a fixed number of microseconds */
	STEP_MONTHS,
	STEP_YEARS
} TimeStepKind;

typedef struct TimeStep
{
	TimeStepKind kind;
	int64_t		n;				/* microseconds, months or years */
} TimeStep;

#define US_SEC		CORE_USECS_PER_SEC
#define US_MIN		CORE_USECS_PER_MINUTE
#define US_HOUR		CORE_USECS_PER_HOUR
#define US_DAY		CORE_USECS_PER_DAY

static const TimeStep time_steps[] = {
	{STEP_FIXED, US_SEC}, {STEP_FIXED, 2 * US_SEC}, {STEP_FIXED, 5 * US_SEC},
	{STEP_FIXED, 10 * US_SEC}, {STEP_FIXED, 15 * US_SEC}, {STEP_FIXED, 30 * US_SEC},
	{STEP_FIXED, US_MIN}, {STEP_FIXED, 2 * US_MIN}, {STEP_FIXED, 5 * US_MIN},
	{STEP_FIXED, 10 * US_MIN}, {STEP_FIXED, 15 * US_MIN}, {STEP_FIXED, 30 * US_MIN},
	{STEP_FIXED, US_HOUR}, {STEP_FIXED, 2 * US_HOUR}, {STEP_FIXED, 3 * US_HOUR},
	{STEP_FIXED, 6 * US_HOUR}, {STEP_FIXED, 12 * US_HOUR},
	{STEP_FIXED, US_DAY}, {STEP_FIXED, 2 * US_DAY}, {STEP_FIXED, 7 * US_DAY}, {STEP_FIXED, 14 * US_DAY},
	{STEP_MONTHS, 1}, {STEP_MONTHS, 2}, {STEP_MONTHS, 3}, {STEP_MONTHS, 6},
};

/* Rough length of n years in microseconds */
static double
years_length(int64_t n)
{
	return (double) n * 365.25 * (double) US_DAY;
}

/* Rough length of a step in microseconds (months of 30.44 days) */
static double
step_length(TimeStep s)
{
	switch (s.kind)
	{
		case STEP_FIXED:
			return (double) s.n;
		case STEP_MONTHS:
			return (double) s.n * 30.44 * (double) US_DAY;
		case STEP_YEARS:
			return years_length(s.n);
	}
	return 1;
}

static int	utc_ticks(int64_t from, int64_t to, int target, int64_t *ticks,
					  char (*labels)[PLOT_LABEL_LEN]);

/* Label of a tick at t on step s */
static void
time_label(int64_t t, TimeStep s, char *buf, size_t len)
{
	PlotTime	pt = split_time(t);
	bool		midnight = pt.hour == 0 && pt.minute == 0 && pt.second == 0;

	if (s.kind == STEP_YEARS)
		snprintf(buf, len, "%lld", (long long) pt.year);
	else if (s.kind == STEP_MONTHS)
		snprintf(buf, len, "%s %lld", month_names[pt.month - 1], (long long) pt.year);
	else if (midnight && pt.month == 1 && pt.day == 1 && s.n >= US_DAY)
		snprintf(buf, len, "%lld", (long long) pt.year);
	else if (midnight)
		snprintf(buf, len, "%s %d", month_names[pt.month - 1], pt.day);
	else if (s.n < US_MIN)
		snprintf(buf, len, "%02d:%02d:%02d", pt.hour, pt.minute, pt.second);
	else
		snprintf(buf, len, "%02d:%02d", pt.hour, pt.minute);
}

/* Microseconds at the start of a UTC day number, or false if out of range */
static bool
day_start(int64_t days, int64_t *t)
{
	if (days > INT64_MAX / US_DAY || days < INT64_MIN / US_DAY)
		return false;
	*t = days * US_DAY;
	return true;
}

/*
 * Time ticks: see plot.h.
 */
int
plot_time_ticks(int64_t from, int64_t to, int target, int64_t *ticks,
				char (*labels)[PLOT_LABEL_LEN])
{
	return plot_time_ticks_in(from, to, target, NULL, ticks, labels);
}

/*
 * Time ticks in a zone: the UTC ticks of the wall-clock span, each mapped
 * to its instant; a wall-clock time a DST change skips (its instant reads
 * back as another time) or one that would not come after the previous
 * tick is dropped.
 */
int
plot_time_ticks_in(int64_t from, int64_t to, int target, const GridZone *zone,
				   int64_t *ticks, char (*labels)[PLOT_LABEL_LEN])
{
	int			n;
	int			i;
	int			k = 0;

	if (zone == NULL || zone->to_local == NULL)
		return utc_ticks(from, to, target, ticks, labels);
	if (to < from)
		return 0;
	n = utc_ticks(zone->to_local(zone->arg, from), zone->to_local(zone->arg, to), target, ticks, labels);
	for (i = 0; i < n; i++)
	{
		int64_t		u = zone->to_utc(zone->arg, ticks[i]);

		if (zone->to_local(zone->arg, u) != ticks[i] || u < from || u > to || (k > 0 && u <= ticks[k - 1]))
			continue;
		ticks[k] = u;
		memmove(labels[k], labels[i], PLOT_LABEL_LEN);
		k++;
	}
	return k;
}

/* Time ticks in UTC (or in wall-clock times read as UTC) */
static int
utc_ticks(int64_t from, int64_t to, int target, int64_t *ticks, char (*labels)[PLOT_LABEL_LEN])
{
	double		span;
	TimeStep	s = {STEP_YEARS, 1};
	size_t		k;
	int			n = 0;

	if (to < from)
		return 0;
	if (target < 1)
		target = 1;
	if (target > PLOT_MAX_TICKS)
		target = PLOT_MAX_TICKS;
	span = (double) to - (double) from;
	for (k = 0; k < sizeof(time_steps) / sizeof(time_steps[0]); k++)
	{
		if (span / step_length(time_steps[k]) <= target)
		{
			s = time_steps[k];
			break;
		}
	}
	if (k == sizeof(time_steps) / sizeof(time_steps[0]))
	{
		/* years: 1, 2, 5 x 10^k */
		int64_t		mag = 1;

		for (;;)
		{
			if (span / years_length(mag) <= target)
				break;
			if (span / years_length(2 * mag) <= target)
			{
				mag *= 2;
				break;
			}
			if (span / years_length(5 * mag) <= target)
			{
				mag *= 5;
				break;
			}
			mag *= 10;
		}
		s.n = mag;
	}

	if (s.kind == STEP_FIXED)
	{
		/* weeks start on Monday (1970-01-05); the rest on the epoch */
		int64_t		origin = s.n >= 7 * US_DAY ? 4 * US_DAY : 0;
		int64_t		off = ((from % s.n) + s.n) % s.n - origin % s.n;
		int64_t		delta = ((s.n - off) % s.n + s.n) % s.n;
		int64_t		t;

		/* the first t >= from with t = origin (mod step) */
		if (from > INT64_MAX - delta)
			return 0;
		t = from + delta;
		while (t <= to && n < PLOT_MAX_TICKS)
		{
			ticks[n] = t;
			time_label(t, s, labels[n], PLOT_LABEL_LEN);
			n++;
			if (t > INT64_MAX - s.n)
				break;
			t += s.n;
		}
	}
	else
	{
		PlotTime	pt = split_time(from);
		int64_t		year = pt.year;
		int64_t		month = pt.month;	/* 1..12 */

		if (s.kind == STEP_YEARS)
		{
			month = 1;
			year = grid_floor_div(year, s.n) * s.n;
		}
		else
			month = grid_floor_div(month - 1, s.n) * s.n + 1;
		for (k = 0; n < PLOT_MAX_TICKS && k < 1000; k++)
		{
			int64_t		days = grid_days_from_civil(year, (int) month, 1);
			int64_t		t;

			if (day_start(days, &t))
			{
				if (t > to)
					break;
				if (t >= from)
				{
					ticks[n] = t;
					time_label(t, s, labels[n], PLOT_LABEL_LEN);
					n++;
				}
			}
			else if (days > 0)
				break;			/* past the end of time */
			if (s.kind == STEP_YEARS)
				year += s.n;
			else
			{
				month += s.n;
				while (month > 12)
				{
					month -= 12;
					year++;
				}
			}
		}
	}
	return n;
}

/* x of a time */
static double
frame_x(const PlotFrame *f, int64_t t)
{
	return f->left + ((double) t - (double) f->t0) / ((double) f->t1 - (double) f->t0) *
		(f->right - f->left);
}

/* y of a value */
static double
frame_y(const PlotFrame *f, double v)
{
	return f->bottom - (clamp_value(v) - f->y0) / (f->y1 - f->y0) * (f->bottom - f->top);
}

/*
 * The line through the finite values of v, thinned per pixel column (the
 * first, lowest, highest and last point of each column).  A missing value
 * breaks the line, except inside one pixel column.  Runs of a single point
 * go to "dots" as zero-length segments (drawn with round caps).
 */
static void
path_line(PlotBuf *path, PlotBuf *dots, const PlotFrame *f, const int64_t *bucket,
		  const double *v, int n)
{
	int			prev = -1;		/* last finite point */
	int			g_first = -1;	/* the current column group */
	int			g_min = -1;
	int			g_max = -1;
	int			g_last = -1;
	long		g_col = 0;
	int			run_points = 0; /* points emitted in the current run */
	double		pend_x = 0;
	double		pend_y = 0;
	int			i;

	for (i = 0; i <= n; i++)
	{
		bool		have = i < n && finite_at(v, i);
		double		x = 0;
		long		col = 0;
		bool		new_group;
		bool		break_run;

		if (i < n && !have)
			continue;
		if (have)
		{
			x = frame_x(f, bucket[i]);
			col = (long) floor(x);
		}
		new_group = !have || g_first < 0 || col != g_col;
		break_run = !have || (prev >= 0 && i > prev + 1 && col != g_col);

		if (new_group && g_first >= 0)
		{
			int			idx[4];
			int			k;
			int			j;

			/* the group's points in order, without repeats */
			idx[0] = g_first;
			idx[1] = g_min < g_max ? g_min : g_max;
			idx[2] = g_min < g_max ? g_max : g_min;
			idx[3] = g_last;
			for (k = 0; k < 4; k++)
			{
				double		px;
				double		py;

				for (j = 0; j < k; j++)
					if (idx[j] == idx[k])
						break;
				if (j < k)
					continue;
				px = frame_x(f, bucket[idx[k]]);
				py = frame_y(f, v[idx[k]]);
				if (run_points == 0)
				{
					pend_x = px;
					pend_y = py;
				}
				else
				{
					if (run_points == 1)
						pbuf_point(path, "M", pend_x, pend_y);
					pbuf_point(path, "L", px, py);
				}
				run_points++;
			}
			g_first = -1;
		}
		if (break_run && run_points > 0)
		{
			if (run_points == 1)
			{
				pbuf_point(dots, "M", pend_x, pend_y);
				corebuf_puts(dots, "h0");
			}
			run_points = 0;
		}
		if (!have)
			break;
		if (g_first < 0)
		{
			g_first = g_min = g_max = i;
			g_col = col;
		}
		if (v[i] < v[g_min])
			g_min = i;
		if (v[i] > v[g_max])
			g_max = i;
		g_last = i;
		prev = i;
	}
}

/*
 * The expected band: one filled polygon per run of buckets with both
 * bounds, thinned to one column-wide envelope (highest upper, lowest lower)
 * per pixel column.  A single column is drawn 3 px wide.
 */
static void
path_band(PlotBuf *path, const PlotFrame *f, const int64_t *bucket,
		  const double *lower, const double *upper, int n)
{
	double	   *gx = core_alloc(sizeof(double) * (size_t) (n > 0 ? n : 1));
	double	   *gu = core_alloc(sizeof(double) * (size_t) (n > 0 ? n : 1));
	double	   *gl = core_alloc(sizeof(double) * (size_t) (n > 0 ? n : 1));
	int			ng = 0;
	int			prev = -1;
	long		g_col = 0;
	int			i;

	for (i = 0; i <= n; i++)
	{
		bool		have = i < n && finite_at(lower, i) && finite_at(upper, i);
		double		x = 0;
		long		col = 0;
		bool		break_run;

		if (i < n && !have)
			continue;
		if (have)
		{
			x = frame_x(f, bucket[i]);
			col = (long) floor(x);
		}
		break_run = !have || (prev >= 0 && i > prev + 1 && col != g_col);
		if (break_run && ng > 0)
		{
			int			k;

			if (ng == 1)
			{
				gx[1] = gx[0] + 1.5;
				gu[1] = gu[0];
				gl[1] = gl[0];
				gx[0] -= 1.5;
				ng = 2;
			}
			pbuf_point(path, "M", gx[0], gu[0]);
			for (k = 1; k < ng; k++)
				pbuf_point(path, "L", gx[k], gu[k]);
			for (k = ng - 1; k >= 0; k--)
				pbuf_point(path, "L", gx[k], gl[k]);
			corebuf_puts(path, "Z");
			ng = 0;
		}
		if (!have)
			break;
		if (ng == 0 || col != g_col)
		{
			gx[ng] = x;
			gu[ng] = frame_y(f, upper[i]);
			gl[ng] = frame_y(f, lower[i]);
			g_col = col;
			ng++;
		}
		else
		{
			double		yu = frame_y(f, upper[i]);
			double		yl = frame_y(f, lower[i]);

			if (yu < gu[ng - 1])
				gu[ng - 1] = yu;
			if (yl > gl[ng - 1])
				gl[ng - 1] = yl;
		}
		prev = i;
	}
	core_free(gx);
	core_free(gu);
	core_free(gl);
}

/* Direction of the anomaly at i (PLOT_DIRECTION_UP or _DOWN), or 0 if none */
static int
anomaly_at(const PlotInput *in, int i)
{
	int			dir = in->direction ? in->direction[i] : PLOT_DIRECTION_NONE;

	if (in->is_anomaly ? !in->is_anomaly[i] : dir == PLOT_DIRECTION_NONE)
		return 0;
	if (dir > 0)
		return PLOT_DIRECTION_UP;
	if (dir < 0)
		return PLOT_DIRECTION_DOWN;
	/* unknown: below the expected value is a drop, anything else a spike */
	if (finite_at(in->value, i) && finite_at(in->expected, i) &&
		in->value[i] < in->expected[i])
		return PLOT_DIRECTION_DOWN;
	return PLOT_DIRECTION_UP;
}

/* Estimated width in px of text of n characters at a font size */
static double
text_width(int n, double font_size)
{
	return n * font_size * 0.56;
}

/* Legend entries */
typedef enum LegendKind
{
	LEGEND_VALUE,
	LEGEND_EXPECTED,
	LEGEND_BAND,
	LEGEND_SPIKE,
	LEGEND_DROP,
	LEGEND_FORECAST
} LegendKind;

typedef struct LegendItem
{
	const char *label;
	LegendKind	kind;
} LegendItem;

/* Add an entry to the legend */
static void
legend_add(LegendItem *items, int *n, const char *label, LegendKind kind)
{
	items[*n].label = label;
	items[*n].kind = kind;
	(*n)++;
}

/* The legend, right-aligned on the subtitle line */
static void
draw_legend(PlotBuf *b, const LegendItem *items, int n)
{
	double		widths[8];
	double		total = 0;
	double		x;
	double		y = 44;
	int			i;

	for (i = 0; i < n; i++)
	{
		widths[i] = 22 + text_width((int) strlen(items[i].label), 11) + 14;
		total += widths[i];
	}
	x = AREA_RIGHT - total + 14;
	corebuf_puts(b, "<g font-size=\"11\" fill=\"" COLOR_MUTED "\">\n");
	for (i = 0; i < n; i++)
	{
		switch (items[i].kind)
		{
			case LEGEND_VALUE:
				corebuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" COLOR_VALUE
							"\" stroke-width=\"2\"/>\n", x, y - 4, x + 16, y - 4);
				break;
			case LEGEND_EXPECTED:
				corebuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" COLOR_EXPECTED
							"\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n", x, y - 4, x + 16, y - 4);
				break;
			case LEGEND_BAND:
				corebuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\" fill=\"" COLOR_BAND
							"\" fill-opacity=\"0.35\"/>\n", x, y - 9);
				break;
			case LEGEND_FORECAST:
				corebuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"16\" height=\"10\" fill=\""
							PLOT_COLOR_FORECAST "\" fill-opacity=\"0.2\"/>\n", x, y - 9);
				corebuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\""
							PLOT_COLOR_FORECAST "\" stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>\n",
							x, y - 4, x + 16, y - 4);
				break;
			case LEGEND_SPIKE:
			case LEGEND_DROP:
				corebuf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"%s\"/>\n", x + 8, y - 4,
							items[i].kind == LEGEND_SPIKE ? PLOT_COLOR_SPIKE : PLOT_COLOR_DROP);
				break;
		}
		corebuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", x + 22, y, items[i].label);
		x += widths[i];
	}
	corebuf_puts(b, "</g>\n");
}

/* Title text: "name (unit)", shortened to fit */
static void
append_title(PlotBuf *b, const PlotInput *in, int max_chars)
{
	bool		has_unit = in->unit != NULL && in->unit[0] != '\0';
	int			unit_chars = has_unit ? utf8_chars(in->unit, 40) : 0;
	int			name_max = max_chars - (has_unit ? unit_chars + 3 : 0);

	pbuf_xml_text(b, in->title, name_max > 8 ? name_max : 8);
	if (has_unit)
	{
		corebuf_puts(b, " (");
		pbuf_xml_text(b, in->unit, 40);
		corebuf_puts(b, ")");
	}
}

/* What a series holds, for the domains, the legend and the subtitle */
typedef struct PlotSummary
{
	bool		have_value;
	bool		have_expected;
	bool		have_band;
	int			n_spikes;
	int			n_drops;
	double		lo;				/* range of values and expected values */
	double		hi;
	double		band_lo;		/* range of the band */
	double		band_hi;
	bool		have_forecast;	/* a forecast tail with a finite expected value or band */
} PlotSummary;

/* Summarise the n points of a series */
static void
summarise(const PlotInput *in, int n, PlotSummary *sum)
{
	int			i;

	memset(sum, 0, sizeof(*sum));
	sum->lo = sum->band_lo = INFINITY;
	sum->hi = sum->band_hi = -INFINITY;
	for (i = 0; i < n; i++)
	{
		if (finite_at(in->value, i))
		{
			sum->have_value = true;
			sum->lo = fmin(sum->lo, clamp_value(in->value[i]));
			sum->hi = fmax(sum->hi, clamp_value(in->value[i]));
		}
		if (finite_at(in->expected, i))
		{
			sum->have_expected = true;
			sum->lo = fmin(sum->lo, clamp_value(in->expected[i]));
			sum->hi = fmax(sum->hi, clamp_value(in->expected[i]));
		}
		if (finite_at(in->lower, i) && finite_at(in->upper, i))
		{
			double		l = clamp_value(in->lower[i]);
			double		u = clamp_value(in->upper[i]);

			sum->have_band = true;
			sum->band_lo = fmin(sum->band_lo, fmin(l, u));
			sum->band_hi = fmax(sum->band_hi, fmax(l, u));
		}
		switch (anomaly_at(in, i))
		{
			case PLOT_DIRECTION_UP:
				sum->n_spikes++;
				break;
			case PLOT_DIRECTION_DOWN:
				sum->n_drops++;
				break;
			default:
				break;
		}
	}
	/* the forecast tail counts as expected values and band */
	for (i = 0; in->forecast_bucket != NULL && i < in->n_forecast; i++)
	{
		if (finite_at(in->forecast_expected, i))
		{
			sum->have_forecast = sum->have_expected = true;
			sum->lo = fmin(sum->lo, clamp_value(in->forecast_expected[i]));
			sum->hi = fmax(sum->hi, clamp_value(in->forecast_expected[i]));
		}
		if (finite_at(in->forecast_lower, i) && finite_at(in->forecast_upper, i))
		{
			double		l = clamp_value(in->forecast_lower[i]);
			double		u = clamp_value(in->forecast_upper[i]);

			sum->have_forecast = sum->have_band = true;
			sum->band_lo = fmin(sum->band_lo, fmin(l, u));
			sum->band_hi = fmax(sum->band_hi, fmax(l, u));
		}
	}
}

/* Is there anything to draw a line or band for? */
static bool
has_data(const PlotSummary *sum)
{
	return sum->have_value || sum->have_expected || sum->have_band;
}

/*
 * The y ticks: over the values and expected values, widened by the band by
 * at most a quarter of their span, from zero when the data is on one side
 * of it and not far from it.  Returns the number of ticks.
 */
static int
y_ticks(const PlotSummary *sum, double *ticks, double *step)
{
	double		lo = sum->lo;
	double		hi = sum->hi;

	if (!sum->have_value && !sum->have_expected)
	{
		lo = sum->band_lo;
		hi = sum->band_hi;
	}
	else if (sum->have_band)
	{
		double		allow = (hi / 2 - lo / 2) * 2;

		if (allow <= 0)
			allow = fabs(hi) > 0 ? fabs(hi) : 1;
		allow *= 0.25;
		lo = fmin(lo, fmax(sum->band_lo, lo - allow));
		hi = fmax(hi, fmin(sum->band_hi, hi + allow));
	}
	if (lo > 0 && lo <= hi * 0.5)
		lo = 0;
	if (hi < 0 && hi >= lo * 0.5)
		hi = 0;
	if (lo == 0 && hi == 0)
		hi = 1;
	/* a flat line of big numbers still gets distinct ticks */
	if (hi - lo < fmax(fabs(lo), fabs(hi)) * 1e-9)
	{
		double		d = fmax(fabs(lo), fabs(hi)) * 1e-3;

		lo -= d;
		hi += d;
	}
	return plot_nice_ticks(lo, hi, 5, ticks, step);
}

/*
 * The x domain: first to last bucket (of the forecast tail too); the window
 * when that is empty
 */
static void
x_domain(const PlotInput *in, int n, PlotFrame *f)
{
	int			i;

	if (n > 0)
	{
		f->t0 = f->t1 = in->bucket[0];
		for (i = 1; i < n; i++)
		{
			if (in->bucket[i] < f->t0)
				f->t0 = in->bucket[i];
			if (in->bucket[i] > f->t1)
				f->t1 = in->bucket[i];
		}
		for (i = 0; in->forecast_bucket != NULL && i < in->n_forecast; i++)
			if (in->forecast_bucket[i] > f->t1)
				f->t1 = in->forecast_bucket[i];
	}
	if (n > 0 && f->t0 < f->t1)
		return;
	if (in->window_from < in->window_to)
	{
		if (n == 0 || in->window_from < f->t0)
			f->t0 = in->window_from;
		if (n == 0 || in->window_to > f->t1)
			f->t1 = in->window_to;
	}
	else if (n == 0)
		f->t0 = f->t1 = in->window_from;
	if (f->t0 == f->t1)
	{
		/* one point in time: an hour either side */
		f->t0 = f->t0 > INT64_MIN + US_HOUR ? f->t0 - US_HOUR : INT64_MIN;
		f->t1 = f->t1 < INT64_MAX - US_HOUR ? f->t1 + US_HOUR : INT64_MAX;
	}
}

/* The opening tag, accessible title, clip path, background, title, subtitle */
static void
draw_header(PlotBuf *b, const PlotInput *in, const PlotFrame *f, const PlotSummary *sum)
{
	char		from_s[64];
	char		to_s[64];
	char		x[32];
	char		w[32];

	if (in->zone.to_local)
	{
		/* each end with its abbreviation: "... 00:00 CEST - ... 00:00 CET" */
		format_when(in, in->window_from, from_s, sizeof(from_s));
		format_when(in, in->window_to, to_s, sizeof(to_s));
	}
	else
	{
		format_datetime(in->window_from, from_s, sizeof(from_s));
		format_datetime(in->window_to, to_s, sizeof(to_s));
		strcat(to_s, " UTC");
	}
	corebuf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
				"viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" role=\"img\">\n",
				PLOT_WIDTH, PLOT_HEIGHT, PLOT_WIDTH, PLOT_HEIGHT);
	corebuf_puts(b, "<title>");
	append_title(b, in, 300);
	corebuf_printf(b, ", %s to %s</title>\n", from_s, to_s);
	svg_num(x, sizeof(x), f->left);
	svg_num(w, sizeof(w), f->right - f->left);
	corebuf_printf(b, "<defs><clipPath id=\"tripl-plot-area\"><rect x=\"%s\" y=\"%d\" width=\"%s\" "
				"height=\"%d\"/></clipPath></defs>\n", x, AREA_TOP, w, AREA_BOTTOM - AREA_TOP);
	corebuf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", PLOT_WIDTH, PLOT_HEIGHT);

	corebuf_puts(b, "<text x=\"16\" y=\"24\" font-size=\"15\" font-weight=\"bold\" fill=\"" COLOR_TEXT "\">");
	append_title(b, in, 90);
	corebuf_puts(b, "</text>\n");
	corebuf_printf(b, "<text x=\"16\" y=\"44\" font-size=\"11\" fill=\"" COLOR_MUTED "\">%s &#8211; %s",
				from_s, to_s);
	if (sum->n_spikes > 0 || sum->n_drops > 0)
	{
		corebuf_puts(b, " &#183; ");
		if (sum->n_spikes > 0)
			corebuf_printf(b, "%d spike%s", sum->n_spikes, sum->n_spikes == 1 ? "" : "s");
		if (sum->n_spikes > 0 && sum->n_drops > 0)
			corebuf_puts(b, ", ");
		if (sum->n_drops > 0)
			corebuf_printf(b, "%d drop%s", sum->n_drops, sum->n_drops == 1 ? "" : "s");
	}
	corebuf_puts(b, "</text>\n");

	/* the legend names only what is drawn */
	if (has_data(sum))
	{
		LegendItem	items[6];
		int			ni = 0;

		if (sum->have_value)
			legend_add(items, &ni, "value", LEGEND_VALUE);
		if (sum->have_expected)
			legend_add(items, &ni, "expected", LEGEND_EXPECTED);
		if (sum->have_band)
			legend_add(items, &ni, "expected range", LEGEND_BAND);
		if (sum->have_forecast)
			legend_add(items, &ni, "forecast", LEGEND_FORECAST);
		if (sum->n_spikes > 0)
			legend_add(items, &ni, "spike", LEGEND_SPIKE);
		if (sum->n_drops > 0)
			legend_add(items, &ni, "drop", LEGEND_DROP);
		draw_legend(b, items, ni);
	}
}

/* Grid lines, the x axis, and the tick labels */
static void
draw_axes(PlotBuf *b, const PlotFrame *f, const double *yticks, int n_yticks, double ystep)
{
	int64_t		xticks[PLOT_MAX_TICKS];
	char		xlabels[PLOT_MAX_TICKS][PLOT_LABEL_LEN];
	int			n_xticks;
	char		a[32];
	char		c[32];
	int			i;

	n_xticks = plot_time_ticks_in(f->t0, f->t1, (int) ((f->right - f->left) / 75), &f->in->zone,
								  xticks, xlabels);

	corebuf_puts(b, "<g stroke=\"" COLOR_GRID "\" stroke-width=\"1\">\n");
	svg_num(a, sizeof(a), f->left);
	for (i = 0; i < n_yticks; i++)
	{
		svg_num(c, sizeof(c), round(frame_y(f, yticks[i])) + 0.5);
		corebuf_printf(b, "<line x1=\"%s\" y1=\"%s\" x2=\"%d\" y2=\"%s\"/>\n", a, c, AREA_RIGHT, c);
	}
	for (i = 0; i < n_xticks; i++)
	{
		svg_num(c, sizeof(c), round(frame_x(f, xticks[i])) + 0.5);
		corebuf_printf(b, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\"/>\n", c, AREA_TOP, c, AREA_BOTTOM);
	}
	corebuf_puts(b, "</g>\n");
	corebuf_printf(b, "<line x1=\"%s\" y1=\"%d.5\" x2=\"%d\" y2=\"%d.5\" stroke=\"" COLOR_AXIS
				"\" stroke-width=\"1\"/>\n", a, AREA_BOTTOM, AREA_RIGHT, AREA_BOTTOM);

	corebuf_puts(b, "<g font-size=\"11\" fill=\"" COLOR_MUTED "\" text-anchor=\"end\">\n");
	svg_num(a, sizeof(a), f->left - 8);
	for (i = 0; i < n_yticks; i++)
	{
		char		lab[64];

		plot_format_tick(yticks[i], ystep, lab, sizeof(lab));
		svg_num(c, sizeof(c), frame_y(f, yticks[i]) + 4);
		corebuf_printf(b, "<text x=\"%s\" y=\"%s\">%s</text>\n", a, c, lab);
	}
	corebuf_puts(b, "</g>\n");

	corebuf_puts(b, "<g font-size=\"11\" fill=\"" COLOR_MUTED "\" text-anchor=\"middle\">\n");
	for (i = 0; i < n_xticks; i++)
	{
		double		x = round(frame_x(f, xticks[i])) + 0.5;
		double		half = text_width((int) strlen(xlabels[i]), 11) / 2;
		const char *anchor = "";

		/* labels at the edges stay inside the picture */
		if (x + half > PLOT_WIDTH - 4)
			anchor = " text-anchor=\"end\"";
		else if (x - half < 4)
			anchor = " text-anchor=\"start\"";
		svg_num(c, sizeof(c), x);
		corebuf_printf(b, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\" stroke=\"" COLOR_AXIS "\"/>\n",
					c, AREA_BOTTOM + 1, c, AREA_BOTTOM + 5);
		corebuf_printf(b, "<text x=\"%s\" y=\"%d\"%s>%s</text>\n", c, AREA_BOTTOM + 18, anchor, xlabels[i]);
	}
	corebuf_puts(b, "</g>\n");
}

/* The forecast tail: its band shaded, its expected value dashed */
static void
draw_forecast(PlotBuf *b, const PlotInput *in, const PlotFrame *f, PlotBuf *line, PlotBuf *dots)
{
	int			n = in->n_forecast;

	corebuf_puts(b, "<path class=\"forecast-band\" fill=\"" PLOT_COLOR_FORECAST "\" fill-opacity=\"0.2\" "
				 "stroke=\"none\" d=\"");
	path_band(b, f, in->forecast_bucket, in->forecast_lower, in->forecast_upper, n);
	corebuf_puts(b, "\"/>\n");
	line->len = dots->len = 0;
	path_line(line, dots, f, in->forecast_bucket, in->forecast_expected, n);
	if (line->len > 0)
		corebuf_printf(b, "<path class=\"forecast\" fill=\"none\" stroke=\"" PLOT_COLOR_FORECAST "\" "
					"stroke-width=\"1.5\" stroke-dasharray=\"5 3\" stroke-linejoin=\"round\" d=\"%s\"/>\n",
					line->data);
	if (dots->len > 0)
		corebuf_printf(b, "<path class=\"forecast\" fill=\"none\" stroke=\"" PLOT_COLOR_FORECAST "\" "
					"stroke-width=\"3\" stroke-linecap=\"round\" d=\"%s\"/>\n", dots->data);
	line->len = dots->len = 0;
}

/* The band, the expected line and the value line, clipped to the plot area */
static void
draw_series(PlotBuf *b, const PlotInput *in, int n, const PlotFrame *f, const PlotSummary *sum)
{
	PlotBuf		line = {0};
	PlotBuf		dots = {0};

	corebuf_puts(b, "<g clip-path=\"url(#tripl-plot-area)\">\n");
	if (sum->have_band)
	{
		corebuf_puts(b, "<path fill=\"" COLOR_BAND "\" fill-opacity=\"0.35\" stroke=\"none\" d=\"");
		path_band(b, f, in->bucket, in->lower, in->upper, n);
		corebuf_puts(b, "\"/>\n");
	}
	if (sum->have_expected)
	{
		path_line(&line, &dots, f, in->bucket, in->expected, n);
		if (line.len > 0)
			corebuf_printf(b, "<path fill=\"none\" stroke=\"" COLOR_EXPECTED "\" stroke-width=\"1.5\" "
						"stroke-dasharray=\"5 3\" stroke-linejoin=\"round\" d=\"%s\"/>\n", line.data);
		if (dots.len > 0)
			corebuf_printf(b, "<path fill=\"none\" stroke=\"" COLOR_EXPECTED "\" stroke-width=\"3\" "
						"stroke-linecap=\"round\" d=\"%s\"/>\n", dots.data);
		line.len = dots.len = 0;
	}
	if (sum->have_value)
	{
		path_line(&line, &dots, f, in->bucket, in->value, n);
		if (line.len > 0)
			corebuf_printf(b, "<path fill=\"none\" stroke=\"" COLOR_VALUE "\" stroke-width=\"1.75\" "
						"stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"%s\"/>\n", line.data);
		if (dots.len > 0)
			corebuf_printf(b, "<path fill=\"none\" stroke=\"" COLOR_VALUE "\" stroke-width=\"4\" "
						"stroke-linecap=\"round\" d=\"%s\"/>\n", dots.data);
	}
	if (sum->have_forecast)
		draw_forecast(b, in, f, &line, &dots);
	corebuf_free(&line);
	corebuf_free(&dots);
	corebuf_puts(b, "</g>\n");
}

/*
 * Anomaly dots with tooltips, on the value (else the expected value, else
 * the top or bottom edge), at most one per 4 px cell and direction.
 */
static void
draw_anomalies(PlotBuf *b, const PlotInput *in, int n, const PlotFrame *f)
{
	int			cols = PLOT_WIDTH / 4 + 1;
	int			rows = PLOT_HEIGHT / 4 + 1;
	unsigned char *taken = core_alloc((size_t) cols * rows);
	int			i;

	corebuf_puts(b, "<g stroke=\"#ffffff\" stroke-width=\"1.5\">\n");
	for (i = 0; i < n; i++)
	{
		int			dir = anomaly_at(in, i);
		double		x;
		double		y;
		int			cell;
		unsigned char bit;
		char		xs[32];
		char		ys[32];
		char		when[64];
		char		val[40];
		char		exp[40];

		if (dir == 0)
			continue;
		x = frame_x(f, in->bucket[i]);
		if (finite_at(in->value, i))
			y = frame_y(f, in->value[i]);
		else if (finite_at(in->expected, i))
			y = frame_y(f, in->expected[i]);
		else
			y = dir > 0 ? f->top : f->bottom;
		y = fmin(fmax(y, f->top), f->bottom);
		cell = (int) (x / 4) * rows + (int) (y / 4);
		bit = dir > 0 ? 1 : 2;
		if (cell < 0 || cell >= cols * rows || (taken[cell] & bit))
			continue;
		taken[cell] |= bit;
		svg_num(xs, sizeof(xs), x);
		svg_num(ys, sizeof(ys), y);
		format_when(in, in->bucket[i], when, sizeof(when));
		format_value(finite_at(in->value, i) ? in->value[i] : NAN, val, sizeof(val));
		format_value(finite_at(in->expected, i) ? in->expected[i] : NAN, exp, sizeof(exp));
		corebuf_printf(b, "<circle cx=\"%s\" cy=\"%s\" r=\"4.5\" fill=\"%s\"><title>%s %s: %s "
					"(expected %s)</title></circle>\n", xs, ys,
					dir > 0 ? PLOT_COLOR_SPIKE : PLOT_COLOR_DROP,
					dir > 0 ? "spike" : "drop", when, val, exp);
	}
	corebuf_puts(b, "</g>\n");
	core_free(taken);
}

/*
 * Draw a series: see plot.h.
 */
char *
plot_svg(const PlotInput *in)
{
	PlotBuf		b = {0};
	PlotSummary sum;
	PlotFrame	f;
	int			n = in->n > 0 && in->bucket != NULL ? in->n : 0;
	double		yticks[PLOT_MAX_TICKS];
	double		ystep = 0;
	int			n_yticks = 0;
	int			i;

	summarise(in, n, &sum);
	if (has_data(&sum))
		n_yticks = y_ticks(&sum, yticks, &ystep);

	/* the plot area, with room on the left for the widest y label */
	f.in = in;
	f.left = 40;
	for (i = 0; i < n_yticks; i++)
	{
		char		lab[64];

		plot_format_tick(yticks[i], ystep, lab, sizeof(lab));
		f.left = fmax(f.left, 16 + text_width((int) strlen(lab), 11) + 10);
	}
	f.right = AREA_RIGHT;
	f.top = AREA_TOP;
	f.bottom = AREA_BOTTOM;
	f.y0 = n_yticks >= 2 ? yticks[0] : 0;
	f.y1 = n_yticks >= 2 ? yticks[n_yticks - 1] : 1;
	x_domain(in, n, &f);

	draw_header(&b, in, &f, &sum);
	draw_axes(&b, &f, yticks, n_yticks, ystep);
	if (!has_data(&sum))
	{
		char		x[32];

		svg_num(x, sizeof(x), (f.left + f.right) / 2);
		corebuf_printf(&b, "<text x=\"%s\" y=\"%d\" font-size=\"14\" fill=\"#888888\" "
					"text-anchor=\"middle\">no data</text>\n", x, (AREA_TOP + AREA_BOTTOM) / 2 + 5);
	}
	else
	{
		draw_series(&b, in, n, &f, &sum);
		if (sum.n_spikes > 0 || sum.n_drops > 0)
			draw_anomalies(&b, in, n, &f);
	}
	corebuf_puts(&b, "</svg>\n");
	return b.data;
}
