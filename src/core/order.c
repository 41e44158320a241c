/*-------------------------------------------------------------------------
 *
 * order.c
 *	  Order statistics of double arrays (pure C): the detector's medians and
 *	  MADs and the decomposition's robustness weights select with them.
 *
 *-------------------------------------------------------------------------
 */
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
