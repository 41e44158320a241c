/*-------------------------------------------------------------------------
 *
 * stl_test.c
 *	  Unit tests of the STL / MSTL decomposition (src/stl.c).
 *
 *	  Checks the decomposition identity, that a pure sine plus a linear
 *	  trend separates into those two parts, that constant series come back
 *	  as trend = value and seasonal = 0, the MSTL period rules and the
 *	  argument checks.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "stl.h"

/* Largest |x[i]| over i in [from, to) */
static double
max_abs(const double *x, int from, int to)
{
	double		m = 0.0;
	int			i;

	for (i = from; i < to; i++)
		if (fabs(x[i]) > m)
			m = fabs(x[i]);
	return m;
}

/* Largest |a[i] - b[i]| over i in [from, to) */
static double
max_abs_diff(const double *a, const double *b, int from, int to)
{
	double		m = 0.0;
	int			i;

	for (i = from; i < to; i++)
		if (fabs(a[i] - b[i]) > m)
			m = fabs(a[i] - b[i]);
	return m;
}

/* A sine of period 12 on a linear trend separates into trend and season */
static void
test_sine_plus_trend(void)
{
	int			n = 240;
	double		y[240],
				line[240],
				wave[240],
				trend[240],
				seasonal[240],
				remainder[240],
				identity[240];
	int			i;

	for (i = 0; i < n; i++)
	{
		line[i] = 10.0 + 0.5 * i;
		wave[i] = 3.0 * sin(2.0 * M_PI * i / 12.0);
		y[i] = line[i] + wave[i];
	}
	CHECK(stl_decompose(y, n, 12, true, trend, seasonal, remainder),
		  "stl: sine + trend decomposes");
	for (i = 0; i < n; i++)
		identity[i] = trend[i] + seasonal[i] + remainder[i] - y[i];
	CHECK(max_abs(identity, 0, n) < 1e-9, "stl: y = trend + seasonal + remainder");
	CHECK(max_abs(remainder, 0, n) < 0.3, "stl: remainder of sine + trend is small");
	CHECK(max_abs_diff(trend, line, 24, n - 24) < 0.2, "stl: trend follows the line");
	CHECK(max_abs_diff(seasonal, wave, 24, n - 24) < 0.2, "stl: seasonal follows the sine");

	CHECK(stl_decompose(y, n, 12, false, trend, seasonal, remainder),
		  "stl: plain (non-robust) fit works too");
	CHECK(max_abs(remainder, 0, n) < 0.3, "stl: plain remainder is small");
}

/* A constant series: trend = value, seasonal = 0, remainder = 0 */
static void
test_constant(void)
{
	double		y[100],
				trend[100],
				seasonal[100],
				remainder[100],
				target[100];
	int			periods[2] = {7, 24};
	int			i;

	for (i = 0; i < 100; i++)
	{
		y[i] = 42.5;
		target[i] = 42.5;
	}
	CHECK(stl_decompose(y, 100, 7, true, trend, seasonal, remainder),
		  "stl: constant series decomposes");
	CHECK(max_abs_diff(trend, target, 0, 100) < 1e-9, "stl: constant trend = value");
	CHECK(max_abs(seasonal, 0, 100) < 1e-9, "stl: constant seasonal = 0");

	CHECK(mstl_decompose(y, 100, periods, 2, trend, seasonal, remainder),
		  "mstl: constant series decomposes");
	CHECK(max_abs_diff(trend, target, 0, 100) == 0.0, "mstl: constant trend = value exactly");
	CHECK(max_abs(seasonal, 0, 100) == 0.0 && max_abs(remainder, 0, 100) == 0.0,
		  "mstl: constant seasonal and remainder = 0 exactly");
}

/* MSTL with two periods separates a daily and a weekly wave */
static void
test_mstl_two_periods(void)
{
	int			n = 24 * 7 * 4;
	double	   *y = (double *) core_alloc(sizeof(double) * n);
	double	   *seasons = (double *) core_alloc(sizeof(double) * n);
	double	   *trend = (double *) core_alloc(sizeof(double) * n);
	double	   *seasonal = (double *) core_alloc(sizeof(double) * n);
	double	   *remainder = (double *) core_alloc(sizeof(double) * n);
	int			periods[2] = {24, 168};
	int			i;

	for (i = 0; i < n; i++)
	{
		seasons[i] = 20.0 * sin(2.0 * M_PI * i / 24.0) + 10.0 * sin(2.0 * M_PI * i / 168.0);
		y[i] = 500.0 + 0.05 * i + seasons[i];
	}
	CHECK(mstl_decompose(y, n, periods, 2, trend, seasonal, remainder),
		  "mstl: daily + weekly waves decompose");
	CHECK(max_abs(remainder, 168, n - 168) < 1.5, "mstl: remainder is small");
	CHECK(max_abs_diff(seasonal, seasons, 168, n - 168) < 2.0,
		  "mstl: summed seasonal follows both waves");

	/* only the daily period qualifies on 3 days: a single-period STL */
	CHECK(mstl_decompose(y, 72, periods, 2, trend, seasonal, remainder),
		  "mstl: short series keeps only the periods that fit twice");
	CHECK(max_abs(remainder, 24, 48) < 3.0, "mstl: single kept period still decomposes");

	/* no period qualifies: trend = y */
	CHECK(mstl_decompose(y, 40, periods, 2, trend, seasonal, remainder),
		  "mstl: no period qualifies still succeeds");
	CHECK(max_abs_diff(trend, y, 0, 40) == 0.0 && max_abs(seasonal, 0, 40) == 0.0,
		  "mstl: no period qualifies gives trend = y, seasonal = 0");

	core_free(y);
	core_free(seasons);
	core_free(trend);
	core_free(seasonal);
	core_free(remainder);
}

