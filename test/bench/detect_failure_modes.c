/*-------------------------------------------------------------------------
 *
 * detect_failure_modes.c
 *	  The detector on series shaped like real failure modes,
 *	  replayed the way production runs it and scored per incident.
 *
 *	  Seeded synthetic series, one case per failure mode:
 *	    1. lasting conditions on 5-minute grids: a level shift up (1 day)
 *	       and down (8 h) and a flat line (a stuck value, 1 day) on a gauge
 *	       with a daily wave, an outage (4 h of zeros) on a request count;
 *	    2. an offset-scale series: a temperature near 74 with noise of
 *	       0.7..1.3, failures of 4..6 degrees up and down;
 *	    3. a quantised CPU-like series stepping between 0.066 and 0.134
 *	       (steps are normal, a runaway at 0.6..0.9 is the incident), and a
 *	       daily batch job (a count) that runs 15 minutes late one night
 *	       (no incident) and does not run the next (the incident);
 *	    4. zero-baseline bursty series (mostly 0, occasional bursts; the
 *	       incident is an hour-long burst storm), as a count and as a value;
 *	    5. ramps: a taxi-demand-like value series on 30-minute buckets
 *	       (steep daily ramps, strictly monotonic runs) collapsing to 40 %
 *	       in the middle of its morning ramp, the same with a holiday, and
 *	       a memory-leak-like hourly gauge rising steadily for a day and
 *	       collapsing at a restart;
 *	    6. daily series with a weekly pattern and two months of history: a
 *	       holiday-like one-day drop, single days of +40 % and -40 %.
 *	  The detector's series are count-shaped where the metric would be a
 *	  count in tripl (defs_count_shaped: count, count_distinct, a single
 *	  event composition) and fractional otherwise (gauges, averages, sums
 *	  and sql metrics), as production would pass them.
 *
 *	  Replay: one detect_run pass per new point, each over the history
 *	  a detection pass loads (max(14, 3 x the longest phase period) buckets,
 *	  + 30 on daily grids, before a 30-bucket re-evaluation window: 3 weeks
 *	  at 5 minutes), with
 *	  default settings (sigma 4, settling 120 min) and the persist rule (a
 *	  pass replaces the stored anomalies of its window except suppressed
 *	  ranges).  A bucket counts as flagged when some pass stored it as an
 *	  anomaly (each would have raised an alert), and is detected when the
 *	  first such pass runs in production (pass_time: the end of its newest
 *	  judged bucket plus the settling time).  The plain z-score
 *	  (|z| >= 3 over the previous 14 points, as detect_quality.c) is causal
 *	  by construction: a flag at bucket i is known at its end.
 *
 *	  Scoring, per incident over the scored stretch of each series: an
 *	  incident's window is its labelled buckets plus a tolerance after it
 *	  (1 h on 5/30-minute and hourly grids, 1 bucket on daily ones);
 *	  found = some flag in its window; flags/inc = flags in the windows per
 *	  incident; after/inc = flags outside every window in the day (daily
 *	  grid: week) after a window, per incident (the condition is over: each
 *	  is a page too many); false incidents = runs of flags outside every
 *	  window, flags no more than the tolerance apart being one run;
 *	  time to detect = from the incident's first bucket to its detection;
 *	  unjudged = scored-stretch buckets no pass scored (volume gate, the
 *	  ramp deferral).  Then the CPU time of one pass over 3 weeks of
 *	  5-minute buckets (6 078 points: 6 048 of history and the window) for
 *	  a few series shapes, and over all the 5-minute passes of the replay.
 *
 *	  Standalone: build with
 *	    gcc -std=gnu99 -O2 -Isrc/core test/bench/detect_failure_modes.c \
 *	        src/core/detect_*.c src/core/stl.c src/core/order.c src/core/core.c -lm -o /tmp/detect_failure_modes
 *	  and run it with no argument (-v adds a line per series, -f 13t runs
 *	  families 1 and 3 and the pass times only).  It prints
 *	  figures only and exits 0 unless something crashes.  It takes a few
 *	  minutes: each 5-minute pass sorts and decomposes 3 weeks of points.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect_core.h"
#include "detect_bench_common.h"

#define WINDOW			30		/* the trailing re-evaluation window of a pass */
#define MAX_LABELS		4
#define MAX_SERIES		32
#define START_BUCKET	INT64_C(1704067200000000)	/* 2024-01-01, a Monday */
#define MINUTE			CORE_USECS_PER_MINUTE
#define FIVE_MINUTES	(5 * CORE_USECS_PER_MINUTE)
#define HALF_HOUR		(30 * CORE_USECS_PER_MINUTE)
#define HOUR			CORE_USECS_PER_HOUR
#define DAY				CORE_USECS_PER_DAY
#define TIMING_PASSES	15		/* passes timed per shape */
#define MAX_TIMED		20000	/* 5-minute replay passes whose time is kept */
#define MAX_SHOWN		6		/* false incidents listed per series (-v) */

/* A labelled incident: buckets [start, end) */
typedef struct Label
{
	int			start;
	int			end;
} Label;

/* One generated series and its labels */
typedef struct FmSeries
{
	int			n;
	int64_t    *buckets;
	double	   *values;
	int64_t		width;
	bool		count_shaped;
	int			score_from;		/* scored stretch [score_from, score_to) */
	int			score_to;
	int			n_labels;
	Label		labels[MAX_LABELS];
} FmSeries;

typedef void (*Generator) (FmSeries *s, uint64_t *rng, int index);

