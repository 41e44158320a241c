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
 *	  Serialization writes a logical image (native byte order: it is for
 *	  parallel workers of the same server) guarded by a fingerprint of the
 *	  spec; deserialization checks every length and index.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define ENGINE_MAGIC		UINT64_C(0x31474e454c505254)	/* "TRPLENG1" */
#define ENGINE_FORMAT		1

#define HASH_MUL			UINT64_C(0x9E3779B97F4A7C15)
#define NO_ID				UINT32_MAX
#define MAX_IDS				(UINT32_C(1) << 31)

#define CHUNK_SHIFT			8
#define CHUNK_CELLS			(1u << CHUNK_SHIFT)
#define CHUNK_MASK			(CHUNK_CELLS - 1)

#define SET_MIN_LOG2		3
#define SET_MAX_LOG2		31
#define TAB_MIN_LOG2		4

#define MAIN_BASE			8	/* int64 rows */
#define TABLE_BASE			16	/* int64 rows, uint32 value id, int32 bucket */

/* Accumulators */
typedef struct AccCount
{
	int64_t		n;
} AccCount;

typedef struct AccSum
{
	double		s;
	double		c;
	int64_t		n;
} AccSum;

typedef struct AccExt
{
	double		v;
	int64_t		n;
} AccExt;

typedef struct ISet
{
	uint64_t   *slots;			/* 1 << log2 slots, 0 = free; NULL when log2
								 * is 0 */
	uint32_t	count;			/* non-zero keys stored */
	uint8_t		log2;
	bool		has_zero;
} ISet;

typedef struct BEnt
{
	const char *p;				/* the bytes; NULL: a free slot */
	uint32_t	len;
	uint32_t	hash;
} BEnt;

typedef struct BSet
{
	BEnt	   *slots;			/* 1 << log2 slots; NULL when log2 is 0 */
	uint32_t	count;
	uint8_t		log2;
} BSet;

typedef struct AccDistinct
{
	int64_t		n;
	ISet		iv;				/* by-value keys */
	BSet		ib;				/* byte keys */
} AccDistinct;

/* Cell header of breakdown cells */
typedef struct CellHead
{
	int64_t		rows;
	uint32_t	vid;
	int32_t		bucket;
} CellHead;

/* An operand compiled into a cell layout */
typedef struct Slot
{
	int			kind;			/* EngineAgg */
	int			filter;
	int			arg;			/* measure or key index */
	uint32_t	off;
} Slot;

typedef struct Layout
{
	int			nslots;
	Slot	   *slots;
	int32_t    *op_slot;		/* per operand of the spec: slot index or -1 */
	size_t		cellsize;
	bool		has_distinct;
} Layout;

/* Chunked byte storage; chunks never move */
typedef struct ArenaChunk
{
	struct ArenaChunk *next;
	size_t		size;
} ArenaChunk;

typedef struct Arena
{
	ArenaChunk *head;
	char	   *pos;
	size_t		left;
	size_t		total;
} Arena;

/* A byte dictionary: bytes -> dense id */
typedef struct DictEnt
{
	const char *p;
	uint32_t	len;
	uint32_t	hash;
} DictEnt;

typedef struct Dict
{
	DictEnt    *ent;
	uint32_t	n;
	uint32_t	entcap;
	uint32_t   *tab;			/* id + 1, 0 = free */
	uint32_t	tabcap;			/* power of two, or 0 */
	uint32_t	null_id;		/* id standing for NULL, or NO_ID */
} Dict;

/* Per value of a group table: the cell of the bucket it was last seen in */
typedef struct VCache
{
	int32_t		bucket;
	uint32_t	cell;			/* cell index + 1, 0 = none */
} VCache;

typedef struct RankSpec
{
	bool		used;
	int			n;
	int			f[2];
} RankSpec;

typedef struct GTable
{
	int			group;
	Layout		lay;
	int			nbd;
	int		   *bd;				/* breakdown indexes */
	RankSpec   *rk;				/* per breakdown of the table */
	bool		capped;			/* some breakdown keeps every value */
	Dict		dict;
	VCache	   *vc;				/* vcap entries */
	int64_t    *rank;			/* vcap * nbd counters */
	uint32_t	vcap;
	char	  **chunks;
	uint32_t	nchunks;
	uint32_t	chunkcap;
	uint32_t	ncells;
	uint32_t   *ctab;			/* cell index + 1, 0 = free */
	uint32_t	ctabcap;
	uint8_t		ctablog2;
} GTable;

struct EngineState
{
	/* the spec, copied */
	int64_t		start;
	int64_t		width;
	int64_t		end;
	int			nbuckets;
	int			nfilters;
	int			nmeasures;
	int			nkeys;
	int			ngroups;
	int			nops;
	EngineOperand *ops;
	int			nbreakdowns;
	EngineBreakdown *bds;
	int64_t		max_rows;
	bool		skip_main;
	uint64_t	fingerprint;

	bool		need_filters;
	bool		need_measures;
	bool		need_keys;
	bool		need_groups;
	bool	   *no_nulls;		/* nmeasures false values */

	size_t		mem;			/* bytes allocated */
	Arena		arena;			/* byte keys, group values, presets */

	Layout		mlay;
	char	   *main;			/* nbuckets * mlay.cellsize, or NULL */
	int64_t		nonempty;

	/* the current bucket */
	int64_t		cur_lo;
	int64_t		cur_hi;
	int			cur_b;

	int			ntables;
	GTable	   *tables;
	int		   *bd_table;		/* per breakdown: its table */
	int		   *bd_pos;			/* per breakdown: its position in the table */
};

/* Serialization buffer */
typedef struct Wr
{
	char	   *buf;
	size_t		len;
	size_t		cap;
} Wr;

typedef struct Rd
{
	const char *p;
	size_t		left;
} Rd;

typedef struct RankItem
{
	int64_t		n;
	const char *p;
	uint32_t	len;
	bool		isnull;
	uint32_t	id;
} RankItem;

/* Allocate zeroed memory, counting it */
static void *
mem_alloc(size_t *mem, size_t size)
{
	if (mem != NULL)
		*mem += size;
	return core_alloc(size);
}

