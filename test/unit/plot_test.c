/*-------------------------------------------------------------------------
 *
 * plot_test.c
 *	  Unit tests for the SVG plot of a series: well-formed output, escaping,
 *	  gaps, anomaly colours, nice ticks, time ticks, empty and hostile input,
 *	  and 100 000 points.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include <ctype.h>
#include <float.h>
#include <stdint.h>
#include <time.h>

#include "plot.h"

#define H CORE_USECS_PER_HOUR
#define D CORE_USECS_PER_DAY

/* 2026-03-21 00:00 UTC */
#define T0 (INT64_C(1774051200) * CORE_USECS_PER_SEC)

/* Is s a well-formed SVG: one <svg> root, balanced tags, valid entities? */
static bool
well_formed(const char *s, char *why, size_t whylen)
{
	const char *stack[256];
	size_t		lens[256];
	int			depth = 0;
	int			roots = 0;
	const char *p = s;
	size_t		n = strlen(s);

	why[0] = '\0';
	if (strncmp(s, "<svg", 4) != 0)
	{
		snprintf(why, whylen, "does not start with <svg");
		return false;
	}
	while (n > 0 && isspace((unsigned char) s[n - 1]))
		n--;
	if (n < 6 || strncmp(s + n - 6, "</svg>", 6) != 0)
	{
		snprintf(why, whylen, "does not end with </svg>");
		return false;
	}
	while (*p)
	{
		if (*p == '&')
		{
			const char *e = strchr(p, ';');
			bool		ok = false;

			if (e != NULL && e - p < 12)
			{
				if (strncmp(p, "&amp;", 5) == 0 || strncmp(p, "&lt;", 4) == 0 ||
					strncmp(p, "&gt;", 4) == 0 || strncmp(p, "&quot;", 6) == 0 ||
					strncmp(p, "&apos;", 6) == 0)
					ok = true;
				else if (p[1] == '#')
				{
					const char *q = p + 2;

					ok = q < e;
					for (; q < e; q++)
						if (!isdigit((unsigned char) *q))
							ok = false;
				}
			}
			if (!ok)
			{
				snprintf(why, whylen, "bad entity at %ld", (long) (p - s));
				return false;
			}
			p++;
			continue;
		}
		if (*p == '>')
		{
			snprintf(why, whylen, "stray > at %ld", (long) (p - s));
			return false;
		}
		if (*p != '<')
		{
			p++;
			continue;
		}
		if (p[1] == '/')
		{
			const char *name = p + 2;
			size_t		len = strcspn(name, " >");

			if (depth == 0 || lens[depth - 1] != len || strncmp(stack[depth - 1], name, len) != 0)
			{
				snprintf(why, whylen, "unbalanced close tag at %ld", (long) (p - s));
				return false;
			}
			depth--;
			p = strchr(p, '>');
			if (p == NULL)
				return false;
			p++;
		}
		else
		{
			const char *name = p + 1;
			size_t		len = strcspn(name, " />\n");
			const char *q = name + len;
			bool		in_quote = false;

			if (len == 0 || !isalpha((unsigned char) *name))
			{
				snprintf(why, whylen, "bad tag at %ld", (long) (p - s));
				return false;
			}
			for (; *q && (in_quote || *q != '>'); q++)
			{
				if (*q == '"')
					in_quote = !in_quote;
				else if (*q == '<')
				{
					snprintf(why, whylen, "< inside a tag at %ld", (long) (q - s));
					return false;
				}
			}
			if (*q != '>')
			{
				snprintf(why, whylen, "unterminated tag");
				return false;
			}
			if (depth == 0)
				roots++;
			if (q[-1] != '/')
			{
				if (depth == 256)
					return false;
				stack[depth] = name;
				lens[depth] = len;
				depth++;
			}
			p = q + 1;
		}
	}
	if (depth != 0 || roots != 1)
	{
		snprintf(why, whylen, "depth %d, roots %d at the end", depth, roots);
		return false;
	}
	return true;
}

/* Check well-formedness, printing why not */
static void
check_svg(const char *svg, const char *what)
{
	char		why[200];
	bool		ok = svg != NULL && well_formed(svg, why, sizeof(why));

	CHECK(ok, what);
	if (!ok)
		printf("#   %s\n", svg ? why : "NULL");
}

/* Does s contain "nan" or "inf" in any case? */
static bool
has_nan_or_inf(const char *s)
{
	const char *p;

	for (p = s; *p; p++)
	{
		if ((tolower((unsigned char) p[0]) == 'n' && tolower((unsigned char) p[1]) == 'a' &&
			 tolower((unsigned char) p[2]) == 'n') ||
			(tolower((unsigned char) p[0]) == 'i' && tolower((unsigned char) p[1]) == 'n' &&
			 tolower((unsigned char) p[2]) == 'f'))
			return true;
	}
	return false;
}