/* One row pair of the table */
typedef struct Case
{
	const char *family;
	const char *name;
	const char *grid;
	int			n_series;
	uint64_t	seed;
	Generator	generate;
} Case;

/* What one detector did on one case */
typedef struct Tally
{
	int			series;
	int			incidents;
	int			found;
	int			false_incidents;
	long		flags_in;
	long		flags_after;
	long		flags;
	long		stored;			/* flags stored after the last pass */
	long		scored;			/* buckets of the scored stretches */
	long		unjudged;
	int			n_ttd;
	double		ttd[MAX_SERIES * MAX_LABELS];	/* minutes */
} Tally;

/* What one replay produced for a series */
typedef struct Verdicts
{
	bool	   *flag;			/* flagged by some pass */
	int64_t    *detected_at;	/* when that pass runs (pass_time) */
	bool	   *judged;			/* scored by some pass */
	DetectRow  *first;			/* the row of the first pass that flagged it */
	DetectRow  *largest;		/* the scored row of largest |z| over the passes */
	int			stored;			/* flags stored after the last pass */
} Verdicts;

static bool verbose = false;
static double timed_ms[MAX_TIMED];
static int n_timed = 0;

/* CPU milliseconds of this process */
static double
cpu_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

/* Buckets per day of a width */
static int
per_day(int64_t width)
{
	return (int) (DAY / width);
}

/* The tolerance after a label (also the merge gap of false incidents) */
static int
tolerance(int64_t width)
{
	return width >= DAY ? 1 : (int) (HOUR / width > 2 ? HOUR / width : 2);
}

/* The span after a window whose flags count as "after the condition" */
static int
after_span(int64_t width)
{
	return width >= DAY ? 7 : per_day(width);
}

/*
 * History a pass loads before its window: max(14, 3 x the longest period),
 * plus the window where it spans a longest period (daily grids here), so
 * that its oldest bucket has as many phase partners as its newest had
 */
static int
history_buckets(int64_t width)
{
	int			periods[DETECT_MAX_PHASE_PERIODS];
	int			n = detect_phase_periods(width, periods);
	int			h = n > 0 ? 3 * periods[0] : 0;

	return (h > 14 ? h : 14) + (n > 0 && periods[0] <= WINDOW ? WINDOW : 0);
}

/*
 * When a pass whose newest bucket is newest runs, as production runs it: its
 * newest judged bucket (the settling buckets after it are withheld) is
 * complete and settled.  A replayed pass stands for the first production
 * pass that judges what it judges: the end of its newest judged bucket plus
 * the settling time (the end of the newest bucket itself on grids whose
 * settling is a whole number of buckets, 2 h 05 min after a 5-minute
 * bucket's start; 1 d 02 h after a day's start, not the end of the next day).
 */
static int64_t
pass_time(const FmSeries *s, int newest, const DetectSettings *settings)
{
	int64_t		settling = (int64_t) settings->settling_minutes * MINUTE;
	int64_t		withheld = (settling + s->width - 1) / s->width;

	return s->buckets[newest] + s->width - withheld * s->width + settling;
}

/* Allocate a series of n buckets of width from START_BUCKET */
static void
series_alloc(FmSeries *s, int n, int64_t width, bool count_shaped)
{
	int			i;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->width = width;
	s->count_shaped = count_shaped;
	s->buckets = (int64_t *) core_alloc(sizeof(int64_t) * (size_t) n);
	s->values = (double *) core_alloc(sizeof(double) * (size_t) n);
	for (i = 0; i < n; i++)
		s->buckets[i] = START_BUCKET + (int64_t) i * width;
}

/* Free a series */
static void
series_free(FmSeries *s)
{
	core_free(s->buckets);
	core_free(s->values);
}

/* Add a label [start, end) */
static void
add_label(FmSeries *s, int start, int end)
{
	s->labels[s->n_labels].start = start;
	s->labels[s->n_labels].end = end;
	s->n_labels++;
}

/* Index of day d, hh:mm on a series of width */
static int
at(int64_t width, int day, int hour, int minute)
{
	return (int) (((int64_t) day * DAY + (int64_t) hour * HOUR + (int64_t) minute * MINUTE) / width);
}

/* Daily wave in [-1, 1] peaking at peak_hour */
static double
daily_wave(int64_t bucket_offset_us, double peak_hour)
{
	double		hour = (double) (bucket_offset_us % DAY) / (double) HOUR;

	return cos(2.0 * M_PI * (hour - peak_hour) / 24.0);
}

/*
 * Family 1: a gauge with a daily wave (values 25..75 or so, noise sd 1..3,
 * like NAB's art_daily series), 22 days of history, the condition starts at
 * 00:00 of day 22; the scored stretch is 6 h before it to a day after it.
 * kind 0: level x1.4..1.6 for a day, 1: level x0.5..0.6 for 8 h, 2: flat
 * (the last value repeated exactly) for a day.
 */
