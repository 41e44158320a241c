/*-------------------------------------------------------------------------
 *
 * engine.c
 *	  The aggregation engine (see engine.h for the interface).
 *
 *	  Layout.  Every cell (a bucket of the main values, or a (value, bucket)
 *	  pair of a breakdown) is a fixed-size block: a header (row count, and
 *	  for breakdown cells the value id and the bucket) followed by one
 *	  accumulator per operand at a precomputed offset:
 *
 *		count			int64 n (matched rows)
 *		sum, avg		double s, double c (Neumaier compensation), int64 n
 *						(non-NULL measures)
 *		min, max		double v, int64 n (non-NULL measures)
 *		count_distinct	int64 n (matched rows), two exact sets: one of
 *						by-value keys, one of byte keys
 *		percentile		int64 n, a growing buffer of the non-NULL measures
 *						(doubling); the value selects the two order
 *						statistics percentile_cont interpolates (a
 *						quickselect on a copy, NaN last) when results are
 *						read
 *		approx_percentile	a DDSketch (ddsketch.h), started on its first
 *						value
 *		approx_distinct	int64 n (matched rows), a HyperLogLog sketch
 *						(hll.h) of the keys' 64-bit hashes
 *
 *	  The main values are one dense array of nbuckets cells, allocated up
 *	  front; a row's bucket is (ts - start) / width, cached for the current
 *	  bucket so time-ordered input skips the division.
 *
 *	  Breakdowns sharing a group column share one "group table": a byte
 *	  dictionary of the column's values (dense value ids), cells allocated
 *	  in chunks of 256 and found through an open-addressing table keyed by
 *	  (value id, bucket), with a per-value cache of its current cell, and
 *	  per-value ranking counters for each breakdown.  Folding into 'Other'
 *	  happens when the rows are produced: the cells of folded values are
 *	  merged per bucket into temporary cells, exactly (sets are united).
 *
 *	  Sets.  count_distinct sets are per cell, open addressing with linear
 *	  probing, sized to powers of two (at least 8 slots, load at most 3/4,
 *	  doubling).  By-value keys: slots of uint64 hashed by a xor-shift and a
 *	  Fibonacci multiply; the key 0 marks a free slot and is tracked by a
 *	  flag.  Byte keys: 16-byte slots (pointer, length, 32-bit hash) whose
 *	  bytes are copied into the state's arena; equality is hash, length and
 *	  bytes, never a hash alone.  Byte strings (keys, group values) are
 *	  hashed by a wyhash-style function (64x64->128 multiplications; short
 *	  strings read with two overlapping loads).  A cell's sets are presized
 *	  from the same value's previous cell (time-ordered input: the previous
 *	  bucket), which saves most of the doublings.
 *
 *	  Sums use Neumaier's compensated summation; min/max follow float8's
 *	  ordering (NaN greater than everything, ties take the newer value as
 *	  float8smaller/float8larger do).  Filter and NULL outcomes are used
 *	  arithmetically rather than branched on where that is cheap: they are
 *	  data, and a mispredicted branch costs more than the update.
 *
 *	  Memory.  Every allocation is counted in the state (engine_memory()):
 *	  sets and percentile buffers through mem_alloc, sketches by the growth
 *	  of their heap part, checked after each update that can grow it.
 *
 *	  Serialization writes a logical image (native byte order: it is for
 *	  parallel workers of the same server) guarded by a fingerprint of the
 *	  spec; deserialization checks every length and index.
 *
 *	  Files.  engine.c: states, rows and merging; engine_image.c: the
 *	  serialized image; engine_result.c: values and breakdown rows;
 *	  engine_int.h: the structures above and the inline containers they
 *	  share.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "order.h"

/* The engine's byte hash, for tests */
uint32_t
engine_hash_bytes(const char *data, uint32_t len)
{
	return hash_bytes(data, len);
}

/* ---------------------------------------------------------------------
 * Accumulators
 * ---------------------------------------------------------------------
 */

/* float8_lt: NaN is greater than everything, NaN equals NaN */
static inline bool
float_lt(double a, double b)
{
	return !isnan(a) && (isnan(b) || a < b);
}

/* float8_gt */
static inline bool
float_gt(double a, double b)
{
	return !isnan(b) && (isnan(a) || a > b);
}

/* c ? a : b, without a branch (c is data: a branch would mispredict) */
static inline double
select_double(bool c, double a, double b)
{
	uint64_t	ua;
	uint64_t	ub;
	uint64_t	m = (uint64_t) 0 - (uint64_t) c;
	double		r;

	memcpy(&ua, &a, sizeof(ua));
	memcpy(&ub, &b, sizeof(ub));
	ua = (ua & m) | (ub & ~m);
	memcpy(&r, &ua, sizeof(r));
	return r;
}

/* Neumaier step: add x to (s, c) */
static inline void
neumaier(double *s, double *c, double x)
{
	double		t = *s + x;
	double		big = fabs(*s) >= fabs(x) ? *s : x;
	double		small = fabs(*s) >= fabs(x) ? x : *s;

	*c += (big - t) + small;
	*s = t;
}

/* Value of a compensated sum */
static inline double
sum_value(const AccSum *a)
{
	if (!isfinite(a->s) || a->c == 0.0)
		return a->s;
	return a->s + a->c;
}

/* Merge sum src into dst */
static void
sum_merge(AccSum *dst, const AccSum *src)
{
	if (src->n == 0)
		return;
	if (dst->n == 0)
	{
		*dst = *src;
		return;
	}
	neumaier(&dst->s, &dst->c, src->s);
	dst->c += src->c;
	dst->n += src->n;
}

/* Size of an operand's accumulator */
static size_t
acc_size(int kind)
{
	switch (kind)
	{
		case ENGINE_COUNT:
			return sizeof(AccCount);
		case ENGINE_SUM:
		case ENGINE_AVG:
			return sizeof(AccSum);
		case ENGINE_MIN:
		case ENGINE_MAX:
			return sizeof(AccExt);
		case ENGINE_PERCENTILE:
			return sizeof(AccPct);
		case ENGINE_APPROX_PERCENTILE:
			return sizeof(AccDds);
		case ENGINE_APPROX_DISTINCT:
			return sizeof(AccHll);
		default:
			return sizeof(AccDistinct);
	}
}

/* Does an accumulator of this kind own memory? */
static bool
acc_has_heap(int kind)
{
	return kind == ENGINE_COUNT_DISTINCT || kind == ENGINE_PERCENTILE ||
		kind == ENGINE_APPROX_PERCENTILE || kind == ENGINE_APPROX_DISTINCT;
}

/*
 * percentile_cont(p) of n values (float8's order, NaN last): the values
 * of ranks floor and ceil of p * (n - 1), interpolated as PostgreSQL's
 * float8_lerp does.  v is rearranged: NaNs are moved to the end, the
 * others go through order_select (quickselect, heapsort-bounded).  A
 * buffer stays far below 2^31 values: the memory limit stops it first.
 */
