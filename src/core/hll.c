/*-------------------------------------------------------------------------
 *
 * hll.c
 *	  The distinct-count sketch (see hll.h).
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "corebuf.h"
#include "hll.h"

#define HLL_MAGIC_EXACT	0x31454C48u	/* "HLE1" */
#define HLL_MAGIC_DENSE	0x31444C48u	/* "HLD1" */
#define HLL_MAGIC_INTS	0x31494C48u	/* "HLI1" */

/* hll_hash_int's inverse: the integer whose hash is h */
static uint64_t
hash_int_inverse(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0x9cb4b2f8129337db);	/* 0xc4ceb9fe1a85ec53^-1 mod 2^64 */
	h ^= h >> 33;
	h *= UINT64_C(0x4f74430c22a54005);	/* 0xff51afd7ed558ccd^-1 mod 2^64 */
	h ^= h >> 33;
	return h ^ UINT64_C(0x7472697068686c6c);
}

/* qsort order of uint64 */
static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Start an empty sketch */
void
hll_init(Hll *h)
{
	memset(h, 0, sizeof(*h));
}

/* Release its memory (it is empty afterwards) */
void
hll_free(Hll *h)
{
	core_free(h->exact);
	core_free(h->registers);
	hll_init(h);
}

/* MurmurHash64A of a byte string (seeded with a fixed value) */
uint64_t
hll_hash_bytes(const void *data, size_t len)
{
	const uint64_t m = UINT64_C(0xc6a4a7935bd1e995);
	const int	r = 47;
	const unsigned char *p = data;
	uint64_t	h = UINT64_C(0x74726970) ^ (len * m);	/* "trip" */
	size_t		i;

	for (i = 0; i + 8 <= len; i += 8)
	{
		uint64_t	k;

		memcpy(&k, p + i, 8);
		k *= m;
		k ^= k >> r;
		k *= m;
		h ^= k;
		h *= m;
	}
	switch (len & 7)
	{
		case 7:
			h ^= (uint64_t) p[i + 6] << 48;
			/* fall through */
		case 6:
			h ^= (uint64_t) p[i + 5] << 40;
			/* fall through */
		case 5:
			h ^= (uint64_t) p[i + 4] << 32;
			/* fall through */
		case 4:
			h ^= (uint64_t) p[i + 3] << 24;
			/* fall through */
		case 3:
			h ^= (uint64_t) p[i + 2] << 16;
			/* fall through */
		case 2:
			h ^= (uint64_t) p[i + 1] << 8;
			/* fall through */
		case 1:
			h ^= (uint64_t) p[i];
			h *= m;
	}
	h ^= h >> r;
	h *= m;
	h ^= h >> r;
	return h;
}

/*
 * Turn an exact sketch into registers.  Half the slots are empty, at
 * random: instead of a branch per slot (mispredicted half the time), an
 * empty slot's update goes to a scratch register.
 */
static void
make_dense(Hll *h)
{
	uint8_t    *registers = core_alloc(HLL_M);
	uint8_t		scratch = 0;
	uint32_t	i;

	for (i = 0; i < h->capacity; i++)
	{
		uint64_t	v = h->exact[i];
		uint64_t	rest = (v << HLL_P) | (UINT64_C(1) << (HLL_P - 1));
		uint8_t		rho = (uint8_t) (__builtin_clzll(rest) + 1);
		uint8_t    *r = v != 0 ? &registers[v >> HLL_Q] : &scratch;

		*r = rho > *r ? rho : *r;
	}
	h->registers = registers;
	core_free(h->exact);
	h->exact = NULL;
	h->nexact = 0;
	h->capacity = 0;
}

/* Put v (non-zero) into an open-addressing table; true when it was new */
static bool
table_put(uint64_t *table, uint32_t capacity, uint64_t v)
{
	uint32_t	mask = capacity - 1;
	uint32_t	i;

	for (i = (uint32_t) v & mask; table[i] != 0; i = (i + 1) & mask)
	{
		if (table[i] == v)
			return false;
	}
	table[i] = v;
	return true;
}

/* Grow the exact set to capacity slots (a power of 2, larger than now) */
static void
exact_grow(Hll *h, uint32_t capacity)
{
	uint64_t   *table = core_alloc(sizeof(uint64_t) * capacity);
	uint32_t	j;

	for (j = 0; j < h->capacity; j++)
	{
		if (h->exact[j] != 0)
			(void) table_put(table, capacity, h->exact[j]);
	}
	core_free(h->exact);
	h->exact = table;
	h->capacity = capacity;
}

