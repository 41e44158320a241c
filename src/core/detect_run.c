/*-------------------------------------------------------------------------
 *
 * detect_run.c
 *	  The anomaly detector (doc/detection.md, "The detector in detail"): phase and
 *	  rolling baselines per bucket, a trend-shift path on a robust MSTL
 *	  decomposition, and the outage collapse.
 *
 *	  Every prepared point gets a row.  Buckets before eval_start carry no
 *	  baseline; buckets in [eval_start, eval_end) carry the baseline they
 *	  were judged against (withheld ones too, so a band can be drawn), and
 *	  only buckets in [eval_start, emission_end) can be flagged.
 *
 *	  Robust level ("exclude anomalies from training", as Elementary does).
 *	  Points are judged in time order from (close to) the start of the
 *	  series, so each point knows which earlier points were anomalous:
 *	  flagged by their baseline (also those an outage or trend row later
 *	  silences), or zeros continuing a flagged run of zeros.  The phase
 *	  baseline's level windows leave those points out, unless they are more
 *	  than half of a window (then it is used whole: a genuine level change
 *	  is absorbed within about half a window, and the trend path reports
 *	  it).  Because the level window spans one shortest cycle (a day of
 *	  hours), dropping a point from one window only would bias that level by
 *	  the time of day dropped; so the positions left out of the current
 *	  window are left out of each partner's window too, and the other way
 *	  round, and both levels stay means over the same times of day.  Points
 *	  before eval_start are judged with the longest phase period that has
 *	  two cycles before them (the three-cycle rule of doc/detection.md is for what is
 *	  emitted; with the history a detection pass loads (doc/detection.md, "When and over what") it would judge them all
 *	  on the daily period, which takes every weekend edge for an anomaly).
 *	  The rolling fallback keeps its plain window (leaving anomalies out of
 *	  it was measured to hurt: nothing absorbs a level change there).
 *
 *	  Pooled spread of fractional series.  The phase scale, 1.4826 * MAD of
 *	  the partners' factors, comes from a handful of partners: with the
 *	  history a detection pass loads, every emitted bucket has three (the MAD of
 *	  three values is the smaller of two deviations, often near 0), and even
 *	  eight or a dozen give spuriously tiny spreads often enough to flag
 *	  plain noise; a ratio metric has no sqrt(expected) floor to catch that.
 *	  So a fractional series' phase scale is the larger of that and the
 *	  pooled spread of its recent phase residuals, |v - expected| / level,
 *	  of the points judged on a phase baseline in the last three longest
 *	  periods (the history a detection pass loads (doc/detection.md, "When and over what"); eight weeks at least, for a
 *	  daily grid's sake), on grids with a daily cycle of 12 or more buckets
 *	  only those within two buckets of the same time of day (a ratio's noise
 *	  follows its denominator's volume, which follows the time of day); as a
 *	  mean clipped at three medians (robust to the incidents in the pool,
 *	  steadier than a median, and cheaper), re-scaled to the current level.
 *	  The residuals are prediction errors, so the pool also carries the
 *	  uncertainty of a median of few partners.  Points judged on the rolling
 *	  fallback (too little history for the phase rule) still add a residual
 *	  against the longest period with a cycle before them, which the short
 *	  history of a daily grid needs.  Count series on grids finer than a
 *	  day keep the MAD alone: their sqrt(expected) floor already bounds the
 *	  spread, and the pool, measured on them, cost recall (their residuals
 *	  carry weekday edges and incidents that a ratio's do not).  A daily
 *	  count is pooled like a ratio: a few weekly partners and a
 *	  sqrt(expected) far below its day-to-day noise gave spuriously tiny
 *	  spreads (measured: 49 false incidents in 30 daily count series over
 *	  28 days, 1 with the pool).  A daily grid's pool mixes all seven
 *	  weekdays, so a point whose expectation is clearly off the level (a
 *	  weekend day at 60 % of it: more than two partner spreads away) pools
 *	  its error relative to its expectation: in level units its noise was
 *	  the weekdays' (measured: a -45 % holiday on a weekend day at z -2.6).
 *
 *	  Trend path: a run of shifted points goes on through points whose
 *	  trend change keeps the run's direction and the effect size (the z
 *	  test starts a run, it need not hold throughout), and the run's anchor
 *	  is the point that best splits the departures from the pre-shift
 *	  expectation into "as before" and "changed" (least absolute
 *	  deviations), not the first departing point, which a smooth trend
 *	  bending early at a step puts on noise before it.  The trend z's scale
 *	  is the robust scale of the remainders since the point one period
 *	  earlier, but of at least 28 of them: a daily grid's period of 7 has
 *	  the small-sample trouble of few partners (measured: fewer false trend
 *	  rows on daily series, counts and ratios, and no recall lost overall).
 *
 *	  Cost: preparation, prefix sums, the rolling path, the trend pass and
 *	  the outage pass are O(n); MSTL is O(n) per pass thanks to LOESS jumps;
 *	  the phase path looks at every earlier same-phase point, O(n / P) per
 *	  scored bucket (history before eval_start: at most a year of cycles),
 *	  and a fractional series' pool at about a hundred residuals per
 *	  scored bucket (five a day over three weeks on a daily cycle of 12 or
 *	  more buckets, else the 56 to 84 buckets of the window).
 *	  Memory is linear in the prepared series and comes in one block per
 *	  run besides the output.  The core is re-entrant: no mutable globals,
 *	  no clocks, no randomness.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "detect_internal.h"
#include "stl.h"

/* Apply the gate and the spread floors to a baseline's expected and scale */
static void
finish_baseline(const Detection *d, double ratio_floor, Baseline *b)
{
	b->effective = fmax(b->scale, detect_spread_floor(d, ratio_floor, b->expected, true));
	b->gated = detect_clears_volume_gate(d, b->expected);
}

