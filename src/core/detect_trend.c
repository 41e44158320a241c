/*-------------------------------------------------------------------------
 *
 * detect_trend.c
 *	  The anomaly detector's trend-shift path on a robust MSTL
 *	  decomposition, which reports a sustained level change once, and the
 *	  outage collapse, which reports a run of empty buckets once
 *	  (doc/detection.md, "The detector in detail"; the trend path's design
 *	  is described at the top of detect_run.c).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "detect_internal.h"
#include "order.h"
#include "stl.h"

/* Remember a suppressed range, merging it with an overlapping one */
void
detect_add_suppressed_range(Detection *d, int64_t from, int64_t to)
{
	int			k;

	for (k = 0; k < d->n_ranges; k++)
	{
		DetectRange *r = &d->ranges[k];

		if (from <= r->to && to >= r->from)
		{
			if (from < r->from)
				r->from = from;
			if (to > r->to)
				r->to = to;
			return;
		}
	}
	if (d->n_ranges < (int) (sizeof(d->ranges) / sizeof(d->ranges[0])))
	{
		d->ranges[d->n_ranges].from = from;
		d->ranges[d->n_ranges].to = to;
		d->n_ranges++;
	}
}

/* Drop a flagged row in favour of the row reporting its incident */
void
detect_silence_row(DetectRow *row)
{
	if (!row->is_anomaly)
		return;
	row->is_anomaly = false;
	row->direction = 0;
	row->silenced = true;
}

/* Trend-path arrays, one entry per prepared point */
typedef struct TrendPath
{
	const double *trend;
	const double *seasonal;
	const double *remainder;
	int			period;
	int			base;			/* first point decomposed; arrays start here */
	unsigned char *state;		/* TrendState */
	int		   *previous;		/* index one period earlier */
	double	   *scale;
	double	   *effective;
	double	   *z;

	/*
	 * The remainders of the last window whose robust scale was taken, as a
	 * set over their ranks (built on the first use)
	 */
	int			length;			/* decomposed points */
	bool		ranked;			/* window is initialised */
	OrderRankSet window;
	int			sorted_lo;		/* window [sorted_lo, sorted_hi), indices */
	int			sorted_hi;

	/* scratch of split_anchor, [length] each */
	double	   *departure;
	double	   *relative;
	unsigned char *valid;
} TrendPath;

/*
 * Robust scale (1.4826 * MAD, or the population stddev when the MAD is 0)
 * of the remainders of the points [lo, hi).  The remainders are ranked
 * once (on the first call of a pass) and the window is kept as a set over
 * their ranks: moving it from one call's window to the next adds and
 * removes only the points that differ (all of them when it jumps), each
 * in O(log n), and the median and MAD are selections, O(log^2 n).  A pass
 * whose windows sweep the series forward (and once backward) costs
 * O(n log n) in all however the tested points are spread; the values are
 * those of sorting the window.
 */
static double
window_robust_scale(TrendPath *t, int lo, int hi)
{
	OrderRankSet *set = &t->window;
	double		center,
				mad;
	int			k;

	if (!t->ranked)
	{
		order_rank_set_init(set, t->remainder, t->length);
		t->ranked = true;
		t->sorted_lo = t->sorted_hi = lo;
	}
	if (hi <= t->sorted_lo || lo >= t->sorted_hi)
	{
		/* disjoint: empty the set, then fill it */
		for (k = t->sorted_lo; k < t->sorted_hi; k++)
			order_rank_set_remove(set, k - t->base);
		t->sorted_lo = t->sorted_hi = lo;
	}
	for (k = t->sorted_lo; k < lo; k++)
		order_rank_set_remove(set, k - t->base);
	for (k = lo; k < t->sorted_lo; k++)
		order_rank_set_add(set, k - t->base);
	for (k = hi; k < t->sorted_hi; k++)
		order_rank_set_remove(set, k - t->base);
	for (k = t->sorted_hi > lo ? t->sorted_hi : lo; k < hi; k++)
		order_rank_set_add(set, k - t->base);
	t->sorted_lo = lo;
	t->sorted_hi = hi;
	if (set->count <= 0)
		return 0.0;
	order_rank_set_median_mad(set, &center, &mad);
	if (mad > 0.0)
		return MAD_TO_STDDEV * mad;

	/* the population stddev, summed in ascending order as a sorted window */
	{
		double		mean = 0.0,
					sum_squares = 0.0;
		int			r;

		for (r = 0; r < set->n; r++)
		{
			int			at = set->index_at[r] + t->base;

			if (at >= lo && at < hi)
				mean += t->remainder[at - t->base];
		}
		mean /= (double) set->count;
		for (r = 0; r < set->n; r++)
		{
			int			at = set->index_at[r] + t->base;

			if (at >= lo && at < hi)
			{
				double		v = t->remainder[at - t->base];

				sum_squares += (v - mean) * (v - mean);
			}
		}
		return sqrt(sum_squares / (double) set->count);
	}
}

