/*-------------------------------------------------------------------------
 *
 * stl.c
 *	  Robust STL and MSTL decomposition for the anomaly detector.
 *
 *	  STL follows the original Fortran description of Cleveland et al.
 *	  (1990): an inner loop of cycle-subseries smoothing, a low-pass filter
 *	  of the smoothed cycle-subseries and a trend smoother, wrapped in an
 *	  outer loop that recomputes bisquare robustness weights from the
 *	  remainder.  Every LOESS fit is local-linear with tricube weights and is
 *	  evaluated only every "jump" points (about a tenth of its span), the
 *	  points in between being interpolated linearly, so one inner pass costs
 *	  O(n) whatever the spans are.
 *
 *	  Spans follow statsmodels' defaults: trend = smallest odd integer
 *	  >= 1.5 * period / (1 - 1.5 / seasonal), low-pass = smallest odd
 *	  integer > period.  MSTL (Bandara et al. 2021) removes one seasonal
 *	  component after the other, shortest period first, and refines them in
 *	  two passes with seasonal windows 11, 15, ...
 *
 *	  With the same spans, jumps and pass counts the results equal
 *	  statsmodels' STL to about 1e-8 (checked during development).  A
 *	  single robust STL runs 1 inner pass per robustness pass, as R's stl()
 *	  does, and stops when no robustness weight moves by more than
 *	  STL_WEIGHT_TOLERANCE, at the latest after 15 robustness passes.
 *
 *	  MSTL is run as one backfitting loop rather than as four complete
 *	  robust STL fits (64 inner passes): each fit is a single inner pass
 *	  that starts from the previous fit's trend and robustness weights, the
 *	  weights being refreshed from the whole decomposition's remainder after
 *	  every fit, and only the final fit (whose trend is the result) repeats
 *	  until its weights settle, at most MSTL_FINAL_PASSES passes: 5 or 6
 *	  inner passes in all.  (Bisquare weights near the cut-off keep moving,
 *	  so a 1e-3 tolerance alone would almost never end a fit early: on the
 *	  detector's hourly evaluation series 399 of 400 fits ran all 15
 *	  passes.)  The detector's trend-shift path does not need a sharper
 *	  trend: it anchors a shift where the raw series splits best, not where
 *	  the trend starts to bend (see detect_trend.c), and with this schedule
 *	  test/bench/detect_quality.c catches as many hourly level shifts as with
 *	  64 passes.
 *
 *	  Fits with a seasonal span at least as long as a cycle-subseries share
 *	  precomputed distance weights, and interior LOESS windows use a
 *	  precomputed tricube kernel.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "order.h"
#include "stl.h"

/* Inner-loop passes and robustness (outer) passes of a single robust fit */
#define STL_ROBUST_INNER_ITER	1
#define STL_ROBUST_OUTER_ITER	15
/* A robust fit stops once no robustness weight moves by more than this */
#define STL_WEIGHT_TOLERANCE	1e-3
/*
 * MSTL schedule (see mstl_decompose_work): plain passes of the first fit,
 * weighted passes of every other fit, and the cap on the final fit's
 * weighted passes.
 */
#define MSTL_FIRST_PLAIN		1
#define MSTL_FIT_PASSES			1
#define MSTL_FINAL_PASSES		2
/* Inner-loop passes of a non-robust fit */
#define STL_PLAIN_INNER_ITER	2
/* Refinement passes of MSTL with more than one period */
#define MSTL_ITERATIONS			2
/* Most periods MSTL decomposes at once */
#define MSTL_MAX_PERIODS		8

/* The spans, degrees and jumps of one STL fit */
typedef struct StlSpec
{
	int			period;
	int			seasonal_span;
	int			trend_span;
	int			low_pass_span;
	int			seasonal_jump;
	int			trend_jump;
	int			low_pass_jump;
	int			inner_iter;
	int			outer_iter;
} StlSpec;

/* Scratch arrays of one STL fit, allocated once per fit */
typedef struct StlWork
{
	double	   *cycle;			/* smoothed cycle-subseries, n + 2 * period */
	double	   *average1;		/* first moving average, n + period + 1 */
	double	   *average2;		/* second moving average, n + 2 */
	double	   *low_pass;		/* low-pass filtered cycle, n */
	double	   *detrended;		/* y - trend, later y - seasonal, n */
	double	   *weights;		/* robustness weights, n */
	double	   *sub_y;			/* one cycle-subseries, n / period + 1 */
	double	   *sub_weights;	/* its robustness weights */
	double	   *sub_fit;		/* its smoothed values, extended both ends */
	double	   *abs_resid;		/* scratch for the weights' median */
	double	   *kernel;			/* tricube weights of an interior window */
	/*
	 * Distance weights of whole-subseries windows (seasonal span >= the
	 * subseries length k), one row of k weights per position 0..k+1, for the
	 * two subseries lengths; shared by every subseries of that length.
	 */
	int			table_length[2];
	double	   *table[2];
	double	   *block;			/* what stl_work_alloc allocated, or NULL */
} StlWork;

