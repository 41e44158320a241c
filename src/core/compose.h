/*-------------------------------------------------------------------------
 *
 * compose.h
 *	  Turning per-bucket operand values into metric values (pure C).
 *
 *	  Operand values come per bucket, NaN meaning "no matching row" (a gap).
 *	  A single metric keeps its finite values.  A ratio takes the union of
 *	  the buckets where either operand has data, a missing numerator counts
 *	  as 0, and a zero or missing denominator yields no value (never 0).
 *	  A ratio's operands can be kept with its values (the numerator as
 *	  used: 0 when missing), for the detector's ratio noise model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COMPOSE_H
#define TRIPL_COMPOSE_H

#include "core.h"

extern int	compose_single(const int64_t *buckets, const double *values, int n,
						   int64_t from, int64_t to,
						   int64_t *out_buckets, double *out_values);
extern bool compose_ratio_value(double numerator, double denominator, double *result);
extern int	compose_ratio(const int64_t *nb, const double *nv, int nn,
						  const int64_t *db, const double *dv, int dn,
						  int64_t from, int64_t to,
						  int64_t *out_buckets, double *out_values);
/* compose_ratio that also returns each value's operands (out_num may be NULL) */
extern int	compose_ratio_operands(const int64_t *nb, const double *nv, int nn,
								   const int64_t *db, const double *dv, int dn,
								   int64_t from, int64_t to,
								   int64_t *out_buckets, double *out_values,
								   double *out_num, double *out_den);

#endif							/* TRIPL_COMPOSE_H */
