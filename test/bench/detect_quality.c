/*-------------------------------------------------------------------------
 *
 * detect_quality.c
 *	  Quality and speed evaluation of the anomaly detector's pure core.
 *
 *	  Generates seeded synthetic count series (hourly and daily grids with
 *	  daily and weekly seasonality, Poisson noise, a slow background drift)
 *	  and injects incidents at recorded positions: spikes, drops, outages
 *	  (runs of zeros), abrupt level shifts and slow shifts (ramps).  Every
 *	  series is scored by detect_run (settling 0, evaluation after three
 *	  weeks of history) and by a plain mean/stddev z-score over the previous
 *	  14 buckets (Elementary's method, |z| >= 3).  Prints recall (an incident
 *	  counts as caught when some flag falls inside it or in the 2 buckets
 *	  after it) and false alarms per 1000 evaluated buckets (flags outside
 *	  every incident; and again without the flags that fall in a recovery
 *	  span after an incident, the "echoes" of the detector's mean-based level
 *	  window), per grid width.  Then the same series scored the way
 *	  production scores them ("online"): one pass per bucket, each over the
 *	  history a detection pass loads (504 hourly / 21 + 30 daily buckets
 *	  before a 30-bucket re-evaluation window), default settling, and the persist
 *	  persist rule of doc/detection.md (a pass replaces the stored anomalies of
 *	  its window except suppressed ranges); the flags left stored at the end
 *	  are tallied.  Then the same two tables for fractional (ratio) series:
 *	  purchases / views style ratios of two Poisson counts (numerator 20 to
 *	  300 per bucket, denominator 8 to 10 times that, daily and weekly
 *	  seasonality in the volumes, a stable ratio with an optional mild
 *	  daily or weekday pattern) with ratio drops to 25..50 %, ratio spikes
 *	  of +60..100 % and level shifts, and plenty of clean stretches.  Last,
 *	  the detector's throughput (count series, and fractional ones).
 *
 *	  Standalone: build with
 *	    gcc -std=gnu99 -O2 -Isrc/core -Itest/unit test/bench/detect_quality.c \
 *	        src/core/detect_*.c src/core/stl.c src/core/order.c src/core/core.c -lm -o /tmp/detect_quality
 *	  It prints figures only and exits 0 unless something crashes.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "detect_core.h"
#include "detect_bench_common.h"

#define MAX_INCIDENTS	8
#define AFTER_BUCKETS	2		/* buckets after an incident that still count */
#define ONLINE_WINDOW	30		/* the trailing re-evaluation window of a pass */

typedef enum IncidentType
{
	INC_SPIKE = 0,
	INC_DROP,
	INC_OUTAGE,
	INC_LEVEL,
	INC_RAMP,
	INC_TYPES
} IncidentType;

static const char *const incident_names[INC_TYPES] = {"spike", "drop", "outage", "level", "ramp"};

/* The incident columns of each table: all for counts, no outage/ramp for ratios */
static const IncidentType count_columns[] = {INC_SPIKE, INC_DROP, INC_OUTAGE, INC_LEVEL, INC_RAMP};
static const IncidentType fractional_columns[] = {INC_SPIKE, INC_DROP, INC_LEVEL};

/* How a grid's series are generated and scored */
typedef struct SeriesKind
{
	bool		count_shaped;
	const IncidentType *columns;
	int			n_columns;
	double		numerator_low;	/* a ratio's numerator mean per bucket */
	double		numerator_high;
} SeriesKind;

static const SeriesKind COUNT_SERIES = {true, count_columns, 5, 0.0, 0.0};
static const SeriesKind FRACTIONAL_SERIES = {false, fractional_columns, 3, 20.0, 300.0};
/* low volumes: denominators of about 20..200 a bucket (a trough's fewer) */
static const SeriesKind LOW_VOLUME_SERIES = {false, fractional_columns, 3, 2.5, 20.0};

/* An injected incident: buckets [start, end) of the series */
typedef struct Incident
{
	IncidentType type;
	int			start;
	int			end;
} Incident;

/* One synthetic series and what was injected into it */
typedef struct Series
{
	int			n;
	int64_t    *buckets;
	double	   *values;
	double	   *numerators;		/* a ratio's operands (purchases, views); */
	double	   *denominators;	/* NULL for counts */
	int			n_incidents;
	Incident	incidents[MAX_INCIDENTS];
} Series;

/* Recall and false-alarm tallies of one detector on one grid */
typedef struct Tally
{
	int			caught[INC_TYPES];
	int			total[INC_TYPES];
	long		false_alarms;
	long		false_outside_recovery;	/* false alarms not in a recovery span */
	long		flags;
	long		evaluated;
} Tally;