/* Number of non-overlapping occurrences of needle in s */
static int
count_of(const char *s, const char *needle)
{
	int			n = 0;
	size_t		len = strlen(needle);

	while ((s = strstr(s, needle)) != NULL)
	{
		n++;
		s += len;
	}
	return n;
}

/*
 * The d attribute of the first <path> whose opening tag contains marker, as
 * a core_alloc'ed string (NULL if none).
 */
static char *
path_d(const char *svg, const char *marker)
{
	const char *p = svg;

	while ((p = strstr(p, "<path")) != NULL)
	{
		const char *end = strchr(p, '>');
		const char *d;
		const char *q;
		char	   *out;

		if (end == NULL)
			return NULL;
		q = strstr(p, marker);
		if (q != NULL && q < end && (d = strstr(p, " d=\"")) != NULL && d < end)
		{
			d += 4;
			q = strchr(d, '"');
			out = core_alloc((size_t) (q - d) + 1);
			memcpy(out, d, (size_t) (q - d));
			return out;
		}
		p = end;
	}
	return NULL;
}

#define VALUE_MARK "stroke-width=\"1.75\""
#define VALUE_DOTS_MARK "stroke-width=\"4\""

/* A regular hourly series with an expected band */
typedef struct Series
{
	int			n;
	int64_t    *bucket;
	double	   *value;
	double	   *expected;
	double	   *lower;
	double	   *upper;
	bool	   *is_anomaly;
	int		   *direction;
} Series;

static Series
series_new(int n, int64_t step)
{
	Series		s;
	int			i;

	s.n = n;
	s.bucket = core_alloc(sizeof(int64_t) * (size_t) n);
	s.value = core_alloc(sizeof(double) * (size_t) n);
	s.expected = core_alloc(sizeof(double) * (size_t) n);
	s.lower = core_alloc(sizeof(double) * (size_t) n);
	s.upper = core_alloc(sizeof(double) * (size_t) n);
	s.is_anomaly = core_alloc(sizeof(bool) * (size_t) n);
	s.direction = core_alloc(sizeof(int) * (size_t) n);
	for (i = 0; i < n; i++)
	{
		double		e = 100 + 30 * sin(i * 2 * M_PI / 24);

		s.bucket[i] = T0 + i * step;
		s.expected[i] = e;
		s.value[i] = e + ((i * 7919) % 11 - 5);
		s.lower[i] = e - 15;
		s.upper[i] = e + 15;
	}
	return s;
}

static void
series_free(Series *s)
{
	core_free(s->bucket);
	core_free(s->value);
	core_free(s->expected);
	core_free(s->lower);
	core_free(s->upper);
	core_free(s->is_anomaly);
	core_free(s->direction);
}

static PlotInput
input_of(const Series *s, const char *title, const char *unit)
{
	PlotInput	in;

	memset(&in, 0, sizeof(in));
	in.n = s->n;
	in.bucket = s->bucket;
	in.value = s->value;
	in.expected = s->expected;
	in.lower = s->lower;
	in.upper = s->upper;
	in.is_anomaly = s->is_anomaly;
	in.direction = s->direction;
	in.title = title;
	in.unit = unit;
	in.window_from = s->n > 0 ? s->bucket[0] : T0;
	in.window_to = s->n > 0 ? s->bucket[s->n - 1] + H : T0 + D;
	return in;
}

/* Ticks equal to the expected list? */
static bool
ticks_are(const double *t, int n, const double *want, int nwant)
{
	int			i;

	if (n != nwant)
		return false;
	for (i = 0; i < n; i++)
		if (fabs(t[i] - want[i]) > 1e-9 * fmax(1, fabs(want[i])))
			return false;
	return true;
}