/* Free memory allocated by mem_alloc */
static void
mem_free(size_t *mem, void *p, size_t size)
{
	if (p == NULL)
		return;
	if (mem != NULL)
		*mem -= size;
	core_free(p);
}

/* Copy bytes into the arena; the copy never moves */
static const char *
arena_copy(Arena *a, size_t *mem, const char *p, uint32_t len)
{
	const char *r;

	if (len == 0)
		return "";
	if (a->left < len)
	{
		size_t		sz = a->total;
		ArenaChunk *c;

		if (sz < 4096)
			sz = 4096;
		if (sz > ((size_t) 1 << 20))
			sz = (size_t) 1 << 20;
		if (sz < len)
			sz = len;
		c = mem_alloc(mem, sizeof(ArenaChunk) + sz);
		c->next = a->head;
		c->size = sizeof(ArenaChunk) + sz;
		a->head = c;
		a->pos = (char *) (c + 1);
		a->left = sz;
		a->total += sz;
	}
	memcpy(a->pos, p, len);
	r = a->pos;
	a->pos += len;
	a->left -= len;
	return r;
}

/* Free the arena's chunks */
static void
arena_free(Arena *a, size_t *mem)
{
	ArenaChunk *c = a->head;

	while (c != NULL)
	{
		ArenaChunk *next = c->next;

		mem_free(mem, c, c->size);
		c = next;
	}
	memset(a, 0, sizeof(*a));
}

/* Load 8 bytes from a possibly unaligned address */
static inline uint64_t
load64(const char *p)
{
	uint64_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Load 4 bytes from a possibly unaligned address */
static inline uint32_t
load32(const char *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Multiply two words, folding the 128-bit product (the "mum" mix) */
static inline uint64_t
mix_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	__uint128_t r = (__uint128_t) a * b;

	return (uint64_t) r ^ (uint64_t) (r >> 64);
#else
	uint64_t	r = a * b;
	uint64_t	hi = ((a >> 32) * (b >> 32)) + ((a >> 32) * (b & 0xffffffff) >> 32) +
		((a & 0xffffffff) * (b >> 32) >> 32);

	return r ^ hi;
#endif
}

#define HASH_S0		UINT64_C(0xa0761d6478bd642f)
#define HASH_S1		UINT64_C(0xe7037ed1a0b428db)
#define HASH_S2		UINT64_C(0x8ebc6af09c88c6e3)

/*
 * A 32-bit hash of bytes in the style of wyhash: the bytes are read as
 * words (short strings with two overlapping loads, never past the end),
 * mixed by 64x64->128 multiplications, the length included.
 */
static inline uint32_t
hash_bytes(const char *data, uint32_t len)
{
	uint64_t	seed = HASH_S0 ^ len;
	uint64_t	a;
	uint64_t	b;
	uint64_t	h;

	if (len <= 16)
	{
		if (len >= 8)
		{
			a = load64(data);
			b = load64(data + len - 8);
		}
		else if (len >= 4)
		{
			a = load32(data);
			b = load32(data + len - 4);
		}
		else if (len > 0)
		{
			const unsigned char *p = (const unsigned char *) data;

			a = ((uint64_t) p[0] << 16) | ((uint64_t) p[len >> 1] << 8) | p[len - 1];
			b = 0;
		}
		else
			a = b = 0;
	}
	else
	{
		const char *p = data;
		uint32_t	n = len;

		while (n > 16)
		{
			seed = mix_mul(load64(p) ^ HASH_S1, load64(p + 8) ^ seed);
			p += 16;
			n -= 16;
		}
		a = load64(data + len - 16);
		b = load64(data + len - 8);
	}
	h = mix_mul(a ^ HASH_S1, b ^ seed);
	h = mix_mul(h ^ HASH_S2, (uint64_t) len ^ HASH_S1);
	return (uint32_t) (h ^ (h >> 32));
}

/* The engine's byte hash, for tests */
uint32_t
engine_hash_bytes(const char *data, uint32_t len)
{
	return hash_bytes(data, len);
}

/* Equality of two byte strings of the same length */
static inline bool
bytes_eq(const char *a, const char *b, uint32_t len)
{
	if (len > 16)
		return memcmp(a, b, len) == 0;
	if (len >= 8)
		return ((load64(a) ^ load64(b)) |
				(load64(a + len - 8) ^ load64(b + len - 8))) == 0;
	if (len >= 4)
		return ((load32(a) ^ load32(b)) |
				(load32(a + len - 4) ^ load32(b + len - 4))) == 0;
	if (len == 0)
		return true;
	return a[0] == b[0] && a[len >> 1] == b[len >> 1] && a[len - 1] == b[len - 1];
}

/* Slot of a 64-bit key in a table of 1 << log2 slots */
static inline uint32_t
slot_of(uint64_t key, int log2)
{
	key ^= key >> 32;
	return (uint32_t) ((key * HASH_MUL) >> (64 - log2));
}

/* ---------------------------------------------------------------------
 * Exact sets of uint64
 * ---------------------------------------------------------------------
 */

/* Number of distinct keys in a set */
static inline int64_t
iset_size(const ISet *s)
{
	return (int64_t) s->count + (s->has_zero ? 1 : 0);
}

/* Resize a set's table to 1 << log2 slots; false when that is too large */
static bool
iset_resize(ISet *s, int log2, size_t *mem)
{
	uint64_t   *slots;
	uint32_t	mask;
	uint32_t	i;
	uint32_t	oldcap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);

	if (log2 > SET_MAX_LOG2)
		return false;
	mask = (UINT32_C(1) << log2) - 1;
	slots = mem_alloc(mem, sizeof(uint64_t) * ((size_t) mask + 1));
	for (i = 0; i < oldcap; i++)
	{
		uint64_t	k = s->slots[i];
		uint32_t	j;

		if (k == 0)
			continue;
		j = slot_of(k, log2);
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = k;
	}
	mem_free(mem, s->slots, sizeof(uint64_t) * oldcap);
	s->slots = slots;
	s->log2 = (uint8_t) log2;
	return true;
}