/* Whether [start, end) keeps a gap of at least gap buckets from every incident */
static bool
incident_fits(const Series *s, int start, int end, int gap)
{
	int			k;

	for (k = 0; k < s->n_incidents; k++)
	{
		const Incident *inc = &s->incidents[k];

		if (start < inc->end + gap && end + gap > inc->start)
			return false;
	}
	return true;
}

/*
 * Generate one series of n buckets of width (hourly or daily) starting at a
 * Monday, with incidents placed after first_eval.
 */
static void
generate_series(Series *s, uint64_t *rng, int n, bool hourly, int first_eval)
{
	int			per_day = hourly ? 24 : 1;
	int64_t		width = hourly ? CORE_USECS_PER_HOUR : CORE_USECS_PER_DAY;
	int64_t		start_bucket = INT64_C(1704067200000000);	/* 2024-01-01, a Monday */
	double		level = exp(uniform_between(rng, log(hourly ? 80.0 : 300.0),
											log(hourly ? 5000.0 : 50000.0)));
	double		daily_amplitude = uniform_between(rng, 0.3, 0.8);
	double		daily_phase = uniform_between(rng, 0.0, 24.0);
	double		weekend = uniform_between(rng, 0.55, 1.0);
	double		drift = uniform_between(rng, -0.15, 0.25);	/* over the series */
	double	   *mean = (double *) core_alloc(sizeof(double) * (size_t) n);
	int			gap = hourly ? 48 : 10;
	int			wanted = uniform_int(rng, 2, 4);
	int			attempts = 0;
	int			i,
				k;

	s->n = n;
	s->buckets = (int64_t *) core_alloc(sizeof(int64_t) * (size_t) n);
	s->values = (double *) core_alloc(sizeof(double) * (size_t) n);
	s->numerators = NULL;
	s->denominators = NULL;
	s->n_incidents = 0;

	for (i = 0; i < n; i++)
	{
		int			day = i / per_day;
		int			hour = i % per_day;
		double		m = level * (1.0 + drift * (double) i / (double) n);

		if (hourly)
			m *= 1.0 + daily_amplitude * sin(2.0 * M_PI * ((double) hour - daily_phase) / 24.0);
		if (day % 7 >= 5)
			m *= weekend;
		mean[i] = m;
		s->buckets[i] = start_bucket + (int64_t) i * width;
	}

	while (s->n_incidents < wanted && attempts++ < 200)
	{
		IncidentType type = (IncidentType) uniform_int(rng, 0, INC_TYPES - 1);
		int			length;
		int			start;
		Incident   *inc;

		switch (type)
		{
			case INC_SPIKE:
			case INC_DROP:
				length = uniform_int(rng, 1, hourly ? 3 : 1);
				break;
			case INC_OUTAGE:
				length = hourly ? uniform_int(rng, 3, 12) : uniform_int(rng, 1, 3);
				break;
			case INC_LEVEL:
				length = hourly ? 24 : 3;	/* recall window after the step */
				break;
			default:
				length = hourly ? 48 : 7;	/* the ramp itself */
				break;
		}
		start = uniform_int(rng, first_eval + 2, n - length - AFTER_BUCKETS - 1);
		if (!incident_fits(s, start, start + length, gap))
			continue;
		/* a level change or ramp persists to the end: nothing may follow it */
		if (type == INC_LEVEL || type == INC_RAMP)
		{
			bool		later = false;

			for (k = 0; k < s->n_incidents; k++)
				if (s->incidents[k].start > start)
					later = true;
			if (later)
				continue;
		}
		{
			bool		after_persistent = false;

			for (k = 0; k < s->n_incidents; k++)
				if ((s->incidents[k].type == INC_LEVEL || s->incidents[k].type == INC_RAMP) &&
					s->incidents[k].start < start)
					after_persistent = true;
			if (after_persistent)
				continue;
		}
		inc = &s->incidents[s->n_incidents++];
		inc->type = type;
		inc->start = start;
		inc->end = start + length;
	}

	/* apply the incidents to the mean, then sample */
	for (k = 0; k < s->n_incidents; k++)
	{
		Incident   *inc = &s->incidents[k];
		double		factor;

		switch (inc->type)
		{
			case INC_SPIKE:
				factor = uniform_between(rng, 1.8, 3.0);
				for (i = inc->start; i < inc->end; i++)
					mean[i] *= factor;
				break;
			case INC_DROP:
				factor = uniform_between(rng, 0.2, 0.5);
				for (i = inc->start; i < inc->end; i++)
					mean[i] *= factor;
				break;
			case INC_OUTAGE:
				for (i = inc->start; i < inc->end; i++)
					mean[i] = 0.0;
				break;
			case INC_LEVEL:
				factor = uniform(rng) < 0.5 ? uniform_between(rng, 1.5, 1.8)
					: uniform_between(rng, 0.4, 0.6);
				for (i = inc->start; i < n; i++)
					mean[i] *= factor;
				break;
			default:
				factor = uniform(rng) < 0.5 ? uniform_between(rng, 1.5, 1.8)
					: uniform_between(rng, 0.4, 0.6);
				for (i = inc->start; i < n; i++)
				{
					double		progress = (double) (i - inc->start) / (double) (inc->end - inc->start);

					if (progress > 1.0)
						progress = 1.0;
					mean[i] *= 1.0 + (factor - 1.0) * progress;
				}
				break;
		}
	}
	for (i = 0; i < n; i++)
		s->values[i] = poisson(rng, mean[i]);
	core_free(mean);
}