static void
test_nice_ticks(void)
{
	double		t[PLOT_MAX_TICKS];
	double		step;
	int			n;
	int			i;
	bool		ok;

	{
		static const double want[] = {0, 20, 40, 60, 80, 100};

		n = plot_nice_ticks(0, 97, 5, t, &step);
		CHECK(ticks_are(t, n, want, 6) && step == 20, "ticks 0..97: 0, 20, 40, 60, 80, 100");
	}
	{
		static const double want[] = {0, 0.2, 0.4, 0.6, 0.8, 1};

		n = plot_nice_ticks(0, 1, 5, t, &step);
		CHECK(ticks_are(t, n, want, 6), "ticks 0..1: steps of 0.2");
	}
	{
		static const double want[] = {-4, -2, 0, 2, 4, 6, 8};

		n = plot_nice_ticks(-3, 7, 5, t, &step);
		CHECK(ticks_are(t, n, want, 7) && t[2] == 0 && !signbit(t[2]), "ticks -3..7: -4..8 by 2, an exact 0");
	}
	{
		static const double want[] = {1e6, 1.5e6, 2e6, 2.5e6, 3e6, 3.5e6};

		n = plot_nice_ticks(1.1e6, 3.4e6, 5, t, &step);
		CHECK(ticks_are(t, n, want, 6), "ticks 1.1M..3.4M: by 500k");
	}
	{
		static const double want[] = {0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010};

		n = plot_nice_ticks(0.0012, 0.0097, 5, t, &step);
		CHECK(ticks_are(t, n, want, 10) || (n >= 4 && n <= 7), "ticks for small fractions");
		CHECK(n >= 2 && t[0] <= 0.0012 && t[n - 1] >= 0.0097, "... cover the range");
	}
	n = plot_nice_ticks(5, 5, 5, t, &step);
	CHECK(n >= 2 && t[0] <= 5 && t[n - 1] >= 5 && t[0] < t[n - 1], "a flat range still gets ticks around it");
	n = plot_nice_ticks(0, 0, 5, t, &step);
	CHECK(n >= 2 && t[0] <= 0 && t[n - 1] >= 0 && step > 0, "a flat zero range too");
	n = plot_nice_ticks(97, 0, 5, t, &step);
	CHECK(n == 6 && t[0] == 0 && t[5] == 100, "reversed bounds are swapped");
	CHECK(plot_nice_ticks(NAN, 1, 5, t, &step) == 0, "NaN bound: no ticks");
	CHECK(plot_nice_ticks(0, INFINITY, 5, t, &step) == 0, "infinite bound: no ticks");
	n = plot_nice_ticks(-DBL_MAX, DBL_MAX, 5, t, &step);
	ok = n >= 2 && n <= PLOT_MAX_TICKS && isfinite(step);
	for (i = 0; i < n; i++)
		ok = ok && isfinite(t[i]);
	CHECK(ok, "the whole double range: finite ticks");
	n = plot_nice_ticks(1e15, 1e15 + 1, 5, t, &step);
	ok = n >= 2 && n <= PLOT_MAX_TICKS;
	for (i = 1; i < n; i++)
		ok = ok && t[i] > t[i - 1];
	CHECK(ok, "a tiny range on a big number: increasing ticks");
	n = plot_nice_ticks(0, 1e-320, 5, t, &step);
	CHECK(n >= 2 && n <= PLOT_MAX_TICKS && step > 0, "a denormal range");
	n = plot_nice_ticks(0, 97, 0, t, &step);
	CHECK(n >= 2 && n <= PLOT_MAX_TICKS, "target 0 is taken as 1");
	n = plot_nice_ticks(0, 97, 1000, t, &step);
	CHECK(n >= 2 && n <= PLOT_MAX_TICKS, "a huge target is capped");
}

static void
test_format_tick(void)
{
	static const struct
	{
		double		v;
		double		step;
		const char *want;
	}			cases[] = {
		{0, 20, "0"},
		{20, 20, "20"},
		{200, 200, "200"},
		{1000, 200, "1k"},
		{1200, 200, "1.2k"},
		{-1500, 500, "-1.5k"},
		{3400000, 200000, "3.4M"},
		{1001000, 1000, "1.001M"},
		{2e9, 1e9, "2B"},
		{7.5e12, 5e11, "7.5T"},
		{0.25, 0.05, "0.25"},
		{0.5, 0.5, "0.5"},
		{0.001, 0.001, "0.001"},
		{999.9999999, 200, "1k"},
		{-0.0, 1, "0"},
		{1e-12, 1, "0"},
		{950, 50, "950"},
	};
	size_t		i;
	char		buf[64];
	char		what[128];

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		plot_format_tick(cases[i].v, cases[i].step, buf, sizeof(buf));
		snprintf(what, sizeof(what), "tick label %.10g by %g is %s", cases[i].v, cases[i].step, cases[i].want);
		CHECK_STR(buf, cases[i].want, what);
	}
	plot_format_tick(NAN, 1, buf, sizeof(buf));
	CHECK(!has_nan_or_inf(buf), "NaN tick label is not \"nan\"");
	plot_format_tick(INFINITY, 1, buf, sizeof(buf));
	CHECK(!has_nan_or_inf(buf), "infinite tick label is not \"inf\"");
	plot_format_tick(1e200, 1e199, buf, sizeof(buf));
	CHECK(!has_nan_or_inf(buf) && strlen(buf) < 16, "astronomic tick label: short");
}