/* Smallest odd integer that is >= x (x > 0) */
static int
odd_at_least(double x)
{
	int			v = (int) ceil(x);

	if (v < 1)
		v = 1;
	if (v % 2 == 0)
		v++;
	return v;
}

/* Jump of a LOESS span: about a tenth of it, at least 1 */
static int
jump_for_span(int span)
{
	int			jump = (span + 9) / 10;

	return jump < 1 ? 1 : jump;
}

/*
 * The weighted sums of a local fit around its centre (d = distance from the
 * centre, w = weight): sum w, w·d, w·d², w·y, w·d·y.
 */
typedef struct LoessSums
{
	double		sw;
	double		swd;
	double		swdd;
	double		swy;
	double		swdy;
} LoessSums;

static inline void
loess_add(LoessSums *m, double w, double d, double y)
{
	m->sw += w;
	m->swd += w * d;
	m->swdd += w * d * d;
	m->swy += w * y;
	m->swdy += w * d * y;
}

/*
 * The estimate at the centre from the sums: the local-linear fit when the
 * degree is 1 and the distances spread enough, else the weighted mean.
 * Returns false when every weight is zero.
 */
static bool
loess_finish(const LoessSums *m, double h, int degree, double range, double *ys)
{
	double		mean_y;

	if (!(m->sw > 0.0))
		return false;
	mean_y = m->swy / m->sw;
	if (h > 0.0 && degree > 0)
	{
		double		mean_d = m->swd / m->sw;
		double		spread = m->swdd / m->sw - mean_d * mean_d;

		if (spread > 0.0 && sqrt(spread) > 0.001 * range)
		{
			double		slope = -mean_d / spread;

			*ys = mean_y + slope * (m->swdy / m->sw - mean_d * mean_y);
			return true;
		}
	}
	*ys = mean_y;
	return true;
}

/*
 * One local-linear (degree 1) or local-constant (degree 0) LOESS estimate
 * at position xs from y[nleft..nright] (1-based positions), with tricube
 * distance weights times the robustness weights when weights is not NULL.
 * Returns false when every weight is zero.
 */
static bool
loess_estimate(const double *y, int n, int span, int degree, double xs,
			   int nleft, int nright, const double *weights, double *ys)
{
	double		range = (double) n - 1.0;
	double		h = fmax(xs - (double) nleft, (double) nright - xs);
	double		h9,
				h1,
				inverse_h;
	LoessSums	m = {0.0, 0.0, 0.0, 0.0, 0.0};
	int			j;

	if (span > n)
		h += (double) ((span - n) / 2);
	h9 = 0.999 * h;
	h1 = 0.001 * h;
	inverse_h = h > 0.0 ? 1.0 / h : 0.0;

	for (j = nleft; j <= nright; j++)
	{
		double		d = (double) j - xs;
		double		r = fabs(d);
		double		w;

		if (r > h9)
			continue;
		if (r <= h1)
			w = 1.0;
		else
		{
			double		q = r * inverse_h;

			q = 1.0 - q * q * q;
			w = q * q * q;
		}
		if (weights != NULL)
			w *= weights[j - 1];
		loess_add(&m, w, d, y[j - 1]);
	}
	return loess_finish(&m, h, degree, range, ys);
}

/*
 * The tricube weights of a symmetric window of half-width half (the weights
 * loess_estimate gives an interior window), into kernel[0..2 * half].
 */
static void
tricube_kernel(int half, double *kernel)
{
	double		h = (double) half;
	int			d;

	for (d = -half; d <= half; d++)
	{
		double		r = fabs((double) d);
		double		w;

		if (r > 0.999 * h)
			w = 0.0;
		else if (r <= 0.001 * h)
			w = 1.0;
		else
		{
			double		q = r / h;

			q = 1.0 - q * q * q;
			w = q * q * q;
		}
		kernel[d + half] = w;
	}
}

/*
 * loess_estimate for an interior window [i - half, i + half] (1-based) with
 * precomputed tricube weights: the same estimate, cheaper.  Without
 * robustness weights the window is symmetric, so the local-linear term
 * vanishes and the estimate is the kernel-weighted mean.
 */
