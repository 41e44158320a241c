/*-------------------------------------------------------------------------
 *
 * ddsketch.h
 *	  A mergeable quantile sketch with a relative-error guarantee (the
 *	  DDSketch construction): values fall into logarithmic buckets of ratio
 *	  gamma = (1 + alpha) / (1 - alpha), so any value is known to within a
 *	  relative error alpha.  Positive and negative values have stores of
 *	  their own; zeros (and values closer to zero than the smallest tracked
 *	  magnitude) are counted apart.  Pure core (see core.h).
 *
 *	  A quantile q is estimated like percentile_cont(q): the order
 *	  statistics at ranks floor and ceil of q * (n - 1), each within alpha of
 *	  the true one, interpolated linearly — so the estimate is within alpha
 *	  of percentile_cont(q) whenever the two have one sign.
 *
 *	  Memory: one counter (8 bytes) per occupied bucket span; a store keeps
 *	  at most DDS_MAX_BINS bins, collapsing its smallest magnitudes into one
 *	  (they then lose the guarantee, as in the DDSketch paper).  At
 *	  alpha = 1 %, values spanning six decades take about 700 bins, and the
 *	  2048 bins cover 17 decades.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DDSKETCH_H
#define TRIPL_DDSKETCH_H

#include "core.h"

#define DDS_DEFAULT_ALPHA	0.01
#define DDS_MAX_BINS		2048
#define DDS_MIN_MAGNITUDE	1e-9	/* smaller magnitudes count as zero */

/* One sign's buckets: counts[i] is the bucket of index offset + i */
typedef struct DdsStore
{
	int32_t		offset;
	int32_t		nbins;			/* bins in use */
	int32_t		capacity;
	int32_t		collapsed;		/* 1 once the lowest bins were folded */
	uint64_t   *counts;
} DdsStore;

typedef struct DdSketch
{
	double		alpha;
	double		gamma;
	double		log_gamma;
	uint64_t	zero_count;
	uint64_t	count;
	double		min;
	double		max;
	DdsStore	pos;
	DdsStore	neg;
} DdSketch;

extern void dds_init(DdSketch *s, double alpha);
extern void dds_free(DdSketch *s);
extern void dds_add(DdSketch *s, double v);
extern void dds_merge(DdSketch *into, const DdSketch *from);

/* percentile_cont-like estimate for q in [0, 1]; NaN when empty */
extern double dds_quantile(const DdSketch *s, double q);

/* Bytes of the sketch's buckets */
extern size_t dds_memory(const DdSketch *s);

/* A flat image (native byte order) and back; false on a malformed image */
extern void dds_serialize(const DdSketch *s, char **out, size_t *len);
extern bool dds_deserialize(DdSketch *s, const char *data, size_t len);

#endif							/* TRIPL_DDSKETCH_H */