static void
test_time_ticks(void)
{
	int64_t		t[PLOT_MAX_TICKS];
	char		lab[PLOT_MAX_TICKS][PLOT_LABEL_LEN];
	int			n;
	int			i;
	bool		ok;

	n = plot_time_ticks(T0, T0 + D, 8, t, lab);
	CHECK(n == 9 && t[1] - t[0] == 3 * H, "one day: every 3 hours");
	CHECK_STR(lab[0], "Mar 21", "... midnight shows the date");
	CHECK_STR(lab[1], "03:00", "... other ticks the time of day");
	CHECK_STR(lab[8], "Mar 22", "... and the next midnight its date");

	n = plot_time_ticks(T0 + 10 * 60 * CORE_USECS_PER_SEC, T0 + H + 10 * 60 * CORE_USECS_PER_SEC, 8, t, lab);
	CHECK(n >= 4 && n <= 8 && strcmp(lab[0], "00:10") == 0, "one hour: minutes, first 00:10");

	n = plot_time_ticks(T0 - 20 * D, T0 + 9 * D, 8, t, lab);
	ok = n >= 3 && n <= 8;
	for (i = 0; i < n; i++)
		ok = ok && (t[i] / D + 3) % 7 == 0;	/* 1970-01-01 was a Thursday */
	CHECK(ok, "a month: weekly ticks on Mondays");
	CHECK_STR(lab[0], "Mar 2", "... labelled by date");

	n = plot_time_ticks(T0 - 400 * D, T0 + 300 * D, 8, t, lab);
	CHECK(n >= 3 && n <= 8 && strstr(lab[0], " 20") != NULL, "two years: months with their year");
	CHECK(n >= 1 && strcmp(lab[0], "Apr 2025") == 0, "... from Apr 2025 (every 3 months)");

	n = plot_time_ticks(0, INT64_C(1000000000000000000), 8, t, lab);
	CHECK(n >= 3 && n <= 9 && strcmp(lab[0], "5000") == 0 && strcmp(lab[1], "10000") == 0,
		  "31 700 years: every 5000 years");

	n = plot_time_ticks(INT64_MIN, INT64_MAX, 8, t, lab);
	ok = n >= 2 && n <= PLOT_MAX_TICKS;
	for (i = 1; i < n; i++)
		ok = ok && t[i] > t[i - 1];
	CHECK(ok, "the whole int64 range: increasing ticks, no overflow");
	n = plot_time_ticks(INT64_MAX - H, INT64_MAX, 8, t, lab);
	CHECK(n >= 0 && n <= PLOT_MAX_TICKS, "the end of int64 time");
	n = plot_time_ticks(INT64_MIN, INT64_MIN + H, 8, t, lab);
	CHECK(n >= 0 && n <= PLOT_MAX_TICKS, "the start of int64 time");
	CHECK(plot_time_ticks(T0 + D, T0, 8, t, lab) == 0, "a reversed span has no ticks");
	n = plot_time_ticks(T0, T0, 8, t, lab);
	CHECK(n == 1 && t[0] == T0, "an empty span on a tick has that tick");
}

static void
test_basic(void)
{
	Series		s = series_new(72, H);
	PlotInput	in;
	char	   *svg;

	s.is_anomaly[30] = true;
	s.direction[30] = PLOT_DIRECTION_UP;
	s.value[30] = 400;
	s.is_anomaly[50] = true;
	s.direction[50] = PLOT_DIRECTION_DOWN;
	s.value[50] = 5;
	in = input_of(&s, "signups", "users");
	svg = plot_svg(&in);
	check_svg(svg, "a series with a band, a spike and a drop: well-formed");
	CHECK(strstr(svg, "viewBox=\"0 0 900 320\"") != NULL && strstr(svg, "width=\"900\" height=\"320\"") != NULL,
		  "fixed size with a viewBox");
	CHECK(strstr(svg, "font-family=\"sans-serif\"") != NULL, "generic sans-serif font");
	CHECK(strstr(svg, ">signups (users)</text>") != NULL, "title: metric (unit)");
	CHECK(strstr(svg, "2026-03-21 00:00 &#8211; 2026-03-24 00:00 UTC") != NULL, "subtitle: the window in UTC");
	CHECK(strstr(svg, "1 spike, 1 drop") != NULL, "subtitle counts the anomalies");
	CHECK(count_of(svg, "fill=\"" PLOT_COLOR_SPIKE "\"") == 2, "spike colour: the dot and its legend entry");
	CHECK(count_of(svg, "fill=\"" PLOT_COLOR_DROP "\"") == 2, "drop colour: the dot and its legend entry");
	CHECK(strstr(svg, ">spike</text>") && strstr(svg, ">drop</text>") && strstr(svg, ">value</text>") &&
		  strstr(svg, ">expected</text>") && strstr(svg, ">expected range</text>"), "legend names all five");
	CHECK(strstr(svg, "<title>spike 2026-03-22 06:00 UTC: 400 (expected") != NULL, "dots have tooltips");
	CHECK(strstr(svg, "stroke-dasharray=\"5 3\"") != NULL, "the expected line is dashed");
	CHECK(strstr(svg, "fill-opacity=\"0.35\"") != NULL, "the band is translucent");
	CHECK(strstr(svg, ">Mar 22</text>") != NULL && strstr(svg, ">12:00</text>") != NULL, "x labels: dates and hours");
	CHECK(strstr(svg, ">400</text>") != NULL && strstr(svg, ">0</text>") != NULL, "y labels 0..400");
	CHECK(strstr(svg, "<script") == NULL && strstr(svg, "href") == NULL && strstr(svg, "@font") == NULL &&
		  strstr(svg, "<image") == NULL, "self-contained: no scripts, links, fonts or images");
	CHECK(!has_nan_or_inf(svg), "no nan or inf");
	core_free(svg);

	/* no band, no expected */
	in.expected = in.lower = in.upper = NULL;
	svg = plot_svg(&in);
	check_svg(svg, "values only: well-formed");
	CHECK(strstr(svg, ">expected</text>") == NULL && strstr(svg, ">expected range</text>") == NULL,
		  "... and the legend leaves out what is not drawn");
	core_free(svg);
	series_free(&s);
}