/* Evaluate (once) the trend-shift test at point i */
static TrendState
trend_state_at(Detection *d, TrendPath *t, int i)
{
	int			at = i - t->base;
	int			previous;
	int			lo;
	double		now,
				before,
				change,
				reference,
				scale,
				effective,
				z;

	if (t->state[at] != TREND_UNKNOWN)
		return (TrendState) t->state[at];

	previous = detect_find_slot(d->slot, i - 1, d->slot[i] - t->period, NULL);
	if (previous < t->base)
	{
		t->state[at] = TREND_NO_PARTNER;
		return TREND_NO_PARTNER;
	}
	t->previous[at] = previous;
	now = t->trend[at];
	before = t->trend[previous - t->base];
	t->state[at] = TREND_STEADY;
	if (!detect_clears_volume_gate(d, now))
		return TREND_STEADY;

	/* the cheap effect-size test first; the robust scale only when it passes */
	change = now - before;
	reference = fmax(fabs(before), fabs(now));
	if (!(reference > 0.0) || fabs(change) / reference < TREND_MIN_RELATIVE_SHIFT)
		return TREND_STEADY;

	lo = previous;
	if (i - lo < TREND_MIN_SCALE_POINTS)
		lo = i - TREND_MIN_SCALE_POINTS > t->base ? i - TREND_MIN_SCALE_POINTS : t->base;
	scale = window_robust_scale(t, lo, i);
	effective = fmax(scale, detect_spread_floor(d, TREND_RATIO_FLOOR, now, false));
	z = change / effective;
	t->scale[at] = scale;
	t->effective[at] = effective;
	t->z[at] = z;
	if (isfinite(z) && fabs(z) >= d->settings->sigma_threshold)
		t->state[at] = TREND_SHIFTED;
	else if (isfinite(z))
		t->state[at] = TREND_SUSTAINED;
	return (TrendState) t->state[at];
}

/*
 * Departure of point k from its pre-shift expectation (the trend one period
 * earlier plus k's seasonal part); false when k has no point one period
 * earlier inside the decomposition.
 */
static bool
pre_shift_departure(const Detection *d, const TrendPath *t, int k, double *departure,
					double *relative)
{
	int			previous;
	double		reconstructed,
				reference;

	if (k < t->base || k >= d->m)
		return false;
	previous = detect_find_slot(d->slot, k - 1, d->slot[k] - t->period, NULL);
	if (previous < t->base)
		return false;
	reconstructed = t->trend[previous - t->base] + t->seasonal[k - t->base];
	*departure = d->value[k] - reconstructed;
	reference = fmax(fabs(d->value[k]), fabs(reconstructed));
	*relative = reference > 0.0 ? *departure / reference : 0.0;
	return true;
}

/*
 * Where a run's level change happened.  Each candidate c in [first,
 * first + period] (and <= last; where the series allows it, only those
 * with w points after them) splits the departures from the pre-shift
 * expectation of the w points before it and the w points from it on (w =
 * the level window); the anchor is the split, in the run's direction, that
 * gains most in least absolute deviations over not splitting (one median
 * for both windows against one per window).  A smooth trend starts to bend
 * well before an abrupt step, so the run's first departing point can be
 * noise before it; the best split is the step itself (the middle of a
 * ramp).  The change must be sustained: the median relative departure of
 * the w points from the anchor on must reach the effect size.  -1 when no
 * split qualifies.
 */
