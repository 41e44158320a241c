/*-------------------------------------------------------------------------
 *
 * hll.h
 *	  A mergeable distinct-count sketch: exact while small, HyperLogLog
 *	  when large.  Pure core (see core.h).
 *
 *	  Values are hashed to 64 bits: byte strings by MurmurHash64A, 64-bit
 *	  integers by a bijective mixer (MurmurHash3's finalizer after a xor
 *	  with a constant), so distinct integers never share a hash.  Up to HLL_EXACT_MAX
 *	  distinct hashes are kept as they are (an open-addressing set), so
 *	  small cardinalities are counted exactly; past that the sketch turns
 *	  into 2^14 one-byte registers (16 kB, standard error 1.04 / 128 =
 *	  0.81 %).  The estimate is Ertl's improved raw estimator ("New
 *	  cardinality estimation algorithms for HyperLogLog sketches", 2017),
 *	  which corrects the small- and large-range bias of the original
 *	  HyperLogLog without HLL++'s empirical tables.
 *
 *	  Images (hll_serialize) are versioned by a magic: the registers, the
 *	  exact set's hashes, or -- when shorter -- the integers whose
 *	  hll_hash_int the exact set holds, ascending, varint-coded gaps (a
 *	  small integer column: 1 to 3 bytes a value instead of 8).
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
extern void hll_reserve(Hll *h, uint32_t n);
extern void hll_merge(Hll *into, const Hll *from);
extern double hll_count(const Hll *h);
extern bool hll_is_exact(const Hll *h);
extern size_t hll_memory(const Hll *h);
extern void hll_serialize(const Hll *h, char **out, size_t *len);
extern bool hll_deserialize(Hll *h, const char *data, size_t len);

/*
 * The hash of a 64-bit integer: MurmurHash3's fmix64 of v xor a constant.
 * A bijection (each step is invertible), so the exact set of an integer
 * column's hashes counts its values exactly; and a handful of cycles, not
 * a byte loop.
 */
static inline uint64_t
hll_hash_int(uint64_t v)
{
	uint64_t	h = v ^ UINT64_C(0x7472697068686c6c);	/* "triphhll" */

	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64_C(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return h;
}

/*
 * Set a register from a hash: the top HLL_P bits pick it, the rank is the
 * position of the first 1 bit in the remaining HLL_Q bits (HLL_Q + 1 when
 * they are all 0).  Without branches: a sentinel bit below them bounds
 * the count of leading zeros.
 */
static inline void
hll_dense_add(uint8_t *registers, uint64_t hash)
{
	uint32_t	idx = (uint32_t) (hash >> HLL_Q);
	uint64_t	rest = (hash << HLL_P) | (UINT64_C(1) << (HLL_P - 1));
	uint8_t		rho = (uint8_t) (__builtin_clzll(rest) + 1);
	uint8_t		old = registers[idx];

	registers[idx] = rho > old ? rho : old;
}

/* Add one hashed value: the dense case inline, the exact set out of line */
static inline void
hll_add(Hll *h, uint64_t hash)
{
	if (h->registers != NULL)
		hll_dense_add(h->registers, hash);
	else
		hll_add_hash(h, hash);
}

#endif							/* TRIPL_HLL_H */