static double
pct_of(double *v, int64_t n, double p)
{
	double		pos = p * (double) (n - 1);
	int64_t		first = (int64_t) floor(pos);
	int64_t		second = (int64_t) ceil(pos);
	int64_t		m = 0;
	int64_t		i;
	double		lo;
	double		hi;

	for (i = 0; i < n; i++)
	{
		if (!isnan(v[i]))
		{
			double		t = v[m];

			v[m++] = v[i];
			v[i] = t;
		}
	}
	if (first >= m)
		return NAN;
	lo = order_select(v, (int) m, (int) first);
	if (second == first)
		return lo;
	if (second >= m)
		return NAN;				/* lo + pct * (NaN - lo) */
	/* the next rank: the smallest value after first */
	hi = v[first + 1];
	for (i = first + 2; i < m; i++)
		if (v[i] < hi)
			hi = v[i];
	return lo + ((pos - (double) first) * (hi - lo));
}

/* The value of a percentile accumulator (NaN when it has no value) */
static double
pct_value(const AccPct *a, double p)
{
	double	   *copy;
	double		r;

	if (a->n == 0)
		return NAN;
	copy = core_alloc(sizeof(double) * (size_t) a->n);
	memcpy(copy, a->v, sizeof(double) * (size_t) a->n);
	r = pct_of(copy, a->n, p);
	core_free(copy);
	return r;
}