static void
generate_gauge_condition(FmSeries *s, uint64_t *rng, int kind)
{
	int64_t		w = FIVE_MINUTES;
	int			start = at(w, 22, 0, 0);
	int			length = kind == 1 ? at(w, 0, 8, 0) : per_day(w);
	double		base = uniform_between(rng, 40.0, 60.0);
	double		amplitude = base * uniform_between(rng, 0.3, 0.5);
	double		noise = uniform_between(rng, 1.0, 3.0);
	double		peak = uniform_between(rng, 12.0, 18.0);
	double		factor = kind == 0 ? uniform_between(rng, 1.4, 1.6) : uniform_between(rng, 0.5, 0.6);
	int			end = start + length;
	int			i;

	series_alloc(s, end + per_day(w) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
	{
		double		v = base + amplitude * daily_wave(s->buckets[i] - START_BUCKET, peak);

		if (kind != 2 && i >= start && i < end)
			v *= factor;
		v += noise * normal(rng);
		if (kind == 2 && i >= start && i < end)
			v = s->values[start - 1];
		s->values[i] = v;
	}
	s->score_from = start - at(w, 0, 6, 0);
	s->score_to = end + per_day(w);
	add_label(s, start, end);
}

static void
gen_level_up(FmSeries *s, uint64_t *rng, int index)
{
	(void) index;
	generate_gauge_condition(s, rng, 0);
}

static void
gen_level_down(FmSeries *s, uint64_t *rng, int index)
{
	(void) index;
	generate_gauge_condition(s, rng, 1);
}

static void
gen_flat(FmSeries *s, uint64_t *rng, int index)
{
	(void) index;
	generate_gauge_condition(s, rng, 2);
}

/*
 * Family 1: requests per 5 minutes (~150..600, daily wave), 4 h of zeros
 * from 08:00..14:00 on day 22.  Scored: 6 h before to a day after.
 */
static void
gen_outage(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = FIVE_MINUTES;
	int			start = at(w, 22, uniform_int(rng, 8, 14), 0);
	int			end = start + at(w, 0, 4, 0);
	double		level = uniform_between(rng, 300.0, 500.0);
	double		amplitude = uniform_between(rng, 0.3, 0.6);
	int			i;

	(void) index;
	series_alloc(s, end + per_day(w) + WINDOW, w, true);
	for (i = 0; i < s->n; i++)
		s->values[i] = (i >= start && i < end) ? 0.0 :
			poisson(rng, level * (1.0 + amplitude * daily_wave(s->buckets[i] - START_BUCKET, 15.0)));
	s->score_from = start - at(w, 0, 6, 0);
	s->score_to = end + per_day(w);
	add_label(s, start, end);
}

/*
 * Family 2: a temperature near 74 (daily wave of 1..2 degrees, AR(1) noise
 * phi 0.5 with a marginal sd of 0.7..1.3); day 22 holds a rise of +4..6
 * degrees for 30 min..2 h in the morning and a fall of 4..6 degrees for
 * 1..3 h in the afternoon.  Scored: day 22.
 */
static void
gen_temperature(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = FIVE_MINUTES;
	double		level = uniform_between(rng, 72.0, 76.0);
	double		amplitude = uniform_between(rng, 1.0, 2.0);
	double		sd = uniform_between(rng, 0.7, 1.3);
	double		phi = 0.5;
	double		innovation = sd * sqrt(1.0 - phi * phi);
	double		noise = 0.0;
	int			up = at(w, 22, uniform_int(rng, 6, 9), 0);
	int			up_end = up + uniform_int(rng, 6, 24);
	int			down = at(w, 22, uniform_int(rng, 14, 17), 0);
	int			down_end = down + uniform_int(rng, 12, 36);
	double		rise = uniform_between(rng, 4.0, 6.0);
	double		fall = uniform_between(rng, 4.0, 6.0);
	int			i;

	(void) index;
	series_alloc(s, at(w, 23, 0, 0) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
	{
		double		v = level + amplitude * daily_wave(s->buckets[i] - START_BUCKET, 15.0);

		noise = phi * noise + innovation * normal(rng);
		v += noise;
		if (i >= up && i < up_end)
			v += rise;
		if (i >= down && i < down_end)
			v -= fall;
		s->values[i] = v;
	}
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 23, 0, 0);
	add_label(s, up, up_end);
	add_label(s, down, down_end);
}

/*
 * Family 3: CPU utilisation quantised to steps of 0.066: mostly 0.066,
 * stepping to 0.134 (a Markov chain: 6 h mean dwell low, 1 h high) and
 * single buckets of 0.2 (1 %); the incident is a runaway at 0.6..0.9 for
 * an hour on day 22.  Scored: day 22.
 */
static void
gen_cpu(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = FIVE_MINUTES;
	int			start = at(w, 22, uniform_int(rng, 4, 20), 0);
	int			end = start + 12;
	bool		high = false;
	int			i;

	(void) index;
	series_alloc(s, at(w, 23, 0, 0) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
	{
		double		v;

		if (high ? uniform(rng) < 1.0 / 12.0 : uniform(rng) < 1.0 / 72.0)
			high = !high;
		v = high ? 0.134 : 0.066;
		if (uniform(rng) < 0.01)
			v = 0.2;
		if (i >= start && i < end)
			v = 0.066 * uniform_int(rng, 9, 13);
		s->values[i] = v;
	}
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 23, 0, 0);
	add_label(s, start, end);
}

/*
 * Family 3: rows written per 5 minutes: a background of ~80 (daily wave
 * +-30 %) and a nightly batch job writing ~3000 + ~1500 rows in the two
 * buckets from 02:00 (02:05 one night in seven, at random).  On day 22 it
 * runs at 02:15 (late: no incident); on day 23 it does not run (the
 * incident: its two buckets).  Scored: day 22 00:00 to day 23 06:00.
 */
static void
gen_batch(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = FIVE_MINUTES;
	int			day,
				i;
	int			days = 24;

	(void) index;
	series_alloc(s, at(w, 23, 6, 0) + WINDOW, w, true);
	for (i = 0; i < s->n; i++)
		s->values[i] = poisson(rng, 80.0 * (1.0 + 0.3 * daily_wave(s->buckets[i] - START_BUCKET, 14.0)));
	for (day = 0; day < days; day++)
	{
		int			run = at(w, day, 2, 0);

		if (day == 23)
			continue;
		if (day == 22)
			run += 3;
		else if (uniform(rng) < 1.0 / 7.0)
			run += 1;
		if (run + 1 < s->n)
		{
			s->values[run] += poisson(rng, 3000.0);
			s->values[run + 1] += poisson(rng, 1500.0);
		}
	}
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 23, 6, 0);
	add_label(s, at(w, 23, 2, 0), at(w, 23, 2, 10));
}