static bool
loess_estimate_interior(const double *y, int n, int degree, int i, int half,
						const double *kernel, const double *weights, double *ys)
{
	const double *window = y + (i - half - 1);
	double		sw = 0.0,
				swy = 0.0;
	int			k;

	if (weights == NULL)
	{
		double		swy2 = 0.0;
		int			last = 2 * half;

		/* two accumulators halve the dependency chain */
		for (k = 0; k + 1 <= last; k += 2)
		{
			sw += kernel[k] + kernel[k + 1];
			swy += kernel[k] * window[k];
			swy2 += kernel[k + 1] * window[k + 1];
		}
		if (k == last)
		{
			sw += kernel[k];
			swy += kernel[k] * window[k];
		}
		swy += swy2;
		if (!(sw > 0.0))
			return false;
		*ys = swy / sw;
		return true;
	}
	else
	{
		const double *rw = weights + (i - half - 1);
		double		swd = 0.0,
					swdd = 0.0,
					swdy = 0.0;
		double		range = (double) n - 1.0;
		double		mean_y;

		double		sw2 = 0.0,
					swd2 = 0.0,
					swdd2 = 0.0,
					swy2 = 0.0,
					swdy2 = 0.0;
		int			last = 2 * half;

		/* two sets of accumulators halve the dependency chains */
		for (k = 0; k + 1 <= last; k += 2)
		{
			double		w = kernel[k] * rw[k];
			double		d = (double) (k - half);
			double		wd = w * d;
			double		w2 = kernel[k + 1] * rw[k + 1];
			double		wd2 = w2 * (d + 1.0);

			sw += w;
			swd += wd;
			swdd += wd * d;
			swy += w * window[k];
			swdy += wd * window[k];
			sw2 += w2;
			swd2 += wd2;
			swdd2 += wd2 * (d + 1.0);
			swy2 += w2 * window[k + 1];
			swdy2 += wd2 * window[k + 1];
		}
		if (k == last)
		{
			double		w = kernel[k] * rw[k];
			double		d = (double) (k - half);

			sw += w;
			swd += w * d;
			swdd += w * d * d;
			swy += w * window[k];
			swdy += w * d * window[k];
		}
		sw += sw2;
		swd += swd2;
		swdd += swdd2;
		swy += swy2;
		swdy += swdy2;
		if (!(sw > 0.0))
			return false;
		mean_y = swy / sw;
		if (half > 0 && degree > 0)
		{
			double		mean_d = swd / sw;
			double		spread = swdd / sw - mean_d * mean_d;

			if (spread > 0.0 && sqrt(spread) > 0.001 * range)
			{
				double		slope = -mean_d / spread;

				*ys = mean_y + slope * (swdy / sw - mean_d * mean_y);
				return true;
			}
		}
		*ys = mean_y;
		return true;
	}
}

/*
 * Tricube distance weights of loess_estimate for the window [1, n] at every
 * position xs = 0 .. n + 1 (span >= n), row by row into table.
 */
static void
whole_window_table(int n, int span, double *table)
{
	int			xs,
				j;

	for (xs = 0; xs <= n + 1; xs++)
	{
		double	   *row = table + (size_t) xs * n;
		double		h = fmax((double) (xs - 1), (double) (n - xs));
		double		h9,
					h1;

		h += (double) ((span - n) / 2);
		h9 = 0.999 * h;
		h1 = 0.001 * h;
		for (j = 1; j <= n; j++)
		{
			double		r = fabs((double) (j - xs));
			double		w;

			if (r > h9)
				w = 0.0;
			else if (r <= h1)
				w = 1.0;
			else
			{
				double		q = r / h;

				q = 1.0 - q * q * q;
				w = q * q * q;
			}
			row[j - 1] = w;
		}
	}
}

/* loess_estimate over the window [1, n] with precomputed distance weights */
static bool
loess_estimate_row(const double *y, int n, int span, int degree, int xs,
				   const double *row, const double *weights, double *ys)
{
	double		range = (double) n - 1.0;
	double		h = fmax((double) (xs - 1), (double) (n - xs)) + (double) ((span - n) / 2);
	LoessSums	m = {0.0, 0.0, 0.0, 0.0, 0.0};
	int			j;

	for (j = 1; j <= n; j++)
	{
		double		w = row[j - 1];
		double		d = (double) (j - xs);

		if (weights != NULL)
			w *= weights[j - 1];
		loess_add(&m, w, d, y[j - 1]);
	}
	return loess_finish(&m, h, degree, range, ys);
}

/* One fit of loess_smooth at integer position i, on the kernel when interior */
static bool
loess_fit_at(const double *y, int n, int span, int degree, int i, int nleft,
			 int nright, const double *weights, const double *kernel, double *ys)
{
	int			half = (span - 1) / 2;

	if (kernel != NULL && span < n && i - nleft == half && nright - i == half)
		return loess_estimate_interior(y, n, degree, i, half, kernel, weights, ys);
	return loess_estimate(y, n, span, degree, (double) i, nleft, nright, weights, ys);
}

