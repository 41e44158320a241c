/*
 * compose_test.c
 *	  Unit tests for metric composition: gaps, zeros, ratio union
 *	  densification and divide-by-zero, clipping.
 */
#include "unit.h"
#include "compose.h"

int
main(void)
{
	int64_t		b[6] = {10, 20, 30, 40, 50, 60};
	double		v[6] = {1.0, NAN, 0.0, INFINITY, 5.0, -2.0};
	int64_t		ob[12];
	double		ov[12];
	int			n;
	double		r;

	/* single: gaps (NaN) and non-finite values are dropped, zeros kept */
	n = compose_single(b, v, 6, 0, 100, ob, ov);
	CHECK(n == 4, "single keeps 4 of 6 (NaN and Inf dropped)");
	CHECK(ob[0] == 10 && ov[0] == 1.0 && ob[1] == 30 && ov[1] == 0.0 && ob[2] == 50 && ob[3] == 60 && ov[3] == -2.0,
		  "single keeps zero and negative values in order");
	n = compose_single(b, v, 6, 20, 60, ob, ov);
	CHECK(n == 2 && ob[0] == 30 && ob[1] == 50, "single clips to [from, to)");

	/* ratio value rules */
	CHECK(compose_ratio_value(3.0, 4.0, &r) && r == 0.75, "3/4");
	CHECK(compose_ratio_value(NAN, 4.0, &r) && r == 0.0, "missing numerator counts as 0");
	CHECK(!compose_ratio_value(3.0, 0.0, &r), "zero denominator is a gap");
	CHECK(!compose_ratio_value(3.0, NAN, &r), "missing denominator is a gap");
	CHECK(!compose_ratio_value(NAN, NAN, &r), "both missing is a gap");
	CHECK(compose_ratio_value(0.0, 2.0, &r) && r == 0.0, "0/2 is a value 0");
	CHECK(compose_ratio_value(-3.0, 2.0, &r) && r == -1.5, "signed values divide");

	/* ratio over two series with different buckets (cross-table) */
	{
		int64_t		nb[3] = {10, 20, 40};
		double		nv[3] = {6.0, 1.0, 8.0};
		int64_t		db[4] = {10, 30, 40, 50};
		double		dv[4] = {3.0, 5.0, 0.0, 2.0};

		/* union: 10 -> 6/3 = 2; 20 -> 1/missing = gap; 30 -> 0/5 = 0; 40 -> 8/0 gap; 50 -> 0/2 = 0 */
		n = compose_ratio(nb, nv, 3, db, dv, 4, 0, 100, ob, ov);
		CHECK(n == 3, "cross-table ratio has 3 values");
		CHECK(ob[0] == 10 && ov[0] == 2.0, "bucket 10: 6/3");
		CHECK(ob[1] == 30 && ov[1] == 0.0, "bucket 30: numerator missing -> 0/5");
		CHECK(ob[2] == 50 && ov[2] == 0.0, "bucket 50: numerator missing -> 0/2");
		n = compose_ratio(nb, nv, 3, db, dv, 4, 30, 50, ob, ov);
		CHECK(n == 1 && ob[0] == 30, "ratio clips to the window");
		n = compose_ratio(nb, nv, 0, db, dv, 0, 0, 100, ob, ov);
		CHECK(n == 0, "empty operands give nothing");
		{
			double		on[8],
						od[8];

			n = compose_ratio_operands(nb, nv, 3, db, dv, 4, 0, 100, ob, ov, on, od);
			CHECK(n == 3, "the operands come with the same 3 values");
			CHECK(on[0] == 6.0 && od[0] == 3.0, "bucket 10's operands are 6 and 3");
			CHECK(on[1] == 0.0 && od[1] == 5.0, "a missing numerator is stored as the 0 used");
			CHECK(on[2] == 0.0 && od[2] == 2.0, "bucket 50's operands are 0 and 2");
			n = compose_ratio_operands(nb, nv, 3, db, dv, 4, 0, 100, ob, ov, NULL, NULL);
			CHECK(n == 3, "operands are optional");
		}
	}
	return unit_done();
}
