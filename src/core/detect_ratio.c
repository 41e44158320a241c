/*-------------------------------------------------------------------------
 *
 * detect_ratio.c
 *	  The ratio noise model (see detect_ratio.h).
 *
 *	  A conversion rate of 2 purchases out of 40 views is far noisier than
 *	  one of 200 out of 4 000, though both are 5 %: the spread of a ratio
 *	  follows its denominator's volume.  With the operands at hand, a
 *	  ratio is judged on a variance-stabilized scale with Anscombe's
 *	  offsets: asin(sqrt(x)) for proportions (numerator within [0,
 *	  denominator] everywhere: binomial noise) and sqrt(x) otherwise (events
 *	  per user, a sum per count: Poisson noise), on which the noise of point
 *	  i has a variance of about phi / (4 den_i) around the expectation the
 *	  detector formed, also where the counts are small and their
 *	  distribution skewed (a plain p(1 - p) / den spread flags 7 purchases
 *	  out of 20 views at an expected 8 %, which pure noise gives 6 times in
 *	  10 000 buckets, against 0.3 for a 4-sigma test).  Real series
 *	  are overdispersed (users differ, the expectation itself is a
 *	  prediction), so phi is learned from the series: the squared
 *	  standardized residuals 4 den (t(v) - t(p))^2 of the recent points
 *	  judged against a phase baseline, their upper quartile (robust to the
 *	  incidents among them, and less fooled than the median by a mix of
 *	  good and poor predictions) over that of a chi-square of one degree of
 *	  freedom (so that plain binomial or Poisson noise gives 1), widened for
 *	  few residuals, clipped to at least 1.  The band of a point is where the stabilized value is
 *	  sigma_threshold standard deviations away, turned back into the ratio's
 *	  units on the side of the deviation (a skewed ratio's band is wider
 *	  above than below).

 *	  A short drop shows in the run of buckets ending at a bucket before it
 *	  shows in any one of them: see detect_ratio_run_z.
 *
 *	  Cost: O(RATIO_PHI_WINDOW) per judged point (a quantile by selection).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "detect_ratio.h"
#include "detect_stats.h"
#include "order.h"

/* A model of m points, every operand unknown */
DetectRatio *
detect_ratio_new(int m)
{
	DetectRatio *r = (DetectRatio *) core_alloc(sizeof(DetectRatio));
	size_t		points = (size_t) (m > 0 ? m : 1);
	int			i;

	r->m = m;
	r->num = (double *) core_alloc(sizeof(double) * points * 5);
	r->den = r->num + points;
	r->residual = r->den + points;
	r->expected = r->residual + points;
	r->phi = r->expected + points;
	r->scratch = (double *) core_alloc(sizeof(double) * RATIO_PHI_WINDOW);
	r->last_phi = -1;
	for (i = 0; i < m; i++)
		r->num[i] = r->den[i] = r->residual[i] = r->expected[i] = r->phi[i] = NAN;
	return r;
}

/* Whether point i's operands can be used */
static bool
usable(const DetectRatio *r, int i)
{
	return i >= 0 && i < r->m && isfinite(r->num[i]) && isfinite(r->den[i]) &&
		r->den[i] >= RATIO_MIN_DENOMINATOR;
}

/* Decide the variance family; false when too few points carry operands */
bool
detect_ratio_ready(DetectRatio *r)
{
	int			known = 0;
	int			i;

	r->binomial = true;
	for (i = 0; i < r->m; i++)
	{
		if (!usable(r, i))
			continue;
		known++;
		if (r->num[i] < 0.0 || r->num[i] > r->den[i])
			r->binomial = false;
	}
	return known >= RATIO_MIN_OPERANDS &&
		(double) known >= RATIO_MIN_OPERAND_SHARE * (double) r->m;
}

/*
 * The variance-stabilized scale of a ratio x of a denominator n, with
 * Anscombe's offsets (better than the plain transforms where the counts
 * are a handful): asin(sqrt((x n + 3/8) / (n + 3/4))) for proportions,
 * sqrt((x n + 3/8) / n) otherwise; either has a variance of about
 * 1 / (4 n) under binomial or Poisson noise
 */
static double
stabilize(const DetectRatio *r, double x, double n)
{
	if (r->binomial)
		return asin(sqrt((fmin(fmax(x, 0.0), 1.0) * n + 0.375) / (n + 0.75)));
	return sqrt((fmax(x, 0.0) * n + 0.375) / n);
}

/* The ratio of a stabilized value t of a denominator n, within [0, 1] or >= 0 */
static double
unstabilize(const DetectRatio *r, double t, double n)
{
	double		x;

	if (r->binomial)
	{
		double		s = sin(fmin(fmax(t, 0.0), M_PI_2));

		x = (s * s * (n + 0.75) - 0.375) / n;
		return fmin(fmax(x, 0.0), 1.0);
	}
	x = t > 0.0 ? t * t - 0.375 / n : 0.0;
	return fmax(x, 0.0);
}

/* Note the standardized residual of point i judged against expected */
void
detect_ratio_note(DetectRatio *r, int i, double actual, double expected)
{
	double		e;

	if (!usable(r, i) || !isfinite(expected) || !isfinite(actual))
		return;
	e = (stabilize(r, actual, r->den[i]) - stabilize(r, expected, r->den[i])) * 2.0 * sqrt(r->den[i]);
	r->residual[i] = e * e;
	r->expected[i] = expected;
}