/* Append a value to a percentile buffer (doubling it when full) */
static inline void
pct_add(AccPct *a, double x, size_t *mem)
{
	if (a->n == a->cap)
	{
		int64_t		cap = a->cap == 0 ? 4 : a->cap * 2;
		double	   *v = mem_alloc(mem, sizeof(double) * (size_t) cap);

		if (a->n > 0)
			memcpy(v, a->v, sizeof(double) * (size_t) a->n);
		mem_free(mem, a->v, sizeof(double) * (size_t) a->cap);
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = x;
}

/* Add a value to an approx_percentile sketch, counting its growth */
static inline void
dds_acc_add(AccDds *a, double x, size_t *mem)
{
	size_t		before;

	if (a->s.alpha == 0)
		dds_init(&a->s, DDS_DEFAULT_ALPHA);
	before = acc_dds_heap(&a->s);
	dds_add(&a->s, x);
	if (mem != NULL)
		*mem += acc_dds_heap(&a->s) - before;
}

/*
 * Add a hash to an approx_distinct sketch, counting its growth (a dense
 * sketch does not grow: one register update, inline)
 */
static inline void
hll_acc_add(AccHll *a, uint64_t hash, size_t *mem)
{
	size_t		before;

	if (a->h.registers != NULL)
	{
		hll_dense_add(a->h.registers, hash);
		return;
	}
	before = acc_hll_heap(&a->h);
	hll_add_hash(&a->h, hash);
	if (mem != NULL)
		*mem += acc_hll_heap(&a->h) - before;
}

/* An operand's value in a cell: NaN for a gap */
double
engine_acc_value(const Slot *sl, const char *a)
{
	switch (sl->kind)
	{
		case ENGINE_COUNT:
			{
				const AccCount *c = (const AccCount *) a;

				return c->n > 0 ? (double) c->n : NAN;
			}
		case ENGINE_SUM:
			{
				const AccSum *s = (const AccSum *) a;

				return s->n > 0 ? sum_value(s) : NAN;
			}
		case ENGINE_AVG:
			{
				const AccSum *s = (const AccSum *) a;

				return s->n > 0 ? sum_value(s) / (double) s->n : NAN;
			}
		case ENGINE_MIN:
		case ENGINE_MAX:
			{
				const AccExt *e = (const AccExt *) a;

				return e->n > 0 ? e->v : NAN;
			}
		case ENGINE_PERCENTILE:
			return pct_value((const AccPct *) a, sl->p);
		case ENGINE_APPROX_PERCENTILE:
			{
				const AccDds *d = (const AccDds *) a;

				return d->s.count > 0 ? dds_quantile(&d->s, sl->p) : NAN;
			}
		case ENGINE_APPROX_DISTINCT:
			{
				const AccHll *h = (const AccHll *) a;

				return h->n > 0 ? hll_count(&h->h) : NAN;
			}
		default:
			{
				const AccDistinct *d = (const AccDistinct *) a;

				return d->n > 0 ? (double) (iset_size(&d->iv) + (int64_t) d->ib.count + d->shipped) : NAN;
			}
	}
}

/* Free the memory held by one cell (sets, buffers, sketches) */
void
engine_cell_free_sets(char *cell, const Layout *lay, size_t *mem)
{
	int			i;

	for (i = 0; i < lay->nslots; i++)
	{
		char	   *a = cell + lay->slots[i].off;

		switch (lay->slots[i].kind)
		{
			case ENGINE_COUNT_DISTINCT:
				iset_free(&((AccDistinct *) a)->iv, mem);
				bset_free(&((AccDistinct *) a)->ib, mem);
				break;
			case ENGINE_PERCENTILE:
				{
					AccPct	   *p = (AccPct *) a;

					mem_free(mem, p->v, sizeof(double) * (size_t) p->cap);
					memset(p, 0, sizeof(*p));
				}
				break;
			case ENGINE_APPROX_PERCENTILE:
				{
					AccDds	   *d = (AccDds *) a;

					if (mem != NULL)
						*mem -= acc_dds_heap(&d->s);
					dds_free(&d->s);
					memset(d, 0, sizeof(*d));
				}
				break;
			case ENGINE_APPROX_DISTINCT:
				{
					AccHll	   *h = (AccHll *) a;

					if (mem != NULL)
						*mem -= acc_hll_heap(&h->h);
					hll_free(&h->h);
				}
				break;
			default:
				break;
		}
	}
}

/* Presize a new cell's sets for as many keys as a previous cell holds */
static void
cell_presize(char *cell, const char *prev, const Layout *lay, size_t *mem)
{
	int			i;

	for (i = 0; i < lay->nslots; i++)
	{
		if (lay->slots[i].kind == ENGINE_COUNT_DISTINCT)
		{
			AccDistinct *d = (AccDistinct *) (cell + lay->slots[i].off);
			const AccDistinct *p = (const AccDistinct *) (prev + lay->slots[i].off);

			if (p->iv.count > 0)
				iset_reserve(&d->iv, p->iv.count, mem);
			if (p->ib.count > 0)
				bset_reserve(&d->ib, p->ib.count, mem);
		}
		else if (lay->slots[i].kind == ENGINE_APPROX_DISTINCT)
		{
			AccHll	   *d = (AccHll *) (cell + lay->slots[i].off);
			const AccHll *p = (const AccHll *) (prev + lay->slots[i].off);
			uint32_t	n = p->h.registers != NULL ? HLL_EXACT_MAX : p->h.nexact;
			size_t		before = acc_hll_heap(&d->h);

			if (n > 0)
			{
				hll_reserve(&d->h, n);
				if (mem != NULL)
					*mem += acc_hll_heap(&d->h) - before;
			}
		}
	}
}

/*
 * Merge cell src into dst (same layout).  Byte keys new to dst are copied
 * into arena, or referenced when arena is NULL (temporary cells).
 */
bool
engine_merge_cell(char *dst, const char *src, const Layout *lay, Arena *arena,
				  size_t *mem, char *errbuf, size_t errlen)
{
	int			i;

	*(int64_t *) dst += *(const int64_t *) src;
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		char	   *d = dst + sl->off;
		const char *s = src + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				((AccCount *) d)->n += ((const AccCount *) s)->n;
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				sum_merge((AccSum *) d, (const AccSum *) s);
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				{
					AccExt	   *de = (AccExt *) d;
					const AccExt *se = (const AccExt *) s;

					if (se->n == 0)
						break;
					if (de->n == 0)
						de->v = se->v;
					else if (sl->kind == ENGINE_MIN)
						de->v = float_lt(de->v, se->v) ? de->v : se->v;
					else
						de->v = float_gt(de->v, se->v) ? de->v : se->v;
					de->n += se->n;
				}
				break;
			case ENGINE_PERCENTILE:
				{
					AccPct	   *dp = (AccPct *) d;
					const AccPct *sp = (const AccPct *) s;
					int64_t		k;

					for (k = 0; k < sp->n; k++)
						pct_add(dp, sp->v[k], mem);
				}
				break;
			case ENGINE_APPROX_PERCENTILE:
				{
					AccDds	   *dd = (AccDds *) d;
					const AccDds *sd = (const AccDds *) s;
					size_t		before;

					if (sd->s.count == 0)
						break;
					if (dd->s.alpha == 0)
						dds_init(&dd->s, DDS_DEFAULT_ALPHA);
					before = acc_dds_heap(&dd->s);
					dds_merge(&dd->s, &sd->s);
					if (mem != NULL)
						*mem += acc_dds_heap(&dd->s) - before;
				}
				break;
			case ENGINE_APPROX_DISTINCT:
				{
					AccHll	   *dh = (AccHll *) d;
					const AccHll *sh = (const AccHll *) s;
					size_t		before = acc_hll_heap(&dh->h);

					dh->n += sh->n;
					hll_merge(&dh->h, &sh->h);
					if (mem != NULL)
						*mem += acc_hll_heap(&dh->h) - before;
				}
				break;
			default:
				{
					AccDistinct *dd = (AccDistinct *) d;
					const AccDistinct *sd = (const AccDistinct *) s;

					dd->n += sd->n;
					dd->shipped += sd->shipped;
					if (!iset_union(&dd->iv, &sd->iv, mem) ||
						!bset_union(&dd->ib, &sd->ib, arena, mem))
						return core_errorf(errbuf, errlen, "count_distinct set too large");
				}
				break;
		}
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Specs and layouts
 * ---------------------------------------------------------------------
 */

/* Mix a value into a fingerprint */
static uint64_t
fp_mix(uint64_t h, uint64_t v)
{
	h ^= v + HASH_MUL + (h << 6) + (h >> 2);
	h *= UINT64_C(0xff51afd7ed558ccd);
	return h ^ (h >> 33);
}

/* Check a spec; false with a message when it is bad */
static bool
spec_check(const EngineSpec *spec, char *errbuf, size_t errlen)
{
	int			i;
	int			j;
	int64_t		span;

	if (spec == NULL)
		return core_errorf(errbuf, errlen, "no spec");
	if (spec->nbuckets < 0)
		return core_errorf(errbuf, errlen, "negative bucket count %d", spec->nbuckets);
	if (spec->width <= 0)
		return core_errorf(errbuf, errlen, "bucket width must be positive");
	if (spec->nbuckets > 0 && spec->width > INT64_MAX / spec->nbuckets)
		return core_errorf(errbuf, errlen, "bucket grid out of range");
	span = spec->width * (int64_t) spec->nbuckets;
	if (spec->start > INT64_MAX - span)
		return core_errorf(errbuf, errlen, "bucket grid out of range");
	if (spec->bounds != NULL)
	{
		if (spec->bounds[0] != spec->start)
			return core_errorf(errbuf, errlen, "bucket boundaries do not start at the grid's start");
		for (i = 0; i < spec->nbuckets; i++)
			if (spec->bounds[i + 1] <= spec->bounds[i])
				return core_errorf(errbuf, errlen, "bucket boundaries must ascend");
	}
	if (spec->nfilters < 0 || spec->nmeasures < 0 || spec->nkeys < 0 || spec->ngroups < 0)
		return core_errorf(errbuf, errlen, "negative column count");
	if (spec->nfilters > ENGINE_MAX_COLUMNS || spec->nmeasures > ENGINE_MAX_COLUMNS ||
		spec->nkeys > ENGINE_MAX_COLUMNS || spec->ngroups > ENGINE_MAX_COLUMNS)
		return core_errorf(errbuf, errlen, "too many columns");
	if (spec->nops < 0 || spec->nbreakdowns < 0)
		return core_errorf(errbuf, errlen, "negative operand or breakdown count");
	if (spec->nops > ENGINE_MAX_OPERANDS)
		return core_errorf(errbuf, errlen, "too many operands (at most %d)", ENGINE_MAX_OPERANDS);
	if (spec->nbreakdowns > ENGINE_MAX_BREAKDOWNS)
		return core_errorf(errbuf, errlen, "too many breakdowns (at most %d)", ENGINE_MAX_BREAKDOWNS);
	if (spec->nops > 0 && spec->ops == NULL)
		return core_errorf(errbuf, errlen, "operands are missing");
	if (spec->nbreakdowns > 0 && spec->breakdowns == NULL)
		return core_errorf(errbuf, errlen, "breakdowns are missing");
	if (spec->max_rows < 0)
		return core_errorf(errbuf, errlen, "negative row cap");
	for (i = 0; i < spec->nops; i++)
	{
		const EngineOperand *op = &spec->ops[i];

		if ((int) op->agg < (int) ENGINE_COUNT || (int) op->agg > (int) ENGINE_APPROX_DISTINCT)
			return core_errorf(errbuf, errlen, "operand %d: unknown aggregation %d", i, (int) op->agg);
		if (op->filter < -1 || op->filter >= spec->nfilters)
			return core_errorf(errbuf, errlen, "operand %d: filter index %d out of range", i, op->filter);
		if ((op->agg == ENGINE_SUM || op->agg == ENGINE_AVG ||
			 op->agg == ENGINE_MIN || op->agg == ENGINE_MAX ||
			 op->agg == ENGINE_PERCENTILE || op->agg == ENGINE_APPROX_PERCENTILE) &&
			(op->measure < 0 || op->measure >= spec->nmeasures))
			return core_errorf(errbuf, errlen, "operand %d: measure index %d out of range", i, op->measure);
		if ((op->agg == ENGINE_COUNT_DISTINCT || op->agg == ENGINE_APPROX_DISTINCT) &&
			(op->key < 0 || op->key >= spec->nkeys))
			return core_errorf(errbuf, errlen, "operand %d: key index %d out of range", i, op->key);
		if ((op->agg == ENGINE_PERCENTILE || op->agg == ENGINE_APPROX_PERCENTILE) &&
			!(op->percentile > 0.0 && op->percentile < 1.0))
			return core_errorf(errbuf, errlen, "operand %d: percentile must be between 0 and 1", i);
		if (op->window < 0 || op->window > ENGINE_MAX_WINDOW)
			return core_errorf(errbuf, errlen, "operand %d: window of %d buckets out of range", i, op->window);
	}
	for (i = 0; i < spec->nbreakdowns; i++)
	{
		const EngineBreakdown *b = &spec->breakdowns[i];

		if (b->group < 0 || b->group >= spec->ngroups)
			return core_errorf(errbuf, errlen, "breakdown %d: group index %d out of range", i, b->group);
		if (b->nops != 1 && b->nops != 2)
			return core_errorf(errbuf, errlen, "breakdown %d: needs 1 or 2 operands, not %d", i, b->nops);
		for (j = 0; j < b->nops; j++)
			if (b->ops[j] < 0 || b->ops[j] >= spec->nops)
				return core_errorf(errbuf, errlen, "breakdown %d: operand index %d out of range", i, b->ops[j]);
		if (b->keep < 0)
			return core_errorf(errbuf, errlen, "breakdown %d: negative keep", i);
		if (b->nrank < 0 || b->nrank > 2)
			return core_errorf(errbuf, errlen, "breakdown %d: needs 0, 1 or 2 rank filters, not %d", i, b->nrank);
		for (j = 0; j < b->nrank; j++)
			if (b->rank_filters[j] < 0 || b->rank_filters[j] >= spec->nfilters)
				return core_errorf(errbuf, errlen, "breakdown %d: rank filter index %d out of range",
							i, b->rank_filters[j]);
		if (b->use_preset)
		{
			if (b->npreset < 0)
				return core_errorf(errbuf, errlen, "breakdown %d: negative preset count", i);
			if (b->npreset > 0 && (b->preset == NULL || b->preset_len == NULL))
				return core_errorf(errbuf, errlen, "breakdown %d: preset list is missing", i);
			for (j = 0; j < b->npreset; j++)
				if (b->preset[j] == NULL && b->preset_len[j] > 0)
					return core_errorf(errbuf, errlen, "breakdown %d: preset value %d has no data", i, j);
		}
	}
	return true;
}

/* Fingerprint of a checked spec */
static uint64_t
spec_fingerprint(const EngineSpec *spec)
{
	uint64_t	h = ENGINE_MAGIC;
	int			i;
	int			j;

	h = fp_mix(h, (uint64_t) spec->start);
	h = fp_mix(h, (uint64_t) spec->width);
	h = fp_mix(h, (uint64_t) spec->nbuckets);
	if (spec->bounds != NULL)
		for (i = 0; i <= spec->nbuckets; i++)
			h = fp_mix(h, (uint64_t) spec->bounds[i]);
	h = fp_mix(h, (uint64_t) spec->nfilters);
	h = fp_mix(h, (uint64_t) spec->nmeasures);
	h = fp_mix(h, (uint64_t) spec->nkeys);
	h = fp_mix(h, (uint64_t) spec->ngroups);
	h = fp_mix(h, (uint64_t) spec->nops);
	h = fp_mix(h, (uint64_t) spec->nbreakdowns);
	h = fp_mix(h, (uint64_t) spec->max_rows);
	h = fp_mix(h, spec->skip_main ? 1 : 0);
	for (i = 0; i < spec->nops; i++)
	{
		const EngineOperand *op = &spec->ops[i];

		h = fp_mix(h, (uint64_t) op->agg);
		h = fp_mix(h, (uint64_t) op->filter);
		h = fp_mix(h, (uint64_t) op->measure);
		h = fp_mix(h, (uint64_t) op->key);
		h = fp_mix(h, op->agg == ENGINE_COUNT_DISTINCT && op->disjoint ? 1 : 0);
		if (op->agg == ENGINE_PERCENTILE || op->agg == ENGINE_APPROX_PERCENTILE)
		{
			uint64_t	bits;

			memcpy(&bits, &op->percentile, sizeof(bits));
			h = fp_mix(h, bits);
		}
		if (op->window > 1)
			h = fp_mix(h, (uint64_t) op->window);
	}
	for (i = 0; i < spec->nbreakdowns; i++)
	{
		const EngineBreakdown *b = &spec->breakdowns[i];

		h = fp_mix(h, (uint64_t) b->group);
		h = fp_mix(h, (uint64_t) b->nops);
		for (j = 0; j < b->nops; j++)
			h = fp_mix(h, (uint64_t) b->ops[j]);
		h = fp_mix(h, (uint64_t) b->keep);
		h = fp_mix(h, (uint64_t) b->nrank);
		for (j = 0; j < b->nrank; j++)
			h = fp_mix(h, (uint64_t) b->rank_filters[j]);
		h = fp_mix(h, b->use_preset ? 1 : 0);
		if (b->use_preset)
		{
			h = fp_mix(h, (uint64_t) b->npreset);
			h = fp_mix(h, b->preset_null ? 1 : 0);
			for (j = 0; j < b->npreset; j++)
				h = fp_mix(h, ((uint64_t) b->preset_len[j] << 32) |
						   hash_bytes(b->preset[j], b->preset_len[j]));
		}
	}
	return h;
}

/*
 * Build a cell layout over the operands marked in use (all when NULL);
 * disjoint: its cells are never folded together, so disjoint operands may
 * be shipped as counts.
 */
static void
layout_build(EngineState *st, Layout *lay, const bool *use, size_t base, bool disjoint)
{
	int			i;
	int			n = 0;
	size_t		off = base;

	lay->op_slot = mem_alloc(&st->mem, sizeof(int32_t) * (size_t) (st->nops + 1));
	for (i = 0; i < st->nops; i++)
		if (use == NULL || use[i])
			n++;
	lay->slots = mem_alloc(&st->mem, sizeof(Slot) * (size_t) (n + 1));
	lay->nslots = n;
	n = 0;
	for (i = 0; i < st->nops; i++)
	{
		const EngineOperand *op = &st->ops[i];
		Slot	   *sl;

		lay->op_slot[i] = -1;
		if (use != NULL && !use[i])
			continue;
		sl = &lay->slots[n];
		sl->kind = (int) op->agg;
		sl->filter = op->filter;
		sl->arg = (op->agg == ENGINE_COUNT_DISTINCT || op->agg == ENGINE_APPROX_DISTINCT) ? op->key :
			op->agg == ENGINE_COUNT ? -1 : op->measure;
		sl->off = (uint32_t) off;
		sl->p = op->percentile;
		sl->disjoint = disjoint && op->disjoint && sl->kind == ENGINE_COUNT_DISTINCT;
		off += acc_size(sl->kind);
		if (sl->kind == ENGINE_COUNT_DISTINCT || sl->kind == ENGINE_APPROX_DISTINCT)
			lay->has_distinct = true;
		if (acc_has_heap(sl->kind))
			lay->has_heap = true;
		if (sl->filter >= 0)
			st->need_filters = true;
		if (sl->kind == ENGINE_COUNT_DISTINCT || sl->kind == ENGINE_APPROX_DISTINCT)
			st->need_keys = true;
		else if (sl->kind != ENGINE_COUNT)
			st->need_measures = true;
		lay->op_slot[i] = n;
		n++;
	}
	lay->cellsize = off;
}

/* Free a layout's arrays */
static void
layout_free(Layout *lay, size_t *mem, int nops)
{
	mem_free(mem, lay->op_slot, sizeof(int32_t) * (size_t) (nops + 1));
	mem_free(mem, lay->slots, sizeof(Slot) * (size_t) (lay->nslots + 1));
	memset(lay, 0, sizeof(*lay));
}

/* Create a state for a spec */
EngineState *
engine_create(const EngineSpec *spec, char *errbuf, size_t errlen)
{
	EngineState *st;
	int			i;
	int			j;
	bool	   *use;

	if (!spec_check(spec, errbuf, errlen))
		return NULL;

	st = core_alloc(sizeof(EngineState));
	st->mem = sizeof(EngineState);
	st->start = spec->start;
	st->width = spec->width;
	st->end = spec->start + spec->width * (int64_t) spec->nbuckets;
	st->nbuckets = spec->nbuckets;
	if (spec->bounds != NULL)
	{
		st->bounds = mem_alloc(&st->mem, sizeof(int64_t) * ((size_t) spec->nbuckets + 1));
		memcpy(st->bounds, spec->bounds, sizeof(int64_t) * ((size_t) spec->nbuckets + 1));
		st->end = spec->bounds[spec->nbuckets];
	}
	st->nfilters = spec->nfilters;
	st->nmeasures = spec->nmeasures;
	st->nkeys = spec->nkeys;
	st->ngroups = spec->ngroups;
	st->nops = spec->nops;
	st->nbreakdowns = spec->nbreakdowns;
	st->max_rows = spec->max_rows;
	st->skip_main = spec->skip_main;
	st->fingerprint = spec_fingerprint(spec);
	st->cur_lo = 0;
	st->cur_hi = 0;
	st->cur_b = -1;

	st->no_nulls = mem_alloc(&st->mem, sizeof(bool) * (size_t) (st->nmeasures + 1));
	st->ops = mem_alloc(&st->mem, sizeof(EngineOperand) * (size_t) (st->nops + 1));
	if (st->nops > 0)
		memcpy(st->ops, spec->ops, sizeof(EngineOperand) * (size_t) st->nops);
	st->bds = mem_alloc(&st->mem, sizeof(EngineBreakdown) * (size_t) (st->nbreakdowns + 1));
	for (i = 0; i < st->nbreakdowns; i++)
	{
		EngineBreakdown *b = &st->bds[i];

		*b = spec->breakdowns[i];
		if (!b->use_preset)
		{
			b->npreset = 0;
			b->preset = NULL;
			b->preset_len = NULL;
			b->preset_null = false;
		}
		else
		{
			const char **pv = mem_alloc(&st->mem, sizeof(char *) * (size_t) (b->npreset + 1));
			uint32_t   *pl = mem_alloc(&st->mem, sizeof(uint32_t) * (size_t) (b->npreset + 1));

			for (j = 0; j < b->npreset; j++)
			{
				pl[j] = spec->breakdowns[i].preset_len[j];
				pv[j] = arena_copy(&st->arena, &st->mem, spec->breakdowns[i].preset[j], pl[j]);
			}
			b->preset = pv;
			b->preset_len = pl;
		}
	}

	/* main values */
	if (!st->skip_main)
	{
		layout_build(st, &st->mlay, NULL, MAIN_BASE, true);
		if (st->nbuckets > 0)
			st->main = mem_alloc(&st->mem, st->mlay.cellsize * (size_t) st->nbuckets);
	}

	/* group tables: one per group column used by breakdowns */
	st->bd_table = mem_alloc(&st->mem, sizeof(int) * (size_t) (st->nbreakdowns + 1));
	st->bd_pos = mem_alloc(&st->mem, sizeof(int) * (size_t) (st->nbreakdowns + 1));
	st->tables = mem_alloc(&st->mem, sizeof(GTable) * (size_t) (st->nbreakdowns + 1));
	for (i = 0; i < st->nbreakdowns; i++)
	{
		int			t;

		for (t = 0; t < st->ntables; t++)
			if (st->tables[t].group == st->bds[i].group)
				break;
		if (t == st->ntables)
		{
			st->tables[t].group = st->bds[i].group;
			st->tables[t].dict.null_id = NO_ID;
			st->ntables++;
		}
		st->bd_table[i] = t;
		st->bd_pos[i] = st->tables[t].nbd++;
	}
	use = core_alloc(sizeof(bool) * (size_t) (st->nops + 1));
	for (i = 0; i < st->ntables; i++)
	{
		GTable	   *t = &st->tables[i];
		int			k = 0;
		bool		folds = false;

		st->need_groups = true;
		t->bd = mem_alloc(&st->mem, sizeof(int) * (size_t) t->nbd);
		t->rk = mem_alloc(&st->mem, sizeof(RankSpec) * (size_t) t->nbd);
		memset(use, 0, sizeof(bool) * (size_t) (st->nops + 1));
		for (j = 0; j < st->nbreakdowns; j++)
		{
			const EngineBreakdown *b = &st->bds[j];
			RankSpec   *rk;

			if (st->bd_table[j] != i)
				continue;
			t->bd[k] = j;
			rk = &t->rk[k];
			rk->used = b->keep > 0 && !b->use_preset;
			rk->n = b->nrank;
			rk->f[0] = b->nrank > 0 ? b->rank_filters[0] : 0;
			rk->f[1] = b->nrank > 1 ? b->rank_filters[1] : 0;
			if (rk->used && rk->n > 0)
				st->need_filters = true;
			if (b->keep == 0 && !b->use_preset)
				t->capped = true;
			else
				folds = true;
			use[b->ops[0]] = true;
			if (b->nops > 1)
				use[b->ops[1]] = true;
			k++;
		}
		layout_build(st, &t->lay, use, TABLE_BASE, !folds);
	}
	core_free(use);
	return st;
}

/* ---------------------------------------------------------------------
 * Adding rows
 * ---------------------------------------------------------------------
 */

/* Make room in a table's per-value arrays for its dictionary's values */
void
engine_table_values_reserve(EngineState *st, GTable *t)
{
	uint32_t	cap;
	VCache	   *vc;
	int64_t    *rank;

	if (t->dict.n <= t->vcap)
		return;
	cap = t->vcap == 0 ? 16 : t->vcap;
	while (cap < t->dict.n)
		cap *= 2;
	vc = mem_alloc(&st->mem, sizeof(VCache) * (size_t) cap);
	rank = mem_alloc(&st->mem, sizeof(int64_t) * (size_t) cap * (size_t) t->nbd);
	if (t->vcap > 0)
	{
		memcpy(vc, t->vc, sizeof(VCache) * (size_t) t->vcap);
		memcpy(rank, t->rank, sizeof(int64_t) * (size_t) t->vcap * (size_t) t->nbd);
	}
	mem_free(&st->mem, t->vc, sizeof(VCache) * (size_t) t->vcap);
	mem_free(&st->mem, t->rank, sizeof(int64_t) * (size_t) t->vcap * (size_t) t->nbd);
	t->vc = vc;
	t->rank = rank;
	t->vcap = cap;
}

/*
 * Find or create the cell of (vid, bucket); NULL on error.  With presize, a
 * new cell's sets are sized like the value's previous cell.
 */
char *
engine_table_cell(EngineState *st, GTable *t, uint32_t vid, int bucket, bool presize,
				  char *errbuf, size_t errlen)
{
	VCache	   *vc = &t->vc[vid];
	uint64_t	key;
	uint32_t	mask;
	uint32_t	i;
	uint32_t	idx;
	CellHead   *h;

	if (vc->cell != 0 && vc->bucket == bucket)
		return table_cellp(t, vc->cell - 1);

	key = cell_key(vid, bucket);
	if (t->ctabcap != 0)
	{
		mask = t->ctabcap - 1;
		i = slot_of(key, t->ctablog2);
		for (;;)
		{
			uint32_t	e = t->ctab[i];

			if (e == 0)
				break;
			h = (CellHead *) table_cellp(t, e - 1);
			if (h->vid == vid && h->bucket == bucket)
			{
				vc->bucket = bucket;
				vc->cell = e;
				return (char *) h;
			}
			i = (i + 1) & mask;
		}
	}

	/* a new cell */
	if (t->capped && st->max_rows > 0 && (int64_t) t->ncells + 1 > st->max_rows)
	{
		core_errorf(errbuf, errlen, "breakdown result exceeds the row limit of %lld rows",
			 (long long) st->max_rows);
		return NULL;
	}
	if (t->ncells + 1 >= MAX_IDS)
	{
		core_errorf(errbuf, errlen, "too many breakdown cells");
		return NULL;
	}
	if ((uint64_t) (t->ncells + 1) * 2 > t->ctabcap)
	{
		int			log2 = t->ctabcap == 0 ? TAB_MIN_LOG2 : t->ctablog2 + 1;
		uint32_t	cap = UINT32_C(1) << log2;
		uint32_t   *tab = mem_alloc(&st->mem, sizeof(uint32_t) * (size_t) cap);
		uint32_t	c;

		for (c = 0; c < t->ncells; c++)
		{
			CellHead   *ch = (CellHead *) table_cellp(t, c);
			uint32_t	j = slot_of(cell_key(ch->vid, ch->bucket), log2);

			while (tab[j] != 0)
				j = (j + 1) & (cap - 1);
			tab[j] = c + 1;
		}
		mem_free(&st->mem, t->ctab, sizeof(uint32_t) * (size_t) t->ctabcap);
		t->ctab = tab;
		t->ctabcap = cap;
		t->ctablog2 = (uint8_t) log2;
	}
	if (t->ncells == t->nchunks * CHUNK_CELLS)
	{
		if (t->nchunks == t->chunkcap)
		{
			uint32_t	cap = t->chunkcap == 0 ? 8 : t->chunkcap * 2;
			char	  **chunks = mem_alloc(&st->mem, sizeof(char *) * (size_t) cap);

			if (t->nchunks > 0)
				memcpy(chunks, t->chunks, sizeof(char *) * (size_t) t->nchunks);
			mem_free(&st->mem, t->chunks, sizeof(char *) * (size_t) t->chunkcap);
			t->chunks = chunks;
			t->chunkcap = cap;
		}
		t->chunks[t->nchunks++] = mem_alloc(&st->mem, t->lay.cellsize * CHUNK_CELLS);
	}
	mask = t->ctabcap - 1;
	i = slot_of(key, t->ctablog2);
	while (t->ctab[i] != 0)
		i = (i + 1) & mask;
	idx = t->ncells++;
	t->ctab[i] = idx + 1;
	h = (CellHead *) table_cellp(t, idx);
	h->vid = vid;
	h->bucket = bucket;
	if (presize && t->lay.has_distinct && vc->cell != 0)
		cell_presize((char *) h, table_cellp(t, vc->cell - 1), &t->lay, &st->mem);
	vc->bucket = bucket;
	vc->cell = idx + 1;
	return (char *) h;
}

/* Check that an EngineValue's bytes can be read */
static inline bool
value_ok(const EngineValue *v)
{
	return v->isnull || v->byval || v->len == 0 || v->data != NULL;
}

/* Update a cell's accumulators with a row */
static bool
apply_row(EngineState *st, const Layout *lay, char *cell, const EngineRow *row,
		  char *errbuf, size_t errlen)
{
	const Slot *sl = lay->slots;
	const Slot *end = sl + lay->nslots;
	const bool *mnull = row->measure_null ? row->measure_null : st->no_nulls;

	/*
	 * Filter and NULL outcomes are data: they are used arithmetically, not
	 * branched on, where that is cheap (adding -0.0 leaves any sum as is).
	 */
	for (; sl < end; sl++)
	{
		char	   *a = cell + sl->off;
		bool		pass = sl->filter < 0 ? true : row->filters[sl->filter];

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				((AccCount *) a)->n += pass;
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				{
					AccSum	   *acc = (AccSum *) a;
					bool		valid = pass & !mnull[sl->arg];
					double		x = row->measures[sl->arg];

					if (acc->n != 0)
					{
						neumaier(&acc->s, &acc->c, select_double(valid, x, -0.0));
						acc->n += valid;
					}
					else if (valid)
					{
						acc->s = x;
						acc->c = 0.0;
						acc->n = 1;
					}
				}
				break;
			case ENGINE_MIN:
				{
					/* float8smaller(v, x): keep v only when v < x */
					AccExt	   *e = (AccExt *) a;
					double		x = row->measures[sl->arg];
					double		v = e->v;
					bool		valid = pass & !mnull[sl->arg];
					bool		keep = (!isnan(v)) & (isnan(x) | (v < x));

					e->v = select_double(valid & ((e->n == 0) | !keep), x, v);
					e->n += valid;
				}
				break;
			case ENGINE_MAX:
				{
					/* float8larger(v, x): keep v only when v > x */
					AccExt	   *e = (AccExt *) a;
					double		x = row->measures[sl->arg];
					double		v = e->v;
					bool		valid = pass & !mnull[sl->arg];
					bool		keep = (!isnan(x)) & (isnan(v) | (v > x));

					e->v = select_double(valid & ((e->n == 0) | !keep), x, v);
					e->n += valid;
				}
				break;
			case ENGINE_PERCENTILE:
				if (pass && !mnull[sl->arg])
					pct_add((AccPct *) a, row->measures[sl->arg], &st->mem);
				break;
			case ENGINE_APPROX_PERCENTILE:
				if (pass && !mnull[sl->arg])
					dds_acc_add((AccDds *) a, row->measures[sl->arg], &st->mem);
				break;
			case ENGINE_APPROX_DISTINCT:
				if (pass)
				{
					AccHll	   *h = (AccHll *) a;
					const EngineValue *k = &row->keys[sl->arg];

					h->n++;
					if (k->isnull)
						break;
					if (k->byval)
						hll_acc_add(h, hll_hash_int((uint64_t) k->ival), &st->mem);
					else
					{
						if (!value_ok(k))
							return core_errorf(errbuf, errlen, "a key value has no data");
						hll_acc_add(h, hll_hash_bytes(k->data, k->len), &st->mem);
					}
				}
				break;
			default:
				if (pass)
				{
					AccDistinct *d = (AccDistinct *) a;
					const EngineValue *k = &row->keys[sl->arg];
					int			r;

					d->n++;
					if (k->isnull)
						break;
					if (k->byval)
						r = iset_add(&d->iv, (uint64_t) k->ival, &st->mem);
					else
					{
						if (!value_ok(k))
							return core_errorf(errbuf, errlen, "a key value has no data");
						r = bset_add(&d->ib, k->data, k->len,
									 hash_bytes(k->data, k->len), &st->arena, &st->mem);
					}
					if (r < 0)
						return core_errorf(errbuf, errlen, "count_distinct set too large");
				}
				break;
		}
	}
	return true;
}