/* Index of the point at slot s, looking near index guess first; -1 if none */
static int
point_at_slot(const Detection *d, int guess, int limit, int64_t s)
{
	if (guess >= 0 && guess <= limit && d->slot[guess] == s)
		return guess;
	return detect_find_slot(d->slot, limit, s, NULL);
}

/* First index whose slot is >= s among [0, hi] (a window's first point) */
static int
window_start(const Detection *d, int hi, int64_t s, int guess)
{
	if (guess < 0)
		guess = 0;
	if (guess <= hi && d->slot[guess] == s)
		return guess;
	return detect_lower_bound_slot(d->slot, guess, hi, s);
}

/*
 * Anomalous points of the window [lo, hi] (indices): their positions
 * (key_origin - slot) mod L into keys and their values into values (at
 * most L of each); how many.  0 when they are more than half of the
 * window's points: the window is then used whole (a genuine level change is
 * absorbed; the trend path reports it).
 */
static int
window_anomalies(const Detection *d, int lo, int hi, int64_t key_origin, int level_window,
				 int *keys, double *values)
{
	int			count = 0;
	int			a;

	for (a = hi >= 0 ? d->last_anomalous[hi] : -1; a >= lo;
		 a = a > 0 ? d->last_anomalous[a - 1] : -1)
	{
		keys[count] = (int) ((key_origin - d->slot[a]) % level_window);
		values[count] = d->value[a];
		count++;
	}
	return 2 * count > hi + 1 - lo ? 0 : count;
}

/*
 * Phase baseline with a robust, paired level.  The level window of i holds
 * positions 1..L before it, a partner's positions 0..L-1 up to itself; both
 * are keyed r mod L (the same time of the shortest cycle).  Points judged
 * anomalous are left out of their window's level (unless they are more than
 * half of it), and the same positions are left out of the other window too,
 * so the two levels remain means over the same times of day: a left-out
 * peak hour cannot bias one side only.  Each partner contributes
 * v_j * current_level / level_j; with nothing left out that is
 * median(factors) * current_level as in doc/detection.md.  The unit of the pooled
 * residuals is the current level without the current window's anomalous
 * points.  Leaves the floors to the caller.
 */
static bool
paired_phase_baseline(Detection *d, int i, int level_window, int n_partners,
					  Baseline *b)
{
	int64_t		slot_i = d->slot[i];
	int			lo_i = window_start(d, i - 1, slot_i - level_window, i - level_window);
	int			count_i = i - lo_i;
	double		sum_i = d->prefix[i] - d->prefix[lo_i];
	double		plain_level_i;
	int			n_current;
	int			n_values = 0;
	int			k;

	if (count_i <= 0 || !(sum_i > 0.0))
		return false;
	plain_level_i = sum_i / (double) count_i;
	n_current = window_anomalies(d, lo_i, i - 1, slot_i, level_window,
								 d->current_keys, d->current_key_values);

	for (k = 0; k < n_partners; k++)
	{
		int			j = d->partners[k];
		int64_t		slot_j = d->slot[j];
		int			lo_j = d->level_lo[j];
		int			count_j = j + 1 - lo_j;
		double		sum_j = d->prefix[j + 1] - d->prefix[lo_j];
		double		kept_sum_i = sum_i,
					kept_sum_j = sum_j;
		int			kept_i = count_i,
					kept_j = count_j;
		int			n_own;
		double		level_i,
					level_j;
		int			c;

		if (n_current == 0 && d->last_anomalous[j] < lo_j)
		{
			/* nothing to leave out: the plain factor re-levelled */
			if (!isnan(d->factor[j]))
				d->scratch[n_values++] = d->factor[j] * plain_level_i;
			continue;
		}
		if (++d->stamp_generation == INT32_MAX)
		{
			memset(d->key_stamp, 0, sizeof(int) * (size_t) level_window);
			d->stamp_generation = 1;
		}
		/* the current window's anomalous positions, on both sides */
		for (c = 0; c < n_current; c++)
		{
			int			key = d->current_keys[c];
			int			at = point_at_slot(d, j - key, j, slot_j - key);

			d->key_stamp[key] = d->stamp_generation;
			kept_sum_i -= d->current_key_values[c];
			kept_i--;
			if (at >= lo_j)
			{
				kept_sum_j -= d->value[at];
				kept_j--;
			}
		}
		/* the partner window's own anomalous positions, on both sides */
		n_own = window_anomalies(d, lo_j, j, slot_j, level_window,
								 d->partner_keys, d->partner_key_values);
		for (c = 0; c < n_own; c++)
		{
			int			key = d->partner_keys[c];
			int			r = key == 0 ? level_window : key;
			int			at;

			if (d->key_stamp[key] == d->stamp_generation)
				continue;
			d->key_stamp[key] = d->stamp_generation;
			kept_sum_j -= d->partner_key_values[c];
			kept_j--;
			at = point_at_slot(d, i - r, i - 1, slot_i - r);
			if (at >= lo_i)
			{
				kept_sum_i -= d->value[at];
				kept_i--;
			}
		}
		if (kept_i > 0 && kept_j > 0)
		{
			level_i = kept_sum_i / (double) kept_i;
			level_j = kept_sum_j / (double) kept_j;
		}
		else
		{
			level_i = plain_level_i;
			level_j = sum_j / (double) count_j;
		}
		if (level_i > 0.0 && level_j > 0.0)
			d->scratch[n_values++] = d->value[j] * level_i / level_j;
	}
	if (n_values == 0)
		return false;
	detect_median_and_robust_scale(d->scratch, n_values, d->scratch2, &b->expected, &b->scale);
	b->unit = plain_level_i;
	if (n_current > 0)
	{
		double		kept_sum = sum_i;
		int			c;

		for (c = 0; c < n_current; c++)
			kept_sum -= d->current_key_values[c];
		if (count_i > n_current && kept_sum > 0.0)
			b->unit = kept_sum / (double) (count_i - n_current);
	}
	return true;
}

