/*-------------------------------------------------------------------------
 *
 * detect_core.c
 *	  The anomaly detector's public building blocks (detect_core.h):
 *	  settings, detector kinds, phase periods, level windows, settling,
 *	  robust statistics and same-phase partners.  The detector itself is in
 *	  detect_run.c (per-bucket scoring, detect_run) and detect_trend.c (the
 *	  trend-shift path and the outage collapse); doc/detection.md, "The
 *	  detector in detail", describes it.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "detect_core.h"
#include "detect_stats.h"

/* Longest phase period considered (longer ones cannot fit in the series) */
#define MAX_PHASE_PERIOD			(1 << 30)

void
detect_default_settings(DetectSettings *s)
{
	if (s == NULL)
		return;
	s->sigma_threshold = 4.0;
	s->min_expected_count = 50.0;
	s->baseline_window_buckets = 14;
	s->min_history_buckets = 7;
	s->settling_minutes = 120;
}

/* The anomaly score of a z-score (see detect_core.h) */
double
detect_score(double z)
{
	if (isnan(z))
		return NAN;
	return 1.0 / (1.0 + exp(-DETECT_SCORE_SLOPE * (fabs(z) - DETECT_SCORE_MIDPOINT)));
}

/* The |z| whose score is s, 0 < s < 1 (the inverse of detect_score) */
double
detect_sigma_for_score(double s)
{
	return DETECT_SCORE_MIDPOINT + log(s / (1.0 - s)) / DETECT_SCORE_SLOPE;
}

/* The stored name of a detector kind */
const char *
detector_kind_name(DetectorKind k)
{
	switch (k)
	{
		case DETECTOR_PHASE:
			return "phase";
		case DETECTOR_ROLLING:
			return "rolling";
		case DETECTOR_TREND:
			return "trend";
		case DETECTOR_FRACTIONAL:
			return "fractional";
		case DETECTOR_BURST:
			return "burst";
		case DETECTOR_NONE:
			break;
	}
	return NULL;
}

/* The season position of a bucket: its grid slot counted from origin */
int64_t
detect_season_slot(int64_t bucket, int64_t origin, int64_t width_us)
{
	return (int64_t) (((uint64_t) bucket - (uint64_t) origin) / (uint64_t) width_us);
}

/* Phase periods of a width, longest first */
int
detect_phase_periods(int64_t width_us, int *periods)
{
	const int64_t candidates[DETECT_MAX_PHASE_PERIODS] = {CORE_USECS_PER_WEEK, CORE_USECS_PER_DAY};
	int			count = 0;
	int			c;

	if (width_us <= 0)
		return 0;
	for (c = 0; c < DETECT_MAX_PHASE_PERIODS; c++)
	{
		int64_t		period;

		if (candidates[c] % width_us != 0)
			continue;
		period = candidates[c] / width_us;
		if (period < 2 || period > MAX_PHASE_PERIOD)
			continue;
		if (periods != NULL)
			periods[count] = (int) period;
		count++;
	}
	return count;
}

/* Phase period from a list (longest first) for a slot, 0 when none */
/* Phase period for a grid slot: first period P with slot / P >= 3, else 0 */
int
detect_phase_period_for_slot(int64_t width_us, int64_t slot)
{
	int			periods[DETECT_MAX_PHASE_PERIODS];
	int			n_periods = detect_phase_periods(width_us, periods);

	return detect_phase_period_from(periods, n_periods, slot);
}

/* Level window L = min(period, shortest phase period of the width) */
int
detect_level_window(int64_t width_us, int period)
{
	int			periods[DETECT_MAX_PHASE_PERIODS];
	int			n_periods = detect_phase_periods(width_us, periods);
	int			shortest;

	if (n_periods == 0)
		return period;
	shortest = periods[n_periods - 1];
	return period < shortest ? period : shortest;
}

/* ceil(settling_minutes / width) in buckets, 0 when settling_minutes <= 0 */
int
detect_settling_buckets(int settling_minutes, int64_t width_us)
{
	int64_t		settling_us;
	int64_t		buckets;

	if (settling_minutes <= 0 || width_us <= 0)
		return 0;
	settling_us = (int64_t) settling_minutes * CORE_USECS_PER_MINUTE;
	buckets = settling_us / width_us + (settling_us % width_us != 0 ? 1 : 0);
	return buckets > INT32_MAX ? INT32_MAX : (int) buckets;
}


double
detect_median(const double *x, int n)
{
	double	   *copy;
	double		result;

	if (x == NULL || n <= 0)
		return 0.0;
	copy = (double *) core_alloc(sizeof(double) * (size_t) n);
	memcpy(copy, x, sizeof(double) * (size_t) n);
	result = detect_median_in_place(copy, n);
	core_free(copy);
	return result;
}

/* Median absolute deviation of x[0..n) from its median */
double
detect_mad(const double *x, int n)
{
	double	   *copy;
	double		center;
	double		result;
	int			i;

	if (x == NULL || n <= 0)
		return 0.0;
	copy = (double *) core_alloc(sizeof(double) * (size_t) n);
	memcpy(copy, x, sizeof(double) * (size_t) n);
	center = detect_median_in_place(copy, n);
	for (i = 0; i < n; i++)
		copy[i] = fabs(x[i] - center);
	result = detect_median_in_place(copy, n);
	core_free(copy);
	return result;
}

/* 1.4826 * MAD, or the population standard deviation when MAD = 0 */
double
detect_robust_scale(const double *x, int n)
{
	double	   *copy;
	double		center;
	double		scale;

	if (x == NULL || n <= 0)
		return 0.0;
	copy = (double *) core_alloc(sizeof(double) * (size_t) n * 2);
	memcpy(copy, x, sizeof(double) * (size_t) n);
	detect_median_and_robust_scale(copy, n, copy + n, &center, &scale);
	core_free(copy);
	return scale;
}

/*
 * Index of the point at grid slot s among slots[0..hi], or -1.  Slots are
 * strictly ascending and slots[0] = 0, so a point at s has its index in
 * [hi - (slots[hi] - s), min(hi, s)]; on a gap-free grid that range is a
 * single index.  *below receives the largest index whose slot is < s.
 */
int
detect_same_phase_partners(const int64_t *slots, int before, int64_t slot,
						   int period, int *out, int max_out)
{
	int64_t		phase;
	int			hi = before - 1;
	int			count = 0;

	if (slots == NULL || period <= 0 || slot < 0)
		return 0;
	phase = slot % period;
	while (hi >= 0 && count < max_out)
	{
		int64_t		top = slots[hi];
		int64_t		candidate;
		int			below;
		int			found;

		if (top < phase)
			break;
		candidate = top - (top - phase) % period;
		found = detect_find_slot(slots, hi, candidate, &below);
		if (found >= 0)
		{
			if (out != NULL)
				out[count] = found;
			count++;
			hi = found - 1;
		}
		else
			hi = below;
	}
	return count;
}