/* Add a key; returns 1 when new, 0 when present, -1 when the set is full */
static inline int
iset_add(ISet *s, uint64_t key, size_t *mem)
{
	if (key == 0)
	{
		if (s->has_zero)
			return 0;
		s->has_zero = true;
		return 1;
	}
	if (s->log2 == 0 && !iset_resize(s, SET_MIN_LOG2, mem))
		return -1;
	for (;;)
	{
		uint32_t	mask = (UINT32_C(1) << s->log2) - 1;
		uint32_t	i = slot_of(key, s->log2);
		uint64_t   *slots = s->slots;

		for (;;)
		{
			uint64_t	v = slots[i];

			if (v == key)
				return 0;
			if (v == 0)
				break;
			i = (i + 1) & mask;
		}
		if (((uint64_t) s->count + 1) * 4 <= ((uint64_t) mask + 1) * 3)
		{
			slots[i] = key;
			s->count++;
			return 1;
		}
		if (!iset_resize(s, s->log2 + 1, mem))
			return -1;
	}
}

/* Smallest table size (log2) holding n keys */
static int
set_log2_for(uint32_t n)
{
	int			log2 = SET_MIN_LOG2;

	while (log2 < SET_MAX_LOG2 && ((uint64_t) n * 4 > ((uint64_t) 1 << log2) * 3))
		log2++;
	return log2;
}

/* Make room for n keys without doubling */
static void
iset_reserve(ISet *s, uint32_t n, size_t *mem)
{
	int			log2 = set_log2_for(n);

	if (log2 > s->log2)
		(void) iset_resize(s, log2, mem);
}

/* Add every key of src to dst */
static bool
iset_union(ISet *dst, const ISet *src, size_t *mem)
{
	uint32_t	cap = src->log2 == 0 ? 0 : (UINT32_C(1) << src->log2);
	uint32_t	i;

	if (src->has_zero && iset_add(dst, 0, mem) < 0)
		return false;
	for (i = 0; i < cap; i++)
	{
		uint64_t	k = src->slots[i];

		if (k == 0)
			continue;
		if (iset_add(dst, k, mem) < 0)
			return false;
	}
	return true;
}

/* Free a set's table */
static void
iset_free(ISet *s, size_t *mem)
{
	if (s->log2 != 0)
		mem_free(mem, s->slots, sizeof(uint64_t) * ((size_t) 1 << s->log2));
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Exact sets of byte strings
 * ---------------------------------------------------------------------
 */

/* Resize a byte set's table to 1 << log2 slots */
static void
bset_resize(BSet *s, int log2, size_t *mem)
{
	uint32_t	mask = (UINT32_C(1) << log2) - 1;
	BEnt	   *slots = mem_alloc(mem, sizeof(BEnt) * ((size_t) mask + 1));
	uint32_t	oldcap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	for (i = 0; i < oldcap; i++)
	{
		const BEnt *e = &s->slots[i];
		uint32_t	j;

		if (e->p == NULL)
			continue;
		j = e->hash & mask;
		while (slots[j].p != NULL)
			j = (j + 1) & mask;
		slots[j] = *e;
	}
	mem_free(mem, s->slots, sizeof(BEnt) * (size_t) oldcap);
	s->slots = slots;
	s->log2 = (uint8_t) log2;
}

/*
 * Add bytes with hash h: 1 when new, 0 when present, -1 when the set is
 * full.  New bytes are copied into arena, or referenced when arena is NULL.
 */
static int
bset_add(BSet *s, const char *p, uint32_t len, uint32_t h, Arena *arena, size_t *mem)
{
	if (s->log2 == 0)
		bset_resize(s, SET_MIN_LOG2, mem);
	for (;;)
	{
		uint32_t	mask = (UINT32_C(1) << s->log2) - 1;
		uint32_t	i = h & mask;
		BEnt	   *e;

		for (;;)
		{
			e = &s->slots[i];
			if (e->p == NULL)
				break;
			if (e->hash == h && e->len == len &&
				bytes_eq(e->p, p, len))
				return 0;
			i = (i + 1) & mask;
		}
		if (((uint64_t) s->count + 1) * 4 <= ((uint64_t) mask + 1) * 3)
		{
			if (arena != NULL)
				e->p = arena_copy(arena, mem, p, len);
			else
				e->p = len == 0 ? "" : p;
			e->len = len;
			e->hash = h;
			s->count++;
			return 1;
		}
		if (s->log2 >= SET_MAX_LOG2)
			return -1;
		bset_resize(s, s->log2 + 1, mem);
	}
}

/* Make room for n keys without doubling */
static void
bset_reserve(BSet *s, uint32_t n, size_t *mem)
{
	int			log2 = set_log2_for(n);

	if (log2 > s->log2)
		bset_resize(s, log2, mem);
}

/* Add every key of src to dst (copied into arena, or referenced when NULL) */
static bool
bset_union(BSet *dst, const BSet *src, Arena *arena, size_t *mem)
{
	uint32_t	cap = src->log2 == 0 ? 0 : (UINT32_C(1) << src->log2);
	uint32_t	i;

	for (i = 0; i < cap; i++)
	{
		const BEnt *e = &src->slots[i];

		if (e->p != NULL && bset_add(dst, e->p, e->len, e->hash, arena, mem) < 0)
			return false;
	}
	return true;
}

/* Free a byte set's table (the bytes belong to an arena) */
static void
bset_free(BSet *s, size_t *mem)
{
	if (s->log2 != 0)
		mem_free(mem, s->slots, sizeof(BEnt) * ((size_t) 1 << s->log2));
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Byte dictionaries
 * ---------------------------------------------------------------------
 */

/* Id of bytes with a known hash, or NO_ID */
static inline uint32_t
dict_find(const Dict *d, const char *p, uint32_t len, uint32_t h)
{
	uint32_t	mask;
	uint32_t	i;

	if (d->tabcap == 0)
		return NO_ID;
	mask = d->tabcap - 1;
	i = h & mask;
	for (;;)
	{
		uint32_t	e = d->tab[i];
		const DictEnt *ent;

		if (e == 0)
			return NO_ID;
		ent = &d->ent[e - 1];
		if (ent->hash == h && ent->len == len &&
			bytes_eq(ent->p, p, len))
			return e - 1;
		i = (i + 1) & mask;
	}
}

/* Make room for one more entry */
static bool
dict_reserve(Dict *d, size_t *mem, char *errbuf, size_t errlen)
{
	if (d->n + 1 >= MAX_IDS)
		return core_errorf(errbuf, errlen, "too many distinct values");
	if ((uint64_t) (d->n + 1) * 2 > d->tabcap)
	{
		uint32_t	cap = d->tabcap == 0 ? (UINT32_C(1) << TAB_MIN_LOG2) : d->tabcap * 2;
		uint32_t   *tab = mem_alloc(mem, sizeof(uint32_t) * (size_t) cap);
		uint32_t	i;

		for (i = 0; i < d->n; i++)
		{
			uint32_t	j;

			if (i == d->null_id)
				continue;
			j = d->ent[i].hash & (cap - 1);
			while (tab[j] != 0)
				j = (j + 1) & (cap - 1);
			tab[j] = i + 1;
		}
		mem_free(mem, d->tab, sizeof(uint32_t) * (size_t) d->tabcap);
		d->tab = tab;
		d->tabcap = cap;
	}
	if (d->n == d->entcap)
	{
		uint32_t	cap = d->entcap == 0 ? 16 : d->entcap * 2;
		DictEnt    *ent = mem_alloc(mem, sizeof(DictEnt) * (size_t) cap);

		if (d->n > 0)
			memcpy(ent, d->ent, sizeof(DictEnt) * (size_t) d->n);
		mem_free(mem, d->ent, sizeof(DictEnt) * (size_t) d->entcap);
		d->ent = ent;
		d->entcap = cap;
	}
	return true;
}

/* Id of bytes, adding them (copied into the arena) when new */
static bool
dict_intern(Dict *d, Arena *a, size_t *mem, const char *p, uint32_t len,
			uint32_t *id, char *errbuf, size_t errlen)
{
	uint32_t	h = hash_bytes(p, len);
	uint32_t	found = dict_find(d, p, len, h);
	uint32_t	mask;
	uint32_t	i;
	DictEnt    *ent;

	if (found != NO_ID)
	{
		*id = found;
		return true;
	}
	if (!dict_reserve(d, mem, errbuf, errlen))
		return false;
	mask = d->tabcap - 1;
	i = h & mask;
	while (d->tab[i] != 0)
		i = (i + 1) & mask;
	ent = &d->ent[d->n];
	ent->p = arena_copy(a, mem, p, len);
	ent->len = len;
	ent->hash = h;
	d->tab[i] = d->n + 1;
	*id = d->n++;
	return true;
}

/* Id of NULL, adding it when new */
static bool
dict_null(Dict *d, size_t *mem, uint32_t *id, char *errbuf, size_t errlen)
{
	if (d->null_id == NO_ID)
	{
		if (!dict_reserve(d, mem, errbuf, errlen))
			return false;
		memset(&d->ent[d->n], 0, sizeof(DictEnt));
		d->null_id = d->n++;
	}
	*id = d->null_id;
	return true;
}

/* Free a dictionary (its bytes belong to the arena) */
static void
dict_free(Dict *d, size_t *mem)
{
	mem_free(mem, d->ent, sizeof(DictEnt) * (size_t) d->entcap);
	mem_free(mem, d->tab, sizeof(uint32_t) * (size_t) d->tabcap);
	memset(d, 0, sizeof(*d));
	d->null_id = NO_ID;
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
		default:
			return sizeof(AccDistinct);
	}
}

/* An operand's value in a cell: NaN for a gap */
static double
acc_value(int kind, const char *a)
{
	switch (kind)
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
		default:
			{
				const AccDistinct *d = (const AccDistinct *) a;

				return d->n > 0 ? (double) (iset_size(&d->iv) + (int64_t) d->ib.count) : NAN;
			}
	}
}

