/*-------------------------------------------------------------------------
 *
 * detect_internal.h
 *	  What the anomaly detector's files share (detect_run.c scores the
 *	  buckets, detect_trend.c runs the trend-shift path and the outage
 *	  collapse): the tuning constants, the per-run Detection and the
 *	  per-bucket Baseline.  Not part of the detector's API (detect_core.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_INTERNAL_H
#define TRIPL_DETECT_INTERNAL_H

#include <math.h>

#include "detect_core.h"
#include "detect_ratio.h"
#include "detect_stats.h"

/* Relative spread floors of the phase, rolling and trend paths */
#define PHASE_RATIO_FLOOR			0.05
#define ROLLING_RATIO_FLOOR			0.03
#define TREND_RATIO_FLOOR			0.05
/*
 * Fewest remainders the trend path takes its robust scale from: those since
 * the point one period earlier, and more on a grid whose period is shorter
 * (the 7 of a daily grid give spuriously tiny spreads, as few partners do)
 */
#define TREND_MIN_SCALE_POINTS		28
/* Minimum relative trend change (and raw departure) of a trend shift */
#define TREND_MIN_RELATIVE_SHIFT	0.15
/* Absolute spread floor of count series */
#define COUNT_ABSOLUTE_FLOOR		1.0
/* Fractional absolute floor: share of the median magnitude, and its minimum */
#define FRACTIONAL_FLOOR_RATIO		0.04
#define FRACTIONAL_FLOOR_EPSILON	1e-9
/* Volume gate of fractional series (replaces min_expected_count) */
#define FRACTIONAL_MIN_EXPECTED		1e-6
/*
 * The noise model of fractional series (detect_incident.c): the typical
 * step is the median of the non-zero absolute differences between
 * consecutive points; a series whose value repeats exactly at
 * STEPPED_REPEAT_SHARE or more of its steps is stepped (quantised), and its
 * spread floor is one typical step; any other fractional series' level
 * floors (a share of |expected| and of the median magnitude) are capped at
 * NOISE_STEP_CAP typical steps, so an offset scale (a temperature near 74)
 * is judged against its own noise, not against its level.
 */
#define STEPPED_REPEAT_SHARE		0.5
#define NOISE_MIN_CHANGES			10
#define NOISE_STEP_CAP				1.0
/*
 * Zero-typical (sparse) series: SPARSE_ZERO_SHARE or more of the points are
 * exactly 0.  Their buckets are judged by the burst test too: the active
 * (non-zero) buckets among the last BURST_WINDOW_MINUTES (at least
 * BURST_MIN_WINDOW, at most BURST_MAX_WINDOW buckets) against a binomial of
 * the history's active share; at least BURST_MIN_ACTIVE active buckets.
 */
#define SPARSE_ZERO_SHARE			0.5
#define BURST_WINDOW_MINUTES		60
#define BURST_MIN_WINDOW			3
#define BURST_MAX_WINDOW			24
#define BURST_MIN_ACTIVE			3
/*
 * Incidents: flagged buckets in the same direction no more than
 * INCIDENT_GAP_MINUTES apart (at least INCIDENT_MIN_GAP, at most
 * INCIDENT_MAX_GAP buckets: separate spikes 20 minutes apart on a 1-minute
 * grid stay separate) are one incident, reported once by its first flagged
 * bucket; a flag in the other direction starts a new one.
 */
#define INCIDENT_GAP_MINUTES		60
#define INCIDENT_MAX_GAP			6
/* anomalous[] of Detection: 0, or the direction of the point's flag */
#define ANOMALY_UP					1
#define ANOMALY_DOWN				2
#define INCIDENT_MIN_GAP			2
/*
 * Shift tolerance: a phase-flagged bucket whose deviation is offset by its
 * neighbours within SHIFT_TOLERANCE_MINUTES (at most SHIFT_MAX_BUCKETS
 * buckets either side; none on grids of more than that) is a shifted job,
 * not an anomaly: the deviations of the neighbourhood sum to less than
 * SHIFT_RESIDUE of its own.
 */
#define SHIFT_TOLERANCE_MINUTES		30
#define SHIFT_MAX_BUCKETS			6
#define SHIFT_RESIDUE				0.5
/* Headroom of the silent skip: skip when 2 * max < min_expected_count */
#define SILENT_SERIES_HEADROOM		2.0
/* Longest periods of history before eval_start the trend path decomposes */
#define TREND_HISTORY_CYCLES		10
/* Longest periods of history before eval_start judged for the robust level */
#define SCORE_HISTORY_CYCLES		10
/*
 * Points before eval_start are judged only to know which were anomalous:
 * with the longest phase period that has MARK_MIN_CYCLES cycles before
 * them, from at most MARK_MAX_PARTNERS partners (a year of weekly cycles,
 * which keeps a huge series linear).
 */