static void
test_escaping(void)
{
	Series		s = series_new(10, H);
	PlotInput	in = input_of(&s, "<script>&\"'", "</text><script>alert(1)</script>");
	char	   *svg = plot_svg(&in);

	check_svg(svg, "hostile title and unit: well-formed");
	CHECK(strstr(svg, "<script") == NULL, "no <script> tag comes through");
	CHECK(strstr(svg, "&lt;script&gt;&amp;&quot;&#39;") != NULL, "the title is escaped");
	CHECK(strstr(svg, "(&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;)") != NULL, "the unit is escaped");
	core_free(svg);

	in.title = "Umsatz \xe2\x82\xac \x01 bad \xff\xfe end";
	in.unit = "";
	svg = plot_svg(&in);
	check_svg(svg, "non-ASCII and invalid UTF-8: well-formed");
	CHECK(strstr(svg, ">Umsatz &#8364;   bad &#65533;&#65533; end</text>") != NULL,
		  "non-ASCII as references, control characters as spaces, bad bytes as U+FFFD; empty unit left out");
	{
		const unsigned char *p;
		bool		ascii = true;

		for (p = (const unsigned char *) svg; *p; p++)
			if (*p >= 0x80)
				ascii = false;
		CHECK(ascii, "the SVG is plain ASCII");
	}
	core_free(svg);

	{
		char	   *long_title = core_alloc(5001);

		memset(long_title, 'a', 5000);
		in.title = long_title;
		in.unit = NULL;
		svg = plot_svg(&in);
		check_svg(svg, "a 5000-character title: well-formed");
		CHECK(strstr(svg, "&#8230;</text>") != NULL && strlen(svg) < 20000, "... shortened with an ellipsis");
		core_free(svg);
		core_free(long_title);
	}
	series_free(&s);
}

/* y coordinates (every second number) of a path's points */
static int
path_ys(const char *d, double *ys, int max)
{
	int			n = 0;
	int			k = 0;
	const char *p = d;

	while (*p && n < max)
	{
		char	   *end;
		double		v;

		if (!(isdigit((unsigned char) *p) || *p == '-' || *p == '.'))
		{
			p++;
			continue;
		}
		v = strtod(p, &end);
		if (k++ % 2 == 1)
			ys[n++] = v;
		p = end;
	}
	return n;
}