/*
 * The pooled spread of point i, relative to the unit of its baseline: the
 * residuals (see Detection) of the points in the last pool_window slots
 * before it, on a shortest cycle of POOL_LOCAL_MIN_CYCLE or more buckets
 * only those within POOL_NEIGHBOURS buckets of i's position in each cycle.
 * A standard deviation from their mean absolute value, then POOL_CLIP_STEPS
 * times one from their mean clipped at POOL_CLIP of that deviation's
 * medians (a winsorised mean: an incident in the pool counts as at most a
 * few ordinary residuals, and no selection is needed).  0 with fewer than
 * POOL_MIN_RESIDUALS residuals.  Uses scratch2.
 */
static double
pooled_spread(Detection *d, int i)
{
	double	   *pool = d->scratch2;
	int64_t		slot_i = d->slot[i];
	int64_t		oldest = slot_i - d->pool_window;
	int			cycle = d->shortest_period;
	double		sum = 0.0,
				sigma;
	int			n = 0;
	int			k,
				step;

	if (cycle >= POOL_LOCAL_MIN_CYCLE && d->gap_free)
	{
		/* slot = index: each cycle's neighbourhood is a run of indices */
		int64_t		first = oldest > 0 ? oldest : 0;
		int64_t		centre;

		for (centre = i; centre + POOL_NEIGHBOURS >= first; centre -= cycle)
		{
			int64_t		from = centre - POOL_NEIGHBOURS > first ? centre - POOL_NEIGHBOURS : first;
			int64_t		to = centre + POOL_NEIGHBOURS < i - 1 ? centre + POOL_NEIGHBOURS : i - 1;
			int64_t		j;

			for (j = from; j <= to; j++)
				if (!isnan(d->residual[j]))
				{
					pool[n++] = d->residual[j];
					sum += d->residual[j];
				}
		}
	}
	else if (cycle >= POOL_LOCAL_MIN_CYCLE)
	{
		int64_t		centre;

		for (centre = slot_i; centre + POOL_NEIGHBOURS >= oldest && centre + POOL_NEIGHBOURS >= 0;
			 centre -= cycle)
		{
			int			delta;

			for (delta = -POOL_NEIGHBOURS; delta <= POOL_NEIGHBOURS; delta++)
			{
				int64_t		s = centre + delta;
				int64_t		guess = (int64_t) i - (slot_i - s);
				int			j;

				if (s >= slot_i || s < oldest || s < 0)
					continue;
				j = point_at_slot(d, guess >= 0 ? (int) guess : -1, i - 1, s);
				if (j >= 0 && !isnan(d->residual[j]))
				{
					pool[n++] = d->residual[j];
					sum += d->residual[j];
				}
			}
		}
	}
	else
	{
		int			j;

		for (j = i - 1; j >= 0 && d->slot[j] >= oldest; j--)
			if (!isnan(d->residual[j]))
			{
				pool[n++] = d->residual[j];
				sum += d->residual[j];
			}
	}
	if (n < POOL_MIN_RESIDUALS)
		return 0.0;
	sigma = MEAN_ABSOLUTE_TO_STDDEV * sum / (double) n;
	for (step = 0; step < POOL_CLIP_STEPS; step++)
	{
		double		cap = POOL_CLIP * HALF_NORMAL_MEDIAN * sigma;

		sum = 0.0;
		for (k = 0; k < n; k++)
			sum += pool[k] < cap ? pool[k] : cap;
		sigma = POOL_CLIPPED_MEAN_TO_STDDEV * sum / (double) n;
	}
	return sigma;
}

/*
 * Each point's level window (slot_j - L, slot_j], L the shortest phase
 * period (the level window of every phase period), and its plain factor.
 */
static void
prepare_levels(Detection *d)
{
	int			level_window = d->shortest_period;
	int			j;

	for (j = 0; j < d->m; j++)
	{
		int			lo = window_start(d, j, d->slot[j] - level_window + 1, j - level_window + 1);
		double		level = (d->prefix[j + 1] - d->prefix[lo]) / (double) (j + 1 - lo);

		d->level_lo[j] = lo;
		d->factor[j] = level > 0.0 ? d->value[j] / level : NAN;
	}
}

/*
 * Indices of the points before i with the same slot modulo period, newest
 * first, into d->partners, at most max_partners of them; how many.  A
 * gap-free series (every count series without skipped buckets) has them
 * every period-th index.
 */
static int
phase_partners(Detection *d, int i, int period, int max_partners)
{
	int			count = 0;
	int			j;

	if (!d->gap_free)
		return detect_same_phase_partners(d->slot, i, d->slot[i], period,
										  d->partners, max_partners);
	for (j = i - period; j >= 0 && count < max_partners; j -= period)
		d->partners[count++] = j;
	return count;
}