static int
split_anchor(Detection *d, TrendPath *t, int first, int last, int sign)
{
	int			w = d->shortest_period > 0 ? d->shortest_period : t->period;
	int			last_candidate = first + t->period;
	int			lo,
				hi,
				c,
				k;
	int			best = -1;
	double		best_score = 0.0;
	double	   *departure = t->departure;
	double	   *relative = t->relative;
	unsigned char *valid = t->valid;

	if (w > t->period)
		w = t->period;
	if (last_candidate > last)
		last_candidate = last;
	/* judge splits on whole windows when the series allows it */
	if (last_candidate > d->m - w && d->m - w >= first)
		last_candidate = d->m - w;
	lo = first - w;
	if (lo < t->base)
		lo = t->base;
	hi = last_candidate + w;
	if (hi > d->m)
		hi = d->m;
	for (k = lo; k < hi; k++)
		valid[k - lo] = pre_shift_departure(d, t, k, &departure[k - lo],
											&relative[k - lo]) ? 1 : 0;

	for (c = first; c <= last_candidate; c++)
	{
		int			n_before = 0,
					n_after = 0;
		double		before,
					after,
					cost = 0.0,
					score;

		if (!valid[c - lo])
			continue;
		for (k = c - w; k < c; k++)
			if (k >= lo && valid[k - lo])
				d->scratch[n_before++] = departure[k - lo];
		for (k = c; k < c + w && k < hi; k++)
			if (valid[k - lo])
				d->scratch2[n_after++] = departure[k - lo];
		before = n_before > 0 ? detect_median_in_place(d->scratch, n_before) : 0.0;
		after = detect_median_in_place(d->scratch2, n_after);
		if (!((double) sign * (after - before) > 0.0))
			continue;
		/*
		 * The gain of splitting at c: least absolute deviations from one
		 * median of both windows minus those from a median per window.
		 */
		for (k = 0; k < n_before; k++)
			cost += fabs(d->scratch[k] - before);
		for (k = 0; k < n_after; k++)
			cost += fabs(d->scratch2[k] - after);
		memcpy(d->scratch + n_before, d->scratch2, sizeof(double) * (size_t) n_after);
		{
			double		pooled = detect_median_in_place(d->scratch, n_before + n_after);
			double		whole = 0.0;

			for (k = 0; k < n_before + n_after; k++)
				whole += fabs(d->scratch[k] - pooled);
			score = (whole - cost) / (double) (n_before + n_after);
		}
		if (best < 0 || score > best_score)
		{
			best = c;
			best_score = score;
		}
	}
	if (best >= 0)
	{
		int			n_after = 0;

		for (k = best; k < best + w && k < hi; k++)
			if (valid[k - lo])
				d->scratch[n_after++] = (double) sign * relative[k - lo];
		if (n_after == 0 || detect_median_in_place(d->scratch, n_after) < TREND_MIN_RELATIVE_SHIFT)
			best = -1;
	}
	return best;
}

/* Whether point i of a run [first, last] is one of its members */
static bool
run_member(const TrendPath *t, int i)
{
	TrendState	state = (TrendState) t->state[i - t->base];

	return state == TREND_SHIFTED || state == TREND_SUSTAINED;
}

/*
 * Settle one contiguous run of shifted points [first, last]: find its
 * anchor, emit the single trend row or mark the run owned, and silence the
 * per-bucket rows of an owned run.
 */