/*
 * LOESS smoothing of y[0..n) into ys[0..n), fitting every jump-th point and
 * interpolating linearly in between (the Fortran "stless").
 */
static void
loess_smooth(const double *y, int n, int span, int degree, int jump,
			 const double *weights, double *kernel, const double *table,
			 double *ys)
{
	int			step;
	int			nleft = 1,
				nright = n;
	int			i,
				j,
				k;

	if (n < 2)
	{
		if (n == 1)
			ys[0] = y[0];
		return;
	}
	step = jump < n - 1 ? jump : n - 1;
	if (step < 1)
		step = 1;
	if (kernel != NULL && span < n && span % 2 == 1)
		tricube_kernel((span - 1) / 2, kernel);
	else
		kernel = NULL;

	if (span >= n)
	{
		nleft = 1;
		nright = n;
		for (i = 1; i <= n; i += step)
		{
			bool		ok;

			if (table != NULL)
				ok = loess_estimate_row(y, n, span, degree, i, table + (size_t) i * n,
										weights, &ys[i - 1]);
			else
				ok = loess_fit_at(y, n, span, degree, i, nleft, nright,
								  weights, kernel, &ys[i - 1]);
			if (!ok)
				ys[i - 1] = y[i - 1];
		}
	}
	else if (step == 1)
	{
		int			half = (span + 1) / 2;

		nleft = 1;
		nright = span;
		for (i = 1; i <= n; i++)
		{
			if (i > half && nright != n)
			{
				nleft++;
				nright++;
			}
			if (!loess_fit_at(y, n, span, degree, i, nleft, nright,
							  weights, kernel, &ys[i - 1]))
				ys[i - 1] = y[i - 1];
		}
	}
	else
	{
		int			half = (span + 1) / 2;

		for (i = 1; i <= n; i += step)
		{
			if (i < half)
			{
				nleft = 1;
				nright = span;
			}
			else if (i >= n - half + 1)
			{
				nleft = n - span + 1;
				nright = n;
			}
			else
			{
				nleft = i - half + 1;
				nright = span + i - half;
			}
			if (!loess_fit_at(y, n, span, degree, i, nleft, nright,
							  weights, kernel, &ys[i - 1]))
				ys[i - 1] = y[i - 1];
		}
	}

	if (step == 1)
		return;

	for (i = 1; i <= n - step; i += step)
	{
		double		delta = (ys[i + step - 1] - ys[i - 1]) / (double) step;

		for (j = i + 1; j <= i + step - 1; j++)
			ys[j - 1] = ys[i - 1] + delta * (double) (j - i);
	}
	k = ((n - 1) / step) * step + 1;
	if (k != n)
	{
		bool		ok;

		if (table != NULL && span >= n)
			ok = loess_estimate_row(y, n, span, degree, n, table + (size_t) n * n,
									weights, &ys[n - 1]);
		else
			ok = loess_fit_at(y, n, span, degree, n, nleft, nright,
							  weights, kernel, &ys[n - 1]);
		if (!ok)
			ys[n - 1] = y[n - 1];
		if (k != n - 1)
		{
			double		delta = (ys[n - 1] - ys[k - 1]) / (double) (n - k);

			for (j = k + 1; j <= n - 1; j++)
				ys[j - 1] = ys[k - 1] + delta * (double) (j - k);
		}
	}
}

/*
 * Smooth each cycle-subseries of y (every period-th point) and extend it by
 * one point at both ends; cycle receives n + 2 * period values.
 */
