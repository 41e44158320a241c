/*-------------------------------------------------------------------------
 *
 * order.c
 *	  Order statistics of double arrays (pure C): the detector's medians and
 *	  MADs and the decomposition's robustness weights select with them.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>

#include "order.h"

/* Ranges below this size are finished by insertion sort */
#define SMALL_SORT_SIZE		16

/* Swap two doubles */
static inline void
swap_values(double *a, double *b)
{
	double		t = *a;

	*a = *b;
	*b = t;
}

/* Sort x[0..n) ascending by insertion (small n only) */
void
order_insertion_sort(double *x, int n)
{
	int			i,
				j;

	for (i = 1; i < n; i++)
	{
		double		v = x[i];

		for (j = i - 1; j >= 0 && x[j] > v; j--)
			x[j + 1] = x[j];
		x[j + 1] = v;
	}
}

/* Sort x[0..n) ascending by heapsort (quickselect's worst-case fallback) */
void
order_heap_sort(double *x, int n)
{
	int			start,
				end;

	for (start = n / 2 - 1; start >= 0; start--)
	{
		int			root = start;

		for (;;)
		{
			int			child = 2 * root + 1;

			if (child >= n)
				break;
			if (child + 1 < n && x[child + 1] > x[child])
				child++;
			if (x[root] >= x[child])
				break;
			swap_values(&x[root], &x[child]);
			root = child;
		}
	}
	for (end = n - 1; end > 0; end--)
	{
		int			root = 0;

		swap_values(&x[0], &x[end]);
		for (;;)
		{
			int			child = 2 * root + 1;

			if (child >= end)
				break;
			if (child + 1 < end && x[child + 1] > x[child])
				child++;
			if (x[root] >= x[child])
				break;
			swap_values(&x[root], &x[child]);
			root = child;
		}
	}
}

/*
 * k-th smallest of x[0..n) (0-based) by quickselect; afterwards every
 * x[i < k] <= x[k] <= x[i > k].
 */