static void
settle_trend_run(Detection *d, TrendPath *t, int first, int last)
{
	int			anchor = -1;
	int			z_at;
	int			i;

	anchor = split_anchor(d, t, first, last, t->z[first - t->base] >= 0.0 ? 1 : -1);
	if (anchor < 0)
		return;					/* never departed: not a level change */

	/* the trend z reported: the anchor's when it is shifted, else the run's first */
	z_at = anchor;
	if (t->state[anchor - t->base] != TREND_SHIFTED)
		z_at = first;

	if (d->bucket[anchor] < d->eval_start)
	{
		/*
		 * Announced by an earlier pass: the run is owned and its rows are
		 * silenced below.  Only outage runs become suppressed ranges (as in
		 * doc/detection.md, "The detector in detail").
		 */
	}
	else if (d->bucket[anchor] < d->emission_end)
	{
		int			at = anchor - t->base;
		double		reconstructed;
		double		expected;
		DetectRow  *row = &d->rows[anchor];
		int			previous = detect_find_slot(d->slot, anchor - 1, d->slot[anchor] - t->period, NULL);

		if (previous < t->base)
			return;
		reconstructed = t->trend[previous - t->base] + t->seasonal[at];
		expected = d->is_signed ? reconstructed : fmax(reconstructed, 0.0);
		at = z_at - t->base;

		if (!detect_clears_volume_gate(d, expected))
			return;
		if (expected == 0.0 && row->actual == 0.0)
			return;
		for (i = first; i <= last; i++)
			if (run_member(t, i))
				detect_silence_row(&d->rows[i]);
		if (!row->is_anomaly || fabs(t->z[at]) > fabs(row->z_score))
		{
			row->expected = expected;
			row->stddev = t->scale[at];
			row->effective_stddev = t->effective[at];
			row->z_score = t->z[at];
			row->kind = DETECTOR_TREND;
			row->is_anomaly = true;
			row->silenced = false;
			row->scored = false;
			row->direction = row->actual >= expected ? 1 : -1;
		}
		return;
	}

	/* owned: announced before eval_start, or still settling */
	for (i = first; i <= last; i++)
		if (run_member(t, i))
			detect_silence_row(&d->rows[i]);
}

/*
 * Trend-shift path: decompose the series with MSTL, compare the trend with
 * its value one phase period earlier, and report each contiguous shifted run
 * once.  Only runs reaching eval_start or later can matter, so the test
 * starts at the first evaluated point and walks back over a run that
 * straddles eval_start.  The decomposition covers the evaluated points plus
 * TREND_HISTORY_CYCLES longest periods before them (all of a series loaded
 * the way a detection pass loads it), which keeps a huge series linear.
 */
void
detect_trend_shifts(Detection *d, int first_eval)
{
	int			ascending[DETECT_MAX_PHASE_PERIODS];
	int			n_kept = 0;
	int			period;
	int			base,
				length;
	double	   *block;
	TrendPath	t;
	int			begin,
				i,
				c;
	int			run_first = -1,
				run_last = -1,
				run_sign = 0;

	if (first_eval >= d->m || d->n_periods == 0 || d->trend_length <= 0)
		return;
	length = d->trend_length;
	base = d->m - length;
	if (first_eval < base)
		return;					/* cannot happen: sized from the same count */
	detect_ascending_periods(d, ascending);
	for (c = 0; c < d->n_periods; c++)
		if ((int64_t) length >= 2 * (int64_t) d->periods[c])
			n_kept++;
	if (n_kept == 0)
		return;					/* too short to decompose */
	period = detect_phase_period_from(d->periods, d->n_periods, d->slot[d->m - 1]);
	if (period == 0)
		return;

	block = d->trend_doubles;
	t.period = period;
	t.base = base;
	t.trend = block;
	t.seasonal = block + length;
	t.remainder = block + (size_t) length * 2;
	t.scale = block + (size_t) length * 3;
	t.effective = block + (size_t) length * 4;
	t.z = block + (size_t) length * 5;
	t.departure = block + (size_t) length * 6;
	t.relative = block + (size_t) length * 7;
	t.previous = d->trend_ints;
	t.state = d->trend_bytes;
	t.valid = t.state + length;
	t.sorted_lo = t.sorted_hi = 0;
	t.length = length;
	t.ranked = false;
	memset(&t.window, 0, sizeof(t.window));

	if (!mstl_decompose_work(d->value + base, length, ascending, d->n_periods,
							 (double *) t.trend, (double *) t.seasonal,
							 (double *) t.remainder, d->mstl_scratch))
		return;

	/* walk back over a run that straddles eval_start */
	begin = first_eval;
	for (i = first_eval - 1; i >= base; i--)
	{
		TrendState	state = trend_state_at(d, &t, i);

		if (state == TREND_NO_PARTNER)
			continue;
		if (state != TREND_SHIFTED && state != TREND_SUSTAINED)
			break;
		begin = i;
	}

	for (i = begin; i < d->m; i++)
	{
		TrendState	state = trend_state_at(d, &t, i);

		if (state == TREND_NO_PARTNER)
			continue;			/* no comparison here; a run goes on */
		if (state == TREND_SHIFTED || state == TREND_SUSTAINED)
		{
			int			sign = t.z[i - base] >= 0.0 ? 1 : -1;

			if (run_first >= 0 && sign == run_sign)
			{
				run_last = i;
				continue;
			}
			if (run_first >= 0)
				settle_trend_run(d, &t, run_first, run_last);
			run_first = -1;
			if (state == TREND_SHIFTED)
			{
				run_first = run_last = i;
				run_sign = sign;
			}
			else
				t.state[i - base] = TREND_STEADY;	/* starts nothing */
			continue;
		}
		if (run_first >= 0)
			settle_trend_run(d, &t, run_first, run_last);
		run_first = -1;
	}
	if (run_first >= 0)
		settle_trend_run(d, &t, run_first, run_last);
	if (t.ranked)
		order_rank_set_free(&t.window);
}

