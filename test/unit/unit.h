/*
 * unit.h
 *	  A tiny TAP-producing harness for the pure-core unit tests.
 *
 *	  Include it once per test program (it defines core_alloc/core_free on
 *	  top of calloc/free).  Each CHECK prints "ok N - ..." or
 *	  "not ok N - ..."; unit_done() prints the plan and returns the exit
 *	  status (non-zero when anything failed).
 */
#ifndef TRIPL_UNIT_H
#define TRIPL_UNIT_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static int	unit_count = 0;
static int	unit_failed = 0;

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

void
core_free(void *ptr)
{
	free(ptr);
}

static void
unit_report(int ok, const char *file, int line, const char *what)
{
	unit_count++;
	if (!ok)
		unit_failed++;
	printf("%sok %d - %s%s", ok ? "" : "not ", unit_count, what, ok ? "\n" : "");
	if (!ok)
		printf(" (%s:%d)\n", file, line);
	fflush(stdout);
}

/* A deterministic pseudo-random sequence (splitmix64) */
static inline uint64_t
unit_rand(uint64_t *s)
{
	uint64_t	z = (*s += UINT64_C(0x9E3779B97F4A7C15));

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

#define CHECK(cond, what) unit_report((cond) ? 1 : 0, __FILE__, __LINE__, (what))

#define CHECK_NEAR(a, b, eps, what) \
	do { \
		double unit_a_ = (a), unit_b_ = (b); \
		int unit_ok_ = (isnan(unit_a_) && isnan(unit_b_)) || fabs(unit_a_ - unit_b_) <= (eps); \
		unit_report(unit_ok_, __FILE__, __LINE__, (what)); \
		if (!unit_ok_) \
			printf("#   got %.17g, expected %.17g\n", unit_a_, unit_b_); \
	} while (0)

#define CHECK_STR(a, b, what) \
	do { \
		const char *unit_a_ = (a), *unit_b_ = (b); \
		int unit_ok_ = unit_a_ && unit_b_ && strcmp(unit_a_, unit_b_) == 0; \
		unit_report(unit_ok_, __FILE__, __LINE__, (what)); \
		if (!unit_ok_) \
			printf("#   got \"%s\", expected \"%s\"\n", unit_a_ ? unit_a_ : "(null)", unit_b_ ? unit_b_ : "(null)"); \
	} while (0)

static int
unit_done(void)
{
	printf("1..%d\n", unit_count);
	return unit_failed ? 1 : 0;
}

#endif							/* TRIPL_UNIT_H */
