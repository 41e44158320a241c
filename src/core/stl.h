/*-------------------------------------------------------------------------
 *
 * stl.h
 *	  Seasonal-trend decomposition by LOESS: robust STL (Cleveland,
 *	  Cleveland, McRae and Terpenning 1990) and MSTL (Bandara, Hyndman and
 *	  Bergmeir 2021) for several seasonal periods.
 *
 *	  Used by the anomaly detector's trend-shift path.  Plain C, no
 *	  PostgreSQL types; scratch memory comes from core_alloc().  Every
 *	  output array has n elements and y = trend + seasonal + remainder.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_STL_H
#define TRIPL_STL_H

#include "core.h"

/* Default seasonal smoother length of a single-period STL */
#define STL_DEFAULT_SEASONAL_WINDOW	7

/*
 * Robust STL with LOESS jumps of about a tenth of each span.  period >= 2,
 * n >= 2 * period, all values finite; returns false (outputs untouched)
 * otherwise.  The seasonal smoother has STL_DEFAULT_SEASONAL_WINDOW points.
 */
extern bool stl_decompose(const double *y, int n, int period, bool robust,
						  double *trend, double *seasonal, double *remainder);

/* As stl_decompose, with an explicit odd seasonal smoother length (>= 3) */
extern bool stl_decompose_window(const double *y, int n, int period,
								 int seasonal_window, bool robust,
								 double *trend, double *seasonal,
								 double *remainder);

/*
 * MSTL over robust STL fits.  periods must be ascending; a period is kept
 * only when n >= 2 * period.  One kept period: a plain robust STL (seasonal
 * window 7).  Several: two refinement passes with seasonal windows 11, 15,
 * ..., run as one backfitting loop of single STL inner passes that share
 * their trend and robustness weights (see stl.c); the trend is the last
 * fit's.  No kept period, or a constant series: trend = y, seasonal = 0,
 * remainder = 0.  seasonal receives the sum of the seasonal components.
 * Returns false on bad arguments or non-finite input.
 */
extern bool mstl_decompose(const double *y, int n, const int *periods,
						   int n_periods, double *trend, double *seasonal,
						   double *remainder);

/*
 * Doubles of scratch mstl_decompose_work needs for n points and these
 * periods (0 when it needs none).
 */
extern size_t mstl_work_size(int n, const int *periods, int n_periods);

/*
 * As mstl_decompose, with caller-provided scratch of mstl_work_size()
 * doubles (any contents), or NULL to allocate it.  Lets a caller fold the
 * decomposition's memory into one allocation of its own.
 */
extern bool mstl_decompose_work(const double *y, int n, const int *periods,
								int n_periods, double *trend, double *seasonal,
								double *remainder, double *scratch);

#endif							/* TRIPL_STL_H */