/* Free the sets held by one cell */
static void
cell_free_sets(char *cell, const Layout *lay, size_t *mem)
{
	int			i;

	for (i = 0; i < lay->nslots; i++)
	{
		if (lay->slots[i].kind == ENGINE_COUNT_DISTINCT)
		{
			AccDistinct *d = (AccDistinct *) (cell + lay->slots[i].off);

			iset_free(&d->iv, mem);
			bset_free(&d->ib, mem);
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
	}
}

/*
 * Merge cell src into dst (same layout).  Byte keys new to dst are copied
 * into arena, or referenced when arena is NULL (temporary cells).
 */
static bool
merge_cell(char *dst, const char *src, const Layout *lay, Arena *arena,
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
			default:
				{
					AccDistinct *dd = (AccDistinct *) d;
					const AccDistinct *sd = (const AccDistinct *) s;

					dd->n += sd->n;
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

		if ((int) op->agg < (int) ENGINE_COUNT || (int) op->agg > (int) ENGINE_COUNT_DISTINCT)
			return core_errorf(errbuf, errlen, "operand %d: unknown aggregation %d", i, (int) op->agg);
		if (op->filter < -1 || op->filter >= spec->nfilters)
			return core_errorf(errbuf, errlen, "operand %d: filter index %d out of range", i, op->filter);
		if ((op->agg == ENGINE_SUM || op->agg == ENGINE_AVG ||
			 op->agg == ENGINE_MIN || op->agg == ENGINE_MAX) &&
			(op->measure < 0 || op->measure >= spec->nmeasures))
			return core_errorf(errbuf, errlen, "operand %d: measure index %d out of range", i, op->measure);
		if (op->agg == ENGINE_COUNT_DISTINCT && (op->key < 0 || op->key >= spec->nkeys))
			return core_errorf(errbuf, errlen, "operand %d: key index %d out of range", i, op->key);
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

/* Build a cell layout over the operands marked in use (all when NULL) */
static void
layout_build(EngineState *st, Layout *lay, const bool *use, size_t base)
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
		sl->arg = op->agg == ENGINE_COUNT_DISTINCT ? op->key :
			op->agg == ENGINE_COUNT ? -1 : op->measure;
		sl->off = (uint32_t) off;
		off += acc_size(sl->kind);
		if (sl->kind == ENGINE_COUNT_DISTINCT)
			lay->has_distinct = true;
		if (sl->filter >= 0)
			st->need_filters = true;
		if (sl->kind == ENGINE_COUNT_DISTINCT)
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
		layout_build(st, &st->mlay, NULL, MAIN_BASE);
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
			use[b->ops[0]] = true;
			if (b->nops > 1)
				use[b->ops[1]] = true;
			k++;
		}
		layout_build(st, &t->lay, use, TABLE_BASE);
	}
	core_free(use);
	return st;
}