static void
test_gaps(void)
{
	Series		s = series_new(24, H);
	PlotInput	in;
	char	   *svg;
	char	   *d;
	double		ys[64];
	int			n;
	int			i;
	bool		flat;

	for (i = 0; i < 24; i++)
		s.value[i] = 100;
	in = input_of(&s, "gaps", NULL);
	in.expected = in.lower = in.upper = NULL;
	svg = plot_svg(&in);
	d = path_d(svg, VALUE_MARK);
	CHECK(d != NULL && count_of(d, "M") == 1, "no gaps: one subpath");
	core_free(d);
	core_free(svg);

	s.value[8] = NAN;
	s.value[9] = NAN;
	s.value[15] = NAN;
	s.value[17] = NAN;			/* 16 alone */
	svg = plot_svg(&in);
	check_svg(svg, "gaps: well-formed");
	d = path_d(svg, VALUE_MARK);
	CHECK(d != NULL && count_of(d, "M") == 3, "two gaps and a lone point: three line pieces");
	n = d ? path_ys(d, ys, 64) : 0;
	flat = n == 19;
	for (i = 1; i < n; i++)
		flat = flat && ys[i] == ys[0];
	CHECK(flat, "missing values are not drawn as 0: every point at the same height");
	core_free(d);
	d = path_d(svg, VALUE_DOTS_MARK);
	CHECK(d != NULL && count_of(d, "M") == 1 && strstr(d, "h0") != NULL, "the lone point is a dot");
	core_free(d);
	core_free(svg);

	/* a gap in the band splits it into two polygons */
	in = input_of(&s, "gaps", NULL);
	s.lower[5] = NAN;
	svg = plot_svg(&in);
	d = path_d(svg, "fill-opacity=\"0.35\"");
	CHECK(d != NULL && count_of(d, "M") == 2 && count_of(d, "Z") == 2, "a gap in the band: two polygons");
	core_free(d);
	d = path_d(svg, "stroke-dasharray=\"5 3\"");
	CHECK(d != NULL && count_of(d, "M") == 1, "the expected line has no gap");
	core_free(d);
	core_free(svg);
	series_free(&s);
}

static void
test_anomaly_colours(void)
{
	Series		s = series_new(48, H);
	PlotInput	in = input_of(&s, "colours", NULL);
	char	   *svg;

	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) == NULL && strstr(svg, PLOT_COLOR_DROP) == NULL,
		  "no anomalies: neither anomaly colour");
	CHECK(strstr(svg, "<circle") == NULL && strstr(svg, ">spike<") == NULL, "... no dots, no legend entries");
	core_free(svg);

	s.is_anomaly[10] = true;
	s.direction[10] = PLOT_DIRECTION_UP;
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) != NULL && strstr(svg, PLOT_COLOR_DROP) == NULL,
		  "a spike only: red, no blue");
	core_free(svg);

	s.is_anomaly[10] = false;
	s.is_anomaly[20] = true;
	s.direction[20] = PLOT_DIRECTION_DOWN;
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) == NULL && strstr(svg, PLOT_COLOR_DROP) != NULL,
		  "a drop only: blue, no red");
	core_free(svg);

	s.is_anomaly[10] = true;
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) != NULL && strstr(svg, PLOT_COLOR_DROP) != NULL, "both: both colours");
	core_free(svg);

	/* direction without is_anomaly: an anomaly; unknown direction: judged */
	s.is_anomaly[10] = s.is_anomaly[20] = false;
	s.direction[10] = PLOT_DIRECTION_NONE;
	s.direction[20] = PLOT_DIRECTION_NONE;
	s.is_anomaly[30] = true;
	s.value[30] = s.expected[30] - 50;
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_DROP) != NULL && strstr(svg, PLOT_COLOR_SPIKE) == NULL,
		  "unknown direction below expected: a drop");
	core_free(svg);
	in.is_anomaly = NULL;
	s.direction[5] = PLOT_DIRECTION_UP;
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) != NULL && strstr(svg, PLOT_COLOR_DROP) == NULL,
		  "without is_anomaly, a direction marks an anomaly");
	core_free(svg);

	/* an anomaly on a missing value is still shown */
	in.is_anomaly = s.is_anomaly;
	s.is_anomaly[30] = false;
	s.direction[5] = 0;
	s.is_anomaly[40] = true;
	s.direction[40] = PLOT_DIRECTION_DOWN;
	s.value[40] = NAN;
	s.expected[40] = NAN;
	svg = plot_svg(&in);
	check_svg(svg, "an anomaly without value or expected: well-formed");
	CHECK(count_of(svg, "<circle") == 2, "... its dot is drawn (at the edge)");
	core_free(svg);
	series_free(&s);
}

static void
test_empty(void)
{
	PlotInput	in;
	Series		s = series_new(10, H);
	char	   *svg;
	int			i;

	memset(&in, 0, sizeof(in));
	in.title = "empty";
	in.window_from = T0;
	in.window_to = T0 + D;
	svg = plot_svg(&in);
	check_svg(svg, "no buckets: well-formed");
	CHECK(strstr(svg, ">no data</text>") != NULL, "... says no data");
	CHECK(strstr(svg, ">06:00</text>") != NULL, "... with the window's time axis");
	core_free(svg);

	for (i = 0; i < 10; i++)
		s.value[i] = s.expected[i] = s.lower[i] = s.upper[i] = NAN;
	in = input_of(&s, "all null", "ms");
	svg = plot_svg(&in);
	check_svg(svg, "only NULLs: well-formed");
	CHECK(strstr(svg, ">no data</text>") != NULL && strstr(svg, "<path") == NULL, "... says no data, draws no line");
	core_free(svg);

	in.value = in.expected = in.lower = in.upper = NULL;
	in.is_anomaly = NULL;
	in.direction = NULL;
	in.title = NULL;
	in.unit = NULL;
	svg = plot_svg(&in);
	check_svg(svg, "NULL arrays and title: well-formed");
	core_free(svg);

	memset(&in, 0, sizeof(in));
	in.window_from = T0;
	in.window_to = T0;
	svg = plot_svg(&in);
	check_svg(svg, "an empty window: well-formed");
	core_free(svg);
	in.window_from = INT64_MAX;
	in.window_to = INT64_MIN;
	svg = plot_svg(&in);
	check_svg(svg, "a reversed window at the ends of time: well-formed");
	CHECK(!has_nan_or_inf(svg), "... no nan or inf");
	core_free(svg);
	series_free(&s);
}