/*
 * Where an outage run [start, end) began: the first member whose same-phase
 * points before the run have a positive median, else the run's start.
 */
static int
outage_anchor(Detection *d, int start, int end)
{
	unsigned char *seen = NULL;	/* phases already found quiet, per period */
	int			seen_period = 0;
	int			anchor = start;
	int			pos;

	for (pos = start; pos < end; pos++)
	{
		int			period = detect_phase_period_from(d->periods, d->n_periods, d->slot[pos]);
		int			phase;
		int			n_partners;
		int			k;

		if (period == 0)
			break;				/* too little history: the run's start it is */
		if (period != seen_period)
		{
			if (seen != NULL)
				core_free(seen);
			seen = period <= d->m ? (unsigned char *) core_alloc((size_t) period) : NULL;
			seen_period = period;
		}
		phase = (int) (d->slot[pos] % period);
		if (seen != NULL && seen[phase])
			continue;			/* same partners as a position already tried */

		n_partners = detect_same_phase_partners(d->slot, start, d->slot[pos],
												period, d->partners, start);
		for (k = 0; k < n_partners; k++)
			d->scratch[k] = d->value[d->partners[k]];
		if (n_partners > 0 && detect_median_in_place(d->scratch, n_partners) > 0.0)
		{
			anchor = pos;
			break;
		}
		if (seen != NULL)
			seen[phase] = 1;
	}
	if (seen != NULL)
		core_free(seen);
	return anchor;
}

/*
 * Outage collapse (count series): each run of empty buckets is reported by
 * one row, the first flagged bucket at or after its anchor; a run anchored
 * before eval_start is reported by nobody and becomes a suppressed range.
 */
void
detect_collapse_outages(Detection *d)
{
	int			i = 0;

	while (i < d->m)
	{
		int			start,
					end,
					anchor,
					k;
		int64_t		run_end;

		if (d->value[i] > 0.0)
		{
			i++;
			continue;
		}
		start = i;
		while (i < d->m && d->value[i] <= 0.0)
			i++;
		end = i;
		run_end = d->bucket[end - 1] + d->width;
		if (run_end <= d->eval_start)
			continue;			/* no row of it can be in the window */

		anchor = outage_anchor(d, start, end);
		if (d->bucket[anchor] < d->eval_start)
		{
			detect_add_suppressed_range(d, d->bucket[start], run_end);
			for (k = start; k < end; k++)
				detect_silence_row(&d->rows[k]);
			continue;
		}
		{
			bool		kept = false;

			for (k = start; k < end; k++)
			{
				if (!d->rows[k].is_anomaly)
					continue;
				if (k >= anchor && !kept)
				{
					kept = true;
					continue;
				}
				detect_silence_row(&d->rows[k]);
			}
		}
	}
}
