/*-------------------------------------------------------------------------
 *
 * detect_incident.c
 *	  The anomaly detector's noise model and incidents (doc/detection.md,
 *	  "The detector in detail", steps 7, 10 and 11):
 *
 *	  - the noise model of a series: the typical step of a fractional
 *	    series (the median non-zero change between consecutive points),
 *	    whether it is stepped (its value repeats at most steps: a quantised
 *	    CPU share, a gauge of whole numbers) and whether it is zero-typical
 *	    (sparse: most points are exactly 0);
 *	  - the burst test of a sparse series: how many of the last hour's
 *	    buckets are active (non-zero) against a binomial of the history's
 *	    active share, so a storm of bursts is judged although the typical
 *	    value, and every expectation, is 0;
 *	  - the shift tolerance: a bucket whose deviation its neighbours within
 *	    half an hour offset (a job that ran 15 minutes late) is not an
 *	    anomaly;
 *	  - incidents: flagged buckets close together are one incident, reported
 *	    once by its first flagged bucket; an incident that began before the
 *	    evaluated range was reported by an earlier pass, and its range is
 *	    suppressed so that the stored row stays; each incident's newest
 *	    flag and whether it is over are returned for the stored row.
 *
 *	  All linear in the prepared series (the burst test is O(window) per
 *	  bucket with running counts).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "detect_internal.h"

/* Buckets of a span of minutes on the grid of d, rounded up, within [lo, hi] */
static int
buckets_of_minutes(const Detection *d, int minutes, int lo, int hi)
{
	int64_t		span = (int64_t) minutes * CORE_USECS_PER_MINUTE;
	int64_t		count = span / d->width + (span % d->width != 0 ? 1 : 0);

	if (count < lo)
		count = lo;
	if (count > hi)
		count = hi;
	return (int) count;
}

/*
 * Fit the noise model of d's prepared series (see detect_internal.h):
 * noise_step and stepped for a fractional series with at least
 * NOISE_MIN_CHANGES changes (fewer, as in a constant series with one spike,
 * say nothing of its noise: the level floors stay), sparse (and its running
 * counts) for any series.  Uses scratch.
 */
void
detect_noise_model(Detection *d)
{
	int			zeros = 0;
	int			steps = 0;
	int			repeats = 0;
	int			n_changes = 0;
	int			i;

	d->noise_step = 0.0;
	d->stepped = false;
	d->sparse = false;
	for (i = 0; i < d->m; i++)
	{
		if (d->value[i] == 0.0)
			zeros++;
		if (i == 0 || d->slot[i - 1] != d->slot[i] - 1)
			continue;
		steps++;
		if (d->value[i] == d->value[i - 1])
			repeats++;
		else
			d->scratch[n_changes++] = fabs(d->value[i] - d->value[i - 1]);
	}
	if (!d->count_shaped && n_changes >= NOISE_MIN_CHANGES)
	{
		d->noise_step = detect_median_in_place(d->scratch, n_changes);
		d->stepped = (double) repeats >= STEPPED_REPEAT_SHARE * (double) steps;
	}
	if (d->m > 0 && (double) zeros >= SPARSE_ZERO_SHARE * (double) d->m && zeros < d->m &&
		!d->is_signed)
	{
		d->sparse = true;
		d->active_prefix = (int *) core_alloc(sizeof(int) * (size_t) (d->m + 1));
		d->active_sum = (double *) core_alloc(sizeof(double) * (size_t) (d->m + 1));
		for (i = 0; i < d->m; i++)
		{
			bool		active = d->value[i] != 0.0;

			d->active_prefix[i + 1] = d->active_prefix[i] + (active ? 1 : 0);
			d->active_sum[i + 1] = d->active_sum[i] + (active ? d->value[i] : 0.0);
		}
	}
}

/* Free what detect_noise_model allocated */
void
detect_free_noise_model(Detection *d)
{
	if (d->active_prefix != NULL)
		core_free(d->active_prefix);
	if (d->active_sum != NULL)
		core_free(d->active_sum);
	d->active_prefix = NULL;
	d->active_sum = NULL;
}

/* P(X >= x) for X ~ Binomial(n, p), 0 < p < 1, small n */
static double
binomial_upper_tail(int n, double p, int x)
{
	double		term,
				tail = 0.0;
	int			k;

	if (x <= 0)
		return 1.0;
	if (x > n)
		return 0.0;
	/* P(X = x) by logs, then the terms above it by ratios */
	term = lgamma((double) n + 1.0) - lgamma((double) x + 1.0) - lgamma((double) (n - x) + 1.0) +
		(double) x * log(p) + (double) (n - x) * log1p(-p);
	term = exp(term);
	for (k = x; k <= n; k++)
	{
		tail += term;
		term *= (double) (n - k) / (double) (k + 1) * p / (1.0 - p);
	}
	return fmin(tail, 1.0);
}