/*
 * Generate one fractional series of n buckets: the ratio numerator /
 * denominator of two Poisson counts (purchases / views).  The numerator's
 * mean is 20..300 per bucket (log-uniform, before the seasonality) and the
 * denominator's 8..10 times it; the volumes carry the daily wave, quieter weekends and a drift
 * of the count series, the ratio itself is stable (half the series with a
 * mild daily pattern of +-5..15 %, or on a daily grid a weekday pattern).
 * Incidents multiply the ratio: spikes x1.6..2.0 and drops x0.25..0.5 for
 * 1..3 hours (one day), level shifts x1.5..1.8 or x0.4..0.6 that persist.
 * Zero to three incidents a series, so there are plenty of clean stretches.
 */
static void
generate_fractional(Series *s, uint64_t *rng, int n, bool hourly, int first_eval,
					double numerator_low, double numerator_high)
{
	int			per_day = hourly ? 24 : 1;
	int64_t		width = hourly ? CORE_USECS_PER_HOUR : CORE_USECS_PER_DAY;
	int64_t		start_bucket = INT64_C(1704067200000000);	/* 2024-01-01, a Monday */
	double		numerator = exp(uniform_between(rng, log(numerator_low), log(numerator_high)));
	double		denominator_ratio = uniform_between(rng, 8.0, 10.0);
	double		daily_amplitude = uniform_between(rng, 0.3, 0.8);
	double		daily_phase = uniform_between(rng, 0.0, 24.0);
	double		weekend = uniform_between(rng, 0.55, 1.0);
	double		drift = uniform_between(rng, -0.15, 0.25);	/* over the series */
	bool		ratio_pattern = uniform(rng) < 0.5;
	double		ratio_amplitude = uniform_between(rng, 0.05, 0.15);
	double		ratio_phase = uniform_between(rng, 0.0, 24.0);
	double	   *volume = (double *) core_alloc(sizeof(double) * (size_t) n);
	double	   *ratio = (double *) core_alloc(sizeof(double) * (size_t) n);
	int			gap = hourly ? 48 : 10;
	int			wanted = uniform_int(rng, 0, 3);
	int			attempts = 0;
	int			i,
				k;

	s->n = n;
	s->buckets = (int64_t *) core_alloc(sizeof(int64_t) * (size_t) n);
	s->values = (double *) core_alloc(sizeof(double) * (size_t) n);
	s->numerators = NULL;
	s->denominators = NULL;
	s->n_incidents = 0;

	for (i = 0; i < n; i++)
	{
		int			day = i / per_day;
		int			hour = i % per_day;
		double		m = numerator * denominator_ratio * (1.0 + drift * (double) i / (double) n);
		double		r = 1.0 / denominator_ratio;

		if (hourly)
			m *= 1.0 + daily_amplitude * sin(2.0 * M_PI * ((double) hour - daily_phase) / 24.0);
		if (day % 7 >= 5)
			m *= weekend;
		if (ratio_pattern && hourly)
			r *= 1.0 + ratio_amplitude * sin(2.0 * M_PI * ((double) hour - ratio_phase) / 24.0);
		else if (ratio_pattern)
			r *= 1.0 + ratio_amplitude * sin(2.0 * M_PI * (double) (day % 7) / 7.0);
		volume[i] = m;
		ratio[i] = r;
		s->buckets[i] = start_bucket + (int64_t) i * width;
	}

	while (s->n_incidents < wanted && attempts++ < 200)
	{
		static const IncidentType types[3] = {INC_SPIKE, INC_DROP, INC_LEVEL};
		IncidentType type = types[uniform_int(rng, 0, 2)];
		int			length;
		int			start;
		Incident   *inc;

		if (type == INC_LEVEL)
			length = hourly ? 24 : 3;	/* recall window after the step */
		else
			length = uniform_int(rng, 1, hourly ? 3 : 1);
		start = uniform_int(rng, first_eval + 2, n - length - AFTER_BUCKETS - 1);
		if (!incident_fits(s, start, start + length, gap))
			continue;
		/* a level shift persists to the end: no incident may come after one */
		{
			bool		conflict = false;

			for (k = 0; k < s->n_incidents; k++)
				if ((type == INC_LEVEL && s->incidents[k].start > start) ||
					(s->incidents[k].type == INC_LEVEL && s->incidents[k].start < start))
					conflict = true;
			if (conflict)
				continue;
		}
		inc = &s->incidents[s->n_incidents++];
		inc->type = type;
		inc->start = start;
		inc->end = start + length;
	}

	for (k = 0; k < s->n_incidents; k++)
	{
		Incident   *inc = &s->incidents[k];
		double		factor;

		switch (inc->type)
		{
			case INC_SPIKE:
				factor = uniform_between(rng, 1.6, 2.0);
				for (i = inc->start; i < inc->end; i++)
					ratio[i] *= factor;
				break;
			case INC_DROP:
				factor = uniform_between(rng, 0.25, 0.5);
				for (i = inc->start; i < inc->end; i++)
					ratio[i] *= factor;
				break;
			default:
				factor = uniform(rng) < 0.5 ? uniform_between(rng, 1.5, 1.8)
					: uniform_between(rng, 0.4, 0.6);
				for (i = inc->start; i < n; i++)
					ratio[i] *= factor;
				break;
		}
	}
	s->numerators = (double *) core_alloc(sizeof(double) * (size_t) n);
	s->denominators = (double *) core_alloc(sizeof(double) * (size_t) n);
	for (i = 0; i < n; i++)
	{
		double		views = poisson(rng, volume[i]);
		double		purchases;

		if (views < 1.0)
			views = 1.0;		/* never empty at these volumes; keep it defined */
		purchases = poisson(rng, ratio[i] * views);
		s->values[i] = purchases / views;
		s->numerators[i] = purchases;
		s->denominators[i] = views;
	}
	core_free(volume);
	core_free(ratio);
}