/* The value id of a row's group value in a table */
static inline bool
group_id(EngineState *st, GTable *t, const EngineValue *v, uint32_t *id,
		 char *errbuf, size_t errlen)
{
	bool		ok;

	if (v->isnull)
		ok = dict_null(&t->dict, &st->mem, id, errbuf, errlen);
	else if (v->byval)
	{
		char		buf[32];
		int			n = snprintf(buf, sizeof(buf), "%lld", (long long) v->ival);

		ok = dict_intern(&t->dict, &st->arena, &st->mem, buf, (uint32_t) n, id, errbuf, errlen);
	}
	else
	{
		uint32_t	found;

		if (!value_ok(v))
			return core_errorf(errbuf, errlen, "a group value has no data");
		found = dict_find(&t->dict, v->data, v->len, hash_bytes(v->data, v->len));
		if (found != NO_ID)
		{
			*id = found;
			return true;
		}
		ok = dict_intern(&t->dict, &st->arena, &st->mem, v->data, v->len, id, errbuf, errlen);
	}
	if (ok && t->dict.n > t->vcap)
		engine_table_values_reserve(st, t);
	return ok;
}

/* The bucket of ts among ascending boundaries (bounds[0] <= ts < bounds[n]) */
static int
bounds_find(const int64_t *bounds, int n, int64_t ts)
{
	int			lo = 0;
	int			hi = n - 1;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo + 1) / 2;

		if (bounds[mid] <= ts)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* Add one row */