/* The standard normal z whose upper tail is t (0 < t <= 0.5), by bisection */
static double
normal_upper_quantile(double t)
{
	double		lo = 0.0,
				hi = 40.0;
	int			k;

	if (t >= 0.5)
		return 0.0;
	for (k = 0; k < 80; k++)
	{
		double		mid = (lo + hi) / 2.0;

		if (0.5 * erfc(mid / M_SQRT2) > t)
			lo = mid;
		else
			hi = mid;
	}
	return (lo + hi) / 2.0;
}

/*
 * The burst test of point i of a sparse series: the active buckets among
 * the window of W points ending at i against Binomial(W, p), p the active
 * share of the points before the window (with half a point of prior).  b
 * gets the expectation of one bucket (p x the mean active value) and its
 * spread; *z the normal z of the window's upper tail when i is itself
 * active and the window holds at least BURST_MIN_ACTIVE active buckets
 * (more than expected), else 0: a single burst is never an anomaly.  False when the series is not
 * sparse or the history is shorter than eight windows.
 */
bool
detect_burst(Detection *d, int i, Baseline *b, double *z)
{
	int			w = buckets_of_minutes(d, BURST_WINDOW_MINUTES, BURST_MIN_WINDOW, BURST_MAX_WINDOW);
	int			lo = i - w + 1;
	int			active,
				history_active;
	double		p,
				mean_size;

	if (!d->sparse || lo < 8 * w)
		return false;
	history_active = d->active_prefix[lo];
	active = d->active_prefix[i + 1] - d->active_prefix[lo];
	p = ((double) history_active + 0.5) / ((double) lo + 1.0);
	mean_size = history_active > 0 ? d->active_sum[lo] / (double) history_active : 1.0;
	b->expected = p * mean_size;
	b->scale = fabs(mean_size) * sqrt(p * (1.0 - p));
	b->effective = fmax(b->scale, FRACTIONAL_FLOOR_EPSILON);
	b->gated = true;
	b->unit = 0.0;
	*z = 0.0;
	if (d->value[i] != 0.0 && active >= BURST_MIN_ACTIVE && (double) active > (double) w * p)
		*z = normal_upper_quantile(binomial_upper_tail(w, p, active));
	return true;
}

/*
 * Shift tolerance: an emitted phase-flagged bucket whose deviation from
 * its expectation its neighbours within SHIFT_TOLERANCE_MINUTES offset
 * (the deviations of the neighbourhood, those with an expectation, sum to
 * less than SHIFT_RESIDUE of its own) is not an anomaly: the volume moved,
 * it did not vanish or appear.  Up to SHIFT_MAX_BUCKETS neighbours either
 * side; none on grids wider than SHIFT_TOLERANCE_MINUTES.
 */
void
detect_shift_tolerance(Detection *d, int first_eval)
{
	int64_t		span = (int64_t) SHIFT_TOLERANCE_MINUTES * CORE_USECS_PER_MINUTE;
	int			k = (int) (span / d->width);
	int			i;

	if (k <= 0)
		return;
	if (k > SHIFT_MAX_BUCKETS)
		k = SHIFT_MAX_BUCKETS;
	for (i = first_eval; i < d->m; i++)
	{
		DetectRow  *row = &d->rows[i];
		double		own,
					sum = 0.0;
		int			j;

		if (!row->is_anomaly || (row->kind != DETECTOR_PHASE && row->kind != DETECTOR_FRACTIONAL))
			continue;
		own = row->actual - row->expected;
		for (j = i - k; j <= i + k; j++)
		{
			const DetectRow *other;

			if (j < first_eval || j >= d->m || d->slot[j] < d->slot[i] - k ||
				d->slot[j] > d->slot[i] + k)
				continue;
			other = &d->rows[j];
			if (!isnan(other->expected) && !other->silenced)
				sum += other->actual - other->expected;
		}
		if (fabs(sum) < SHIFT_RESIDUE * fabs(own))
		{
			row->is_anomaly = false;
			row->direction = 0;
		}
	}
}

/*
 * Whether row i of the evaluated range carries a flag that can continue an
 * open incident, and its direction: an emitted flag, a flag silenced by a
 * trend row or an outage's single row, or a zero continuing a flagged run
 * of zeros (an outage's quiet hours).  Nothing at or after emission_end.
 */