static void
test_hostile_numbers(void)
{
	static const double nasty[] = {NAN, INFINITY, -INFINITY, DBL_MAX, -DBL_MAX, 1e308, -1e-308,
	DBL_MIN, 0, -0.0, 5e-324, 1e15, 42};
	int			nn = (int) (sizeof(nasty) / sizeof(nasty[0]));
	Series		s = series_new(60, H);
	PlotInput	in;
	char	   *svg;
	int			i;
	int			k;
	bool		ok = true;
	bool		clean = true;

	for (k = 0; k < 8; k++)
	{
		for (i = 0; i < 60; i++)
		{
			s.value[i] = nasty[(i + k) % nn];
			s.expected[i] = nasty[(i * 3 + k) % nn];
			s.lower[i] = nasty[(i * 5 + k) % nn];
			s.upper[i] = nasty[(i * 7 + k) % nn];
			s.is_anomaly[i] = (i + k) % 4 == 0;
			s.direction[i] = (i % 3) - 1;
		}
		in = input_of(&s, "nasty", NULL);
		svg = plot_svg(&in);
		{
			char		why[200];

			if (!well_formed(svg, why, sizeof(why)))
			{
				ok = false;
				printf("# round %d: %s\n", k, why);
			}
		}
		if (has_nan_or_inf(svg))
			clean = false;
		core_free(svg);
	}
	CHECK(ok, "NaN, infinities, DBL_MAX, denormals: well-formed");
	CHECK(clean, "... and never \"nan\" or \"inf\" in the SVG");

	for (i = 0; i < 60; i++)
	{
		s.value[i] = i % 2 ? INFINITY : NAN;
		s.expected[i] = s.lower[i] = s.upper[i] = -INFINITY;
	}
	in = input_of(&s, "all missing", NULL);
	svg = plot_svg(&in);
	CHECK(strstr(svg, ">no data</text>") != NULL && !has_nan_or_inf(svg), "only infinities and NaN: no data");
	core_free(svg);

	/* buckets at the ends of int64 time */
	for (i = 0; i < 60; i++)
	{
		s.value[i] = i;
		s.bucket[i] = i < 30 ? INT64_MIN + i : INT64_MAX - (59 - i);
	}
	in = input_of(&s, "ends of time", NULL);
	in.window_from = INT64_MIN;
	in.window_to = INT64_MAX;
	svg = plot_svg(&in);
	check_svg(svg, "buckets at the ends of int64 time: well-formed");
	CHECK(!has_nan_or_inf(svg), "... no nan or inf");
	core_free(svg);

	/* one bucket */
	in = input_of(&s, "one", NULL);
	in.n = 1;
	s.bucket[0] = T0;
	s.value[0] = 7;
	svg = plot_svg(&in);
	check_svg(svg, "a single bucket: well-formed");
	CHECK(strstr(svg, "h0\"") != NULL, "... drawn as a dot");
	core_free(svg);
	series_free(&s);
}

