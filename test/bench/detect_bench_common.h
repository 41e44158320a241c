/*-------------------------------------------------------------------------
 *
 * detect_bench_common.h
 *	  What the detector benches share (test/bench/detect_quality.c and
 *	  test/bench/detect_failure_modes.c): core_alloc/core_free on top of
 *	  calloc/free, a seeded random source (splitmix64) with the uniform,
 *	  normal and Poisson draws the generators use, and the plain rolling
 *	  mean/stddev z-score both benches compare the detector with.
 *
 *	  Header-only (static functions) so each bench stays one translation
 *	  unit plus the detector's core: included once, by the bench's .c file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_BENCH_COMMON_H
#define TRIPL_DETECT_BENCH_COMMON_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The plain z-score: |value - mean| >= 3 stddev of the previous 14 points */
#define BASELINE_WINDOW	14
#define BASELINE_MIN	7
#define BASELINE_SIGMA	3.0

/* core_alloc/core_free on top of calloc/free */
void *
core_alloc(size_t size)
{
	void	   *p = calloc(1, size ? size : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		abort();
	}
	return p;
}

/* Release core_alloc memory */
void
core_free(void *ptr)
{
	free(ptr);
}

/* splitmix64 step */
static uint64_t
next_random(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Uniform double in [0, 1) */
static double
uniform(uint64_t *state)
{
	return (double) (next_random(state) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform double in [lo, hi) */
static double
uniform_between(uint64_t *state, double lo, double hi)
{
	return lo + (hi - lo) * uniform(state);
}

/* Uniform int in [lo, hi] */
static int
uniform_int(uint64_t *state, int lo, int hi)
{
	return lo + (int) (uniform(state) * (double) (hi - lo + 1));
}

/* Standard normal (Box-Muller) */
static double
normal(uint64_t *state)
{
	double		u1 = uniform(state);
	double		u2 = uniform(state);

	if (u1 < 1e-300)
		u1 = 1e-300;
	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Poisson sample: multiplication method below 30, rounded normal above */
static double
poisson(uint64_t *state, double mean)
{
	if (mean <= 0.0)
		return 0.0;
	if (mean < 30.0)
	{
		double		limit = exp(-mean);
		double		product = uniform(state);
		int			k = 0;

		while (product > limit)
		{
			product *= uniform(state);
			k++;
		}
		return (double) k;
	}
	{
		double		v = floor(mean + sqrt(mean) * normal(state) + 0.5);

		return v < 0.0 ? 0.0 : v;
	}
}

/*
 * Elementary-style flags over values[0..n): |value - mean| >= 3 population
 * stddev of the previous 14 points (at least 7 of them; none when the
 * stddev is 0).  Causal: a point's flag depends on earlier points only.
 */
static void
zscore_flags(const double *values, int n, bool *flags)
{
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		int			lo = i - BASELINE_WINDOW;
		double		mean = 0.0,
					var = 0.0,
					sd;
		int			count;

		flags[i] = false;
		if (lo < 0)
			lo = 0;
		count = i - lo;
		if (count < BASELINE_MIN)
			continue;
		for (j = lo; j < i; j++)
			mean += values[j];
		mean /= count;
		for (j = lo; j < i; j++)
			var += (values[j] - mean) * (values[j] - mean);
		sd = sqrt(var / count);
		if (sd > 0.0 && fabs(values[i] - mean) / sd >= BASELINE_SIGMA)
			flags[i] = true;
	}
}

#endif							/* TRIPL_DETECT_BENCH_COMMON_H */