/*
 * Phase baseline of point i from at most max_partners same-phase points
 * before it, re-levelled to the current level (paired_phase_baseline); the
 * partners' median and robust scale for a signed series or when no level
 * can be formed.  A pooled series' scale (fractional, or a count on a grid
 * of a day or more) is at least the pooled spread in the baseline's unit.
 * Where the pool mixes every position of the shortest cycle (a daily grid's
 * weekdays), the unit is the expectation instead of the level when the two
 * differ by more than POOL_SHAPE_SPREADS partner spreads: a weekend day
 * expected at 60 % of the week's level has 60 % of its volume's noise, and
 * pooling weekday errors in level units judged it against the weekdays'
 * noise.  False when no same-phase point exists.
 */
static bool
phase_baseline(Detection *d, int i, int period, int max_partners, Baseline *b)
{
	int			level_window = period < d->shortest_period ? period : d->shortest_period;
	int			n_partners;
	int			k;

	n_partners = phase_partners(d, i, period, max_partners);
	if (n_partners == 0)
		return false;
	if (d->is_signed ||
		!paired_phase_baseline(d, i, level_window, n_partners, b))
	{
		for (k = 0; k < n_partners; k++)
			d->scratch[k] = d->value[d->partners[k]];
		detect_median_and_robust_scale(d->scratch, n_partners, d->scratch2,
								&b->expected, &b->scale);
		b->unit = d->is_signed ? 1.0 : 0.0;
	}
	if (d->pooled && !d->is_signed && b->unit > 0.0 && d->shortest_period < POOL_LOCAL_MIN_CYCLE &&
		b->expected > 0.0 && fabs(b->expected - b->unit) > POOL_SHAPE_SPREADS * b->scale)
		b->unit = b->expected;
	if (d->pooled && b->unit > 0.0)
		b->scale = fmax(b->scale, b->unit * pooled_spread(d, i));
	finish_baseline(d, PHASE_RATIO_FLOOR, b);
	return true;
}

/*
 * Rolling baseline of point i: mean and population stddev of the previous
 * baseline_window_buckets points.  False with too little history.  (Leaving
 * anomalous points out of this window was measured and rejected: with no
 * trend path behind the rolling fallback, a level change then keeps being
 * flagged for half a window.)
 */
static bool
rolling_baseline(Detection *d, int i, Baseline *b)
{
	int			lo = i - d->settings->baseline_window_buckets;
	int			count;
	double		mean = 0.0;
	double		sum_squares = 0.0;
	int			j;

	if (lo < 0)
		lo = 0;
	count = i - lo;
	if (count <= 0 || count < d->settings->min_history_buckets)
		return false;
	for (j = lo; j < i; j++)
		mean += d->value[j];
	mean /= (double) count;
	for (j = lo; j < i; j++)
		sum_squares += (d->value[j] - mean) * (d->value[j] - mean);
	b->expected = mean;
	b->scale = sqrt(sum_squares / (double) count);
	b->unit = 0.0;
	finish_baseline(d, ROLLING_RATIO_FLOOR, b);
	return true;
}

/*
 * Phase period a point before the evaluated region is judged with: the
 * longest one with MARK_MIN_CYCLES cycles before it (the rule of doc/detection.md,
 * three cycles, is for what is emitted; history loaded the way a detection pass
 * loads it has fewer than three weekly cycles, and the daily period takes
 * every weekend edge for an anomaly).  0 when none: the rolling fallback.
 */
static int
marking_period(const Detection *d, int64_t slot)
{
	int			c;

	for (c = 0; c < d->n_periods; c++)
		if (slot / d->periods[c] >= MARK_MIN_CYCLES)
			return d->periods[c];
	return 0;
}

/*
 * A fractional point judged on the rolling fallback still gives the pool a
 * residual: against a phase baseline of the longest period with a cycle
 * before it (a median of one or two partners, close to what the emitted
 * buckets' own three give), so the history of a daily grid (three weekly
 * cycles) pools two weeks of residuals, not one.
 */
static void
add_pool_only_residual(Detection *d, int i)
{
	Baseline	b;
	int			c;

	for (c = 0; c < d->n_periods; c++)
		if (d->slot[i] / d->periods[c] >= 1)
			break;
	if (c == d->n_periods)
		return;
	b.unit = 0.0;
	if (phase_baseline(d, i, d->periods[c], MARK_MAX_PARTNERS, &b) &&
		b.unit > 0.0 && b.gated)
	{
		d->residual[i] = fabs(d->value[i] - b.expected) / b.unit;
		if (d->ratio != NULL)
			detect_ratio_note(d->ratio, i, d->value[i], b.expected);
	}
}

/*
 * A ratio series with its operands: the spread of point i is the ratio
 * noise model's (the volume-scaled binomial or Poisson spread times the
 * learned overdispersion, on the side of its deviation) in place of the
 * fractional model's, where the model has operands and enough residuals
 */
static void
ratio_spread(Detection *d, int i, Baseline *b)
{
	double		spread = detect_ratio_spread(d->ratio, i, b->expected,
											 d->value[i] >= b->expected ? 1 : -1,
											 d->settings->sigma_threshold);

	if (!isfinite(spread))
		return;
	b->scale = spread;
	b->effective = fmax(spread, FRACTIONAL_FLOOR_EPSILON);
}

/*
 * Record whether point i was judged anomalous, and in which direction
 * (ANOMALY_UP when value >= expected, else ANOMALY_DOWN)
 */