/*
 * The overdispersion factor for point i; NAN when too few residuals.
 * Points are judged in time order and a residual is noted after its point
 * is judged, so phi of point i, once computed, stays (kept in phi[i]: runs
 * ask for it again).
 */
double
detect_ratio_phi(DetectRatio *r, int i)
{
	int			n = 0;
	int			j;
	double		phi;

	if (i >= 0 && i < r->m && !isnan(r->phi[i]))
		return r->phi[i];
	/* the phi of a point at most RATIO_PHI_EVERY - 1 before, if any */
	if (i >= 0 && i < r->m && r->last_phi >= 0 && r->last_phi < i &&
		i - r->last_phi < RATIO_PHI_EVERY)
	{
		r->phi[i] = r->phi[r->last_phi];
		return r->phi[i];
	}
	for (j = i - 1; j >= 0 && j >= i - RATIO_PHI_WINDOW; j--)
		if (!isnan(r->residual[j]))
			r->scratch[n++] = r->residual[j];
	if (n < RATIO_MIN_RESIDUALS)
		return NAN;
	phi = order_select(r->scratch, n, (int) (RATIO_PHI_QUANTILE * (double) (n - 1))) /
		RATIO_PHI_CHI_SQUARE * (1.0 + RATIO_PHI_FEW / (double) n);
	phi = fmin(fmax(phi, 1.0), RATIO_PHI_MAX);
	if (i >= 0 && i < r->m)
	{
		r->phi[i] = phi;
		r->last_phi = i;
	}
	return phi;
}

/*
 * The spread of point i on one side of expected (side +1 above, -1 below):
 * the distance to the ratio sigma standard deviations away on the
 * stabilized scale, divided by sigma, so that a value is sigma spreads
 * away exactly where it is sigma standard deviations away there.  A side
 * the scale's bound cuts short (no ratio below 0, no proportion above 1)
 * gets twice the distance to the bound: reaching the bound is no anomaly.
 * NAN when the model says nothing about point i.
 */
double
detect_ratio_spread(DetectRatio *r, int i, double expected, int side, double sigma)
{
	double		phi,
				n,
				t,
				edge,
				reach,
				bound;

	if (!usable(r, i) || !isfinite(expected) || !(sigma > 0.0) ||
		(r->binomial && (expected < 0.0 || expected > 1.0)) ||
		(!r->binomial && expected < 0.0))
		return NAN;
	phi = detect_ratio_phi(r, i);
	if (!isfinite(phi))
		return NAN;
	n = r->den[i];
	t = stabilize(r, expected, n);
	reach = sigma * sqrt(phi) / (2.0 * sqrt(n));
	bound = side > 0 ? (r->binomial ? 1.0 : INFINITY) : 0.0;
	if (side > 0 ? (r->binomial && t + reach >= stabilize(r, 1.0, n)) : t - reach <= stabilize(r, 0.0, n))
		return 2.0 * fabs(bound - expected) / sigma;
	edge = unstabilize(r, side > 0 ? t + reach : t - reach, n);
	return fabs(edge - expected) / sigma;
}

/* The z of point i or of the run ending at it, whichever is larger (see detect_ratio.h) */
double
detect_ratio_run_z(DetectRatio *r, int i, double actual, double expected, double spread,
				   double sigma)
{
	double		own = (actual - expected) / spread;
	double		best = own;
	double		num_sum,
				den_sum,
				expected_sum,
				phi;
	int			side = own >= 0.0 ? 1 : -1;
	int			k;

	if (!isfinite(own) || fabs(own) < RATIO_RUN_MIN_Z || !usable(r, i))
		return own;
	phi = detect_ratio_phi(r, i);
	if (!isfinite(phi))
		return own;
	num_sum = r->num[i];
	den_sum = r->den[i];
	expected_sum = expected * r->den[i];
	for (k = 1; k < RATIO_RUN_MAX && i - k >= 0; k++)
	{
		int			j = i - k;
		double		spread_j,
					z_j,
					pooled,
					pooled_expected,
					z;

		if (!usable(r, j) || isnan(r->expected[j]))
			break;
		spread_j = detect_ratio_spread(r, j, r->expected[j], side, sigma);
		z_j = (r->num[j] / r->den[j] - r->expected[j]) / spread_j;
		if (!isfinite(z_j) || z_j * side < RATIO_RUN_MIN_Z)
			break;
		num_sum += r->num[j];
		den_sum += r->den[j];
		expected_sum += r->expected[j] * r->den[j];
		pooled = num_sum / den_sum;
		pooled_expected = expected_sum / den_sum;
		if (expected_sum < RATIO_RUN_MIN_COUNT)
			continue;
		z = (stabilize(r, pooled, den_sum) - stabilize(r, pooled_expected, den_sum)) *
			2.0 * sqrt(den_sum / phi) * RATIO_RUN_DISCOUNT;
		if (z * side > best * side)
			best = z;
	}
	return best;
}

/* Free a model */
void
detect_ratio_free(DetectRatio *r)
{
	if (r == NULL)
		return;
	core_free(r->num);
	core_free(r->scratch);
	core_free(r);
}
