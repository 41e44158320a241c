/*-------------------------------------------------------------------------
 *
 * hll.h
 *	  A mergeable distinct-count sketch: exact while small, HyperLogLog
 *	  when large.  Pure core (see core.h).
 *
 *	  Values are hashed to 64 bits (MurmurHash64A).  Up to HLL_EXACT_MAX
 *	  distinct hashes are kept as they are (an open-addressing set), so
 *	  small cardinalities are counted exactly; past that the sketch turns
 *	  into 2^14 one-byte registers (16 kB, standard error 1.04 / 128 =
 *	  0.81 %).  The estimate is Ertl's improved raw estimator ("New
 *	  cardinality estimation algorithms for HyperLogLog sketches", 2017),
 *	  which corrects the small- and large-range bias of the original
 *	  HyperLogLog without HLL++'s empirical tables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_HLL_H
#define TRIPL_HLL_H

#include "core.h"

#define HLL_P			14
#define HLL_M			(1 << HLL_P)
#define HLL_Q			(64 - HLL_P)	/* register values are 0 .. HLL_Q + 1 */
#define HLL_EXACT_MAX	1024

typedef struct Hll
{
	uint32_t	nexact;			/* distinct hashes in the exact set */
	uint32_t	capacity;		/* slots of the exact set (a power of 2) */
	uint64_t   *exact;			/* open addressing; 0 marks an empty slot */
	uint8_t    *registers;		/* HLL_M registers once dense, else NULL */
} Hll;

extern void hll_init(Hll *h);
extern void hll_free(Hll *h);
extern uint64_t hll_hash_bytes(const void *data, size_t len);
extern void hll_add_hash(Hll *h, uint64_t hash);
extern void hll_merge(Hll *into, const Hll *from);
extern double hll_count(const Hll *h);
extern bool hll_is_exact(const Hll *h);
extern size_t hll_memory(const Hll *h);
extern void hll_serialize(const Hll *h, char **out, size_t *len);
extern bool hll_deserialize(Hll *h, const char *data, size_t len);

#endif							/* TRIPL_HLL_H */