/* Insert into the exact set (0 is stored as 1: 0 marks empty slots) */
static void
exact_insert(Hll *h, uint64_t hash)
{
	if (hash == 0)
		hash = 1;
	/* at most half full, except for the one value that makes it dense */
	if (h->capacity == 0 || ((h->nexact + 1) * 2 > h->capacity && h->nexact < HLL_EXACT_MAX))
		exact_grow(h, h->capacity ? h->capacity * 2 : 16);
	if (table_put(h->exact, h->capacity, hash))
		h->nexact++;
}

/*
 * Make room in an empty or exact sketch for n distinct values without
 * growing (a sketch of the same key's previous bucket tells how many to
 * expect); past HLL_EXACT_MAX, room for HLL_EXACT_MAX: the sketch turns
 * dense only when its values do.  (2 * HLL_EXACT_MAX slots hold the
 * value that makes it dense too: see exact_insert.)
 */
void
hll_reserve(Hll *h, uint32_t n)
{
	uint32_t	capacity = 16;

	if (h->registers != NULL)
		return;
	if (n > HLL_EXACT_MAX)
		n = HLL_EXACT_MAX;
	while (capacity < 2 * n)
		capacity *= 2;
	if (capacity > h->capacity)
		exact_grow(h, capacity);
}

/* Add one hashed value */
void
hll_add_hash(Hll *h, uint64_t hash)
{
	if (h->registers != NULL)
	{
		hll_dense_add(h->registers, hash);
		return;
	}
	exact_insert(h, hash);
	if (h->nexact > HLL_EXACT_MAX)
		make_dense(h);
}

/* Merge another sketch into this one */
void
hll_merge(Hll *into, const Hll *from)
{
	uint32_t	i;

	if (from->registers != NULL)
	{
		if (into->registers == NULL)
			make_dense(into);
		for (i = 0; i < HLL_M; i++)
		{
			if (from->registers[i] > into->registers[i])
				into->registers[i] = from->registers[i];
		}
		return;
	}
	for (i = 0; i < from->capacity; i++)
	{
		if (from->exact[i] != 0)
			hll_add_hash(into, from->exact[i]);
	}
}

/* sigma(x) of Ertl's estimator: x + sum_k x^(2^k) 2^(k-1) */
static double
hll_sigma(double x)
{
	double		y = 1.0;
	double		z = x;
	double		z_old;

	if (x == 1.0)
		return INFINITY;
	do
	{
		x *= x;
		z_old = z;
		z += x * y;
		y += y;
	} while (z != z_old);
	return z;
}

/* tau(x) of Ertl's estimator */
static double
hll_tau(double x)
{
	double		y = 1.0;
	double		z;
	double		z_old;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	z = 1.0 - x;
	do
	{
		x = sqrt(x);
		z_old = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != z_old);
	return z / 3.0;
}

