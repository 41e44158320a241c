/*-------------------------------------------------------------------------
 *
 * uuid5.c
 *	  SHA-1 as specified in FIPS 180-4 section 6.1, and RFC 4122 name-based
 *	  (version 5) UUIDs built on it.
 *
 *	  SHA-1 is used here only to derive stable identifiers, never for
 *	  security.
 *
 *-------------------------------------------------------------------------
 */
#include "uuid5.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const uint8_t UUID_NAMESPACE_DNS[16] = {
	0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
};

const uint8_t UUID_NAMESPACE_URL[16] = {
	0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
	0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8
};

/* Rotate a 32-bit word left by n (0 < n < 32) */
static uint32_t
sha1_rotl(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

/* Process one 64-byte block (FIPS 180-4 6.1.2) */
static void
sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t	w[80];
	uint32_t	a,
				b,
				c,
				d,
				e;
	int			t;

	for (t = 0; t < 16; t++)
		w[t] = ((uint32_t) p[4 * t] << 24) | ((uint32_t) p[4 * t + 1] << 16) |
			((uint32_t) p[4 * t + 2] << 8) | (uint32_t) p[4 * t + 3];
	for (t = 16; t < 80; t++)
		w[t] = sha1_rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (t = 0; t < 80; t++)
	{
		uint32_t	f,
					k,
					tmp;

		if (t < 20)
		{
			f = (b & c) ^ (~b & d);		/* Ch */
			k = 0x5a827999;
		}
		else if (t < 40)
		{
			f = b ^ c ^ d;		/* Parity */
			k = 0x6ed9eba1;
		}
		else if (t < 60)
		{
			f = (b & c) ^ (b & d) ^ (c & d);	/* Maj */
			k = 0x8f1bbcdc;
		}
		else
		{
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		tmp = sha1_rotl(a, 5) + f + e + k + w[t];
		e = d;
		d = c;
		c = sha1_rotl(b, 30);
		b = a;
		a = tmp;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

/* Start a SHA-1 computation (FIPS 180-4 5.3.1) */
void
sha1_init(Sha1Context *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->h[0] = 0x67452301;
	ctx->h[1] = 0xefcdab89;
	ctx->h[2] = 0x98badcfe;
	ctx->h[3] = 0x10325476;
	ctx->h[4] = 0xc3d2e1f0;
}

/* Hash len more bytes */
void
sha1_update(Sha1Context *ctx, const void *data, size_t len)
{
	const uint8_t *p = (const uint8_t *) data;

	ctx->total += len;
	if (ctx->used > 0)
	{
		size_t		take = SHA1_BLOCK_LENGTH - ctx->used;

		if (take > len)
			take = len;
		memcpy(ctx->block + ctx->used, p, take);
		ctx->used += take;
		p += take;
		len -= take;
		if (ctx->used < SHA1_BLOCK_LENGTH)
			return;
		sha1_block(ctx->h, ctx->block);
		ctx->used = 0;
	}
	while (len >= SHA1_BLOCK_LENGTH)
	{
		sha1_block(ctx->h, p);
		p += SHA1_BLOCK_LENGTH;
		len -= SHA1_BLOCK_LENGTH;
	}
	if (len > 0)
	{
		memcpy(ctx->block, p, len);
		ctx->used = len;
	}
}

/* Pad (FIPS 180-4 5.1.1), finish and write the digest */
void
sha1_final(Sha1Context *ctx, uint8_t out[SHA1_DIGEST_LENGTH])
{
	uint64_t	bits = ctx->total * 8;
	int			i;

	ctx->block[ctx->used++] = 0x80;
	if (ctx->used > SHA1_BLOCK_LENGTH - 8)
	{
		memset(ctx->block + ctx->used, 0, SHA1_BLOCK_LENGTH - ctx->used);
		sha1_block(ctx->h, ctx->block);
		ctx->used = 0;
	}
	memset(ctx->block + ctx->used, 0, SHA1_BLOCK_LENGTH - 8 - ctx->used);
	for (i = 0; i < 8; i++)
		ctx->block[SHA1_BLOCK_LENGTH - 1 - i] = (uint8_t) (bits >> (8 * i));
	sha1_block(ctx->h, ctx->block);
	for (i = 0; i < 5; i++)
	{
		out[4 * i] = (uint8_t) (ctx->h[i] >> 24);
		out[4 * i + 1] = (uint8_t) (ctx->h[i] >> 16);
		out[4 * i + 2] = (uint8_t) (ctx->h[i] >> 8);
		out[4 * i + 3] = (uint8_t) ctx->h[i];
	}
	memset(ctx, 0, sizeof(*ctx));
}

/* One-shot SHA-1 */
void
sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LENGTH])
{
	Sha1Context ctx;

	sha1_init(&ctx);
	sha1_update(&ctx, data, len);
	sha1_final(&ctx, out);
}

/* Version-5 UUID: SHA-1(namespace || name), version and variant bits set */
void
uuid_v5(const uint8_t ns[16], const char *name, size_t len, uint8_t out[16])
{
	Sha1Context ctx;
	uint8_t		digest[SHA1_DIGEST_LENGTH];

	sha1_init(&ctx);
	sha1_update(&ctx, ns, 16);
	sha1_update(&ctx, name, len);
	sha1_final(&ctx, digest);
	memcpy(out, digest, 16);
	out[6] = (uint8_t) ((out[6] & 0x0f) | 0x50);
	out[8] = (uint8_t) ((out[8] & 0x3f) | 0x80);
}

/* Canonical lower-case text form */
void
uuid_format(const uint8_t u[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	int			i;
	int			j = 0;

	for (i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[j++] = '-';
		out[j++] = hex[u[i] >> 4];
		out[j++] = hex[u[i] & 0x0f];
	}
	out[j] = '\0';
}

/* Value of a hex digit, or -1 */
static int
uuid_hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parse the canonical 8-4-4-4-12 form */
bool
uuid_parse(const char *s, uint8_t out[16])
{
	uint8_t		u[16];
	int			i;
	int			n = 0;

	for (i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else
		{
			int			v = uuid_hex_value(s[i]);

			if (v < 0)
				return false;	/* also stops at the terminating NUL */
			if (n % 2 == 0)
				u[n / 2] = (uint8_t) (v << 4);
			else
				u[n / 2] |= (uint8_t) v;
			n++;
		}
	}
	if (s[36] != '\0')
		return false;
	memcpy(out, u, 16);
	return true;
}

/* Incident (correlation group) id of a metric signal of an alert rule */
void
tripl_incident_id(int64_t rule_id, int64_t metric_id, const char *direction,
				  char out[37])
{
	static const char correlation[] = "tripl-alert-correlation";
	uint8_t		ns[16];
	uint8_t		digest[SHA1_DIGEST_LENGTH];
	char		prefix[96];
	int			len;
	Sha1Context ctx;

	uuid_v5(UUID_NAMESPACE_URL, correlation, sizeof(correlation) - 1, ns);
	len = snprintf(prefix, sizeof(prefix), "project-global:%" PRId64 ":metric:%" PRId64 ":",
				   rule_id, metric_id);

	/* uuid_v5(ns, prefix || direction), hashing the direction in place */
	sha1_init(&ctx);
	sha1_update(&ctx, ns, 16);
	sha1_update(&ctx, prefix, (size_t) len);
	sha1_update(&ctx, direction, strlen(direction));
	sha1_final(&ctx, digest);
	digest[6] = (uint8_t) ((digest[6] & 0x0f) | 0x50);
	digest[8] = (uint8_t) ((digest[8] & 0x3f) | 0x80);
	uuid_format(digest, out);
}