static bool
incident_mark(const Detection *d, int i, int *direction)
{
	const DetectRow *row = &d->rows[i];

	if (row->bucket >= d->emission_end)
		return false;
	if (row->is_anomaly)
	{
		*direction = row->direction;
		return true;
	}
	if (row->silenced || (d->count_shaped && d->value[i] <= 0.0 && d->anomalous[i] == ANOMALY_DOWN))
	{
		if (d->anomalous[i])
			*direction = d->anomalous[i] == ANOMALY_UP ? 1 : -1;
		else
			*direction = isnan(row->expected) || row->actual < row->expected ? -1 : 1;
		return true;
	}
	return false;
}

/* Record the incident [start, last] of direction (open or over, see DetectIncident) */
static void
add_incident(Detection *d, int start, int last, int direction, int first_eval, int gap)
{
	DetectIncident *inc;
	int64_t		judged_slots = (d->emission_end - d->bucket[0]) / d->width;

	if (d->n_incidents == d->cap_incidents)
	{
		int			cap = d->cap_incidents > 0 ? 2 * d->cap_incidents : 8;
		DetectIncident *grown = (DetectIncident *) core_alloc(sizeof(DetectIncident) * (size_t) cap);

		if (d->incidents != NULL)
		{
			memcpy(grown, d->incidents, sizeof(DetectIncident) * (size_t) d->n_incidents);
			core_free(d->incidents);
		}
		d->incidents = grown;
		d->cap_incidents = cap;
	}
	inc = &d->incidents[d->n_incidents++];
	inc->first = d->bucket[start];
	inc->last = d->bucket[last];
	inc->direction = direction;
	inc->carried = start < first_eval;
	/* over once the gap after its last flag has been judged without a flag */
	inc->ended_at = judged_slots > d->slot[last] + gap ? d->bucket[last] + d->width : DETECT_OPEN;
}

/*
 * Incidents: flagged buckets in the same direction no more than the
 * incident gap apart (the judged history before first_eval counting with
 * its anomalous points) are one incident, reported by its first flagged
 * bucket only; a flag in the other direction starts a new incident (a
 * spike, then a drop ten minutes later, are two).  Flags silenced by a
 * trend row or an outage's row, and the zeros of an outage, continue an
 * incident as flags do (they start none).  An incident that began before
 * first_eval was reported by an earlier pass: its rows in the evaluated
 * range are dropped and its range is suppressed, so the stored row stays.
 * Every incident touching the evaluated range is recorded with its newest
 * flag and whether it is over (d->incidents).
 */
void
detect_collapse_incidents(Detection *d, int first_eval)
{
	int			gap = buckets_of_minutes(d, INCIDENT_GAP_MINUTES, INCIDENT_MIN_GAP, INCIDENT_MAX_GAP);
	int			start = -1,
				last = -1,
				direction = 0;
	int			i;

	/*
	 * The incident, if any, that the history hands on: its newest anomalous
	 * point within the gap of the window's start, and the chain of anomalous
	 * points in its direction no more than the gap apart before it.
	 */
	for (i = first_eval - 1; i >= 0 && d->slot[first_eval - 1] - d->slot[i] < gap; i--)
		if (d->anomalous[i])
		{
			start = last = i;
			direction = d->anomalous[i] == ANOMALY_UP ? 1 : -1;
			break;
		}
	for (i = start - 1; start >= 0 && i >= 0 && d->slot[start] - d->slot[i] <= gap; i--)
		if (d->anomalous[i] == d->anomalous[start])
			start = i;
		else if (d->anomalous[i])
			break;

	for (i = first_eval; i < d->m; i++)
	{
		DetectRow  *row = &d->rows[i];
		int			mark_direction = 0;

		if (!row->is_anomaly)
		{
			/* a silenced flag or an outage's zero continues the open incident */
			if (start >= 0 && d->slot[i] - d->slot[last] <= gap &&
				incident_mark(d, i, &mark_direction) && mark_direction == direction)
				last = i;
			continue;
		}
		if (start >= 0 && d->slot[i] - d->slot[last] <= gap && row->direction == direction)
		{
			/* continues the open incident */
			detect_silence_row(row);
			last = i;
			continue;
		}
		if (start >= 0)
		{
			if (start < first_eval)
				detect_add_suppressed_range(d, d->bucket[start], d->bucket[last] + d->width);
			add_incident(d, start, last, direction, first_eval, gap);
		}
		start = i;
		last = i;
		direction = row->direction;
	}
	if (start >= 0)
	{
		if (start < first_eval)
			detect_add_suppressed_range(d, d->bucket[start], d->bucket[last] + d->width);
		add_incident(d, start, last, direction, first_eval, gap);
	}
}