/* The estimated number of distinct values (exact while small) */
double
hll_count(const Hll *h)
{
	uint32_t	c[HLL_Q + 2];
	double		m = HLL_M;
	double		z;
	int			k;
	uint32_t	i;

	if (h->registers == NULL)
		return h->nexact;
	memset(c, 0, sizeof(c));
	for (i = 0; i < HLL_M; i += 8)
	{
		uint64_t	w;

		/* most registers of a sketch that just turned dense are 0 */
		memcpy(&w, h->registers + i, sizeof(w));
		if (w == 0)
			c[0] += 8;
		else
		{
			int			j;

			for (j = 0; j < 8; j++)
				c[h->registers[i + j]]++;
		}
	}
	z = m * hll_tau((m - c[HLL_Q + 1]) / m);
	for (k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * hll_sigma(c[0] / m);
	return (0.5 / log(2.0)) * m * m / z;
}

/* Is the count exact (still below HLL_EXACT_MAX distinct values)? */
bool
hll_is_exact(const Hll *h)
{
	return h->registers == NULL;
}

/* Bytes the sketch holds */
size_t
hll_memory(const Hll *h)
{
	return sizeof(Hll) + (h->registers ? HLL_M : sizeof(uint64_t) * h->capacity);
}

/*
 * A flat image: magic, then the registers (HLD1), or the exact set: its
 * hashes (HLE1), or -- when shorter, as for the hashes of a small integer
 * column -- the integers they are the hll_hash_int of (hll_hash_int is a
 * bijection), ascending, as the varint count and varint gaps (HLI1).
 */
void
hll_serialize(const Hll *h, char **out, size_t *len)
{
	uint32_t	magic;
	size_t		n;
	char	   *p;

	if (h->registers != NULL)
	{
		magic = HLL_MAGIC_DENSE;
		n = sizeof(uint32_t) + HLL_M;
		p = core_alloc(n);
		memcpy(p + sizeof(uint32_t), h->registers, HLL_M);
	}
	else
	{
		uint32_t	i;
		size_t		k = 0;
		uint64_t   *ints = core_alloc(sizeof(uint64_t) * (h->nexact + 1));
		size_t		isize = core_varint_size(h->nexact);
		uint64_t	prev = 0;

		for (i = 0; i < h->capacity; i++)
		{
			if (h->exact[i] != 0)
				ints[k++] = hash_int_inverse(h->exact[i]);
		}
		qsort(ints, k, sizeof(uint64_t), cmp_u64);
		for (i = 0; i < k; i++)
		{
			isize += core_varint_size(ints[i] - prev);
			prev = ints[i];
		}
		if (isize < sizeof(uint64_t) * h->nexact)
		{
			magic = HLL_MAGIC_INTS;
			n = sizeof(uint32_t) + isize;
			p = core_alloc(n);
			k = sizeof(uint32_t) + core_varint_put(p + sizeof(uint32_t), h->nexact);
			prev = 0;
			for (i = 0; i < h->nexact; i++)
			{
				k += core_varint_put(p + k, ints[i] - prev);
				prev = ints[i];
			}
		}
		else
		{
			magic = HLL_MAGIC_EXACT;
			n = sizeof(uint32_t) + sizeof(uint64_t) * h->nexact;
			p = core_alloc(n);
			k = 0;
			for (i = 0; i < h->capacity; i++)
			{
				if (h->exact[i] != 0)
					memcpy(p + sizeof(uint32_t) + sizeof(uint64_t) * k++, &h->exact[i], sizeof(uint64_t));
			}
		}
		core_free(ints);
	}
	memcpy(p, &magic, sizeof(uint32_t));
	*out = p;
	*len = n;
}

/* The sketch of an image; false when the image is malformed */
bool
hll_deserialize(Hll *h, const char *data, size_t len)
{
	uint32_t	magic;

	hll_init(h);
	if (len < sizeof(uint32_t))
		return false;
	memcpy(&magic, data, sizeof(uint32_t));
	if (magic == HLL_MAGIC_DENSE)
	{
		uint32_t	i;

		if (len != sizeof(uint32_t) + HLL_M)
			return false;
		h->registers = core_alloc(HLL_M);
		memcpy(h->registers, data + sizeof(uint32_t), HLL_M);
		for (i = 0; i < HLL_M; i++)
		{
			if (h->registers[i] > HLL_Q + 1)
			{
				hll_free(h);
				return false;
			}
		}
		return true;
	}
	if (magic == HLL_MAGIC_EXACT && (len - sizeof(uint32_t)) % sizeof(uint64_t) == 0 &&
		(len - sizeof(uint32_t)) / sizeof(uint64_t) <= HLL_EXACT_MAX)
	{
		size_t		k;
		size_t		n = (len - sizeof(uint32_t)) / sizeof(uint64_t);

		for (k = 0; k < n; k++)
		{
			uint64_t	v;

			memcpy(&v, data + sizeof(uint32_t) + sizeof(uint64_t) * k, sizeof(uint64_t));
			exact_insert(h, v);
		}
		return true;
	}
	if (magic == HLL_MAGIC_INTS)
	{
		const char *p = data + sizeof(uint32_t);
		const char *end = data + len;
		uint64_t	n;
		uint64_t	k;
		uint64_t	v = 0;

		if (!core_varint_get(&p, end, &n) || n > HLL_EXACT_MAX)
			return false;
		for (k = 0; k < n; k++)
		{
			uint64_t	gap;

			/* ascending: every gap after the first is positive, no wrap */
			if (!core_varint_get(&p, end, &gap) || (k > 0 && gap == 0) || gap > UINT64_MAX - v)
			{
				hll_free(h);
				return false;
			}
			v += gap;
			exact_insert(h, hll_hash_int(v));
		}
		if (p != end || h->nexact != n)
		{
			hll_free(h);
			return false;
		}
		return true;
	}
	return false;
}