/* A robust fit's trend is pulled less by a lone outlier than a plain fit's */
static void
test_robustness(void)
{
	int			n = 24 * 14;
	double	   *y = (double *) core_alloc(sizeof(double) * n);
	double	   *trend = (double *) core_alloc(sizeof(double) * n);
	double	   *seasonal = (double *) core_alloc(sizeof(double) * n);
	double	   *remainder = (double *) core_alloc(sizeof(double) * n);
	double		robust_bump,
				plain_bump;
	int			i;

	for (i = 0; i < n; i++)
		y[i] = 1000.0 + 200.0 * sin(2.0 * M_PI * i / 24.0);
	y[173] = 6000.0;
	CHECK(stl_decompose(y, n, 24, true, trend, seasonal, remainder), "stl: robust fit with an outlier");
	robust_bump = trend[173] - 1000.0;
	CHECK(stl_decompose(y, n, 24, false, trend, seasonal, remainder), "stl: plain fit with an outlier");
	plain_bump = trend[173] - 1000.0;
	CHECK(robust_bump < plain_bump, "stl: robustness weights shrink the outlier's pull on the trend");

	core_free(y);
	core_free(trend);
	core_free(seasonal);
	core_free(remainder);
}

/*
 * MSTL's robustness weights keep a 6-hour outage out of the trend (daily and
 * weekly waves on a level of 1000, four weeks), and caller-provided scratch
 * of any contents gives the very same decomposition.
 */
static void
test_mstl_robust_and_scratch(void)
{
	int			n = 24 * 7 * 4;
	double	   *y = (double *) core_alloc(sizeof(double) * n);
	double	   *trend = (double *) core_alloc(sizeof(double) * n);
	double	   *seasonal = (double *) core_alloc(sizeof(double) * n);
	double	   *remainder = (double *) core_alloc(sizeof(double) * n);
	double	   *trend2 = (double *) core_alloc(sizeof(double) * n);
	double	   *seasonal2 = (double *) core_alloc(sizeof(double) * n);
	double	   *remainder2 = (double *) core_alloc(sizeof(double) * n);
	int			periods[2] = {24, 168};
	size_t		size = mstl_work_size(n, periods, 2);
	double	   *scratch = (double *) core_alloc(sizeof(double) * (size > 0 ? size : 1));
	double		worst = 0.0;
	bool		same = true;
	size_t		k;
	int			i;

	for (i = 0; i < n; i++)
		y[i] = 1000.0 + 300.0 * sin(2.0 * M_PI * i / 24.0) + 100.0 * sin(2.0 * M_PI * i / 168.0);
	for (i = 400; i < 406; i++)
		y[i] = 0.0;
	CHECK(mstl_decompose(y, n, periods, 2, trend, seasonal, remainder),
		  "mstl: series with an outage decomposes");
	for (i = 380; i < 430; i++)
		if (fabs(trend[i] - 1000.0) > worst)
			worst = fabs(trend[i] - 1000.0);
	CHECK(worst < 10.0, "mstl: the outage moves the trend by less than 1 %");
	CHECK(remainder[402] < -500.0, "mstl: the outage stays in the remainder");

	CHECK(size > (size_t) n * 4, "mstl: work size covers the components and the STL scratch");
	for (k = 0; k < size; k++)
		scratch[k] = (double) (k % 7) - 1e300 * (double) (k % 2);
	CHECK(mstl_decompose_work(y, n, periods, 2, trend2, seasonal2, remainder2, scratch),
		  "mstl: decomposition in caller scratch runs");
	for (i = 0; i < n; i++)
		if (trend2[i] != trend[i] || seasonal2[i] != seasonal[i] || remainder2[i] != remainder[i])
			same = false;
	CHECK(same, "mstl: caller scratch of any contents gives the same decomposition");
	CHECK(mstl_work_size(40, periods, 2) == 0, "mstl: no scratch when no period fits");

	core_free(y);
	core_free(trend);
	core_free(seasonal);
	core_free(remainder);
	core_free(trend2);
	core_free(seasonal2);
	core_free(remainder2);
	core_free(scratch);
}

/* Bad arguments are refused */
static void
test_bad_arguments(void)
{
	double		y[20],
				t[20],
				s[20],
				r[20];
	int			descending[2] = {24, 12};
	int			i;

	for (i = 0; i < 20; i++)
		y[i] = i;
	CHECK(!stl_decompose(y, 20, 1, true, t, s, r), "stl: period 1 is refused");
	CHECK(!stl_decompose(y, 19, 10, true, t, s, r), "stl: n < 2 * period is refused");
	CHECK(stl_decompose(y, 20, 10, true, t, s, r), "stl: n = 2 * period is accepted");
	CHECK(!stl_decompose_window(y, 20, 5, 6, true, t, s, r), "stl: even seasonal window is refused");
	CHECK(!stl_decompose(NULL, 20, 5, true, t, s, r), "stl: null input is refused");
	y[3] = NAN;
	CHECK(!stl_decompose(y, 20, 5, true, t, s, r), "stl: NaN input is refused");
	CHECK(!mstl_decompose(y, 20, descending, 0, t, s, r), "mstl: NaN input is refused");
	y[3] = 3.0;
	CHECK(!mstl_decompose(y, 20, descending, 2, t, s, r), "mstl: descending periods are refused");
	CHECK(mstl_decompose(y, 0, descending, 0, t, s, r), "mstl: empty series is fine");
}

/* Run every STL test */
int
main(void)
{
	test_sine_plus_trend();
	test_constant();
	test_mstl_two_periods();
	test_robustness();
	test_mstl_robust_and_scratch();
	test_bad_arguments();
	return unit_done();
}
