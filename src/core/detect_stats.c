/*-------------------------------------------------------------------------
 *
 * detect_stats.c
 *	  The anomaly detector's arithmetic on plain arrays (detect_stats.h):
 *	  medians and robust scales, slot search, phase periods of slots.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "detect_stats.h"
#include "order.h"

/* Median size below which insertion sort beats quickselect */
#define SMALL_SORT_SIZE				16

int
detect_phase_period_from(const int *periods, int n_periods, int64_t slot)
{
	int			c;

	for (c = 0; c < n_periods; c++)
		if (slot / periods[c] >= PHASE_MIN_CYCLES)
			return periods[c];
	return 0;
}

/* Median of x[0..n), reordering x; 0 when n = 0 */
double
detect_median_in_place(double *x, int n)
{
	double		upper;
	double		lower;
	int			i;

	if (n <= 0)
		return 0.0;
	upper = order_select(x, n, n / 2);
	if (n % 2 == 1)
		return upper;
	/* the lower middle is the largest value left of the upper middle */
	lower = x[0];
	for (i = 1; i < n / 2; i++)
		if (x[i] > lower)
			lower = x[i];
	return (lower + upper) / 2.0;
}

/* Population standard deviation of x[0..n) (two passes) */
double
detect_population_stddev(const double *x, int n)
{
	double		mean = 0.0;
	double		sum_squares = 0.0;
	int			i;

	if (n <= 0)
		return 0.0;
	for (i = 0; i < n; i++)
		mean += x[i];
	mean /= (double) n;
	for (i = 0; i < n; i++)
		sum_squares += (x[i] - mean) * (x[i] - mean);
	return sqrt(sum_squares / (double) n);
}

/*
 * Median and MAD of an ascending x[0..n) (n > 0).  The absolute deviations
 * from the median come out in ascending order by walking outwards from the
 * middle, so the MAD needs no second selection.
 */
void
detect_sorted_median_and_mad(const double *x, int n, double *median, double *mad)
{
	int			upper = n / 2;
	double		center = n % 2 == 1 ? x[upper] : (x[upper - 1] + x[upper]) / 2.0;
	int			left = upper - 1,
				right = upper;
	double		previous = 0.0,
				current = 0.0;
	int			k;

	for (k = 0; k <= upper; k++)
	{
		double		below = left >= 0 ? center - x[left] : INFINITY;
		double		above = right < n ? x[right] - center : INFINITY;
		int			take_below = below <= above;

		/* written without branches: which side wins is data-dependent */
		previous = current;
		current = take_below ? below : above;
		left -= take_below;
		right += 1 - take_below;
	}
	*median = center;
	*mad = n % 2 == 1 ? current : (previous + current) / 2.0;
}

/*
 * Median and robust scale (1.4826 * MAD, or the population stddev when the
 * MAD is 0) of x[0..n); reorders x and uses deviations[0..n) as scratch.
 */
void
detect_median_and_robust_scale(double *x, int n, double *deviations,
						double *median, double *scale)
{
	double		center;
	double		mad;
	int			i;

	if (n <= 0)
	{
		*median = 0.0;
		*scale = 0.0;
		return;
	}
	if (n <= SMALL_SORT_SIZE * 2)
	{
		order_insertion_sort(x, n);
		detect_sorted_median_and_mad(x, n, &center, &mad);
	}
	else
	{
		center = detect_median_in_place(x, n);
		for (i = 0; i < n; i++)
			deviations[i] = fabs(x[i] - center);
		mad = detect_median_in_place(deviations, n);
	}
	*median = center;
	*scale = mad > 0.0 ? MAD_TO_STDDEV * mad : detect_population_stddev(x, n);
}

/* Median of x[0..n) without touching x */
int
detect_find_slot(const int64_t *slots, int hi, int64_t s, int *below)
{
	int64_t		lo64;
	int			lo,
				up;

	if (hi < 0 || s < 0 || s > slots[hi])
	{
		if (below != NULL)
			*below = (hi >= 0 && s > slots[hi]) ? hi : -1;
		return -1;
	}
	lo64 = (int64_t) hi - (slots[hi] - s);
	lo = lo64 < 0 ? 0 : (int) lo64;
	up = s < (int64_t) hi ? (int) s : hi;
	/* first index in [lo, up] with slot >= s (up + 1 when none) */
	while (lo <= up)
	{
		int			mid = lo + (up - lo) / 2;

		if (slots[mid] < s)
			lo = mid + 1;
		else
			up = mid - 1;
	}
	if (below != NULL)
		*below = lo - 1;
	if (lo <= hi && slots[lo] == s)
		return lo;
	return -1;
}

/* Indices j < before with slot congruent to slot mod period, newest first */
/* First index in [lo, hi] whose slot is >= s (hi + 1 when none) */
int
detect_lower_bound_slot(const int64_t *slots, int lo, int hi, int64_t s)
{
	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (slots[mid] < s)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return lo;
}