static void
mark_point(Detection *d, int i, bool flagged, bool up)
{
	unsigned char anomalous = flagged ? (up ? ANOMALY_UP : ANOMALY_DOWN) : 0;

	/* a zero continuing a flagged run of zeros belongs to that outage */
	if (!anomalous && d->count_shaped && d->value[i] <= 0.0 && i > 0 &&
		d->slot[i - 1] == d->slot[i] - 1 && d->anomalous[i - 1] &&
		d->value[i - 1] <= 0.0)
		anomalous = ANOMALY_DOWN;
	d->anomalous[i] = anomalous;
	d->last_anomalous[i] = anomalous ? i : (i > 0 ? d->last_anomalous[i - 1] : -1);
}

/*
 * Score the points in time order.  Points before first_eval are judged only
 * to know which of them were anomalous (their rows carry no baseline); the
 * judging starts SCORE_HISTORY_CYCLES longest periods (at least one rolling
 * window) before first_eval, which covers all of a series loaded the way
 * a detection pass loads it and keeps a huge series linear; older points count as
 * normal.  Rows in [eval_start, eval_end) get their baseline, and those
 * before emission_end can be flagged.  True if an emitted point had a phase
 * period.
 */
static bool
score_buckets(Detection *d, int first_eval)
{
	const DetectSettings *s = d->settings;
	bool		had_phase_period = false;
	int64_t		history;
	int			score_start;
	int			i;

	history = d->n_periods > 0 ? (int64_t) SCORE_HISTORY_CYCLES * d->periods[0] : 0;
	if (history < s->baseline_window_buckets)
		history = s->baseline_window_buckets;
	score_start = (int64_t) first_eval > history ? (int) (first_eval - history) : 0;
	for (i = 0; i < score_start; i++)
	{
		d->last_anomalous[i] = -1;
		d->residual[i] = NAN;
	}
	if (d->shortest_period > 0 && !d->is_signed)
		prepare_levels(d);

	for (i = score_start; i < d->m; i++)
	{
		DetectRow  *row = &d->rows[i];
		bool		emitted = i >= first_eval;
		int			period = emitted ?
			detect_phase_period_from(d->periods, d->n_periods, d->slot[i]) :
			marking_period(d, d->slot[i]);
		DetectorKind kind;
		Baseline	b;
		bool		have;
		bool		flagged;
		double		z;

		d->residual[i] = NAN;
		if (period > 0)
		{
			if (emitted && !row->withheld)
				had_phase_period = true;
			have = phase_baseline(d, i, period, emitted ? i : MARK_MAX_PARTNERS, &b);
			kind = d->count_shaped ? DETECTOR_PHASE : DETECTOR_FRACTIONAL;
		}
		else
		{
			if (d->pooled)
				add_pool_only_residual(d, i);
			have = rolling_baseline(d, i, &b);
			kind = d->count_shaped ? DETECTOR_ROLLING : DETECTOR_FRACTIONAL;
		}
		flagged = false;
		z = NAN;
		if (have && d->ratio != NULL)
			ratio_spread(d, i, &b);
		if (have)
		{
			z = (d->value[i] - b.expected) / b.effective;
			if (d->ratio != NULL && kind != DETECTOR_BURST)
				z = detect_ratio_run_z(d->ratio, i, d->value[i], b.expected, b.effective,
									   s->sigma_threshold);
			flagged = b.gated && isfinite(z) && fabs(z) >= s->sigma_threshold;
		}
		if (d->sparse && !flagged)
		{
			/* a zero-typical series: the burst test where the baseline passes */
			Baseline	burst;
			double		burst_z;

			if (detect_burst(d, i, &burst, &burst_z) &&
				(!have || !b.gated || burst_z >= s->sigma_threshold))
			{
				have = true;
				b = burst;
				z = burst_z;
				kind = DETECTOR_BURST;
				flagged = isfinite(z) && z >= s->sigma_threshold;
			}
		}
		if (!have)
		{
			mark_point(d, i, false, false);
			continue;
		}
		mark_point(d, i, flagged, d->value[i] >= b.expected);
		if (d->pooled && period > 0 && b.unit > 0.0 && b.gated && kind != DETECTOR_BURST)
		{
			d->residual[i] = fabs(d->value[i] - b.expected) / b.unit;
			if (d->ratio != NULL)
				detect_ratio_note(d->ratio, i, d->value[i], b.expected);
		}
		if (!emitted)
			continue;

		row->kind = kind;
		row->expected = b.expected;
		row->stddev = b.scale;
		row->effective_stddev = b.effective;
		row->z_score = z;
		if (!b.gated || row->withheld)
			continue;
		row->scored = true;
		if (flagged)
		{
			row->is_anomaly = true;
			row->direction = row->actual >= b.expected ? 1 : -1;
		}
	}
	return had_phase_period;
}

/* Check the settings; false with a message when one is out of range */
static bool
settings_valid(const DetectSettings *s, char *errbuf, size_t errlen)
{
	if (!isfinite(s->sigma_threshold) || s->sigma_threshold <= 0.0)
	{
		core_errorf(errbuf, errlen, "sigma_threshold must be a positive number");
		return false;
	}
	if (!isfinite(s->min_expected_count) || s->min_expected_count < 0.0)
	{
		core_errorf(errbuf, errlen, "min_expected_count must be a non-negative number");
		return false;
	}
	if (s->baseline_window_buckets < 1)
	{
		core_errorf(errbuf, errlen, "baseline_window_buckets must be at least 1");
		return false;
	}
	if (s->min_history_buckets < 1 || s->min_history_buckets > s->baseline_window_buckets)
	{
		core_errorf(errbuf, errlen,
				  "min_history_buckets must be between 1 and baseline_window_buckets");
		return false;
	}
	if (s->settling_minutes < 0 || s->settling_minutes > 1440)
	{
		core_errorf(errbuf, errlen, "settling_minutes must be between 0 and 1440");
		return false;
	}
	return true;
}