/*
 * Family 4: mostly zero; a burst in 3 % of the buckets (a count: 1 +
 * Poisson(2); a value: 1 + exponential(20)); the incident is an hour-long
 * storm on day 22 (90 % of the buckets, 5 + Poisson(15), or 20 +
 * exponential(100)).  Scored: day 22.
 */
static void
generate_bursty(FmSeries *s, uint64_t *rng, bool count_shaped)
{
	int64_t		w = FIVE_MINUTES;
	int			start = at(w, 22, uniform_int(rng, 4, 20), 0);
	int			end = start + 12;
	int			i;

	series_alloc(s, at(w, 23, 0, 0) + WINDOW, w, count_shaped);
	for (i = 0; i < s->n; i++)
	{
		bool		storm = i >= start && i < end;
		double		v = 0.0;

		if (uniform(rng) < (storm ? 0.9 : 0.03))
		{
			if (count_shaped)
				v = storm ? 5.0 + poisson(rng, 15.0) : 1.0 + poisson(rng, 2.0);
			else
				v = storm ? 20.0 - 100.0 * log(1.0 - uniform(rng)) : 1.0 - 20.0 * log(1.0 - uniform(rng));
		}
		s->values[i] = v;
	}
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 23, 0, 0);
	add_label(s, start, end);
}

static void
gen_bursty_count(FmSeries *s, uint64_t *rng, int index)
{
	(void) index;
	generate_bursty(s, rng, true);
}

static void
gen_bursty_value(FmSeries *s, uint64_t *rng, int index)
{
	(void) index;
	generate_bursty(s, rng, false);
}

/* Taxi-like demand profile in (0, 1.2]: night trough, morning ramp, evening peak */
static double
taxi_profile(int64_t offset_us)
{
	double		hour = (double) (offset_us % DAY) / (double) HOUR;
	int			weekday = (int) ((offset_us / DAY) % 7);
	double		morning = exp(-0.5 * pow((hour - 8.5) / 1.5, 2.0));
	double		evening = exp(-0.5 * pow((hour - 19.0) / 2.5, 2.0));
	double		day = exp(-0.5 * pow((hour - 14.0) / 5.0, 2.0));
	double		v = 0.15 + 0.45 * morning + 0.6 * evening + 0.5 * day;

	if (weekday >= 5)
		v = 0.2 + 0.3 * exp(-0.5 * pow((hour - 1.0) / 2.0, 2.0)) +
			0.7 * exp(-0.5 * pow((hour - 15.0) / 4.0, 2.0));
	return v;
}

/*
 * Family 5: taxi-like demand per 30 minutes (a value series: level
 * 10000..20000 x profile, noise sd 2 %), 22 days of history.  index even:
 * on day 23 (a Tuesday) demand collapses to 40 % from 07:00 for 3 h, in
 * the middle of the morning ramp; odd: day 23 is a holiday at 55 %.
 * Scored: days 22..24.
 */
static void
gen_taxi(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = HALF_HOUR;
	double		level = uniform_between(rng, 10000.0, 20000.0);
	int			start = index % 2 == 0 ? at(w, 23, 7, 0) : at(w, 23, 0, 0);
	int			end = index % 2 == 0 ? start + 6 : at(w, 24, 0, 0);
	double		factor = index % 2 == 0 ? 0.4 : 0.55;
	int			i;

	series_alloc(s, at(w, 25, 0, 0) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
	{
		double		v = level * taxi_profile(s->buckets[i] - START_BUCKET) * (1.0 + 0.02 * normal(rng));

		if (i >= start && i < end)
			v *= factor;
		s->values[i] = v;
	}
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 25, 0, 0);
	add_label(s, start, end);
}

/*
 * Family 5: memory use in % per hour: ~40 (daily wave of 1, noise sd 0.3);
 * on day 22 from a random hour it rises 1..1.5 points an hour for 24 h and
 * falls back at a restart.  The incident is the ramp and its collapse.
 * Scored: day 21 to day 24.
 */
