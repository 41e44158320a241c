/*-------------------------------------------------------------------------
 *
 * compose.c
 *	  Metric composition (see compose.h): single values and ratios with
 *	  union densification and divide-by-zero gaps, clipped to a window.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>

#include "compose.h"

/*
 * Keep the finite values of buckets in [from, to).  Inputs are sorted by
 * bucket; outputs have room for n entries.  Returns the number kept.
 */
int
compose_single(const int64_t *buckets, const double *values, int n,
			   int64_t from, int64_t to,
			   int64_t *out_buckets, double *out_values)
{
	int			i;
	int			k = 0;

	for (i = 0; i < n; i++)
	{
		if (buckets[i] < from || buckets[i] >= to || !isfinite(values[i]))
			continue;
		out_buckets[k] = buckets[i];
		out_values[k] = values[i];
		k++;
	}
	return k;
}

/*
 * One ratio value: a missing (NaN) numerator is 0; a missing or zero
 * denominator gives no value.  Returns false when there is no value.
 */
bool
compose_ratio_value(double numerator, double denominator, double *result)
{
	double		r;

	if (isnan(numerator) && isnan(denominator))
		return false;
	if (isnan(numerator))
		numerator = 0.0;
	if (isnan(denominator) || denominator == 0.0)
		return false;
	r = numerator / denominator;
	if (!isfinite(r))
		return false;
	*result = r;
	return true;
}

/*
 * A ratio over two sorted operand series that may cover different buckets
 * (operands from two fact tables): walk the union of their buckets within
 * [from, to).  Outputs have room for nn + dn entries.
 */
int
compose_ratio(const int64_t *nb, const double *nv, int nn,
			  const int64_t *db, const double *dv, int dn,
			  int64_t from, int64_t to,
			  int64_t *out_buckets, double *out_values)
{
	return compose_ratio_operands(nb, nv, nn, db, dv, dn, from, to,
								  out_buckets, out_values, NULL, NULL);
}

/*
 * compose_ratio, and when out_num and out_den are given, the operands of
 * each value written: the numerator as used (0 when missing) and the
 * denominator.
 */
int
compose_ratio_operands(const int64_t *nb, const double *nv, int nn,
					   const int64_t *db, const double *dv, int dn,
					   int64_t from, int64_t to,
					   int64_t *out_buckets, double *out_values,
					   double *out_num, double *out_den)
{
	int			i = 0;
	int			j = 0;
	int			k = 0;

	while (i < nn || j < dn)
	{
		int64_t		b;
		double		num = NAN;
		double		den = NAN;
		double		r;

		if (j >= dn || (i < nn && nb[i] < db[j]))
		{
			b = nb[i];
			num = nv[i++];
		}
		else if (i >= nn || db[j] < nb[i])
		{
			b = db[j];
			den = dv[j++];
		}
		else
		{
			b = nb[i];
			num = nv[i++];
			den = dv[j++];
		}
		if (b < from || b >= to)
			continue;
		if (!isfinite(num) && !isnan(num))
			continue;
		if (compose_ratio_value(num, den, &r))
		{
			out_buckets[k] = b;
			out_values[k] = r;
			if (out_num != NULL && out_den != NULL)
			{
				out_num[k] = isnan(num) ? 0.0 : num;
				out_den[k] = den;
			}
			k++;
		}
	}
	return k;
}