/* Whether a bucket lies on the grid of width (Monday origin for weeks) */
static bool
on_grid(int64_t bucket, int64_t width)
{
	int64_t		origin = (width % CORE_USECS_PER_WEEK == 0) ? WEEK_GRID_ORIGIN : 0;
	int64_t		remainder = bucket % width - origin % width;

	return remainder % width == 0;
}

/* Double arrays of the trend path, one entry per decomposed point */
#define TREND_DOUBLES				8

/*
 * Allocate the per-point arrays of a prepared series of m points, the
 * level-window scratch and the trend path's arrays and decomposition
 * scratch for its last trend_length points, as one block: one allocation
 * per run (besides the output) keeps the allocator from handing pages back
 * to the system between runs.
 */
static void
allocate_series(Detection *d, int m, int trend_length)
{
	int			ascending[DETECT_MAX_PHASE_PERIODS];
	size_t		points = (size_t) (m > 0 ? m : 1);
	size_t		keys = (size_t) (d->shortest_period > 0 ? d->shortest_period : 1);
	size_t		trend = (size_t) trend_length;
	size_t		mstl;
	size_t		doubles;
	size_t		int64s = points * 2;
	size_t		ints = points * 3 + keys * 3 + trend;
	char	   *block;

	detect_ascending_periods(d, ascending);
	mstl = trend_length > 0 ? mstl_work_size(trend_length, ascending, d->n_periods) : 0;
	doubles = points * 6 + 1 + keys * 2 + trend * TREND_DOUBLES + mstl;
	block = (char *) core_alloc(sizeof(double) * doubles + sizeof(int64_t) * int64s +
								sizeof(int) * ints + points + trend * 2);
	d->block = block;
	d->m = m;
	d->value = (double *) block;
	d->scratch = d->value + points;
	d->scratch2 = d->scratch + points;
	d->residual = d->scratch2 + points;
	d->factor = d->residual + points;
	d->current_key_values = d->factor + points;
	d->partner_key_values = d->current_key_values + keys;
	d->trend_doubles = d->partner_key_values + keys;
	d->mstl_scratch = d->trend_doubles + trend * TREND_DOUBLES;
	d->prefix = d->mstl_scratch + mstl;	/* points + 1 */
	d->bucket = (int64_t *) (d->prefix + points + 1);
	d->slot = d->bucket + points;
	d->partners = (int *) (d->slot + points);
	d->last_anomalous = d->partners + points;
	d->level_lo = d->last_anomalous + points;
	d->key_stamp = d->level_lo + points;
	d->current_keys = d->key_stamp + keys;
	d->partner_keys = d->current_keys + keys;
	d->trend_ints = d->partner_keys + keys;
	d->anomalous = (unsigned char *) (d->trend_ints + trend);
	d->trend_bytes = d->anomalous + points;
	d->trend_length = trend_length;
}

/* Free the per-point arrays */
static void
free_series(Detection *d)
{
	detect_free_noise_model(d);
	detect_ratio_free(d->ratio);
	d->ratio = NULL;
	if (d->block != NULL)
		core_free(d->block);
	d->block = NULL;
}

/*
 * How many of the newest points the trend path decomposes, given m points of
 * which first_eval lie before eval_start: the evaluated points plus
 * TREND_HISTORY_CYCLES longest periods before them (all of a series loaded
 * the way a detection pass loads it), which keeps a huge series linear.  0 when
 * nothing is evaluated or the width has no phase period.
 */
static int
trend_points(const Detection *d, int m, int first_eval)
{
	int64_t		history;
	int			base;

	if (first_eval >= m || d->n_periods == 0)
		return 0;
	history = (int64_t) TREND_HISTORY_CYCLES * d->periods[0];
	base = (int64_t) first_eval > history ? (int) (first_eval - history) : 0;
	return m - base;
}

/*
 * Build the prepared series: count series zero-filled on the grid from the
 * first point up to eval_end (non-finite buckets left out), fractional
 * series only their finite points before eval_end.
 */