/* Free a series */
static void
free_series(Series *s)
{
	core_free(s->buckets);
	core_free(s->values);
	if (s->numerators != NULL)
		core_free(s->numerators);
	if (s->denominators != NULL)
		core_free(s->denominators);
}

/* The incident a bucket belongs to (window incl. AFTER_BUCKETS), or -1 */
static int
incident_of(const Series *s, int i)
{
	int			k;

	for (k = 0; k < s->n_incidents; k++)
		if (i >= s->incidents[k].start && i < s->incidents[k].end + AFTER_BUCKETS)
			return k;
	return -1;
}

/*
 * Whether bucket i lies in the recovery span after an incident: one level
 * window (24 hourly buckets, 7 daily) after a transient incident's window,
 * one longest period plus a level window after a persistent one (the trend
 * path compares with the point one period earlier).
 */
static bool
in_recovery(const Series *s, int i, bool hourly)
{
	int			k;

	for (k = 0; k < s->n_incidents; k++)
	{
		const Incident *inc = &s->incidents[k];
		int			after = inc->end + AFTER_BUCKETS;
		int			span = hourly ? 24 : 7;

		if (inc->type == INC_LEVEL || inc->type == INC_RAMP)
			span += hourly ? 168 : 7;
		if (i >= after && i < after + span)
			return true;
	}
	return false;
}

/* Add one detector's flags on one series to a tally */
static void
tally_flags(Tally *t, const Series *s, const bool *flags, int first_eval, bool hourly)
{
	bool		caught[MAX_INCIDENTS];
	int			i,
				k;

	memset(caught, 0, sizeof(caught));
	for (i = first_eval; i < s->n; i++)
	{
		t->evaluated++;
		if (!flags[i])
			continue;
		t->flags++;
		k = incident_of(s, i);
		if (k < 0)
		{
			t->false_alarms++;
			if (!in_recovery(s, i, hourly))
				t->false_outside_recovery++;
		}
		else
			caught[k] = true;
	}
	for (k = 0; k < s->n_incidents; k++)
	{
		t->total[s->incidents[k].type]++;
		if (caught[k])
			t->caught[s->incidents[k].type]++;
	}
}

/* Elementary-style flags: |value - mean| >= 3 stddev of the previous 14 */
static void
baseline_flags(const Series *s, bool *flags)
{
	zscore_flags(s->values, s->n, flags);
}