/* ---------------------------------------------------------------------
 * Adding rows
 * ---------------------------------------------------------------------
 */

/* Pointer to cell idx of a group table */
static inline char *
table_cellp(const GTable *t, uint32_t idx)
{
	return t->chunks[idx >> CHUNK_SHIFT] + (size_t) (idx & CHUNK_MASK) * t->lay.cellsize;
}

/* Key of a (value, bucket) pair in the cell table */
static inline uint64_t
cell_key(uint32_t vid, int32_t bucket)
{
	return ((uint64_t) vid << 32) | (uint32_t) bucket;
}

/* Make room in a table's per-value arrays for its dictionary's values */
static void
table_values_reserve(EngineState *st, GTable *t)
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
static char *
table_cell(EngineState *st, GTable *t, uint32_t vid, int bucket, bool presize,
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
		table_values_reserve(st, t);
	return ok;
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
		b = (int) ((uint64_t) (ts - st->start) / (uint64_t) st->width);
		st->cur_b = b;
		st->cur_lo = st->start + (int64_t) b * st->width;
		st->cur_hi = st->cur_lo + st->width;
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
		cell = table_cell(st, t, vid, b, true, errbuf, errlen);
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
			ok = merge_cell(dst, src, &into->mlay, &into->arena, &into->mem, errbuf, errlen);
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
		table_values_reserve(into, t);
		for (i = 0; i < f->dict.n; i++)
			for (j = 0; j < t->nbd; j++)
				t->rank[(size_t) vmap[i] * (size_t) t->nbd + (size_t) j] +=
					f->rank[(size_t) i * (size_t) f->nbd + (size_t) j];
		for (i = 0; i < f->ncells && ok; i++)
		{
			const CellHead *src = (const CellHead *) table_cellp(f, i);
			char	   *dst = table_cell(into, t, vmap[src->vid], src->bucket, false, errbuf, errlen);

			if (dst == NULL)
				ok = false;
			else
				ok = merge_cell(dst, (const char *) src, &t->lay, &into->arena, &into->mem,
								errbuf, errlen);
		}
		core_free(vmap);
	}
	return ok;
}

/* ---------------------------------------------------------------------
 * Serialization
 * ---------------------------------------------------------------------
 */

/* Append bytes */
static void
wr_bytes(Wr *w, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (w->len + n > w->cap)
	{
		size_t		cap = w->cap == 0 ? 256 : w->cap;
		char	   *buf;

		while (cap < w->len + n)
			cap *= 2;
		buf = core_alloc(cap);
		if (w->len > 0)
			memcpy(buf, w->buf, w->len);
		if (w->buf != NULL)
			core_free(w->buf);
		w->buf = buf;
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

/* Append a uint32 */
static void
wr_u32(Wr *w, uint32_t v)
{
	wr_bytes(w, &v, sizeof(v));
}

/* Append a uint64 */
static void
wr_u64(Wr *w, uint64_t v)
{
	wr_bytes(w, &v, sizeof(v));
}

/* Append a set: has_zero, count, keys */
static void
wr_set(Wr *w, const ISet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	wr_u32(w, s->has_zero ? 1 : 0);
	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
		if (s->slots[i] != 0)
			wr_u64(w, s->slots[i]);
}

/* Append a byte set: count, then each key's length and bytes */
static void
wr_bset(Wr *w, const BSet *s)
{
	uint32_t	cap = s->log2 == 0 ? 0 : (UINT32_C(1) << s->log2);
	uint32_t	i;

	wr_u32(w, s->count);
	for (i = 0; i < cap; i++)
	{
		if (s->slots[i].p == NULL)
			continue;
		wr_u32(w, s->slots[i].len);
		wr_bytes(w, s->slots[i].p, s->slots[i].len);
	}
}

/* Append a cell's contents */
static void
wr_cell(Wr *w, const char *cell, const Layout *lay)
{
	int			i;

	wr_u64(w, (uint64_t) *(const int64_t *) cell);
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		const char *a = cell + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				wr_bytes(w, a, sizeof(AccCount));
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				wr_bytes(w, a, sizeof(AccSum));
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				wr_bytes(w, a, sizeof(AccExt));
				break;
			default:
				{
					const AccDistinct *d = (const AccDistinct *) a;

					wr_u64(w, (uint64_t) d->n);
					wr_set(w, &d->iv);
					wr_bset(w, &d->ib);
				}
				break;
		}
	}
}

/* Append a dictionary: n, null id, then each entry's length and bytes */
static void
wr_dict(Wr *w, const Dict *d)
{
	uint32_t	i;

	wr_u32(w, d->n);
	wr_u32(w, d->null_id);
	for (i = 0; i < d->n; i++)
	{
		if (i == d->null_id)
			continue;
		wr_u32(w, d->ent[i].len);
		wr_bytes(w, d->ent[i].p, d->ent[i].len);
	}
}

/* Serialize a state into a core_alloc'ed buffer */
void
engine_serialize(const EngineState *st, char **buf, size_t *len)
{
	Wr			w;
	int			b;
	int			ti;

	memset(&w, 0, sizeof(w));
	if (buf == NULL || len == NULL)
		return;
	if (st == NULL)
	{
		*buf = core_alloc(1);
		*len = 0;
		return;
	}
	wr_u64(&w, ENGINE_MAGIC);
	wr_u32(&w, ENGINE_FORMAT);
	wr_u64(&w, st->fingerprint);
	if (!st->skip_main)
	{
		size_t		cs = st->mlay.cellsize;

		wr_u64(&w, (uint64_t) st->nonempty);
		for (b = 0; b < st->nbuckets; b++)
		{
			const char *cell = st->main + (size_t) b * cs;

			if (*(const int64_t *) cell == 0)
				continue;
			wr_u32(&w, (uint32_t) b);
			wr_cell(&w, cell, &st->mlay);
		}
	}
	for (ti = 0; ti < st->ntables; ti++)
	{
		const GTable *t = &st->tables[ti];
		uint32_t	i;

		wr_dict(&w, &t->dict);
		if (t->dict.n > 0)
			wr_bytes(&w, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd);
		wr_u32(&w, t->ncells);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);

			wr_u32(&w, h->vid);
			wr_u32(&w, (uint32_t) h->bucket);
			wr_cell(&w, (const char *) h, &t->lay);
		}
	}
	if (w.buf == NULL)
		w.buf = core_alloc(1);
	*buf = w.buf;
	*len = w.len;
}