static void
test_huge(void)
{
	int			n = 100000;
	Series		s = series_new(n, CORE_USECS_PER_MINUTE);
	PlotInput	in;
	char	   *svg;
	clock_t		t0 = clock();
	double		secs;
	size_t		len;
	int			i;

	for (i = 0; i < n; i++)
	{
		if (i % 997 == 0)
			s.value[i] = NAN;
		if (i % 1000 == 500)
		{
			s.is_anomaly[i] = true;
			s.direction[i] = i % 2000 == 500 ? PLOT_DIRECTION_UP : PLOT_DIRECTION_DOWN;
			s.value[i] = s.direction[i] > 0 ? 300 : 1;
		}
	}
	in = input_of(&s, "huge", "req/s");
	svg = plot_svg(&in);
	len = strlen(svg);
	check_svg(svg, "100 000 points: well-formed");
	printf("# 100 000 points: %zu bytes\n", len);
	CHECK(len < 400000, "... thinned to a small SVG");
	CHECK(strstr(svg, PLOT_COLOR_SPIKE) != NULL && strstr(svg, PLOT_COLOR_DROP) != NULL,
		  "... spikes and drops survive thinning");
	CHECK(strstr(svg, "<title>spike") != NULL && strstr(svg, "<title>drop") != NULL, "... with their tooltips");
	core_free(svg);

	/* every other value missing */
	for (i = 0; i < n; i++)
	{
		s.value[i] = i % 2 ? NAN : 100 + (i % 50);
		s.is_anomaly[i] = i % 3 == 0;
		s.direction[i] = i % 2 ? 1 : -1;
	}
	svg = plot_svg(&in);
	len = strlen(svg);
	check_svg(svg, "100 000 points, every other missing, a third anomalies: well-formed");
	printf("# alternating gaps: %zu bytes\n", len);
	CHECK(len < 4000000, "... size stays bounded");
	core_free(svg);

	secs = (double) (clock() - t0) / CLOCKS_PER_SEC;
	printf("# huge inputs took %.3f s\n", secs);
	CHECK(secs < 5.0, "huge inputs finish quickly");
	series_free(&s);
}

/*
 * The forecast tail: 24 hourly buckets after a 72-hour series (2026-03-21
 * 00:00 to 03-23 23:00), drawn as a shaded band and a dashed line in the
 * forecast colour, named in the legend; the x axis reaches 03-24 23:00, so
 * it has a "Mar 24" tick that the series alone does not.  A tail without
 * a finite number is not drawn.
 */
static void
test_forecast_tail(void)
{
	Series		s = series_new(72, H);
	int			nf = 24;
	int64_t    *fb = core_alloc(sizeof(int64_t) * (size_t) nf);
	double	   *fe = core_alloc(sizeof(double) * (size_t) nf);
	double	   *fl = core_alloc(sizeof(double) * (size_t) nf);
	double	   *fu = core_alloc(sizeof(double) * (size_t) nf);
	PlotInput	in;
	char	   *svg;
	int			i;

	for (i = 0; i < nf; i++)
	{
		fb[i] = T0 + (int64_t) (72 + i) * H;
		fe[i] = 100 + 30 * sin((72 + i) * 2 * M_PI / 24);
		fl[i] = fe[i] - 15;
		fu[i] = fe[i] + 15;
	}
	in = input_of(&s, "signups", NULL);
	svg = plot_svg(&in);
	CHECK(strstr(svg, PLOT_COLOR_FORECAST) == NULL && strstr(svg, ">forecast</text>") == NULL,
		  "no tail: no forecast colour, no legend entry");
	CHECK(strstr(svg, ">Mar 24</text>") == NULL, "no tail: the axis ends with the series");
	core_free(svg);

	in.n_forecast = nf;
	in.forecast_bucket = fb;
	in.forecast_expected = fe;
	in.forecast_lower = fl;
	in.forecast_upper = fu;
	svg = plot_svg(&in);
	check_svg(svg, "a series with a forecast tail: well-formed");
	CHECK(count_of(svg, PLOT_COLOR_FORECAST) == 4,
		  "the forecast colour: its band, its line and the legend's swatch and line");
	CHECK(strstr(svg, "fill=\"" PLOT_COLOR_FORECAST "\" fill-opacity=\"0.2\" stroke=\"none\" d=\"M") != NULL,
		  "the tail's band is shaded");
	CHECK(strstr(svg, "stroke=\"" PLOT_COLOR_FORECAST "\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"") != NULL,
		  "the tail's expected line is dashed");
	CHECK(strstr(svg, ">forecast</text>") != NULL, "the legend names the forecast");
	CHECK(strstr(svg, ">Mar 24</text>") != NULL, "the x axis reaches the tail's end");
	CHECK(!has_nan_or_inf(svg), "tail: no nan or inf");
	core_free(svg);

	for (i = 0; i < nf; i++)
		fe[i] = fl[i] = fu[i] = NAN;
	svg = plot_svg(&in);
	CHECK(strstr(svg, ">forecast</text>") == NULL && count_of(svg, PLOT_COLOR_FORECAST) == 0,
		  "a tail without numbers is not drawn");
	core_free(svg);
	core_free(fb);
	core_free(fe);
	core_free(fl);
	core_free(fu);
	series_free(&s);
}

/* Run every test */
int
main(void)
{
	test_nice_ticks();
	test_format_tick();
	test_time_ticks();
	test_basic();
	test_escaping();
	test_gaps();
	test_anomaly_colours();
	test_empty();
	test_hostile_numbers();
	test_huge();
	test_forecast_tail();
	return unit_done();
}