/*
 * Calibration of the anomaly score: the judged buckets (scored, flagged or
 * silenced) of the stateless runs by |z| bin, and how many of them lie in an
 * injected incident (its buckets and AFTER_BUCKETS after it), per series
 * kind (0 counts, 1 ratios)
 */
#define CALIB_BIN		0.25
#define CALIB_BINS		64		/* |z| up to 16; larger in the last bin */
static long calib_n[2][CALIB_BINS];
static long calib_in[2][CALIB_BINS];

/* Count a judged row in the calibration bins */
static void
calibrate_row(const Series *s, const DetectRow *row, int i, bool count_shaped)
{
	int			bin;

	if (!(row->scored || row->is_anomaly || row->silenced) || !isfinite(row->z_score))
		return;
	bin = (int) (fabs(row->z_score) / CALIB_BIN);
	if (bin >= CALIB_BINS)
		bin = CALIB_BINS - 1;
	calib_n[count_shaped ? 0 : 1][bin]++;
	if (incident_of(s, i) >= 0)
		calib_in[count_shaped ? 0 : 1][bin]++;
}

/*
 * Print the calibration: the share of injected-incident buckets per |z|
 * bin (with the score of the bin's middle), then, for score thresholds,
 * the share among the buckets scored at least that
 */
static void
print_calibration(void)
{
	static const double thresholds[] = {0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99};
	int			kind,
				b,
				t;

	printf("\nanomaly score calibration (stateless runs above; judged buckets; in = in an\n"
		   "injected incident or the %d buckets after it)\n", AFTER_BUCKETS);
	printf("  |z| from   counts: n      in   share   ratios: n      in   share   score\n");
	for (b = 0; b < CALIB_BINS; b += (b < 32 ? 2 : 8))
	{
		int			width = b < 32 ? 2 : 8;
		long		n[2] = {0, 0},
					in[2] = {0, 0};
		int			k;

		for (k = b; k < b + width && k < CALIB_BINS; k++)
			for (kind = 0; kind < 2; kind++)
			{
				n[kind] += calib_n[kind][k];
				in[kind] += calib_in[kind][k];
			}
		printf("  %6.2f   %10ld %7ld  %6.3f  %10ld %7ld  %6.3f  %6.3f\n", b * CALIB_BIN,
			   n[0], in[0], n[0] ? (double) in[0] / (double) n[0] : 0.0,
			   n[1], in[1], n[1] ? (double) in[1] / (double) n[1] : 0.0,
			   detect_score((b + width / 2.0) * CALIB_BIN));
	}
	printf("  score >=  |z| >=   counts: n     in   share   ratios: n     in   share\n");
	for (t = 0; t < (int) (sizeof(thresholds) / sizeof(thresholds[0])); t++)
	{
		double		z = detect_sigma_for_score(thresholds[t]);
		long		n[2] = {0, 0},
					in[2] = {0, 0};

		for (kind = 0; kind < 2; kind++)
			for (b = 0; b < CALIB_BINS; b++)
				if ((b + 0.5) * CALIB_BIN >= z)
				{
					n[kind] += calib_n[kind][b];
					in[kind] += calib_in[kind][b];
				}
		printf("  %7.2f  %6.2f  %10ld %6ld  %6.3f  %10ld %6ld  %6.3f\n", thresholds[t], z,
			   n[0], in[0], n[0] ? (double) in[0] / (double) n[0] : 0.0,
			   n[1], in[1], n[1] ? (double) in[1] / (double) n[1] : 0.0);
	}
}

/* Flags from detect_run; returns false if it failed */
static bool
detector_flags(const Series *s, int64_t width, int first_eval, const DetectSettings *settings,
			   bool count_shaped, bool operands, bool *flags)
{
	DetectOutput out;
	char		err[256];
	int			i;

	if (!detect_run_operands(s->buckets, s->values, operands ? s->numerators : NULL,
							 operands ? s->denominators : NULL, s->n, width, count_shaped,
							 s->buckets[first_eval], s->buckets[s->n - 1] + width,
							 settings, &out, err, sizeof(err)))
	{
		fprintf(stderr, "detect_run failed: %s\n", err);
		return false;
	}
	for (i = 0; i < s->n; i++)
		flags[i] = false;
	for (i = 0; i < out.n_rows; i++)
	{
		/* contiguous input, every value finite: row i is bucket i */
		int			k = (int) ((out.rows[i].bucket - s->buckets[0]) / width);

		if (out.rows[i].is_anomaly)
			flags[k] = true;
		calibrate_row(s, &out.rows[i], k, count_shaped);
	}
	detect_output_free(&out);
	return true;
}