static bool
prepare_series(Detection *d, const int64_t *buckets, const double *values, int n,
			   int64_t eval_start, int64_t eval_end, char *errbuf, size_t errlen)
{
	int			m = 0;
	int			before = 0;		/* prepared points before eval_start */
	int			i;

	if (d->count_shaped)
	{
		uint64_t	span;
		uint64_t	grid_points;
		int			skipped = 0;
		int			p = 0;
		uint64_t	k;

		if (n == 0 || eval_end <= buckets[0])
		{
			allocate_series(d, 0, 0);
			return true;
		}
		span = (uint64_t) eval_end - (uint64_t) buckets[0];
		grid_points = span / (uint64_t) d->width + (span % (uint64_t) d->width != 0 ? 1 : 0);
		for (i = 0; i < n && buckets[i] < eval_end; i++)
			if (!isfinite(values[i]))
				skipped++;
		if (grid_points - (uint64_t) skipped > (uint64_t) DETECT_MAX_SERIES_POINTS)
		{
			core_errorf(errbuf, errlen,
					  "the zero-filled series would have more than %d buckets",
					  DETECT_MAX_SERIES_POINTS);
			return false;
		}
		m = (int) (grid_points - (uint64_t) skipped);
		if (eval_start > buckets[0])
		{
			uint64_t	early = (uint64_t) eval_start - (uint64_t) buckets[0];
			uint64_t	grid_before = early / (uint64_t) d->width +
				(early % (uint64_t) d->width != 0 ? 1 : 0);

			if (grid_before > grid_points)
				grid_before = grid_points;
			for (i = 0; i < n && buckets[i] < eval_start && buckets[i] < eval_end; i++)
				if (!isfinite(values[i]))
					grid_before--;
			before = (int) grid_before;
		}
		allocate_series(d, m, trend_points(d, m, before));
		m = 0;
		for (k = 0; k < grid_points; k++)
		{
			int64_t		bucket = buckets[0] + (int64_t) k * d->width;
			double		v = 0.0;

			if (p < n && buckets[p] == bucket)
			{
				v = values[p++];
				if (!isfinite(v))
					continue;
			}
			d->bucket[m] = bucket;
			d->value[m] = v;
			m++;
		}
	}
	else
	{
		for (i = 0; i < n && buckets[i] < eval_end; i++)
			if (isfinite(values[i]))
				m++;
		if (m > DETECT_MAX_SERIES_POINTS)
		{
			core_errorf(errbuf, errlen, "the series has more than %d points",
					  DETECT_MAX_SERIES_POINTS);
			return false;
		}
		for (i = 0; i < n && buckets[i] < eval_end && buckets[i] < eval_start; i++)
			if (isfinite(values[i]))
				before++;
		allocate_series(d, m, trend_points(d, m, before));
		m = 0;
		for (i = 0; i < n && buckets[i] < eval_end; i++)
		{
			if (!isfinite(values[i]))
				continue;
			d->bucket[m] = buckets[i];
			d->value[m] = values[i];
			m++;
		}
	}
	d->m = m;
	for (i = 0; i < m; i++)
	{
		d->slot[i] = detect_season_slot(d->bucket[i], d->bucket[0], d->width);
		d->prefix[i + 1] = d->prefix[i] + d->value[i];
	}
	d->gap_free = m == 0 || d->slot[m - 1] == (int64_t) (m - 1);
	return true;
}

/* Absolute spread floor: 1 for counts, 4 % of the median magnitude otherwise */
double
detect_absolute_floor(Detection *d)
{
	double		magnitude;
	int			i;

	if (d->count_shaped)
		return COUNT_ABSOLUTE_FLOOR;
	if (d->m == 0)
		return FRACTIONAL_FLOOR_EPSILON;
	for (i = 0; i < d->m; i++)
		d->scratch[i] = fabs(d->value[i]);
	magnitude = detect_median_in_place(d->scratch, d->m);
	if (magnitude == 0.0)
	{
		for (i = 0; i < d->m; i++)
			if (fabs(d->value[i]) > magnitude)
				magnitude = fabs(d->value[i]);
	}
	return fmax(magnitude * FRACTIONAL_FLOOR_RATIO, FRACTIONAL_FLOOR_EPSILON);
}

/*
 * The ratio noise model of a fractional series with operands: the operands
 * of its prepared points (the finite values before eval_end, in order);
 * NULL when too few carry them
 */
static DetectRatio *
prepare_ratio(const Detection *d, const int64_t *buckets, const double *values,
			  const double *numerators, const double *denominators, int n)
{
	DetectRatio *r;
	int			i,
				k = 0;

	if (d->count_shaped || numerators == NULL || denominators == NULL || d->m == 0)
		return NULL;
	r = detect_ratio_new(d->m);
	for (i = 0; i < n && k < d->m; i++)
	{
		if (!isfinite(values[i]) || buckets[i] != d->bucket[k])
			continue;
		r->num[k] = numerators[i];
		r->den[k] = denominators[i];
		k++;
	}
	if (!detect_ratio_ready(r))
	{
		detect_ratio_free(r);
		return NULL;
	}
	return r;
}

/* Run the detector (see detect_core.h) */
bool
detect_run(const int64_t *buckets, const double *values, int n, int64_t width_us,
		   bool count_shaped, int64_t eval_start, int64_t eval_end,
		   const DetectSettings *settings, DetectOutput *out,
		   char *errbuf, size_t errlen)
{
	return detect_run_operands(buckets, values, NULL, NULL, n, width_us, count_shaped,
							   eval_start, eval_end, settings, out, errbuf, errlen);
}