/* Read bytes; false past the end */
static bool
rd_bytes(Rd *r, void *out, size_t n)
{
	if (r->left < n)
		return false;
	if (n > 0)
		memcpy(out, r->p, n);
	r->p += n;
	r->left -= n;
	return true;
}

/* Read a uint32 */
static bool
rd_u32(Rd *r, uint32_t *v)
{
	return rd_bytes(r, v, sizeof(*v));
}

/* Read a uint64 */
static bool
rd_u64(Rd *r, uint64_t *v)
{
	return rd_bytes(r, v, sizeof(*v));
}

/* Read a set written by wr_set */
static bool
rd_set(EngineState *st, Rd *r, ISet *s)
{
	uint32_t	has_zero;
	uint32_t	count;
	uint32_t	i;

	if (!rd_u32(r, &has_zero) || !rd_u32(r, &count) || has_zero > 1)
		return false;
	if (has_zero && iset_add(s, 0, &st->mem) < 0)
		return false;
	if (r->left / sizeof(uint64_t) < count)
		return false;
	for (i = 0; i < count; i++)
	{
		uint64_t	k;

		if (!rd_u64(r, &k) || k == 0)
			return false;
		if (iset_add(s, k, &st->mem) < 0)
			return false;
	}
	return true;
}

/* Read a byte set written by wr_bset */
static bool
rd_bset(EngineState *st, Rd *r, BSet *s)
{
	uint32_t	count;
	uint32_t	i;

	if (!rd_u32(r, &count) || r->left / sizeof(uint32_t) < count)
		return false;
	for (i = 0; i < count; i++)
	{
		uint32_t	len;

		if (!rd_u32(r, &len) || r->left < len)
			return false;
		if (bset_add(s, r->p, len, hash_bytes(r->p, len), &st->arena, &st->mem) < 0)
			return false;
		r->p += len;
		r->left -= len;
	}
	return true;
}

/* Read a cell written by wr_cell into an empty cell */
static bool
rd_cell(EngineState *st, Rd *r, char *cell, const Layout *lay)
{
	int			i;

	if (!rd_bytes(r, cell, sizeof(int64_t)))
		return false;
	for (i = 0; i < lay->nslots; i++)
	{
		const Slot *sl = &lay->slots[i];
		char	   *a = cell + sl->off;

		switch (sl->kind)
		{
			case ENGINE_COUNT:
				if (!rd_bytes(r, a, sizeof(AccCount)))
					return false;
				break;
			case ENGINE_SUM:
			case ENGINE_AVG:
				if (!rd_bytes(r, a, sizeof(AccSum)))
					return false;
				break;
			case ENGINE_MIN:
			case ENGINE_MAX:
				if (!rd_bytes(r, a, sizeof(AccExt)))
					return false;
				break;
			default:
				{
					AccDistinct *d = (AccDistinct *) a;
					uint64_t	n;

					if (!rd_u64(r, &n))
						return false;
					d->n = (int64_t) n;
					if (!rd_set(st, r, &d->iv) || !rd_bset(st, r, &d->ib))
						return false;
				}
				break;
		}
	}
	return true;
}

/* Read a dictionary written by wr_dict into an empty one */
static bool
rd_dict(EngineState *st, Rd *r, Dict *d)
{
	uint32_t	n;
	uint32_t	null_id;
	uint32_t	i;

	if (!rd_u32(r, &n) || !rd_u32(r, &null_id))
		return false;
	if (n >= MAX_IDS || (null_id != NO_ID && null_id >= n))
		return false;
	for (i = 0; i < n; i++)
	{
		uint32_t	id;
		uint32_t	len;

		if (i == null_id)
		{
			if (!dict_null(d, &st->mem, &id, NULL, 0))
				return false;
		}
		else
		{
			if (!rd_u32(r, &len) || r->left < len)
				return false;
			if (!dict_intern(d, &st->arena, &st->mem, r->p, len, &id, NULL, 0))
				return false;
			r->p += len;
			r->left -= len;
		}
		if (id != i)
			return false;
	}
	return true;
}