/* Print one table line */
static void
print_tally(const char *grid, const char *who, const SeriesKind *kind, const Tally *t)
{
	int			caught = 0,
				total = 0,
				c;

	for (c = 0; c < kind->n_columns; c++)
	{
		caught += t->caught[kind->columns[c]];
		total += t->total[kind->columns[c]];
	}
	printf("%-7s %-10s %6.1f%%", grid, who, total ? 100.0 * caught / total : 0.0);
	for (c = 0; c < kind->n_columns; c++)
		printf("  %3d/%-3d", t->caught[kind->columns[c]], t->total[kind->columns[c]]);
	printf("  %8.2f  %9.2f  %6ld\n",
		   t->evaluated ? 1000.0 * (double) t->false_alarms / (double) t->evaluated : 0.0,
		   t->evaluated ? 1000.0 * (double) t->false_outside_recovery / (double) t->evaluated : 0.0,
		   t->flags);
}

/* One series of a kind */
static void
generate_kind(Series *s, const SeriesKind *kind, uint64_t *rng, int n, bool hourly, int first_eval)
{
	if (kind->count_shaped)
		generate_series(s, rng, n, hourly, first_eval);
	else
		generate_fractional(s, rng, n, hourly, first_eval, kind->numerator_low, kind->numerator_high);
}

/* Evaluate both detectors on series of one kind and grid */
static void
evaluate_grid(const char *grid, const SeriesKind *kind, bool hourly, int n_series, int length,
			  uint64_t seed)
{
	uint64_t	rng = seed;
	int64_t		width = hourly ? CORE_USECS_PER_HOUR : CORE_USECS_PER_DAY;
	int			first_eval = hourly ? 504 : 21;
	DetectSettings settings;
	Tally		ours,
				with_operands,
				theirs;
	bool	   *flags = (bool *) core_alloc(sizeof(bool) * (size_t) length);
	int			i;

	memset(&ours, 0, sizeof(ours));
	memset(&with_operands, 0, sizeof(with_operands));
	memset(&theirs, 0, sizeof(theirs));
	detect_default_settings(&settings);
	settings.settling_minutes = 0;

	for (i = 0; i < n_series; i++)
	{
		Series		s;

		generate_kind(&s, kind, &rng, length, hourly, first_eval);
		if (detector_flags(&s, width, first_eval, &settings, kind->count_shaped, false, flags))
			tally_flags(&ours, &s, flags, first_eval, hourly);
		if (s.numerators != NULL &&
			detector_flags(&s, width, first_eval, &settings, kind->count_shaped, true, flags))
			tally_flags(&with_operands, &s, flags, first_eval, hourly);
		baseline_flags(&s, flags);
		tally_flags(&theirs, &s, flags, first_eval, hourly);
		free_series(&s);
	}
	print_tally(grid, "tripl", kind, &ours);
	if (!kind->count_shaped)
		print_tally(grid, "tripl+ops", kind, &with_operands);
	print_tally(grid, "mean/sd z", kind, &theirs);
	core_free(flags);
}

/*
 * Production-shaped scoring of one series: a pass for every window end,
 * each over the history a detection pass loads (doc/detection.md, "When and over what"), persisting as a pass does.  flags
 * receives what is stored after the last pass.
 */
static bool
online_flags(const Series *s, int64_t width, int first_eval, int history,
			 const DetectSettings *settings, bool count_shaped, bool operands, bool *flags)
{
	int			end,
				k,
				r;

	for (k = 0; k < s->n; k++)
		flags[k] = false;
	for (end = first_eval + ONLINE_WINDOW; end <= s->n; end++)
	{
		int			window_start = end - ONLINE_WINDOW;
		int			from = window_start - history > 0 ? window_start - history : 0;
		DetectOutput out;
		char		err[256];

		if (!detect_run_operands(s->buckets + from, s->values + from,
								 operands ? s->numerators + from : NULL,
								 operands ? s->denominators + from : NULL,
								 end - from, width, count_shaped,
								 s->buckets[window_start], s->buckets[end - 1] + width,
								 settings, &out, err, sizeof(err)))
		{
			fprintf(stderr, "detect_run failed: %s\n", err);
			return false;
		}
		for (k = window_start; k < end; k++)
		{
			bool		suppressed = false;

			for (r = 0; r < out.n_suppressed; r++)
				if (s->buckets[k] >= out.suppressed[r].from && s->buckets[k] < out.suppressed[r].to)
					suppressed = true;
			if (!suppressed)
				flags[k] = false;
		}
		for (k = 0; k < out.n_rows; k++)
			if (out.rows[k].is_anomaly)
				flags[(out.rows[k].bucket - s->buckets[0]) / width] = true;
		detect_output_free(&out);
	}
	return true;
}