static void
gen_leak(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = HOUR;
	int			start = at(w, 22, uniform_int(rng, 0, 23), 0);
	int			end = start + 24;
	double		slope = uniform_between(rng, 1.0, 1.5);
	int			i;

	(void) index;
	series_alloc(s, at(w, 24, 0, 0) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
	{
		double		v = 40.0 + daily_wave(s->buckets[i] - START_BUCKET, 14.0) + 0.3 * normal(rng);

		if (i >= start && i < end)
			v += slope * (double) (i - start + 1);
		s->values[i] = v;
	}
	s->score_from = at(w, 21, 0, 0);
	s->score_to = at(w, 24, 0, 0);
	add_label(s, start, end + 1);
}

/*
 * Family 6: a daily metric with a weekly pattern (weekday factors
 * 0.9..1.1, weekends 0.5..0.8) and multiplicative noise of 4..8 %, 60 days
 * of history, 28 scored days, one incident on a scored day (days 3..20 of
 * them): kind 0 a holiday at 35..50 %, 1 a day at +40..50 %, 2 a day at
 * -40..-45 %.  Even series are counts (signups: ~2000 a day, Poisson on
 * top), odd ones values (revenue: ~50000).
 */
static void
generate_daily(FmSeries *s, uint64_t *rng, int index, int kind)
{
	int64_t		w = DAY;
	bool		count_shaped = index % 2 == 0;
	double		level = count_shaped ? uniform_between(rng, 1000.0, 3000.0) : uniform_between(rng, 30000.0, 80000.0);
	double		noise = uniform_between(rng, 0.04, 0.08);
	double		weekly[7];
	int			day = 60 + uniform_int(rng, 3, 20);
	double		factor = kind == 0 ? uniform_between(rng, 0.35, 0.5) :
		kind == 1 ? uniform_between(rng, 1.4, 1.5) : uniform_between(rng, 0.55, 0.6);
	int			i;

	for (i = 0; i < 7; i++)
		weekly[i] = i < 5 ? uniform_between(rng, 0.9, 1.1) : uniform_between(rng, 0.5, 0.8);
	series_alloc(s, 88 + WINDOW, w, count_shaped);
	for (i = 0; i < s->n; i++)
	{
		double		m = level * weekly[i % 7] * (1.0 + noise * normal(rng));

		if (i == day)
			m *= factor;
		s->values[i] = count_shaped ? poisson(rng, m) : m;
	}
	s->score_from = 60;
	s->score_to = 88;
	add_label(s, day, day + 1);
}

static void
gen_holiday(FmSeries *s, uint64_t *rng, int index)
{
	generate_daily(s, rng, index, 0);
}

static void
gen_daily_up(FmSeries *s, uint64_t *rng, int index)
{
	generate_daily(s, rng, index, 1);
}

static void
gen_daily_down(FmSeries *s, uint64_t *rng, int index)
{
	generate_daily(s, rng, index, 2);
}

/* Allocate the verdicts of a series */
static void
verdicts_alloc(Verdicts *v, int n)
{
	v->flag = (bool *) core_alloc(sizeof(bool) * (size_t) n);
	v->detected_at = (int64_t *) core_alloc(sizeof(int64_t) * (size_t) n);
	v->judged = (bool *) core_alloc(sizeof(bool) * (size_t) n);
	v->first = (DetectRow *) core_alloc(sizeof(DetectRow) * (size_t) n);
	v->largest = (DetectRow *) core_alloc(sizeof(DetectRow) * (size_t) n);
	v->stored = 0;
}

/* Free verdicts */
static void
verdicts_free(Verdicts *v)
{
	core_free(v->flag);
	core_free(v->detected_at);
	core_free(v->judged);
	core_free(v->first);
	core_free(v->largest);
}

/* Keep a 5-minute pass's time */
static void
keep_time(double ms)
{
	if (n_timed < MAX_TIMED)
		timed_ms[n_timed++] = ms;
}

/*
 * Replay tripl over a series: a pass for every newest point that can still
 * emit a scored bucket (settling is under 30 buckets on every grid here),
 * each over the history a pass loads, persisting as a pass does.
 */
static bool
replay_tripl(const FmSeries *s, const DetectSettings *settings, Verdicts *v)
{
	int			history = history_buckets(s->width);
	bool	   *stored = (bool *) core_alloc(sizeof(bool) * (size_t) s->n);
	int			last = s->score_to + WINDOW - 1;
	int			end,
				k,
				r;

	if (last > s->n)
		last = s->n;
	for (end = s->score_from + 1; end <= last; end++)
	{
		int			window_start = end - WINDOW > 0 ? end - WINDOW : 0;
		int			from = window_start - history > 0 ? window_start - history : 0;
		DetectOutput out;
		char		err[256];
		double		started = cpu_ms();

		if (!detect_run(s->buckets + from, s->values + from, end - from, s->width, s->count_shaped,
						s->buckets[window_start], s->buckets[end - 1] + s->width,
						settings, &out, err, sizeof(err)))
		{
			fprintf(stderr, "detect_run failed: %s\n", err);
			core_free(stored);
			return false;
		}
		if (s->width == FIVE_MINUTES)
			keep_time(cpu_ms() - started);
		for (k = window_start; k < end; k++)
		{
			bool		suppressed = false;

			for (r = 0; r < out.n_suppressed; r++)
				if (s->buckets[k] >= out.suppressed[r].from && s->buckets[k] < out.suppressed[r].to)
					suppressed = true;
			if (!suppressed)
				stored[k] = false;
		}
		for (r = 0; r < out.n_rows; r++)
		{
			const DetectRow *row = &out.rows[r];

			k = (int) ((row->bucket - s->buckets[0]) / s->width);
			if (k < 0 || k >= s->n)
				continue;
			if (row->scored)
				v->judged[k] = true;
			if ((row->scored || row->is_anomaly) && isfinite(row->z_score) &&
				(v->largest[k].bucket == 0 || fabs(row->z_score) > fabs(v->largest[k].z_score)))
				v->largest[k] = *row;
			if (!row->is_anomaly)
				continue;
			stored[k] = true;
			if (!v->flag[k])
			{
				v->flag[k] = true;
				v->detected_at[k] = pass_time(s, end - 1, settings);
				v->first[k] = *row;
			}
		}
		detect_output_free(&out);
	}
	v->stored = 0;
	for (k = s->score_from; k < s->score_to; k++)
		if (stored[k])
			v->stored++;
	core_free(stored);
	return true;
}

/* The plain z-score's verdicts (causal: known at the bucket's own end) */
static void
replay_zscore(const FmSeries *s, Verdicts *v)
{
	int			k;

	zscore_flags(s->values, s->n, v->flag);
	v->stored = 0;
	for (k = 0; k < s->n; k++)
	{
		v->detected_at[k] = s->buckets[k] + s->width;
		v->judged[k] = k >= BASELINE_MIN;
		if (k >= s->score_from && k < s->score_to && v->flag[k])
			v->stored++;
	}
}

/* Index of the label whose window holds bucket k, or -1 */
static int
window_of(const FmSeries *s, int k)
{
	int			tol = tolerance(s->width);
	int			l;

	for (l = 0; l < s->n_labels; l++)
		if (k >= s->labels[l].start && k < s->labels[l].end + tol)
			return l;
	return -1;
}

/* Print a duration in minutes compactly: 45m, 2h10m, 1d03h */
static void
format_minutes(char *buf, size_t len, double minutes)
{
	long		m = (long) floor(minutes + 0.5);

	if (m < 60)
		snprintf(buf, len, "%ldm", m);
	else if (m < 1440)
		snprintf(buf, len, "%ldh%02ldm", m / 60, m % 60);
	else
		snprintf(buf, len, "%ldd%02ldh", m / 1440, (m % 1440) / 60);
}

/* Score one series' verdicts into a tally */
static void
score(const FmSeries *s, const Verdicts *v, Tally *t, const char *who)
{
	int			tol = tolerance(s->width);
	int			span = after_span(s->width);
	int			last_false = -1000000;
	int			false_runs = 0;
	int			run_starts[MAX_SHOWN];
	long		flags = 0;
	int			k,
				l;

	t->series++;
	for (k = s->score_from; k < s->score_to; k++)
	{
		t->scored++;
		if (!v->judged[k])
			t->unjudged++;
		if (!v->flag[k])
			continue;
		flags++;
		if (window_of(s, k) >= 0)
			continue;
		if (k - last_false > tol)
		{
			if (false_runs < MAX_SHOWN)
				run_starts[false_runs] = k;
			false_runs++;
		}
		last_false = k;
	}
	t->flags += flags;
	t->stored += v->stored;
	t->false_incidents += false_runs;

	if (verbose)
	{
		printf("    %-6s flags %3ld (stored at the end %3d), false incidents %d", who, flags, v->stored,
			   false_runs);
		for (k = 0; k < false_runs && k < MAX_SHOWN; k++)
		{
			int64_t		offset = s->buckets[run_starts[k]] - START_BUCKET;

			const DetectRow *row = &v->first[run_starts[k]];

			printf("%s d%d %02d:%02d", k == 0 ? " from" : ",", (int) (offset / DAY),
				   (int) (offset % DAY / HOUR), (int) (offset % HOUR / MINUTE));
			if (row->bucket != 0)
				printf(" (%s z %.1f, %.0f/%.0f)",
					   detector_kind_name(row->kind) ? detector_kind_name(row->kind) : "-",
					   row->z_score, row->actual, row->expected);
		}
		printf(";");
	}
	for (l = 0; l < s->n_labels; l++)
	{
		const Label *lab = &s->labels[l];
		int64_t		first = -1;
		long		in = 0,
					after = 0;

		t->incidents++;
		for (k = lab->start; k < lab->end + tol && k < s->score_to; k++)
		{
			if (!v->flag[k])
				continue;
			in++;
			if (first < 0 || v->detected_at[k] < first)
				first = v->detected_at[k];
		}
		for (k = lab->end + tol; k < lab->end + tol + span && k < s->score_to; k++)
			if (v->flag[k] && window_of(s, k) < 0)
				after++;
		t->flags_in += in;
		t->flags_after += after;
		if (first >= 0)
		{
			double		minutes = (double) (first - s->buckets[lab->start]) / (double) MINUTE;

			t->found++;
			t->ttd[t->n_ttd++] = minutes;
			if (verbose)
			{
				char		buf[32];

				format_minutes(buf, sizeof(buf), minutes);
				printf(" inc %d: %ld in, %ld after, detected after %s;", l, in, after, buf);
			}
		}
		else if (verbose)
		{
			const DetectRow *row = &v->largest[lab->start];

			printf(" inc %d: missed, %ld after", l, after);
			if (row->bucket != 0)
				printf(" (largest: %s z %.1f, %.0f/%.0f)",
					   detector_kind_name(row->kind) ? detector_kind_name(row->kind) : "-",
					   row->z_score, row->actual, row->expected);
			printf(";");
		}
	}
	if (verbose)
		printf("\n");
}

/* qsort comparator for doubles */
static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Median of a sorted array */
static double
sorted_median(const double *x, int n)
{
	if (n == 0)
		return NAN;
	return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Print one row of the table */
static void
print_row(const Case *c, const char *who, Tally *t, bool first)
{
	char		median[32] = "-",
				worst[32] = "-",
				flags[32],
				label[64];

	if (t->n_ttd > 0)
	{
		qsort(t->ttd, (size_t) t->n_ttd, sizeof(double), compare_doubles);
		format_minutes(median, sizeof(median), sorted_median(t->ttd, t->n_ttd));
		format_minutes(worst, sizeof(worst), t->ttd[t->n_ttd - 1]);
	}
	snprintf(label, sizeof(label), "%s %s", c->family, c->name);
	snprintf(flags, sizeof(flags), "%ld/%ld", t->flags, t->stored);
	printf("%-40s %-4s %-6s %3d %3d/%-3d %5d %9s %8.1f %8.1f %7s %7s %6.1f%%\n",
		   first ? label : "", first ? c->grid : "", who, t->series, t->found, t->incidents,
		   t->false_incidents, flags,
		   t->incidents ? (double) t->flags_in / t->incidents : 0.0,
		   t->incidents ? (double) t->flags_after / t->incidents : 0.0,
		   median, worst, t->scored ? 100.0 * (double) t->unjudged / (double) t->scored : 0.0);
}

/* Add a case's tally to a total (times to detect are not pooled) */
static void
add_tally(Tally *total, const Tally *t)
{
	total->series += t->series;
	total->incidents += t->incidents;
	total->found += t->found;
	total->false_incidents += t->false_incidents;
	total->flags_in += t->flags_in;
	total->flags_after += t->flags_after;
	total->flags += t->flags;
	total->stored += t->stored;
	total->scored += t->scored;
	total->unjudged += t->unjudged;
}

/* Run one case: both detectors on its series; add to the totals */
static void
run_case(const Case *c, Tally *total_tripl, Tally *total_z)
{
	uint64_t	rng = c->seed;
	DetectSettings settings;
	Tally		ours,
				theirs;
	int			i;

	memset(&ours, 0, sizeof(ours));
	memset(&theirs, 0, sizeof(theirs));
	detect_default_settings(&settings);
	if (verbose)
		printf("%s %s\n", c->family, c->name);
	for (i = 0; i < c->n_series && i < MAX_SERIES; i++)
	{
		FmSeries	s;
		Verdicts	v;

		c->generate(&s, &rng, i);
		verdicts_alloc(&v, s.n);
		if (replay_tripl(&s, &settings, &v))
			score(&s, &v, &ours, "tripl");
		verdicts_free(&v);
		verdicts_alloc(&v, s.n);
		replay_zscore(&s, &v);
		score(&s, &v, &theirs, "z");
		verdicts_free(&v);
		series_free(&s);
	}
	print_row(c, "tripl", &ours, true);
	print_row(c, "z", &theirs, false);
	fflush(stdout);

	add_tally(total_tripl, &ours);
	add_tally(total_z, &theirs);
}

/*
 * Time TIMING_PASSES consecutive passes over 3 weeks of 5-minute buckets
 * (the history a detection pass loads (doc/detection.md, "When and over what") and the 30-bucket window) of a series;
 * sorted times into ms.
 */
static void
time_passes(const FmSeries *s, double *ms)
{
	int			history = history_buckets(FIVE_MINUTES);
	DetectSettings settings;
	int			p;

	detect_default_settings(&settings);
	for (p = 0; p < TIMING_PASSES; p++)
	{
		int			end = s->n - TIMING_PASSES + 1 + p;
		int			window_start = end - WINDOW;
		int			from = window_start - history;
		DetectOutput out;
		char		err[256];
		double		started;

		if (from < 0)
			from = 0;
		started = cpu_ms();
		if (!detect_run(s->buckets + from, s->values + from, end - from, FIVE_MINUTES, s->count_shaped,
						s->buckets[window_start], s->buckets[end - 1] + FIVE_MINUTES,
						&settings, &out, err, sizeof(err)))
		{
			fprintf(stderr, "detect_run failed: %s\n", err);
			ms[p] = NAN;
			continue;
		}
		ms[p] = cpu_ms() - started;
		detect_output_free(&out);
	}
	qsort(ms, TIMING_PASSES, sizeof(double), compare_doubles);
}

/* A flat series: one value repeated (a stuck sensor) */
static void
gen_constant(FmSeries *s, uint64_t *rng, int index)
{
	int64_t		w = FIVE_MINUTES;
	int			i;

	(void) rng;
	(void) index;
	series_alloc(s, at(w, 23, 0, 0) + WINDOW, w, false);
	for (i = 0; i < s->n; i++)
		s->values[i] = 42.0;
	s->score_from = at(w, 22, 0, 0);
	s->score_to = at(w, 23, 0, 0);
}

/* Print the pass times of a few series shapes and of the replay's passes */
static void
print_pass_times(void)
{
	static const struct
	{
		const char *name;
		Generator	generate;
	}			shapes[] = {
		{"gauge with a daily wave (family 1)", gen_level_up},
		{"requests per 5 min (family 1 outage)", gen_outage},
		{"temperature near 74 (family 2)", gen_temperature},
		{"quantised CPU (family 3)", gen_cpu},
		{"rows with a nightly batch job (family 3)", gen_batch},
		{"zero-baseline bursts, count (family 4)", gen_bursty_count},
		{"zero-baseline bursts, value (family 4)", gen_bursty_value},
		{"a constant (stuck) value", gen_constant},
	};
	int			n_shapes = (int) (sizeof(shapes) / sizeof(shapes[0]));
	double		medians[16];
	double		all_max = 0.0;
	int			i;

	printf("\npass time: CPU ms of one detect_run pass over 3 weeks of 5-minute buckets\n"
		   "(6 048 points of history + the 30-bucket window), %d consecutive passes a\n"
		   "series, default settings; target <= 5 ms\n", TIMING_PASSES);
	for (i = 0; i < n_shapes; i++)
	{
		uint64_t	rng = UINT64_C(1717) + (uint64_t) i;
		FmSeries	s;
		double		ms[TIMING_PASSES];

		shapes[i].generate(&s, &rng, 0);
		time_passes(&s, ms);
		medians[i] = sorted_median(ms, TIMING_PASSES);
		if (ms[TIMING_PASSES - 1] > all_max)
			all_max = ms[TIMING_PASSES - 1];
		printf("  %-44s median %7.2f ms   max %7.2f ms\n", shapes[i].name, medians[i], ms[TIMING_PASSES - 1]);
		series_free(&s);
	}
	qsort(medians, (size_t) n_shapes, sizeof(double), compare_doubles);
	printf("  %-44s median %7.2f ms   max %7.2f ms\n", "over the shapes (median of the medians)",
		   sorted_median(medians, n_shapes), all_max);
	if (n_timed > 0)
	{
		int			over = 0;

		qsort(timed_ms, (size_t) n_timed, sizeof(double), compare_doubles);
		for (i = 0; i < n_timed; i++)
			if (timed_ms[i] > 5.0)
				over++;
		printf("  %-44s median %7.2f ms   p90 %7.2f ms   max %7.2f ms\n",
			   "every 5-minute pass of the replay above", sorted_median(timed_ms, n_timed),
			   timed_ms[(int) (0.9 * (n_timed - 1))], timed_ms[n_timed - 1]);
		printf("  (%d passes; p99 %.2f ms; %d over 5 ms)\n", n_timed,
			   timed_ms[(int) (0.99 * (n_timed - 1))], over);
	}
}

static const Case cases[] = {
	{"1", "level x1.4..1.6 for 1 day (gauge)", "5m", 2, UINT64_C(101), gen_level_up},
	{"1", "level x0.5..0.6 for 8 h (gauge)", "5m", 2, UINT64_C(102), gen_level_down},
	{"1", "flat line (stuck value) for 1 day", "5m", 2, UINT64_C(103), gen_flat},
	{"1", "outage: 4 h of zeros (count)", "5m", 2, UINT64_C(104), gen_outage},
	{"2", "temperature ~74, +-4..6 deg (2/series)", "5m", 3, UINT64_C(201), gen_temperature},
	{"3", "CPU 0.066/0.134 steps, runaway 1 h", "5m", 3, UINT64_C(301), gen_cpu},
	{"3", "batch job 15 min late, then missed", "5m", 2, UINT64_C(302), gen_batch},
	{"4", "zero-baseline bursts, storm 1 h (count)", "5m", 2, UINT64_C(401), gen_bursty_count},
	{"4", "zero-baseline bursts, storm 1 h (value)", "5m", 2, UINT64_C(402), gen_bursty_value},
	{"5", "taxi-like: collapse mid-ramp / holiday", "30m", 6, UINT64_C(501), gen_taxi},
	{"5", "leak: 24 h monotonic ramp, restart", "1h", 6, UINT64_C(502), gen_leak},
	{"6", "holiday: one day at 35..50 %", "1d", 20, UINT64_C(601), gen_holiday},
	{"6", "one day at +40..50 %", "1d", 20, UINT64_C(602), gen_daily_up},
	{"6", "one day at -40..45 %", "1d", 20, UINT64_C(603), gen_daily_down},
};

/* Print the table and the pass times */
int
main(int argc, char **argv)
{
	Tally		total_tripl,
				total_z,
				subdaily_tripl,
				subdaily_z;
	int			n_cases = (int) (sizeof(cases) / sizeof(cases[0]));
	const char *only = NULL;
	Case		total_case = {"", "all cases", "", 0, 0, NULL};
	Case		subdaily_case = {"", "families 1..5 (5m, 30m, 1h grids)", "", 0, 0, NULL};
	int			i;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			verbose = true;
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			only = argv[++i];
		else
		{
			fprintf(stderr, "usage: %s [-v] [-f FAMILIES]  (FAMILIES: digits 1..6, t for pass times)\n",
					argv[0]);
			return 2;
		}
	}
	memset(&total_tripl, 0, sizeof(total_tripl));
	memset(&total_z, 0, sizeof(total_z));
	memset(&subdaily_tripl, 0, sizeof(subdaily_tripl));
	memset(&subdaily_z, 0, sizeof(subdaily_z));

	printf("failure modes, replayed causally (a pass per new point over\n"
		   "the history a pass loads, default settings, the persist rule) and scored per\n"
		   "incident: found = a flag in the incident or the tolerance after it (1 h;\n"
		   "daily: 1 day); false = runs of flags outside every incident (flags up to\n"
		   "the tolerance apart are one run); flags = flags of the scored stretches,\n"
		   "raised by some pass / still stored after the last; flags/in = flags in the\n"
		   "incidents, after/in = flags outside them in the day (daily: week) after,\n"
		   "per incident; ttd = time to detect (median, max) from the first bucket of\n"
		   "the incident to the first pass that flagged it (the end of the bucket it\n"
		   "judged newest + settling); unjudg = buckets of the scored stretches no pass scored.  z = |z| >= 3\n"
		   "over the previous 14 points.\n\n");
	printf("%-40s %-4s %-6s %3s %7s %5s %9s %8s %8s %7s %7s %7s\n", "family / case", "grid", "detect",
		   "ser", "found", "false", "flags", "flags/in", "after/in", "ttd-med", "ttd-max", "unjudg");
	for (i = 0; i < n_cases; i++)
	{
		bool		daily = strcmp(cases[i].grid, "1d") == 0;

		if (only != NULL && strchr(only, cases[i].family[0]) == NULL)
			continue;
		run_case(&cases[i], daily ? &total_tripl : &subdaily_tripl, daily ? &total_z : &subdaily_z);
	}
	print_row(&subdaily_case, "tripl", &subdaily_tripl, true);
	print_row(&subdaily_case, "z", &subdaily_z, false);
	add_tally(&total_tripl, &subdaily_tripl);
	add_tally(&total_z, &subdaily_z);
	print_row(&total_case, "tripl", &total_tripl, true);
	print_row(&total_case, "z", &total_z, false);

	if (only == NULL || strchr(only, 't') != NULL)
		print_pass_times();
	return 0;
}
