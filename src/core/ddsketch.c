/*-------------------------------------------------------------------------
 *
 * ddsketch.c
 *	  The relative-error quantile sketch (see ddsketch.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <string.h>

#include "ddsketch.h"

#define DDS_MAGIC	0x31534444u	/* "DDS1" */

/* Start an empty sketch of relative accuracy alpha (0 < alpha < 1) */
void
dds_init(DdSketch *s, double alpha)
{
	memset(s, 0, sizeof(*s));
	if (!(alpha > 0 && alpha < 1))
		alpha = DDS_DEFAULT_ALPHA;
	s->alpha = alpha;
	s->gamma = (1 + alpha) / (1 - alpha);
	s->log_gamma = log(s->gamma);
	s->min = INFINITY;
	s->max = -INFINITY;
}

/* Release the buckets (the sketch is empty afterwards) */
void
dds_free(DdSketch *s)
{
	core_free(s->pos.counts);
	core_free(s->neg.counts);
	s->pos.counts = s->neg.counts = NULL;
	s->pos.nbins = s->neg.nbins = s->pos.capacity = s->neg.capacity = 0;
}

/* The bucket index of a magnitude m > 0 */
static int32_t
dds_index(const DdSketch *s, double m)
{
	double		i = ceil(log(m) / s->log_gamma);

	if (i > INT32_MAX / 2)
		return INT32_MAX / 2;
	if (i < INT32_MIN / 2)
		return INT32_MIN / 2;
	return (int32_t) i;
}

/* The value a bucket stands for: within alpha of every magnitude in it */
static double
dds_value(const DdSketch *s, int32_t index)
{
	return 2.0 * pow(s->gamma, index) / (s->gamma + 1.0);
}

/*
 * Make the store cover indexes [lo, hi], folding the smallest magnitudes
 * into one bin when that would take more than DDS_MAX_BINS.
 */
static void
store_cover(DdsStore *st, int32_t lo, int32_t hi)
{
	int32_t		new_lo;
	int32_t		new_n;
	int32_t		capacity;
	uint64_t   *counts;
	int32_t		i;

	if (st->nbins > 0)
	{
		if (lo > st->offset)
			lo = st->offset;
		if (hi < st->offset + st->nbins - 1)
			hi = st->offset + st->nbins - 1;
		if (lo == st->offset && hi == st->offset + st->nbins - 1)
			return;
	}
	new_lo = lo;
	if ((int64_t) hi - lo + 1 > DDS_MAX_BINS)
	{
		new_lo = hi - DDS_MAX_BINS + 1;
		st->collapsed = 1;
	}
	new_n = hi - new_lo + 1;
	if (st->nbins > 0 && new_lo == st->offset && new_n <= st->capacity)
	{
		st->nbins = new_n;		/* grows upward in place */
		return;
	}
	/* room to grow upward without moving (the common case: rising values) */
	capacity = new_n + 64 < DDS_MAX_BINS ? new_n + 64 : (new_n > DDS_MAX_BINS ? new_n : DDS_MAX_BINS);
	counts = core_alloc(sizeof(uint64_t) * capacity);
	for (i = 0; i < st->nbins; i++)
	{
		int32_t		idx = st->offset + i;

		counts[(idx < new_lo ? new_lo : idx) - new_lo] += st->counts[i];
	}
	core_free(st->counts);
	st->counts = counts;
	st->offset = new_lo;
	st->nbins = new_n;
	st->capacity = capacity;
}

/* Add n to the bucket of an index (folded into the lowest bin if below) */
static void
store_add(DdsStore *st, int32_t index, uint64_t n)
{
	store_cover(st, index, index);
	if (index < st->offset)
		index = st->offset;
	st->counts[index - st->offset] += n;
}

/* Add one value; NaN is ignored, infinities count at the extremes */
void
dds_add(DdSketch *s, double v)
{
	double		m;

	if (isnan(v))
		return;
	s->count++;
	if (v < s->min)
		s->min = v;
	if (v > s->max)
		s->max = v;
	m = fabs(v);
	if (m < DDS_MIN_MAGNITUDE)
		s->zero_count++;
	else if (v > 0)
		store_add(&s->pos, dds_index(s, isinf(m) ? 1e300 : m), 1);
	else
		store_add(&s->neg, dds_index(s, isinf(m) ? 1e300 : m), 1);
}

/* Add every bucket of one store to another */
static void
store_merge(DdsStore *into, const DdsStore *from)
{
	int32_t		i;

	if (from->nbins == 0)
		return;
	store_cover(into, from->offset, from->offset + from->nbins - 1);
	for (i = 0; i < from->nbins; i++)
	{
		int32_t		idx = from->offset + i;

		if (from->counts[i] == 0)
			continue;
		into->counts[(idx < into->offset ? into->offset : idx) - into->offset] += from->counts[i];
	}
	into->collapsed |= from->collapsed;
}