/* Evaluate the detector scored online on series of one kind and grid */
static void
evaluate_online(const char *grid, const SeriesKind *kind, bool hourly, int n_series, int length,
				uint64_t seed)
{
	uint64_t	rng = seed;
	int64_t		width = hourly ? CORE_USECS_PER_HOUR : CORE_USECS_PER_DAY;
	int			first_eval = hourly ? 504 : 21;
	/* max(14, 3 * longest period), + the window on a daily grid (doc/detection.md, step 1) */
	int			history = hourly ? 504 : 21 + ONLINE_WINDOW;
	DetectSettings settings;
	Tally		ours,
				with_operands,
				theirs;
	bool	   *flags = (bool *) core_alloc(sizeof(bool) * (size_t) length);
	int			i;

	memset(&ours, 0, sizeof(ours));
	memset(&with_operands, 0, sizeof(with_operands));
	memset(&theirs, 0, sizeof(theirs));
	detect_default_settings(&settings);
	for (i = 0; i < n_series; i++)
	{
		Series		s;

		generate_kind(&s, kind, &rng, length, hourly, first_eval);
		if (online_flags(&s, width, first_eval, history, &settings, kind->count_shaped, false, flags))
			tally_flags(&ours, &s, flags, first_eval, hourly);
		if (s.numerators != NULL &&
			online_flags(&s, width, first_eval, history, &settings, kind->count_shaped, true, flags))
			tally_flags(&with_operands, &s, flags, first_eval, hourly);
		baseline_flags(&s, flags);
		tally_flags(&theirs, &s, flags, first_eval, hourly);
		free_series(&s);
	}
	print_tally(grid, "tripl", kind, &ours);
	if (!kind->count_shaped)
		print_tally(grid, "tripl+ops", kind, &with_operands);
	print_tally(grid, "mean/sd z", kind, &theirs);
	core_free(flags);
}

/* Seconds of CPU time */
static double
cpu_seconds(void)
{
	return (double) clock() / (double) CLOCKS_PER_SEC;
}

/* Time detect_run over many hourly series; returns buckets per second */
static double
time_detector(const SeriesKind *kind, int n_series, int length, int window, bool operands,
			  double *per_series_ms)
{
	uint64_t	rng = UINT64_C(20240601);
	DetectSettings settings;
	Series	   *all = (Series *) core_alloc(sizeof(Series) * (size_t) n_series);
	double		started,
				elapsed;
	long		buckets = 0;
	int			i;

	detect_default_settings(&settings);
	for (i = 0; i < n_series; i++)
		generate_kind(&all[i], kind, &rng, length, true, 504);

	started = cpu_seconds();
	for (i = 0; i < n_series; i++)
	{
		DetectOutput out;
		char		err[256];
		int			first_eval = window > 0 ? length - window : 0;

		if (detect_run_operands(all[i].buckets, all[i].values,
								operands ? all[i].numerators : NULL,
								operands ? all[i].denominators : NULL, length, CORE_USECS_PER_HOUR,
								kind->count_shaped, all[i].buckets[first_eval],
								all[i].buckets[length - 1] + CORE_USECS_PER_HOUR,
								&settings, &out, err, sizeof(err)))
		{
			buckets += out.n_rows;
			detect_output_free(&out);
		}
	}
	elapsed = cpu_seconds() - started;
	for (i = 0; i < n_series; i++)
		free_series(&all[i]);
	core_free(all);
	if (elapsed <= 0.0)
		elapsed = 1e-9;
	*per_series_ms = 1000.0 * elapsed / n_series;
	return (double) buckets / elapsed;
}

/* Print a table's column header */
static void
print_header(const SeriesKind *kind)
{
	int			c;

	printf("%-7s %-10s %7s", "grid", "detector", "recall");
	for (c = 0; c < kind->n_columns; c++)
		printf("  %-7s", incident_names[kind->columns[c]]);
	printf("  %8s  %9s  %6s\n", "fa/1000", "fa-recov", "flags");
}

