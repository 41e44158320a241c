/*-------------------------------------------------------------------------
 *
 * detect_ratio.h
 *	  The ratio noise model of the anomaly detector (doc/detection.md,
 *	  "Ratio metrics: noise from the operands"): a ratio metric whose
 *	  numerator and denominator are stored per bucket is judged against
 *	  the noise its volumes imply — a binomial proportion when every
 *	  numerator lies in [0, denominator], a Poisson count per unit of
 *	  denominator otherwise, judged on a variance-stabilized scale — times
 *	  an overdispersion factor learned from the series' own recent
 *	  residuals.
 *
 *	  Pure C, no detector internals: the detector hands in each prepared
 *	  point's operands, notes the residual of every point it judged against
 *	  a phase baseline, and asks for the spread of the point it judges.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DETECT_RATIO_H
#define TRIPL_DETECT_RATIO_H

#include "core.h"

/*
 * The model is used when at least RATIO_MIN_OPERANDS of the points (and
 * RATIO_MIN_OPERAND_SHARE of them) carry operands with a denominator of at
 * least RATIO_MIN_DENOMINATOR.  The overdispersion factor phi of a point is
 * the upper quartile (RATIO_PHI_QUANTILE) of the squared standardized
 * residuals of the last RATIO_PHI_WINDOW points before it (at least
 * RATIO_MIN_RESIDUALS of them, else the point is left to the fractional
 * model) over that of a chi-square of one degree of freedom, times 1 +
 * RATIO_PHI_FEW / their count (few residuals say little), clipped to
 * [1, RATIO_PHI_MAX]: never narrower than the counting noise itself.
 */
#define RATIO_MIN_OPERANDS			10
#define RATIO_MIN_OPERAND_SHARE		0.5
#define RATIO_MIN_DENOMINATOR		1.0
#define RATIO_PHI_WINDOW			504
#define RATIO_MIN_RESIDUALS			10
#define RATIO_PHI_MAX				1e12
#define RATIO_PHI_QUANTILE			0.75
#define RATIO_PHI_CHI_SQUARE		1.3233036969314653
#define RATIO_PHI_FEW				5.0
/* phi is recomputed every RATIO_PHI_EVERY points (a quantile of up to 504 residuals moves slowly) */
#define RATIO_PHI_EVERY				8
/*
 * Runs: at most RATIO_RUN_MAX buckets, each at least RATIO_RUN_MIN_Z of its
 * own spreads off, expecting at least RATIO_RUN_MIN_COUNT numerator counts
 * in all; their z times RATIO_RUN_DISCOUNT (for trying up to three runs)
 */
#define RATIO_RUN_MAX				3
#define RATIO_RUN_MIN_Z				1.0
#define RATIO_RUN_DISCOUNT			0.9
#define RATIO_RUN_MIN_COUNT			20.0

typedef struct DetectRatio
{
	int			m;				/* points */
	double	   *num;			/* [m] numerator; NAN when unknown */
	double	   *den;			/* [m] denominator; NAN when unknown */
	bool		binomial;		/* every known numerator in [0, denominator] */
	double	   *residual;		/* [m] squared standardized residual of a
								 * judged point; NAN for any other */
	double	   *expected;		/* [m] its expectation; NAN for any other */
	double	   *phi;			/* [m] phi of a point once computed; NAN before */
	int			last_phi;		/* the latest point phi was computed for; -1 */
	double	   *scratch;		/* [RATIO_PHI_WINDOW] */
} DetectRatio;

/* A model of m points, every operand unknown (set num[] and den[], then detect_ratio_ready) */
extern DetectRatio *detect_ratio_new(int m);

/*
 * Decide the variance family from the operands given; false when too few
 * points carry usable operands (the model is then not to be used)
 */
extern bool detect_ratio_ready(DetectRatio *r);

/* Note the residual of point i judged against expectation (points in time order) */
extern void detect_ratio_note(DetectRatio *r, int i, double actual, double expected);

/* The overdispersion factor for point i from the residuals noted before it; NAN when too few */
extern double detect_ratio_phi(DetectRatio *r, int i);

/*
 * The spread of point i on one side of expected (side +1 above, -1 below)
 * for a test at sigma: a value is sigma spreads away exactly where its
 * stabilized value is sigma standard deviations away; NAN when the model
 * says nothing about point i
 */
extern double detect_ratio_spread(DetectRatio *r, int i, double expected, int side, double sigma);

/*
 * The z of point i, actual against expected with spread (its own z is
 * (actual - expected) / spread), or that of the run of up to RATIO_RUN_MAX
 * noted points ending at it when larger: the run's pooled ratio (sum of
 * numerators over sum of denominators) against its pooled expectation, on
 * the stabilized scale with the run's whole volume, when every point of
 * the run deviates by at least RATIO_RUN_MIN_Z of its own spread in the
 * same direction.  A short drop that no single bucket shows beyond doubt
 * is shown by the buckets together.
 */
extern double detect_ratio_run_z(DetectRatio *r, int i, double actual, double expected,
								 double spread, double sigma);

/* Free a model (NULL is fine) */
extern void detect_ratio_free(DetectRatio *r);

#endif							/* TRIPL_DETECT_RATIO_H */
