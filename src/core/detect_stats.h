/*-------------------------------------------------------------------------
 *
 * detect_stats.h
 *	  The anomaly detector's arithmetic on plain arrays, shared by its files
 *	  (detect_core.c, detect_run.c, detect_trend.c): medians and robust
 *	  scales, slot search on an ascending grid, the phase period of a slot.
 *	  Not part of the detector's API (detect_core.h).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_STATS_H
#define TRIPL_DETECT_STATS_H

#include "core.h"

/* Same-phase cycles that must have elapsed before a phase period is used */
#define PHASE_MIN_CYCLES			3
/* Consistency constant turning a MAD into a normal standard deviation */
#define MAD_TO_STDDEV				1.4826

/* Median of x[0..n), reordering x; 0 when n = 0 */
extern double detect_median_in_place(double *x, int n);

/* Population standard deviation of x[0..n) (two passes) */
extern double detect_population_stddev(const double *x, int n);

/* Median and MAD of an ascending x[0..n) (n > 0) */
extern void detect_sorted_median_and_mad(const double *x, int n, double *median, double *mad);

/*
 * Median and robust scale (1.4826 * MAD, or the population stddev when the
 * MAD is 0) of x[0..n); reorders x and uses deviations[0..n) as scratch.
 */
extern void detect_median_and_robust_scale(double *x, int n, double *deviations,
										   double *median, double *scale);

/* Index of the point at grid slot s among slots[0..hi], or -1 (*below: see detect_stats.c) */
extern int	detect_find_slot(const int64_t *slots, int hi, int64_t s, int *below);

/* First index in [lo, hi] whose slot is >= s (hi + 1 when none) */
extern int	detect_lower_bound_slot(const int64_t *slots, int lo, int hi, int64_t s);

/* Phase period from a list (longest first) for a slot, 0 when none */
extern int	detect_phase_period_from(const int *periods, int n_periods, int64_t slot);

#endif							/* TRIPL_DETECT_STATS_H */