static void
smooth_cycle_subseries(const double *y, int n, const StlSpec *spec,
					   const double *weights, StlWork *work, double *cycle)
{
	int			np = spec->period;
	int			phase;

	for (phase = 0; phase < np; phase++)
	{
		int			k = (n - phase - 1) / np + 1;
		int			nright,
					nleft;
		int			i;

		const double *table = NULL;
		const double *sub_weights = weights != NULL ? work->sub_weights : NULL;
		bool		ok;

		if (phase >= n)
			break;
		for (i = 0; i < k; i++)
			work->sub_y[i] = y[i * np + phase];
		if (weights != NULL)
			for (i = 0; i < k; i++)
				work->sub_weights[i] = weights[i * np + phase];

		/* whole-subseries windows: reuse the distance weights of this length */
		if (spec->seasonal_span >= k)
		{
			int			slot;

			if (k == work->table_length[0])
				slot = 0;
			else if (k == work->table_length[1])
				slot = 1;
			else
				slot = work->table_length[0] == 0 ? 0 : 1;

			if (work->table_length[slot] != k)
			{
				whole_window_table(k, spec->seasonal_span, work->table[slot]);
				work->table_length[slot] = k;
			}
			table = work->table[slot];
		}

		loess_smooth(work->sub_y, k, spec->seasonal_span, 1, spec->seasonal_jump,
					 sub_weights, work->kernel, table, work->sub_fit + 1);

		nright = spec->seasonal_span < k ? spec->seasonal_span : k;
		if (table != NULL)
			ok = loess_estimate_row(work->sub_y, k, spec->seasonal_span, 1, 0,
									table, sub_weights, &work->sub_fit[0]);
		else
			ok = loess_estimate(work->sub_y, k, spec->seasonal_span, 1, 0.0, 1, nright,
								sub_weights, &work->sub_fit[0]);
		if (!ok)
			work->sub_fit[0] = work->sub_fit[1];

		nleft = k - spec->seasonal_span + 1;
		if (nleft < 1)
			nleft = 1;
		if (table != NULL)
			ok = loess_estimate_row(work->sub_y, k, spec->seasonal_span, 1, k + 1,
									table + (size_t) (k + 1) * k, sub_weights,
									&work->sub_fit[k + 1]);
		else
			ok = loess_estimate(work->sub_y, k, spec->seasonal_span, 1, (double) (k + 1),
								nleft, k, sub_weights, &work->sub_fit[k + 1]);
		if (!ok)
			work->sub_fit[k + 1] = work->sub_fit[k];

		for (i = 0; i < k + 2; i++)
			cycle[i * np + phase] = work->sub_fit[i];
	}
}

/* Moving average of span len over x[0..n) into out[0..n-len+1) */
static void
moving_average(const double *x, int n, int len, double *out)
{
	int			count = n - len + 1;
	double		sum = 0.0;
	int			i;

	if (count <= 0)
		return;
	for (i = 0; i < len; i++)
		sum += x[i];
	out[0] = sum / (double) len;
	for (i = 1; i < count; i++)
	{
		sum += x[len + i - 1] - x[i - 1];
		out[i] = sum / (double) len;
	}
}

/* One pass of the STL inner loop: update seasonal and trend */
static void
stl_inner_pass(const double *y, int n, const StlSpec *spec, const double *weights,
			   StlWork *work, double *seasonal, double *trend)
{
	int			np = spec->period;
	int			i;

	for (i = 0; i < n; i++)
		work->detrended[i] = y[i] - trend[i];

	smooth_cycle_subseries(work->detrended, n, spec, weights, work, work->cycle);

	/* low-pass filter: moving averages of period, period, 3, then LOESS */
	moving_average(work->cycle, n + 2 * np, np, work->average1);
	moving_average(work->average1, n + np + 1, np, work->average2);
	moving_average(work->average2, n + 2, 3, work->detrended);
	loess_smooth(work->detrended, n, spec->low_pass_span, 1, spec->low_pass_jump,
				 NULL, work->kernel, NULL, work->low_pass);

	for (i = 0; i < n; i++)
		seasonal[i] = work->cycle[np + i] - work->low_pass[i];
	for (i = 0; i < n; i++)
		work->detrended[i] = y[i] - seasonal[i];

	loess_smooth(work->detrended, n, spec->trend_span, 1, spec->trend_jump,
				 weights, work->kernel, NULL, trend);
}

/*
 * Bisquare robustness weights from the remainder y - seasonal - trend into
 * work->weights; returns the largest change of a weight (when had_weights,
 * else 1).
 */
static double
robustness_weights(const double *y, int n, const double *seasonal,
				   const double *trend, StlWork *work, bool had_weights)
{
	double		moved = had_weights ? 0.0 : 1.0;
	int			mid1 = n / 2;	/* 0-based positions of the middle order stats */
	int			mid2 = n - n / 2 - 1;
	double		cmad,
				c9,
				c1;
	int			i;

	for (i = 0; i < n; i++)
		work->abs_resid[i] = fabs(y[i] - seasonal[i] - trend[i]);
	cmad = order_select(work->abs_resid, n, mid1);
	if (mid2 != mid1)
	{
		/* the lower middle is the largest value left of the upper one */
		double		lower = work->abs_resid[0];

		for (i = 1; i < mid1; i++)
			if (work->abs_resid[i] > lower)
				lower = work->abs_resid[i];
		cmad += lower;
	}
	else
		cmad *= 2.0;
	cmad *= 3.0;				/* six times the median absolute remainder */
	c9 = 0.999 * cmad;
	c1 = 0.001 * cmad;

	for (i = 0; i < n; i++)
	{
		double		r = fabs(y[i] - seasonal[i] - trend[i]);
		double		w;

		if (r <= c1)
			w = 1.0;
		else if (r <= c9)
		{
			double		u = r / cmad;

			u = 1.0 - u * u;
			w = u * u;
		}
		else
			w = 0.0;
		if (had_weights && fabs(w - work->weights[i]) > moved)
			moved = fabs(w - work->weights[i]);
		work->weights[i] = w;
	}
	return moved;
}