/* Print the quality table and the speed figures */
int
main(int argc, char **argv)
{
	double		per_series_ms;
	double		rate;
	/* "ratios": only the ratio tables; "ratios-batch": without the online ones */
	bool		ratios_only = argc > 1 && strncmp(argv[1], "ratios", 6) == 0;
	bool		online = !(argc > 1 && strcmp(argv[1], "ratios-batch") == 0);
	/* "daily": only the daily grids' tables (what a change to daily detection moves) */
	bool		daily_only = argc > 1 && strcmp(argv[1], "daily") == 0;

	printf("quality: recall = incidents with a flag inside or within %d buckets after;\n"
		   "fa/1000 = flags outside every incident, per 1000 evaluated buckets;\n"
		   "fa-recov = the same without flags in the recovery span after an incident\n"
		   "(one level window, 24 h / 7 d; plus one week for level shifts and ramps)\n\n",
		   AFTER_BUCKETS);
	if (!ratios_only)
	{
		print_header(&COUNT_SERIES);
		if (!daily_only)
			evaluate_grid("hourly", &COUNT_SERIES, true, 100, 1500, UINT64_C(42));
		evaluate_grid("daily", &COUNT_SERIES, false, 100, 400, UINT64_C(4242));

		printf("\nonline (production-shaped: a pass per bucket over the history a pass loads,\n"
			   "30-bucket window, settling 120 min, the persist rule; the first 30 hourly\n"
			   "and all 100 daily series of the tables above; the stateless baseline is\n"
			   "repeated for the same series)\n");
		if (!daily_only)
			evaluate_online("hourly", &COUNT_SERIES, true, 30, 1500, UINT64_C(42));
		evaluate_online("daily", &COUNT_SERIES, false, 100, 400, UINT64_C(4242));
		printf("\n");
	}

	printf("fractional (ratio) series: purchases / views, numerator 20..300 per bucket,\n"
		   "denominator 8..10 x; ratio drops to 25..50 %%, spikes +60..100 %%, level\n"
		   "shifts; 0..3 incidents a series (same columns and rules as above);\n"
		   "tripl+ops: the same series with their operands (the ratio noise model)\n");
	print_header(&FRACTIONAL_SERIES);
	if (!daily_only)
		evaluate_grid("hourly", &FRACTIONAL_SERIES, true, 100, 1500, UINT64_C(4343));
	evaluate_grid("daily", &FRACTIONAL_SERIES, false, 100, 400, UINT64_C(434343));

	if (online)
	{
		printf("\nfractional, online (as the online count table: the first 30 hourly and all\n"
			   "100 daily series of the fractional table)\n");
		if (!daily_only)
			evaluate_online("hourly", &FRACTIONAL_SERIES, true, 30, 1500, UINT64_C(4343));
		evaluate_online("daily", &FRACTIONAL_SERIES, false, 100, 400, UINT64_C(434343));
	}

	printf("\nlow-volume ratios (as the fractional table, numerator 2.5..20 per bucket:\n"
		   "denominators of about 20..200, fewer in a daily trough)\n");
	print_header(&LOW_VOLUME_SERIES);
	if (!daily_only)
		evaluate_grid("hourly", &LOW_VOLUME_SERIES, true, 100, 1500, UINT64_C(4545));
	evaluate_grid("daily", &LOW_VOLUME_SERIES, false, 100, 400, UINT64_C(454545));
	if (online)
	{
		printf("\nlow-volume ratios, online (the first 30 hourly and all 100 daily series)\n");
		if (!daily_only)
			evaluate_online("hourly", &LOW_VOLUME_SERIES, true, 30, 1500, UINT64_C(4545));
		evaluate_online("daily", &LOW_VOLUME_SERIES, false, 100, 400, UINT64_C(454545));
	}
	if (ratios_only || daily_only)
		return 0;

	print_calibration();

	printf("\nspeed (one core, default settings, settling 120 min):\n");
	rate = time_detector(&COUNT_SERIES, 1000, 2000, 0, false, &per_series_ms);
	printf("  1000 hourly series x 2000 buckets, every bucket scored: %.3f ms/series, %.0f buckets/s\n",
		   per_series_ms, rate);
	rate = time_detector(&COUNT_SERIES, 1000, 534, 30, false, &per_series_ms);
	printf("  1000 hourly series x 534 buckets, 30-bucket window:     %.3f ms/series, %.0f buckets/s\n",
		   per_series_ms, rate);
	rate = time_detector(&FRACTIONAL_SERIES, 1000, 2000, 0, false, &per_series_ms);
	printf("  1000 hourly fractional series x 2000 buckets, all scored: %.3f ms/series, %.0f buckets/s\n",
		   per_series_ms, rate);
	rate = time_detector(&FRACTIONAL_SERIES, 1000, 2000, 0, true, &per_series_ms);
	printf("  the same with their operands (ratio noise model):       %.3f ms/series, %.0f buckets/s\n",
		   per_series_ms, rate);
	return 0;
}
