/*-------------------------------------------------------------------------
 *
 * order.h
 *	  Order statistics of double arrays (pure C).  NaN must not occur.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ORDER_H
#define TRIPL_ORDER_H

#include "core.h"

/* Sort x[0..n) ascending by insertion (small n only) */
extern void order_insertion_sort(double *x, int n);

/* Sort x[0..n) ascending by heapsort */
extern void order_heap_sort(double *x, int n);

/*
 * The k-th smallest of x[0..n) (0-based) by quickselect, with a heapsort
 * fallback bounding the worst case; afterwards every x[i < k] <= x[k] <=
 * x[i > k].
 */
extern double order_select(double *x, int n, int k);

/*
 * A subset of a fixed array of values, kept as counts over the values'
 * ranks (a Fenwick tree): members are added and removed in O(log n) and
 * the k-th smallest member is found in O(log n), so a window sliding over
 * the array has its median and MAD without being re-sorted.  Ties are
 * ranked by index; values must not be NaN.
 */
typedef struct OrderRankSet
{
	int			n;				/* values in the array */
	const double *values;		/* the array (not owned) */
	int		   *rank_of;		/* [n] rank of each index */
	int		   *index_at;		/* [n] index of each rank */
	int		   *tree;			/* [n + 1] Fenwick counts by rank */
	int			top;			/* largest power of two <= n */
	int			count;			/* members */
} OrderRankSet;

/* Rank values[0..n) (O(n log n)); the set starts empty */
extern void order_rank_set_init(OrderRankSet *s, const double *values, int n);

/* Free what order_rank_set_init allocated */
extern void order_rank_set_free(OrderRankSet *s);

/* Add or remove the value at index (which must be out of or in the set) */
extern void order_rank_set_add(OrderRankSet *s, int index);
extern void order_rank_set_remove(OrderRankSet *s, int index);

/* The k-th smallest member (0-based, k < count) */
extern double order_rank_set_select(const OrderRankSet *s, int k);

/*
 * Median (mean of the two middle members when their count is even) and
 * MAD of the members (count > 0), equal to detect_sorted_median_and_mad of
 * the members sorted: the MAD is a selection among the deviations below
 * and above the median, two sorted sequences merged by binary search.
 */
extern void order_rank_set_median_mad(const OrderRankSet *s, double *median, double *mad);

#endif							/* TRIPL_ORDER_H */