#define MARK_MIN_CYCLES				2
#define MARK_MAX_PARTNERS			52
/*
 * The pooled spread of fractional series (pooled_spread): residuals of the
 * last POOL_CYCLES longest periods, at least POOL_MIN_WINDOW buckets (eight
 * weeks of a daily grid, whose three weeks hold too few); on grids whose
 * shortest cycle has at least POOL_LOCAL_MIN_CYCLE buckets only those within
 * POOL_NEIGHBOURS buckets of the same position in it; none below
 * POOL_MIN_RESIDUALS.  Their mean absolute value, then POOL_CLIP_STEPS
 * means clipped at POOL_CLIP medians of the previous estimate, each turned
 * into a normal standard deviation (E|Z| = 0.79788 and E[min(|Z|, 3 *
 * 0.67449)] = 0.78194 for a standard normal Z).
 */
#define POOL_CYCLES					3
/*
 * Count series are pooled too on grids of this width or more (a daily
 * metric: a few weekly partners, a sqrt(expected) floor far below its real
 * day-to-day noise); on finer grids the pool was measured to cost recall.
 */
#define POOL_COUNTS_MIN_WIDTH		CORE_USECS_PER_DAY
#define POOL_MIN_WINDOW				56
#define POOL_LOCAL_MIN_CYCLE		12
#define POOL_NEIGHBOURS				2
#define POOL_MIN_RESIDUALS			5
#define POOL_CLIP					3.0
#define POOL_CLIP_STEPS				2
#define HALF_NORMAL_MEDIAN			0.6744897501960817
#define MEAN_ABSOLUTE_TO_STDDEV		1.2533141373155001
#define POOL_CLIPPED_MEAN_TO_STDDEV	1.2788676634088707
/*
 * On grids whose shortest cycle has fewer than POOL_LOCAL_MIN_CYCLE buckets
 * (daily: a week of 7) the pool mixes every position of the cycle; a point
 * whose expectation departs from the level by more than this many partner
 * spreads (a weekday shape clearly above the noise) pools its error relative
 * to its expectation, not to the level (phase_baseline).  Below it the
 * shape is within the noise of its few partners and the level is the
 * steadier unit (a ratio's noise follows its volume, not its value).
 */
#define POOL_SHAPE_SPREADS			2.0


/* Offset of Monday 1970-01-05 from the Unix epoch, the origin of week grids */
#define WEEK_GRID_ORIGIN			(INT64_C(4) * CORE_USECS_PER_DAY)

/* Per-bucket baseline before the sigma test */
typedef struct Baseline
{
	double		expected;
	double		scale;			/* raw spread */
	double		effective;		/* floored spread, the z denominator */
	bool		gated;			/* cleared the volume gate */
	double		unit;			/* the level residuals are pooled in (the
								 * current level, or the expectation, see
								 * POOL_SHAPE_SPREADS; 1 for a signed
								 * series); 0 when the baseline has none */
} Baseline;

/* Outcome of the trend-shift test at one point */
typedef enum TrendState
{
	TREND_UNKNOWN = 0,
	TREND_NO_PARTNER,			/* no point one period earlier: not judged */
	TREND_STEADY,				/* judged and not shifted (ends a run) */
	TREND_SHIFTED,				/* passes the effect size and the sigma test */
	TREND_SUSTAINED				/* passes the effect size only: continues a
								 * run in the same direction, starts none */
} TrendState;