double
order_select(double *x, int n, int k)
{
	int			lo = 0;
	int			hi = n - 1;
	int			budget = 64;

	while (hi - lo >= SMALL_SORT_SIZE)
	{
		int			mid = lo + (hi - lo) / 2;
		double		pivot;
		int			i,
					j;

		if (budget-- <= 0)
		{
			order_heap_sort(x + lo, hi - lo + 1);
			return x[k];
		}
		if (x[mid] < x[lo])
			swap_values(&x[mid], &x[lo]);
		if (x[hi] < x[lo])
			swap_values(&x[hi], &x[lo]);
		if (x[hi] < x[mid])
			swap_values(&x[hi], &x[mid]);
		pivot = x[mid];
		i = lo;
		j = hi;
		while (i <= j)
		{
			while (x[i] < pivot)
				i++;
			while (x[j] > pivot)
				j--;
			if (i <= j)
			{
				swap_values(&x[i], &x[j]);
				i++;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			return x[k];
	}
	order_insertion_sort(x + lo, hi - lo + 1);
	return x[k];
}

/* A value and its index, ranked by value then index */
typedef struct RankedValue
{
	double		value;
	int			index;
} RankedValue;

/* qsort order of RankedValue: by value, ties by index */
static int
compare_ranked(const void *a, const void *b)
{
	const RankedValue *x = (const RankedValue *) a;
	const RankedValue *y = (const RankedValue *) b;

	if (x->value < y->value)
		return -1;
	if (x->value > y->value)
		return 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Rank values[0..n); the set starts empty */
void
order_rank_set_init(OrderRankSet *s, const double *values, int n)
{
	RankedValue *ranked;
	int			i;

	s->n = n > 0 ? n : 0;
	s->values = values;
	s->count = 0;
	s->rank_of = (int *) core_alloc(sizeof(int) * (size_t) (s->n + 1));
	s->index_at = (int *) core_alloc(sizeof(int) * (size_t) (s->n + 1));
	s->tree = (int *) core_alloc(sizeof(int) * (size_t) (s->n + 1));
	ranked = (RankedValue *) core_alloc(sizeof(RankedValue) * (size_t) (s->n + 1));
	for (i = 0; i < s->n; i++)
	{
		ranked[i].value = values[i];
		ranked[i].index = i;
	}
	qsort(ranked, (size_t) s->n, sizeof(RankedValue), compare_ranked);
	for (i = 0; i < s->n; i++)
	{
		s->index_at[i] = ranked[i].index;
		s->rank_of[ranked[i].index] = i;
	}
	core_free(ranked);
	s->top = 1;
	while (s->top * 2 <= s->n)
		s->top *= 2;
}

/* Free what order_rank_set_init allocated */
void
order_rank_set_free(OrderRankSet *s)
{
	if (s->rank_of != NULL)
		core_free(s->rank_of);
	if (s->index_at != NULL)
		core_free(s->index_at);
	if (s->tree != NULL)
		core_free(s->tree);
	s->rank_of = s->index_at = s->tree = NULL;
	s->n = s->count = 0;
}

/* Add delta to the count of a rank */
static void
rank_set_update(OrderRankSet *s, int rank, int delta)
{
	int			k;

	for (k = rank + 1; k <= s->n; k += k & -k)
		s->tree[k] += delta;
	s->count += delta;
}

/* Add the value at index to the set */
void
order_rank_set_add(OrderRankSet *s, int index)
{
	rank_set_update(s, s->rank_of[index], 1);
}

/* Remove the value at index from the set */
void
order_rank_set_remove(OrderRankSet *s, int index)
{
	rank_set_update(s, s->rank_of[index], -1);
}

/* The k-th smallest member (0-based): descend the tree by powers of two */
double
order_rank_set_select(const OrderRankSet *s, int k)
{
	int			position = 0;
	int			remaining = k;
	int			step;

	for (step = s->top; step > 0; step /= 2)
	{
		int			next = position + step;

		if (next <= s->n && s->tree[next] <= remaining)
		{
			position = next;
			remaining -= s->tree[next];
		}
	}
	/* position members-or-not ranks lie below: rank position is the k-th */
	return s->values[s->index_at[position]];
}

/* Deviations below the median, ascending: center - x[upper - 1 - a] */
static inline double
deviation_below(const OrderRankSet *s, int upper, double center, int a)
{
	return center - order_rank_set_select(s, upper - 1 - a);
}

/* Deviations above the median, ascending: x[upper + b] - center */
static inline double
deviation_above(const OrderRankSet *s, int upper, double center, int b)
{
	return order_rank_set_select(s, upper + b) - center;
}

/*
 * The k-th smallest (0-based) of the deviations below (n_below of them) and
 * above (n_above) merged: the number a taken from below among the first
 * k + 1 is the smallest for which taking one more from below would not
 * come before the last taken from above.
 */
static double
merged_deviation(const OrderRankSet *s, int upper, double center,
				 int n_below, int n_above, int k)
{
	int			lo = k + 1 - n_above > 0 ? k + 1 - n_above : 0;
	int			hi = k + 1 < n_below ? k + 1 : n_below;
	int			a,
				b;
	double		last = -INFINITY;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			from_above = k + 1 - mid;

		/* too few from below: the next one below precedes the last above */
		if (from_above > 0 &&
			deviation_below(s, upper, center, mid) <
			deviation_above(s, upper, center, from_above - 1))
			lo = mid + 1;
		else
			hi = mid;
	}
	a = lo;
	b = k + 1 - a;
	if (a > 0)
		last = deviation_below(s, upper, center, a - 1);
	if (b > 0)
		last = fmax(last, deviation_above(s, upper, center, b - 1));
	return last;
}

/* Median and MAD of the members (count > 0) */
void
order_rank_set_median_mad(const OrderRankSet *s, double *median, double *mad)
{
	int			n = s->count;
	int			upper = n / 2;
	double		center;
	double		current;

	center = n % 2 == 1 ? order_rank_set_select(s, upper) :
		(order_rank_set_select(s, upper - 1) + order_rank_set_select(s, upper)) / 2.0;
	current = merged_deviation(s, upper, center, upper, n - upper, upper);
	*median = center;
	if (n % 2 == 1)
		*mad = current;
	else
		*mad = (merged_deviation(s, upper, center, upper, n - upper, upper - 1) + current) / 2.0;
}