/* Run the detector on a series with its ratio operands (see detect_core.h) */
bool
detect_run_operands(const int64_t *buckets, const double *values,
					const double *numerators, const double *denominators, int n,
					int64_t width_us, bool count_shaped, int64_t eval_start, int64_t eval_end,
					const DetectSettings *settings, DetectOutput *out,
					char *errbuf, size_t errlen)
{
	DetectSettings defaults;
	Detection	d;
	int			settling;
	int			first_eval;
	int			i;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (out == NULL)
	{
		core_errorf(errbuf, errlen, "no output given");
		return false;
	}
	memset(out, 0, sizeof(*out));
	out->emission_end = eval_end;

	if (settings == NULL)
	{
		detect_default_settings(&defaults);
		settings = &defaults;
	}
	if (n < 0)
	{
		core_errorf(errbuf, errlen, "the number of points must not be negative");
		return false;
	}
	if (n > 0 && (buckets == NULL || values == NULL))
	{
		core_errorf(errbuf, errlen, "buckets and values must not be null");
		return false;
	}
	if (width_us <= 0)
	{
		core_errorf(errbuf, errlen, "the bucket width must be positive");
		return false;
	}
	if (eval_start > eval_end)
	{
		core_errorf(errbuf, errlen, "eval_start must not be after eval_end");
		return false;
	}
	if (!settings_valid(settings, errbuf, errlen))
		return false;
	for (i = 0; i < n; i++)
	{
		if (i > 0 && buckets[i] == buckets[i - 1])
		{
			core_errorf(errbuf, errlen, "duplicate bucket at position %d", i + 1);
			return false;
		}
		if (i > 0 && buckets[i] < buckets[i - 1])
		{
			core_errorf(errbuf, errlen, "buckets are not in ascending order at position %d", i + 1);
			return false;
		}
		if (!on_grid(buckets[i], width_us))
		{
			core_errorf(errbuf, errlen, "bucket at position %d is not on the grid of the bucket width", i + 1);
			return false;
		}
	}

	memset(&d, 0, sizeof(d));
	d.width = width_us;
	d.count_shaped = count_shaped;
	d.eval_start = eval_start;
	d.settings = settings;
	d.gate_min = count_shaped ? settings->min_expected_count : FRACTIONAL_MIN_EXPECTED;
	d.pooled = !count_shaped || width_us >= POOL_COUNTS_MIN_WIDTH;
	d.n_periods = detect_phase_periods(width_us, d.periods);
	d.shortest_period = d.n_periods > 0 ? d.periods[d.n_periods - 1] : 0;
	d.pool_window = d.n_periods > 0 ? (int64_t) POOL_CYCLES * d.periods[0] : 0;
	if (d.pool_window > 0 && d.pool_window < POOL_MIN_WINDOW)
		d.pool_window = POOL_MIN_WINDOW;

	if (!prepare_series(&d, buckets, values, n, eval_start, eval_end, errbuf, errlen))
	{
		free_series(&d);
		return false;
	}

	/* settling: the newest settling buckets are withheld from emission */
	settling = detect_settling_buckets(settings->settling_minutes, width_us);
	if (settling <= 0)
		d.emission_end = eval_end;
	else if (d.m <= settling)
		d.emission_end = d.m > 0 ? d.bucket[0] : eval_end;
	else
		d.emission_end = d.bucket[d.m - settling];
	out->emission_end = d.emission_end;

	out->n_rows = d.m;
	if (d.m == 0)
	{
		free_series(&d);
		return true;
	}
	d.rows = (DetectRow *) core_alloc(sizeof(DetectRow) * (size_t) d.m);
	out->rows = d.rows;
	for (i = 0; i < d.m; i++)
	{
		DetectRow  *row = &d.rows[i];

		row->bucket = d.bucket[i];
		row->actual = d.value[i];
		row->expected = NAN;
		row->stddev = NAN;
		row->effective_stddev = NAN;
		row->z_score = NAN;
		row->score = NAN;
		row->kind = DETECTOR_NONE;
		row->withheld = d.bucket[i] >= d.emission_end;
		if (d.value[i] < 0.0)
			d.is_signed = true;
	}

	detect_noise_model(&d);
	d.ratio = prepare_ratio(&d, buckets, values, numerators, denominators, n);

	/*
	 * silent skip: no gate of a tiny count series can ever be cleared (a
	 * zero-typical one is still judged by the burst test)
	 */
	if (count_shaped && !d.sparse)
	{
		double		max_value = d.value[0];

		for (i = 1; i < d.m; i++)
			if (d.value[i] > max_value)
				max_value = d.value[i];
		if (max_value * SILENT_SERIES_HEADROOM < settings->min_expected_count)
		{
			out->skipped_small = true;
			free_series(&d);
			return true;
		}
	}

	d.absolute_floor = detect_absolute_floor(&d);

	first_eval = 0;
	while (first_eval < d.m && d.bucket[first_eval] < eval_start)
		first_eval++;

	/* a zero-typical series has no trend to speak of: its bursts are judged */
	if (score_buckets(&d, first_eval) && !d.sparse)
		detect_trend_shifts(&d, first_eval);
	if (count_shaped)
		detect_collapse_outages(&d);
	detect_shift_tolerance(&d, first_eval);
	detect_collapse_incidents(&d, first_eval);

	/* the anomaly score of every row with a z-score, from its final z */
	for (i = 0; i < d.m; i++)
		d.rows[i].score = detect_score(d.rows[i].z_score);

	if (d.n_ranges > 0)
	{
		int			a,
					b;

		/* ascending by start (there are at most a handful) */
		for (a = 1; a < d.n_ranges; a++)
			for (b = a; b > 0 && d.ranges[b].from < d.ranges[b - 1].from; b--)
			{
				DetectRange tmp = d.ranges[b];

				d.ranges[b] = d.ranges[b - 1];
				d.ranges[b - 1] = tmp;
			}
		out->suppressed = (DetectRange *) core_alloc(sizeof(DetectRange) * (size_t) d.n_ranges);
		memcpy(out->suppressed, d.ranges, sizeof(DetectRange) * (size_t) d.n_ranges);
		out->n_suppressed = d.n_ranges;
	}
	out->incidents = d.incidents;
	out->n_incidents = d.n_incidents;
	free_series(&d);
	return true;
}

/* Free what detect_run allocated in out */
void
detect_output_free(DetectOutput *out)
{
	if (out == NULL)
		return;
	if (out->rows != NULL)
		core_free(out->rows);
	if (out->suppressed != NULL)
		core_free(out->suppressed);
	if (out->incidents != NULL)
		core_free(out->incidents);
	out->incidents = NULL;
	out->n_incidents = 0;
	out->rows = NULL;
	out->suppressed = NULL;
	out->n_rows = 0;
	out->n_suppressed = 0;
}