/* Fill a fresh state from a serialized image */
static bool
deserialize_into(EngineState *st, Rd *r, char *errbuf, size_t errlen)
{
	uint64_t	magic;
	uint32_t	format;
	uint64_t	fp;
	int			ti;

	if (!rd_u64(r, &magic) || magic != ENGINE_MAGIC ||
		!rd_u32(r, &format) || format != ENGINE_FORMAT)
		return core_errorf(errbuf, errlen, "not a serialized engine state");
	if (!rd_u64(r, &fp) || fp != st->fingerprint)
		return core_errorf(errbuf, errlen, "serialized engine state does not match the spec");
	if (!st->skip_main)
	{
		uint64_t	n;
		uint64_t	i;
		int64_t		prev = -1;

		if (!rd_u64(r, &n) || n > (uint64_t) st->nbuckets)
			return core_errorf(errbuf, errlen, "corrupt engine state");
		for (i = 0; i < n; i++)
		{
			uint32_t	b;
			char	   *cell;

			if (!rd_u32(r, &b) || (int64_t) b <= prev || b >= (uint32_t) st->nbuckets)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			prev = b;
			cell = st->main + (size_t) b * st->mlay.cellsize;
			if (!rd_cell(st, r, cell, &st->mlay) || *(int64_t *) cell <= 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
		}
		st->nonempty = (int64_t) n;
	}
	for (ti = 0; ti < st->ntables; ti++)
	{
		GTable	   *t = &st->tables[ti];
		uint32_t	ncells;
		uint32_t	i;

		if (!rd_dict(st, r, &t->dict))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		table_values_reserve(st, t);
		if (t->dict.n > 0 &&
			!rd_bytes(r, t->rank, sizeof(int64_t) * (size_t) t->dict.n * (size_t) t->nbd))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		if (!rd_u32(r, &ncells))
			return core_errorf(errbuf, errlen, "corrupt engine state");
		for (i = 0; i < ncells; i++)
		{
			uint32_t	vid;
			uint32_t	b;
			char	   *cell;

			if (!rd_u32(r, &vid) || !rd_u32(r, &b) ||
				vid >= t->dict.n || b >= (uint32_t) st->nbuckets)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			cell = table_cell(st, t, vid, (int) b, false, errbuf, errlen);
			if (cell == NULL)
				return false;
			if (((CellHead *) cell)->rows != 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
			if (!rd_cell(st, r, cell, &t->lay) || ((CellHead *) cell)->rows <= 0)
				return core_errorf(errbuf, errlen, "corrupt engine state");
		}
	}
	if (r->left != 0)
		return core_errorf(errbuf, errlen, "corrupt engine state");
	return true;
}

/* Rebuild a state from engine_serialize's image */
EngineState *
engine_deserialize(const EngineSpec *spec, const char *buf, size_t len,
				   char *errbuf, size_t errlen)
{
	EngineState *st;
	Rd			r;

	if (buf == NULL && len > 0)
	{
		core_errorf(errbuf, errlen, "no serialized engine state");
		return NULL;
	}
	st = engine_create(spec, errbuf, errlen);
	if (st == NULL)
		return NULL;
	r.p = buf;
	r.left = len;
	if (!deserialize_into(st, &r, errbuf, errlen))
	{
		engine_free(st);
		return NULL;
	}
	return st;
}

/* ---------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------
 */

/* Per-bucket values of an operand (NaN for a gap) into out[nbuckets] */
void
engine_values(const EngineState *st, int op, double *out)
{
	int			b;
	int			s;
	const Slot *sl;

	if (st == NULL || out == NULL)
		return;
	if (st->main == NULL || op < 0 || op >= st->nops)
	{
		for (b = 0; b < st->nbuckets; b++)
			out[b] = NAN;
		return;
	}
	s = st->mlay.op_slot[op];
	sl = &st->mlay.slots[s];
	for (b = 0; b < st->nbuckets; b++)
		out[b] = acc_value(sl->kind, st->main + (size_t) b * st->mlay.cellsize + sl->off);
}

/* Compose a breakdown value; false when the row is skipped */
static bool
compose(int nops, double num, double den, double *v)
{
	double		r;

	if (nops == 1)
	{
		if (isnan(num))
			return false;
		*v = num;
		return true;
	}
	if (isnan(num) && isnan(den))
		return false;
	if (isnan(num))
		num = 0.0;
	if (isnan(den) || den == 0.0)
		return false;
	r = num / den;
	if (!isfinite(r))
		return false;
	*v = r;
	return true;
}

/* Byte order with shorter prefixes first (COLLATE "C") */
static int
bytes_cmp(const char *a, uint32_t alen, const char *b, uint32_t blen)
{
	uint32_t	n = alen < blen ? alen : blen;
	int			c = n > 0 ? memcmp(a, b, n) : 0;

	if (c != 0)
		return c;
	return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Ranking order: count descending, then non-NULL values in byte order */
static int
rank_cmp(const void *pa, const void *pb)
{
	const RankItem *a = pa;
	const RankItem *b = pb;

	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	if (a->isnull != b->isnull)
		return a->isnull ? 1 : -1;
	if (a->isnull)
		return 0;
	return bytes_cmp(a->p, a->len, b->p, b->len);
}

/* Row order: bucket, values in byte order, NULL, then 'Other' */
static int
row_cmp(const void *pa, const void *pb)
{
	const EngineBreakdownRow *a = pa;
	const EngineBreakdownRow *b = pb;

	if (a->bucket != b->bucket)
		return a->bucket < b->bucket ? -1 : 1;
	if (a->is_other != b->is_other)
		return a->is_other ? 1 : -1;
	if (a->value_null != b->value_null)
		return a->value_null ? 1 : -1;
	if (a->is_other || a->value_null)
		return 0;
	return bytes_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* Mark the values a breakdown keeps */
static void
kept_values(const EngineBreakdown *b, const GTable *t, int pos, bool *kept)
{
	uint32_t	n = t->dict.n;
	uint32_t	i;

	if (b->keep == 0 && !b->use_preset)
	{
		for (i = 0; i < n; i++)
			kept[i] = true;
	}
	else if (b->use_preset)
	{
		int			j;

		for (j = 0; j < b->npreset; j++)
		{
			uint32_t	id = dict_find(&t->dict, b->preset[j], b->preset_len[j],
									   hash_bytes(b->preset[j], b->preset_len[j]));

			if (id != NO_ID)
				kept[id] = true;
		}
		if (b->preset_null && t->dict.null_id != NO_ID)
			kept[t->dict.null_id] = true;
	}
	else
	{
		RankItem   *items = core_alloc(sizeof(RankItem) * ((size_t) n + 1));
		uint32_t	m = 0;

		for (i = 0; i < n; i++)
		{
			int64_t		c = t->rank[(size_t) i * (size_t) t->nbd + (size_t) pos];

			if (c <= 0)
				continue;
			items[m].n = c;
			items[m].isnull = (i == t->dict.null_id);
			items[m].p = t->dict.ent[i].p;
			items[m].len = t->dict.ent[i].len;
			items[m].id = i;
			m++;
		}
		qsort(items, m, sizeof(RankItem), rank_cmp);
		for (i = 0; i < m && (int64_t) i < (int64_t) b->keep; i++)
			kept[items[i].id] = true;
		core_free(items);
	}
}

/* Breakdown rows of one output */
int
engine_breakdown_rows(const EngineState *st, int breakdown, EngineBreakdownRow **rows,
					  char *errbuf, size_t errlen)
{
	const EngineBreakdown *b;
	const GTable *t;
	bool	   *kept;
	bool	   *has_other;
	char	   *other = NULL;
	Layout		mini;
	Slot		minislots[2];
	int			kinds[2];
	uint32_t	offs[2];
	int64_t		total = 0;
	int64_t		nother = 0;
	EngineBreakdownRow *out;
	int			k = 0;
	uint32_t	i;
	int			j;
	size_t		cs;

	if (rows == NULL)
	{
		core_errorf(errbuf, errlen, "no result pointer");
		return -1;
	}
	*rows = NULL;
	if (st == NULL || breakdown < 0 || breakdown >= st->nbreakdowns)
	{
		core_errorf(errbuf, errlen, "no such breakdown");
		return -1;
	}
	b = &st->bds[breakdown];
	t = &st->tables[st->bd_table[breakdown]];
	cs = t->lay.cellsize;

	memset(&mini, 0, sizeof(mini));
	mini.slots = minislots;
	for (j = 0; j < b->nops; j++)
	{
		const Slot *sl = &t->lay.slots[t->lay.op_slot[b->ops[j]]];

		kinds[j] = sl->kind;
		offs[j] = sl->off;
		if (j == 0 || b->ops[1] != b->ops[0])
			minislots[mini.nslots++] = *sl;
	}

	kept = core_alloc(sizeof(bool) * ((size_t) t->dict.n + 1));
	kept_values(b, t, st->bd_pos[breakdown], kept);
	has_other = core_alloc(sizeof(bool) * ((size_t) st->nbuckets + 1));
	for (i = 0; i < t->ncells; i++)
	{
		const CellHead *h = (const CellHead *) table_cellp(t, i);

		if (kept[h->vid])
			total++;
		else if (!has_other[h->bucket])
		{
			has_other[h->bucket] = true;
			nother++;
		}
	}
	total += nother;
	if (st->max_rows > 0 && total > st->max_rows)
	{
		core_free(kept);
		core_free(has_other);
		core_errorf(errbuf, errlen, "breakdown result exceeds the row limit of %lld rows",
			 (long long) st->max_rows);
		return -1;
	}
	if (total > INT32_MAX)
	{
		core_free(kept);
		core_free(has_other);
		core_errorf(errbuf, errlen, "too many breakdown rows");
		return -1;
	}

	/* fold the other values per bucket */
	if (nother > 0)
	{
		other = core_alloc(cs * (size_t) st->nbuckets);
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);

			if (kept[h->vid])
				continue;
			if (!merge_cell(other + (size_t) h->bucket * cs, (const char *) h, &mini, NULL,
							NULL, errbuf, errlen))
			{
				total = -1;
				break;
			}
		}
	}

	out = NULL;
	if (total >= 0)
	{
		out = core_alloc(sizeof(EngineBreakdownRow) * (size_t) (total + 1));
		for (i = 0; i < t->ncells; i++)
		{
			const CellHead *h = (const CellHead *) table_cellp(t, i);
			double		num;
			double		den = NAN;
			EngineBreakdownRow *r = &out[k];

			if (!kept[h->vid])
				continue;
			num = acc_value(kinds[0], (const char *) h + offs[0]);
			if (b->nops > 1)
				den = acc_value(kinds[1], (const char *) h + offs[1]);
			if (!compose(b->nops, num, den, &r->v))
				continue;
			r->bucket = h->bucket;
			r->value_null = (h->vid == t->dict.null_id);
			r->value = r->value_null ? NULL : t->dict.ent[h->vid].p;
			r->value_len = r->value_null ? 0 : t->dict.ent[h->vid].len;
			r->is_other = false;
			k++;
		}
		for (j = 0; j < st->nbuckets && nother > 0; j++)
		{
			const char *cell;
			double		num;
			double		den = NAN;
			EngineBreakdownRow *r = &out[k];

			if (!has_other[j])
				continue;
			cell = other + (size_t) j * cs;
			num = acc_value(kinds[0], cell + offs[0]);
			if (b->nops > 1)
				den = acc_value(kinds[1], cell + offs[1]);
			if (!compose(b->nops, num, den, &r->v))
				continue;
			r->bucket = j;
			r->value_null = false;
			r->value = "Other";
			r->value_len = 5;
			r->is_other = true;
			k++;
		}
		qsort(out, (size_t) k, sizeof(EngineBreakdownRow), row_cmp);
	}

	if (other != NULL)
	{
		if (t->lay.has_distinct)
			for (j = 0; j < st->nbuckets; j++)
				if (has_other[j])
					cell_free_sets(other + (size_t) j * cs, &mini, NULL);
		core_free(other);
	}
	core_free(kept);
	core_free(has_other);
	if (total < 0)
	{
		if (out != NULL)
			core_free(out);
		return -1;
	}
	*rows = out;
	return k;
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
		if (st->mlay.has_distinct)
		{
			int			b;

			for (b = 0; b < st->nbuckets; b++)
				cell_free_sets(st->main + (size_t) b * st->mlay.cellsize, &st->mlay, mem);
		}
		mem_free(mem, st->main, st->mlay.cellsize * (size_t) st->nbuckets);
	}
	if (!st->skip_main)
		layout_free(&st->mlay, mem, st->nops);
	for (i = 0; i < st->ntables; i++)
	{
		GTable	   *t = &st->tables[i];
		uint32_t	c;

		if (t->lay.has_distinct)
			for (c = 0; c < t->ncells; c++)
				cell_free_sets(table_cellp(t, c), &t->lay, mem);
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

/*
 * A value's rank among sorted threshold constants (see engine.h): a binary
 * search on the doubles, the exact comparison only where doubles tie.
 */
int
engine_threshold_rank(const double *sorted, int n, double x,
					  EngineExactCmp cmp, void *arg, bool *eq)
{
	int			lo = 0;
	int			hi = n;

	*eq = false;
	if (isnan(x))
		return n;
	/* lo: the first constant whose double is >= x */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (sorted[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* doubles equal to x: their exact order decides */
	while (lo < n && sorted[lo] == x)
	{
		int			c = cmp(arg, lo);

		if (c > 0)
			lo++;
		else
		{
			*eq = (c == 0);
			break;
		}
	}
	return lo;
}