/* Everything one detect_run works on */
typedef struct Detection
{
	int			m;				/* prepared points */
	int64_t		width;
	bool		count_shaped;
	bool		is_signed;		/* some value < 0 */
	int64_t		eval_start;
	int64_t		emission_end;
	const DetectSettings *settings;
	double		gate_min;		/* min_expected_count or 1e-6 */
	double		absolute_floor;

	int			periods[DETECT_MAX_PHASE_PERIODS];	/* longest first */
	int			n_periods;
	int			shortest_period;	/* 0 when there is none */

	char	   *block;			/* the one allocation behind the arrays below */

	/*
	 * The trend path's share of that block: TREND_DOUBLES double arrays, an
	 * int array and two byte arrays of trend_length entries for the points
	 * [m - trend_length, m), and the decomposition's scratch.
	 */
	int			trend_length;
	double	   *trend_doubles;
	int		   *trend_ints;
	unsigned char *trend_bytes;
	double	   *mstl_scratch;
	int64_t    *bucket;			/* [m] */
	int64_t    *slot;			/* [m] grid position from the first point */
	double	   *value;			/* [m] */
	double	   *prefix;			/* [m + 1] running sums of value */

	bool		gap_free;		/* slot[k] = k for every point */

	/*
	 * The robust level ("exclude anomalies from training"): anomalous[j] is
	 * set once point j has been judged anomalous (flagged by its baseline,
	 * or a zero continuing a flagged run of zeros), and last_anomalous[j]
	 * is the largest such index <= j (-1 when none), so the anomalous
	 * points of a window are found without scanning it.  Points are scored
	 * in time order, so when point i is scored every entry below i is final.
	 */
	unsigned char *anomalous;	/* [m] */
	int		   *last_anomalous; /* [m] */
	int		   *level_lo;		/* [m] first point of j's level window (slot_j - L, slot_j] */
	double	   *factor;			/* [m] v_j / mean of that window; NAN when the mean is not > 0 */
	int		   *key_stamp;		/* [L] generation marks of left-out positions */
	int			stamp_generation;
	int		   *current_keys;	/* [L] left-out positions of the current window */
	double	   *current_key_values; /* [L] their values */
	int		   *partner_keys;	/* [L] left-out positions of a partner's window */
	double	   *partner_key_values; /* [L] their values */

	/*
	 * The pooled spread of fractional series: residual[j] is |v_j -
	 * expected_j| / unit_j of a point judged on a phase baseline (or given a
	 * pool-only one, see score_buckets), NAN for any other point; filled in
	 * time order.  pool_window is how many slots back the pool reaches.
	 */
	double	   *residual;		/* [m] */
	int64_t		pool_window;
	bool		pooled;			/* phase scales use the pool: fractional
								 * series, and count series on grids of a
								 * day or more (POOL_COUNTS_MIN_WIDTH) */

	double	   *scratch;		/* [m] medians */
	double	   *scratch2;		/* [m] absolute deviations */
	int		   *partners;		/* [m] partner indices */

	DetectRow  *rows;			/* [m], the output */

	/* the noise model (detect_incident.c, detect_noise_model) */
	double		noise_step;		/* typical step of a fractional series; 0 when none */
	bool		stepped;		/* the value repeats at most of its steps */
	bool		sparse;			/* zero-typical: judged by the burst test too */
	int		   *active_prefix;	/* [m + 1] running counts of non-zero points (sparse) */
	double	   *active_sum;		/* [m + 1] running sums of them (sparse) */

	/* incidents (detect_collapse_incidents), grown by doubling */
	DetectIncident *incidents;
	int			n_incidents;
	int			cap_incidents;

	/* the ratio noise model (detect_ratio.c); NULL without operands */
	DetectRatio *ratio;

	/* suppressed ranges gathered so far (at most a few) */
	DetectRange ranges[8];
	int			n_ranges;
} Detection;

/* The periods of d ascending (MSTL's order) into ascending */
static inline void
detect_ascending_periods(const Detection *d, int *ascending)
{
	int			c;

	for (c = 0; c < d->n_periods; c++)
		ascending[d->n_periods - 1 - c] = d->periods[c];
}

/* Whether a (signed-aware) expectation clears the volume gate */
static inline bool
detect_clears_volume_gate(const Detection *d, double expected)
{
	return (d->is_signed ? fabs(expected) : expected) >= d->gate_min;
}

/*
 * The spread floor of a baseline with the given expectation: the larger of
 * ratio_floor x |expected| and the absolute floor (and, when poisson,
 * sqrt(expected) for a positive count), for fractional series bounded by the noise model: at
 * least one typical step of a stepped series, at most NOISE_STEP_CAP of
 * them otherwise.
 */
static inline double
detect_spread_floor(const Detection *d, double ratio_floor, double expected, bool poisson)
{
	double		floor_value = fmax(ratio_floor * fabs(expected), d->absolute_floor);

	if (d->count_shaped)
	{
		if (poisson && expected > 0.0)
			floor_value = fmax(floor_value, sqrt(expected));
		return floor_value;
	}
	if (d->noise_step > 0.0)
		floor_value = d->stepped ? fmax(floor_value, d->noise_step) :
			fmin(floor_value, NOISE_STEP_CAP * d->noise_step);
	return fmax(floor_value, FRACTIONAL_FLOOR_EPSILON);
}

/* detect_trend.c: the trend-shift path and the outage collapse */
extern void detect_trend_shifts(Detection *d, int first_eval);
extern void detect_collapse_outages(Detection *d);
extern void detect_silence_row(DetectRow *row);
extern void detect_add_suppressed_range(Detection *d, int64_t from, int64_t to);

/* detect_run.c: 1 for counts, 4 % of the median magnitude otherwise (uses scratch) */
extern double detect_absolute_floor(Detection *d);

/* detect_incident.c: noise model, bursts, shift tolerance, incidents */
extern void detect_noise_model(Detection *d);
extern void detect_free_noise_model(Detection *d);
extern bool detect_burst(Detection *d, int i, Baseline *b, double *z);
extern void detect_shift_tolerance(Detection *d, int first_eval);
extern void detect_collapse_incidents(Detection *d, int first_eval);

#endif							/* TRIPL_DETECT_INTERNAL_H */