/* Fill an StlSpec with the default spans for a period and seasonal window */
static void
stl_default_spec(int period, int seasonal_window, bool robust, StlSpec *spec)
{
	spec->period = period;
	spec->seasonal_span = seasonal_window;
	spec->trend_span = odd_at_least(1.5 * (double) period /
									(1.0 - 1.5 / (double) seasonal_window));
	spec->low_pass_span = odd_at_least((double) period + 1.0);
	spec->seasonal_jump = jump_for_span(spec->seasonal_span);
	spec->trend_jump = jump_for_span(spec->trend_span);
	spec->low_pass_jump = jump_for_span(spec->low_pass_span);
	spec->inner_iter = robust ? STL_ROBUST_INNER_ITER : STL_PLAIN_INNER_ITER;
	spec->outer_iter = robust ? STL_ROBUST_OUTER_ITER : 0;
}

/* True when every y[i] is finite */
static bool
all_finite(const double *y, int n)
{
	int			i;

	for (i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return false;
	return true;
}

/* Largest period, span and seasonal span over the given specs */
static void
stl_work_extents(const StlSpec *specs, int n_specs, int *max_period, int *max_span,
				 int *max_seasonal)
{
	int			c;

	*max_period = 0;
	*max_span = 0;
	*max_seasonal = 0;
	for (c = 0; c < n_specs; c++)
	{
		const StlSpec *spec = &specs[c];

		if (spec->period > *max_period)
			*max_period = spec->period;
		if (spec->trend_span > *max_span)
			*max_span = spec->trend_span;
		if (spec->low_pass_span > *max_span)
			*max_span = spec->low_pass_span;
		if (spec->seasonal_span > *max_span)
			*max_span = spec->seasonal_span;
		if (spec->seasonal_span > *max_seasonal)
			*max_seasonal = spec->seasonal_span;
	}
}

/* Doubles of scratch for STL fits of n points with the given specs */
static size_t
stl_work_doubles(int n, const StlSpec *specs, int n_specs)
{
	int			max_period,
				max_span,
				max_seasonal;
	size_t		sub_len,
				table_len;

	stl_work_extents(specs, n_specs, &max_period, &max_span, &max_seasonal);
	sub_len = (size_t) n / 2 + 3;	/* longest subseries: period >= 2 */
	table_len = (size_t) (max_seasonal + 2) * (size_t) max_seasonal;
	return (size_t) (n + 2 * max_period) + (size_t) (n + max_period + 1) +
		(size_t) (n + 2) + (size_t) n * 4 + sub_len * 3 +
		(size_t) max_span + 1 + table_len * 2;
}

/*
 * Lay the scratch arrays for STL fits of n points with periods and spans up
 * to those of the given specs over block (stl_work_doubles doubles; every
 * array is written before it is read).
 */
static void
stl_work_init(StlWork *work, double *block, int n, const StlSpec *specs, int n_specs)
{
	int			max_period,
				max_span,
				max_seasonal;
	size_t		sub_len,
				table_len;

	stl_work_extents(specs, n_specs, &max_period, &max_span, &max_seasonal);
	sub_len = (size_t) n / 2 + 3;
	table_len = (size_t) (max_seasonal + 2) * (size_t) max_seasonal;

	work->block = NULL;
	work->cycle = block;
	work->average1 = work->cycle + (n + 2 * max_period);
	work->average2 = work->average1 + (n + max_period + 1);
	work->low_pass = work->average2 + (n + 2);
	work->detrended = work->low_pass + n;
	work->weights = work->detrended + n;
	work->abs_resid = work->weights + n;
	work->sub_y = work->abs_resid + n;
	work->sub_weights = work->sub_y + sub_len;
	work->sub_fit = work->sub_weights + sub_len;
	work->kernel = work->sub_fit + sub_len;
	work->table[0] = work->kernel + max_span + 1;
	work->table[1] = work->table[0] + table_len;
	work->table_length[0] = 0;
	work->table_length[1] = 0;
}

/* Allocate and lay out the scratch arrays (freed by stl_work_free) */
static void
stl_work_alloc(StlWork *work, int n, const StlSpec *specs, int n_specs)
{
	double	   *block = (double *) core_alloc(sizeof(double) * stl_work_doubles(n, specs, n_specs));

	stl_work_init(work, block, n, specs, n_specs);
	work->block = block;
}

/* Free the scratch arrays of stl_work_alloc */
static void
stl_work_free(StlWork *work)
{
	if (work->block != NULL)
		core_free(work->block);
	work->block = NULL;
}

/*
 * Run one STL fit described by spec; seasonal and trend are outputs.  A
 * robust fit recomputes the bisquare weights after each inner loop and
 * stops once no weight moved by more than STL_WEIGHT_TOLERANCE (the fit is
 * then consistent with its own weights) or after spec->outer_iter updates.
 */
static void
stl_fit(const double *y, int n, const StlSpec *spec, StlWork *work,
		double *seasonal, double *trend)
{
	int			outer,
				inner;
	bool		use_weights = false;

	/* the whole-subseries tables depend on the seasonal span */
	work->table_length[0] = 0;
	work->table_length[1] = 0;
	memset(trend, 0, sizeof(double) * (size_t) n);
	memset(seasonal, 0, sizeof(double) * (size_t) n);

	for (outer = 0;; outer++)
	{
		double		moved;

		for (inner = 0; inner < spec->inner_iter; inner++)
			stl_inner_pass(y, n, spec, use_weights ? work->weights : NULL,
						   work, seasonal, trend);
		if (outer >= spec->outer_iter)
			break;
		moved = robustness_weights(y, n, seasonal, trend, work, use_weights);
		if (use_weights && moved <= STL_WEIGHT_TOLERANCE)
			break;
		use_weights = true;
	}
}

/* Robust (or plain) STL with an explicit seasonal window */
bool
stl_decompose_window(const double *y, int n, int period, int seasonal_window,
					 bool robust, double *trend, double *seasonal,
					 double *remainder)
{
	StlSpec		spec;
	StlWork		work;
	int			i;

	if (y == NULL || trend == NULL || seasonal == NULL || remainder == NULL)
		return false;
	if (period < 2 || n < 2 || n / 2 < period)
		return false;
	if (seasonal_window < 3 || seasonal_window % 2 == 0)
		return false;
	if (!all_finite(y, n))
		return false;

	stl_default_spec(period, seasonal_window, robust, &spec);
	stl_work_alloc(&work, n, &spec, 1);
	stl_fit(y, n, &spec, &work, seasonal, trend);
	stl_work_free(&work);
	for (i = 0; i < n; i++)
		remainder[i] = y[i] - trend[i] - seasonal[i];
	return true;
}

/* Robust (or plain) STL with the default seasonal window */
bool
stl_decompose(const double *y, int n, int period, bool robust,
			  double *trend, double *seasonal, double *remainder)
{
	return stl_decompose_window(y, n, period, STL_DEFAULT_SEASONAL_WINDOW,
								robust, trend, seasonal, remainder);
}

/*
 * The periods MSTL keeps for n points (ascending, each with n >= 2 * period)
 * and their STL specs; how many, or -1 when the periods are not ascending.
 */
static int
mstl_plan(int n, const int *periods, int n_periods, int *kept, StlSpec *specs)
{
	int			n_kept = 0;
	int			c;

	for (c = 0; c < n_periods; c++)
	{
		if (c > 0 && periods[c] <= periods[c - 1])
			return -1;
		if (periods[c] >= 2 && n / 2 >= periods[c] && n_kept < MSTL_MAX_PERIODS)
			kept[n_kept++] = periods[c];
	}
	if (n_kept == 1)
		stl_default_spec(kept[0], STL_DEFAULT_SEASONAL_WINDOW, true, &specs[0]);
	else
		for (c = 0; c < n_kept; c++)
			stl_default_spec(kept[c], 7 + 4 * (c + 1), true, &specs[c]);
	return n_kept;
}

/* Doubles of scratch mstl_decompose_work needs */
size_t
mstl_work_size(int n, const int *periods, int n_periods)
{
	int			kept[MSTL_MAX_PERIODS];
	StlSpec		specs[MSTL_MAX_PERIODS];
	int			n_kept;

	if (n <= 0 || n_periods < 0 || (n_periods > 0 && periods == NULL))
		return 0;
	n_kept = mstl_plan(n, periods, n_periods, kept, specs);
	if (n_kept <= 0)
		return 0;
	return stl_work_doubles(n, specs, n_kept) + (size_t) n * (size_t) (n_kept + 2);
}

/* MSTL over robust STL fits, shortest period first */
bool
mstl_decompose(const double *y, int n, const int *periods, int n_periods,
			   double *trend, double *seasonal, double *remainder)
{
	return mstl_decompose_work(y, n, periods, n_periods, trend, seasonal,
							   remainder, NULL);
}

/*
 * MSTL as a backfitting loop over robust STL fits, shortest period first.
 * Each fit is one STL inner pass (cycle-subseries, low-pass and trend
 * smoothing) with the robustness weights of the whole decomposition so far,
 * after which the weights are refreshed from the remainder; the very first
 * fit starts from a zero trend with a plain pass, and the final fit (whose
 * trend is the result) repeats pass and refresh until its weights stop
 * moving or MSTL_FINAL_PASSES passes.  Every fit starts from the previous
 * fit's trend and weights.
 */
bool
mstl_decompose_work(const double *y, int n, const int *periods, int n_periods,
					double *trend, double *seasonal, double *remainder,
					double *scratch)
{
	int			kept[MSTL_MAX_PERIODS];
	StlSpec		specs[MSTL_MAX_PERIODS];
	StlWork		work;
	int			n_kept;
	bool		constant = true;
	double	   *components;
	double	   *deseasonalised;
	double	   *fit_seasonal;
	int			pass,
				c,
				i;

	if (y == NULL || trend == NULL || seasonal == NULL || remainder == NULL || n < 0)
		return false;
	if (n_periods < 0 || (n_periods > 0 && periods == NULL))
		return false;
	if (!all_finite(y, n))
		return false;
	n_kept = mstl_plan(n, periods, n_periods, kept, specs);
	if (n_kept < 0)
		return false;
	for (i = 1; i < n; i++)
		if (y[i] != y[0])
		{
			constant = false;
			break;
		}

	if (n_kept == 0 || constant)
	{
		for (i = 0; i < n; i++)
		{
			trend[i] = y[i];
			seasonal[i] = 0.0;
			remainder[i] = 0.0;
		}
		return true;
	}

	if (scratch != NULL)
		stl_work_init(&work, scratch, n, specs, n_kept);
	else
	{
		double	   *owned = (double *) core_alloc(sizeof(double) *
												  mstl_work_size(n, periods, n_periods));

		stl_work_init(&work, owned, n, specs, n_kept);
		work.block = owned;
	}

	if (n_kept == 1)
	{
		stl_fit(y, n, &specs[0], &work, seasonal, trend);
		for (i = 0; i < n; i++)
			remainder[i] = y[i] - trend[i] - seasonal[i];
		stl_work_free(&work);
		return true;
	}

	/* after the STL scratch: the components and two series */
	components = work.cycle + stl_work_doubles(n, specs, n_kept);
	deseasonalised = components + (size_t) n * n_kept;
	fit_seasonal = deseasonalised + n;
	memset(components, 0, sizeof(double) * (size_t) n * n_kept);
	memcpy(deseasonalised, y, sizeof(double) * (size_t) n);

	for (pass = 0; pass < MSTL_ITERATIONS; pass++)
	{
		for (c = 0; c < n_kept; c++)
		{
			double	   *component = components + (size_t) n * c;
			bool		first_fit = pass == 0 && c == 0;
			bool		final_fit = pass == MSTL_ITERATIONS - 1 && c == n_kept - 1;
			int			passes = first_fit ? 0 : final_fit ? MSTL_FINAL_PASSES : MSTL_FIT_PASSES;
			int			r;

			for (i = 0; i < n; i++)
				deseasonalised[i] += component[i];
			/* the whole-subseries tables depend on the seasonal span */
			work.table_length[0] = 0;
			work.table_length[1] = 0;
			if (first_fit)
			{
				memset(trend, 0, sizeof(double) * (size_t) n);
				for (r = 0; r < MSTL_FIRST_PLAIN; r++)
					stl_inner_pass(deseasonalised, n, &specs[c], NULL, &work,
								   fit_seasonal, trend);
				robustness_weights(deseasonalised, n, fit_seasonal, trend, &work, false);
			}
			for (r = 0; r < passes; r++)
			{
				stl_inner_pass(deseasonalised, n, &specs[c], work.weights, &work,
							   fit_seasonal, trend);
				if (final_fit && r == passes - 1)
					break;
				if (robustness_weights(deseasonalised, n, fit_seasonal, trend,
									   &work, true) <= STL_WEIGHT_TOLERANCE &&
					final_fit)
					break;		/* consistent with its own weights */
			}
			for (i = 0; i < n; i++)
			{
				component[i] = fit_seasonal[i];
				deseasonalised[i] -= component[i];
			}
		}
	}

	for (i = 0; i < n; i++)
	{
		double		total = 0.0;

		for (c = 0; c < n_kept; c++)
			total += components[(size_t) n * c + i];
		seasonal[i] = total;
		remainder[i] = deseasonalised[i] - trend[i];
	}
	stl_work_free(&work);
	return true;
}