bool
engine_add(EngineState *st, const EngineRow *row, char *errbuf, size_t errlen)
{
	int64_t		ts;
	int			b;
	int			ti;

	if (st == NULL || row == NULL)
		return core_errorf(errbuf, errlen, "no state or no row");
	ts = row->ts;
	if (ts >= st->cur_lo && ts < st->cur_hi)
		b = st->cur_b;
	else
	{
		if (ts < st->start || ts >= st->end)
			return true;
		if (st->bounds != NULL)
			b = bounds_find(st->bounds, st->nbuckets, ts);
		else
			b = (int) ((uint64_t) (ts - st->start) / (uint64_t) st->width);
		st->cur_b = b;
		st->cur_lo = st->bounds ? st->bounds[b] : st->start + (int64_t) b * st->width;
		st->cur_hi = st->bounds ? st->bounds[b + 1] : st->cur_lo + st->width;
	}
	if ((st->need_filters && row->filters == NULL) ||
		(st->need_measures && row->measures == NULL) ||
		(st->need_keys && row->keys == NULL) ||
		(st->need_groups && row->groups == NULL))
		return core_errorf(errbuf, errlen, "row is missing columns");

	if (st->main != NULL)
	{
		char	   *cell = st->main + (size_t) b * st->mlay.cellsize;

		if ((*(int64_t *) cell)++ == 0)
		{
			st->nonempty++;
			if (st->max_rows > 0 && st->nonempty > st->max_rows)
				return core_errorf(errbuf, errlen, "result exceeds the row limit of %lld rows",
							(long long) st->max_rows);
			if (st->mlay.has_distinct && b > 0)
				cell_presize(cell, cell - st->mlay.cellsize, &st->mlay, &st->mem);
		}
		if (!apply_row(st, &st->mlay, cell, row, errbuf, errlen))
			return false;
	}

	for (ti = 0; ti < st->ntables; ti++)
	{
		GTable	   *t = &st->tables[ti];
		uint32_t	vid = 0;
		char	   *cell;
		int64_t    *rank;
		int			j;

		if (!group_id(st, t, &row->groups[t->group], &vid, errbuf, errlen))
			return false;
		cell = engine_table_cell(st, t, vid, b, true, errbuf, errlen);
		if (cell == NULL)
			return false;
		((CellHead *) cell)->rows++;
		rank = &t->rank[(size_t) vid * (size_t) t->nbd];
		for (j = 0; j < t->nbd; j++)
		{
			const RankSpec *rk = &t->rk[j];

			if (!rk->used)
				continue;
			if (rk->n == 0 || row->filters[rk->f[0]] ||
				(rk->n > 1 && row->filters[rk->f[1]]))
				rank[j]++;
		}
		if (!apply_row(st, &t->lay, cell, row, errbuf, errlen))
			return false;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Merging
 * ---------------------------------------------------------------------
 */

/* Map each id of a dictionary of from to an id of into's dictionary */
static uint32_t *
dict_map(EngineState *into, Dict *dst, const Dict *src, char *errbuf, size_t errlen)
{
	uint32_t   *map = core_alloc(sizeof(uint32_t) * ((size_t) src->n + 1));
	uint32_t	i;

	for (i = 0; i < src->n; i++)
	{
		bool		ok;

		if (i == src->null_id)
			ok = dict_null(dst, &into->mem, &map[i], errbuf, errlen);
		else
			ok = dict_intern(dst, &into->arena, &into->mem, src->ent[i].p, src->ent[i].len,
							 &map[i], errbuf, errlen);
		if (!ok)
		{
			core_free(map);
			return NULL;
		}
	}
	return map;
}

/* Merge state from into state into */
bool
engine_merge(EngineState *into, const EngineState *from, char *errbuf, size_t errlen)
{
	bool		ok = true;
	int			b;
	int			ti;

	if (into == NULL || from == NULL)
		return core_errorf(errbuf, errlen, "no state");
	if (into == from)
		return core_errorf(errbuf, errlen, "cannot merge a state into itself");
	if (into->fingerprint != from->fingerprint)
		return core_errorf(errbuf, errlen, "cannot merge states of different specs");

	if (into->main != NULL && from->main != NULL)
	{
		size_t		cs = into->mlay.cellsize;

		for (b = 0; b < into->nbuckets && ok; b++)
		{
			const char *src = from->main + (size_t) b * cs;
			char	   *dst = into->main + (size_t) b * cs;

			if (*(const int64_t *) src == 0)
				continue;
			if (*(int64_t *) dst == 0)
			{
				into->nonempty++;
				if (into->max_rows > 0 && into->nonempty > into->max_rows)
				{
					ok = core_errorf(errbuf, errlen, "result exceeds the row limit of %lld rows",
							  (long long) into->max_rows);
					break;
				}
			}
			ok = engine_merge_cell(dst, src, &into->mlay, &into->arena, &into->mem, errbuf, errlen);
		}
	}

	for (ti = 0; ti < into->ntables && ok; ti++)
	{
		GTable	   *t = &into->tables[ti];
		const GTable *f = &from->tables[ti];
		uint32_t   *vmap;
		uint32_t	i;
		int			j;

		if (f->dict.n == 0)
			continue;
		vmap = dict_map(into, &t->dict, &f->dict, errbuf, errlen);
		if (vmap == NULL)
		{
			ok = false;
			break;
		}
		engine_table_values_reserve(into, t);
		for (i = 0; i < f->dict.n; i++)
			for (j = 0; j < t->nbd; j++)
				t->rank[(size_t) vmap[i] * (size_t) t->nbd + (size_t) j] +=
					f->rank[(size_t) i * (size_t) f->nbd + (size_t) j];
		for (i = 0; i < f->ncells && ok; i++)
		{
			const CellHead *src = (const CellHead *) table_cellp(f, i);
			char	   *dst = engine_table_cell(into, t, vmap[src->vid], src->bucket, false, errbuf, errlen);

			if (dst == NULL)
				ok = false;
			else
				ok = engine_merge_cell(dst, (const char *) src, &t->lay, &into->arena, &into->mem,
								errbuf, errlen);
		}
		core_free(vmap);
	}
	return ok;
}


/* Number of buckets that received at least one row (main values) */
int64_t
engine_nonempty_buckets(const EngineState *st)
{
	return st == NULL ? 0 : st->nonempty;
}

/* Bytes allocated by a state */
size_t
engine_memory(const EngineState *st)
{
	return st == NULL ? 0 : st->mem;
}

/* Free a state and everything it owns */
void
engine_free(EngineState *st)
{
	int			i;
	size_t	   *mem;

	if (st == NULL)
		return;
	mem = &st->mem;
	if (st->main != NULL)
	{
		if (st->mlay.has_heap)
		{
			int			b;

			for (b = 0; b < st->nbuckets; b++)
				engine_cell_free_sets(st->main + (size_t) b * st->mlay.cellsize, &st->mlay, mem);
		}
		mem_free(mem, st->main, st->mlay.cellsize * (size_t) st->nbuckets);
	}
	if (st->bounds != NULL)
		mem_free(mem, st->bounds, sizeof(int64_t) * ((size_t) st->nbuckets + 1));
	if (!st->skip_main)
		layout_free(&st->mlay, mem, st->nops);
	for (i = 0; i < st->ntables; i++)
	{
		GTable	   *t = &st->tables[i];
		uint32_t	c;

		if (t->lay.has_heap)
			for (c = 0; c < t->ncells; c++)
				engine_cell_free_sets(table_cellp(t, c), &t->lay, mem);
		for (c = 0; c < t->nchunks; c++)
			mem_free(mem, t->chunks[c], t->lay.cellsize * CHUNK_CELLS);
		mem_free(mem, t->chunks, sizeof(char *) * (size_t) t->chunkcap);
		mem_free(mem, t->ctab, sizeof(uint32_t) * (size_t) t->ctabcap);
		mem_free(mem, t->vc, sizeof(VCache) * (size_t) t->vcap);
		mem_free(mem, t->rank, sizeof(int64_t) * (size_t) t->vcap * (size_t) t->nbd);
		mem_free(mem, t->bd, sizeof(int) * (size_t) t->nbd);
		mem_free(mem, t->rk, sizeof(RankSpec) * (size_t) t->nbd);
		dict_free(&t->dict, mem);
		layout_free(&t->lay, mem, st->nops);
	}
	mem_free(mem, st->tables, sizeof(GTable) * (size_t) (st->nbreakdowns + 1));
	mem_free(mem, st->bd_table, sizeof(int) * (size_t) (st->nbreakdowns + 1));
	mem_free(mem, st->bd_pos, sizeof(int) * (size_t) (st->nbreakdowns + 1));
	for (i = 0; i < st->nbreakdowns; i++)
	{
		EngineBreakdown *b = &st->bds[i];

		if (b->use_preset)
		{
			mem_free(mem, (void *) b->preset, sizeof(char *) * (size_t) (b->npreset + 1));
			mem_free(mem, (void *) b->preset_len, sizeof(uint32_t) * (size_t) (b->npreset + 1));
		}
	}
	mem_free(mem, st->bds, sizeof(EngineBreakdown) * (size_t) (st->nbreakdowns + 1));
	mem_free(mem, st->ops, sizeof(EngineOperand) * (size_t) (st->nops + 1));
	mem_free(mem, st->no_nulls, sizeof(bool) * (size_t) (st->nmeasures + 1));
	arena_free(&st->arena, mem);
	core_free(st);
}

