/*-------------------------------------------------------------------------
 *
 * uuid5_test.c
 *	  Unit tests for SHA-1 and version-5 UUIDs.
 *
 *	  SHA-1 vectors are the FIPS 180 / NIST examples; UUIDv5 vectors are
 *	  the Python documentation's examples, RFC 9562 appendix A.4, and
 *	  values produced by CPython's uuid.uuid5 (an independent SHA-1).
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include "uuid5.h"

/* Hex string of a SHA-1 digest */
static const char *
hexdigest(const uint8_t d[SHA1_DIGEST_LENGTH], char out[41])
{
	int			i;

	for (i = 0; i < SHA1_DIGEST_LENGTH; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return out;
}

/* The FIPS / NIST SHA-1 vectors */
static void
test_sha1_vectors(void)
{
	static const struct
	{
		const char *msg;
		const char *digest;
		const char *what;
	}			v[] = {
		{"abc", "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1(\"abc\")"},
		{"", "da39a3ee5e6b4b0d3255bfef95601890afd80709", "sha1(\"\")"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		"84983e441c3bd26ebaae4aa1f95129e5e54670f1", "sha1(448-bit message)"},
		{"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		"a49b2446a02c645bf419f995b67091253a04a259", "sha1(896-bit message)"},
		{"The quick brown fox jumps over the lazy dog",
		"2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "sha1(quick brown fox)"},
	};
	size_t		i;
	uint8_t		d[SHA1_DIGEST_LENGTH];
	char		hex[41];

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		sha1(v[i].msg, strlen(v[i].msg), d);
		CHECK_STR(hexdigest(d, hex), v[i].digest, v[i].what);
	}
}

/* One million 'a', one-shot and in awkward pieces */
static void
test_sha1_million(void)
{
	size_t		n = 1000000;
	char	   *a = core_alloc(n);
	uint8_t		d[SHA1_DIGEST_LENGTH];
	char		hex[41];
	Sha1Context ctx;
	size_t		done = 0;
	size_t		step = 1;
	int			i;

	memset(a, 'a', n);
	sha1(a, n, d);
	CHECK_STR(hexdigest(d, hex), "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
			  "sha1(one million 'a')");

	sha1_init(&ctx);
	while (done < n)
	{
		size_t		take = step > n - done ? n - done : step;

		sha1_update(&ctx, a + done, take);
		done += take;
		step = step * 3 % 257 + 1;	/* 1..257 bytes, crossing block edges */
	}
	sha1_final(&ctx, d);
	CHECK_STR(hexdigest(d, hex), "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
			  "sha1(one million 'a') fed in uneven pieces");

	sha1_init(&ctx);
	for (i = 0; i < 1000000; i++)
		sha1_update(&ctx, "a", 1);
	sha1_final(&ctx, d);
	CHECK_STR(hexdigest(d, hex), "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
			  "sha1(one million 'a') one byte at a time");

	sha1_init(&ctx);
	sha1_update(&ctx, "", 0);
	sha1_update(&ctx, "ab", 2);
	sha1_update(&ctx, "", 0);
	sha1_update(&ctx, "c", 1);
	sha1_final(&ctx, d);
	CHECK_STR(hexdigest(d, hex), "a9993e364706816aba3e25717850c26c9cd0d89d",
			  "empty updates are harmless");
	core_free(a);
}

/* Padding edge cases: lengths around the 56- and 64-byte boundaries */
static void
test_sha1_padding(void)
{
	/* digests of 'a' * n from an independent SHA-1 (CPython hashlib) */
	static const struct
	{
		size_t		n;
		const char *digest;
	}			v[] = {
		{55, "c1c8bbdc22796e28c0e15163d20899b65621d65a"},
		{56, "c2db330f6083854c99d4b5bfb6e8f29f201be699"},
		{57, "f08f24908d682555111be7ff6f004e78283d989a"},
		{63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5"},
		{64, "0098ba824b5c16427bd7a1122a5a442a25ec644d"},
		{65, "11655326c708d70319be2610e8a57d9a5b959d3b"},
		{119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56"},
		{120, "f34c1488385346a55709ba056ddd08280dd4c6d6"},
		{128, "ad5b3fdbcb526778c2839d2f151ea753995e26a0"},
	};
	char		buf[128];
	size_t		i;
	uint8_t		d[SHA1_DIGEST_LENGTH];
	char		hex[41];
	char		what[64];

	memset(buf, 'a', sizeof(buf));
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		sha1(buf, v[i].n, d);
		snprintf(what, sizeof(what), "sha1('a' x %zu)", v[i].n);
		CHECK_STR(hexdigest(d, hex), v[i].digest, what);
	}
}

/* Namespace constants and UUIDv5 known values */
static void
test_uuid_v5(void)
{
	static const struct
	{
		const uint8_t *ns;
		const char *name;
		const char *uuid;
		const char *what;
	}			v[] = {
		{UUID_NAMESPACE_DNS, "python.org", "886313e1-3b8a-5372-9b90-0c9aee199e5d", "uuid5(DNS, python.org)"},
		{UUID_NAMESPACE_URL, "http://python.org/", "4c565f0d-3f5a-5890-b41b-20cf47701c5e", "uuid5(URL, http://python.org/)"},
		{UUID_NAMESPACE_DNS, "www.example.com", "2ed6657d-e927-568b-95e1-2665a8aea6a2", "uuid5(DNS, www.example.com) (RFC 9562 A.4)"},
		{UUID_NAMESPACE_DNS, "", "4ebd0208-8328-5d69-8c44-ec50939c0967", "uuid5(DNS, empty name)"},
		{UUID_NAMESPACE_URL, "https://example.com/", "dd2c1780-811a-5296-81c5-178a0ef488bc", "uuid5(URL, https://example.com/)"},
		{UUID_NAMESPACE_URL, "tripl-alert-correlation", "8fd0e8c9-7f09-5e92-998f-93d40998d145", "tripl correlation namespace"},
	};
	size_t		i;
	uint8_t		u[16];
	char		s[37];

	uuid_format(UUID_NAMESPACE_URL, s);
	CHECK_STR(s, "6ba7b811-9dad-11d1-80b4-00c04fd430c8", "URL namespace constant");
	uuid_format(UUID_NAMESPACE_DNS, s);
	CHECK_STR(s, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "DNS namespace constant");

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		uuid_v5(v[i].ns, v[i].name, strlen(v[i].name), u);
		uuid_format(u, s);
		CHECK_STR(s, v[i].uuid, v[i].what);
		CHECK((u[6] >> 4) == 5, "version nibble is 5");
		CHECK((u[8] & 0xc0) == 0x80, "variant bits are 10");
	}

	uuid_v5(UUID_NAMESPACE_DNS, "python.org and more", 10, u);
	uuid_format(u, s);
	CHECK_STR(s, "886313e1-3b8a-5372-9b90-0c9aee199e5d", "explicit length limits the name");
	uuid_v5(UUID_NAMESPACE_DNS, "a\0b", 3, u);
	uuid_format(u, s);
	CHECK_STR(s, "0a63f66b-e02f-5d2d-9fd4-aad819cf5352", "embedded NUL hashed with an explicit length");
}

/* Parsing and formatting round trips and rejections */
static void
test_uuid_parse(void)
{
	static const char *const bad[] = {
		"", "6ba7b811", "6ba7b811-9dad-11d1-80b4-00c04fd430c", "6ba7b811-9dad-11d1-80b4-00c04fd430c8a",
		"6ba7b8119dad11d180b400c04fd430c8", "{6ba7b811-9dad-11d1-80b4-00c04fd430c8}",
		"6ba7b811-9dad-11d1-80b4_00c04fd430c8", "6ba7b811-9dad-11d1-80b4-00c04fd430cg",
		"6ba7b811--dad-11d1-80b4-00c04fd430c8", " 6ba7b811-9dad-11d1-80b4-00c04fd430c8",
		"6ba7b811-9dad-11d1-80b4-00c04fd430c8 ", "6ba7b8-119dad-11d1-80b4-00c04fd430c8",
		"urn:uuid:6ba7b811-9dad-11d1-80b4-00c04fd430c8", "------------------------------------",
	};
	uint8_t		u[16];
	uint8_t		before[16];
	char		s[37];
	size_t		i;

	CHECK(uuid_parse("6ba7b811-9dad-11d1-80b4-00c04fd430c8", u) &&
		  memcmp(u, UUID_NAMESPACE_URL, 16) == 0, "parse URL namespace");
	CHECK(uuid_parse("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", u) &&
		  memcmp(u, UUID_NAMESPACE_DNS, 16) == 0, "parse upper case");
	uuid_format(u, s);
	CHECK_STR(s, "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "format is lower case");
	CHECK(uuid_parse("00000000-0000-0000-0000-000000000000", u), "nil uuid");
	uuid_format(u, s);
	CHECK_STR(s, "00000000-0000-0000-0000-000000000000", "nil uuid round trip");
	CHECK(uuid_parse("ffffffff-ffff-ffff-ffff-ffffffffffff", u), "max uuid");
	uuid_format(u, s);
	CHECK_STR(s, "ffffffff-ffff-ffff-ffff-ffffffffffff", "max uuid round trip");

	memset(before, 0xab, sizeof(before));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		char		what[96];

		memcpy(u, before, 16);
		snprintf(what, sizeof(what), "reject \"%s\" (output untouched)", bad[i]);
		CHECK(!uuid_parse(bad[i], u) && memcmp(u, before, 16) == 0, what);
	}
}

/* The incident id */
static void
test_incident_id(void)
{
	/* expected values from CPython: uuid5(uuid5(NAMESPACE_URL, ...), name) */
	static const struct
	{
		int64_t		rule;
		int64_t		metric;
		const char *direction;
		const char *uuid;
	}			v[] = {
		{1, 2, "up", "18a74316-f5f1-5599-9cad-fe16e4503c74"},
		{1, 2, "down", "6b7e3c22-5730-5bc2-91cf-9a5bacae83e6"},
		{42, 7, "up", "a70e044e-eb52-59b8-88a3-d6afa3a2b994"},
		{INT64_MAX, INT64_MIN, "down", "154e114e-937a-5a4a-8096-924708e7f962"},
		{0, 0, "", "14c5ddf0-f169-5837-8550-8a2fa7572ca2"},
	};
	size_t		i;
	char		s[37];
	char		s2[37];
	char	   *longdir;
	uint8_t		u[16];

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		char		what[128];

		tripl_incident_id(v[i].rule, v[i].metric, v[i].direction, s);
		snprintf(what, sizeof(what), "incident id rule %lld metric %lld %s",
				 (long long) v[i].rule, (long long) v[i].metric, v[i].direction);
		CHECK_STR(s, v[i].uuid, what);
	}

	/* same as composing the public pieces by hand */
	{
		uint8_t		ns[16];
		const char *name = "project-global:42:metric:7:up";

		uuid_v5(UUID_NAMESPACE_URL, "tripl-alert-correlation", 23, ns);
		uuid_v5(ns, name, strlen(name), u);
		uuid_format(u, s2);
		tripl_incident_id(42, 7, "up", s);
		CHECK_STR(s, s2, "incident id = uuid_v5(uuid_v5(URL, ...), name)");
	}

	longdir = core_alloc(100001);
	memset(longdir, 'x', 100000);
	tripl_incident_id(1, 2, longdir, s);
	CHECK(strlen(s) == 36 && uuid_parse(s, u), "very long direction string is fine");
	core_free(longdir);
}

/* Run every test group and print the TAP plan */
int
main(void)
{
	test_sha1_vectors();
	test_sha1_million();
	test_sha1_padding();
	test_uuid_v5();
	test_uuid_parse();
	test_incident_id();
	return unit_done();
}