/* Merge another sketch (of the same alpha) into this one */
void
dds_merge(DdSketch *into, const DdSketch *from)
{
	if (from->count == 0)
		return;
	store_merge(&into->pos, &from->pos);
	store_merge(&into->neg, &from->neg);
	into->zero_count += from->zero_count;
	into->count += from->count;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

/* The estimated value of the item of 0-based rank r (r < count) */
static double
dds_value_at_rank(const DdSketch *s, uint64_t r)
{
	uint64_t	cum = 0;
	int32_t		i;

	/* most negative first: largest magnitudes of the negative store */
	for (i = s->neg.nbins - 1; i >= 0; i--)
	{
		cum += s->neg.counts[i];
		if (cum > r)
			return -dds_value(s, s->neg.offset + i);
	}
	cum += s->zero_count;
	if (cum > r)
		return 0.0;
	for (i = 0; i < s->pos.nbins; i++)
	{
		cum += s->pos.counts[i];
		if (cum > r)
			return dds_value(s, s->pos.offset + i);
	}
	return s->max;
}

/* Clamp an estimate to the exact extremes */
static double
dds_clamp(const DdSketch *s, double v)
{
	if (v < s->min)
		return s->min;
	if (v > s->max)
		return s->max;
	return v;
}

/* percentile_cont-like estimate for q in [0, 1]; NaN when empty */
double
dds_quantile(const DdSketch *s, double q)
{
	double		pos;
	uint64_t	lo;
	double		frac;
	double		a;
	double		b;

	if (s->count == 0 || isnan(q))
		return NAN;
	if (q <= 0)
		return s->min;
	if (q >= 1)
		return s->max;
	pos = q * (double) (s->count - 1);
	lo = (uint64_t) floor(pos);
	frac = pos - (double) lo;
	a = dds_clamp(s, dds_value_at_rank(s, lo));
	if (frac == 0 || lo + 1 >= s->count)
		return a;
	b = dds_clamp(s, dds_value_at_rank(s, lo + 1));
	return a + frac * (b - a);
}

/* Bytes of the sketch's buckets */
size_t
dds_memory(const DdSketch *s)
{
	return sizeof(DdSketch) + sizeof(uint64_t) * (size_t) (s->pos.capacity + s->neg.capacity);
}

/* The fixed part of an image */
typedef struct DdsImage
{
	uint32_t	magic;
	int32_t		pos_offset;
	int32_t		pos_nbins;
	int32_t		neg_offset;
	int32_t		neg_nbins;
	int32_t		collapsed;		/* bit 0: pos, bit 1: neg */
	double		alpha;
	double		min;
	double		max;
	uint64_t	zero_count;
	uint64_t	count;
} DdsImage;

/* A flat image of the sketch, core_alloc'ed */
void
dds_serialize(const DdSketch *s, char **out, size_t *len)
{
	DdsImage	h;
	size_t		n = sizeof(h) + sizeof(uint64_t) * (size_t) (s->pos.nbins + s->neg.nbins);
	char	   *p = core_alloc(n);

	memset(&h, 0, sizeof(h));
	h.magic = DDS_MAGIC;
	h.pos_offset = s->pos.offset;
	h.pos_nbins = s->pos.nbins;
	h.neg_offset = s->neg.offset;
	h.neg_nbins = s->neg.nbins;
	h.collapsed = s->pos.collapsed | (s->neg.collapsed << 1);
	h.alpha = s->alpha;
	h.min = s->min;
	h.max = s->max;
	h.zero_count = s->zero_count;
	h.count = s->count;
	memcpy(p, &h, sizeof(h));
	if (s->pos.nbins > 0)
		memcpy(p + sizeof(h), s->pos.counts, sizeof(uint64_t) * s->pos.nbins);
	if (s->neg.nbins > 0)
		memcpy(p + sizeof(h) + sizeof(uint64_t) * s->pos.nbins, s->neg.counts,
			   sizeof(uint64_t) * s->neg.nbins);
	*out = p;
	*len = n;
}

/* Read one store's bins from an image */
static void
store_load(DdsStore *st, int32_t offset, int32_t nbins, const char *data)
{
	st->offset = offset;
	st->nbins = nbins;
	st->capacity = nbins;
	st->counts = NULL;
	if (nbins > 0)
	{
		st->counts = core_alloc(sizeof(uint64_t) * nbins);
		memcpy(st->counts, data, sizeof(uint64_t) * nbins);
	}
}

/* The sketch of an image; false when the image is malformed */
bool
dds_deserialize(DdSketch *s, const char *data, size_t len)
{
	DdsImage	h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, data, sizeof(h));
	if (h.magic != DDS_MAGIC || h.pos_nbins < 0 || h.neg_nbins < 0 ||
		h.pos_nbins > DDS_MAX_BINS || h.neg_nbins > DDS_MAX_BINS ||
		len != sizeof(h) + sizeof(uint64_t) * (size_t) (h.pos_nbins + h.neg_nbins) ||
		!(h.alpha > 0 && h.alpha < 1))
		return false;
	dds_init(s, h.alpha);
	s->min = h.min;
	s->max = h.max;
	s->zero_count = h.zero_count;
	s->count = h.count;
	store_load(&s->pos, h.pos_offset, h.pos_nbins, data + sizeof(h));
	store_load(&s->neg, h.neg_offset, h.neg_nbins, data + sizeof(h) + sizeof(uint64_t) * h.pos_nbins);
	s->pos.collapsed = h.collapsed & 1;
	s->neg.collapsed = (h.collapsed >> 1) & 1;
	return true;
}
