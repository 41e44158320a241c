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

#endif							/* TRIPL_ORDER_H */
