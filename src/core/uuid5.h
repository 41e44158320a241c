/*-------------------------------------------------------------------------
 *
 * uuid5.h
 *	  SHA-1 (FIPS 180-4) and name-based version-5 UUIDs (RFC 4122 4.3).
 *
 *	  tripl_incident_id() is the correlation id of an alert incident:
 *	  UUIDv5(UUIDv5(URL namespace, "tripl-alert-correlation"),
 *	  "project-global:<rule_id>:metric:<metric_id>:<direction>").  It has
 *	  no bucket in it, so every anomaly of one rule x metric x direction
 *	  belongs to the same incident.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_UUID5_H
#define TRIPL_UUID5_H

#include "core.h"

/*
 * libuuid, which uuid-ossp loads into the backend, exports a uuid_parse()
 * of its own (returning 0 on success).  PostgreSQL 15 loads modules with
 * RTLD_GLOBAL and without -fvisibility=hidden, so keep this module's
 * symbols out of the dynamic symbol table: calls from tripl then always
 * bind to these definitions.
 */
#if defined(__GNUC__) || defined(__clang__)
#define UUID5_LOCAL __attribute__((visibility("hidden")))
#else
#define UUID5_LOCAL
#endif

#define SHA1_DIGEST_LENGTH	20
#define SHA1_BLOCK_LENGTH	64

/* Incremental SHA-1 state */
typedef struct Sha1Context
{
	uint32_t	h[5];			/* chaining value */
	uint64_t	total;			/* bytes hashed so far */
	uint8_t		block[SHA1_BLOCK_LENGTH];	/* partial block */
	size_t		used;			/* bytes in block */
} Sha1Context;

/* RFC 4122 appendix C namespaces */
extern UUID5_LOCAL const uint8_t UUID_NAMESPACE_DNS[16];	/* 6ba7b810-9dad-11d1-80b4-00c04fd430c8 */
extern UUID5_LOCAL const uint8_t UUID_NAMESPACE_URL[16];	/* 6ba7b811-9dad-11d1-80b4-00c04fd430c8 */

/* Start a SHA-1 computation */
extern UUID5_LOCAL void sha1_init(Sha1Context *ctx);

/* Hash len more bytes */
extern UUID5_LOCAL void sha1_update(Sha1Context *ctx, const void *data, size_t len);

/* Finish and write the 20-byte digest */
extern UUID5_LOCAL void sha1_final(Sha1Context *ctx, uint8_t out[SHA1_DIGEST_LENGTH]);

/* One-shot SHA-1 */
extern UUID5_LOCAL void sha1(const void *data, size_t len, uint8_t out[SHA1_DIGEST_LENGTH]);

/* Version-5 UUID of the name (len bytes) in namespace ns */
extern UUID5_LOCAL void uuid_v5(const uint8_t ns[16], const char *name, size_t len,
					uint8_t out[16]);

/* Canonical lower-case text form, 36 characters plus NUL */
extern UUID5_LOCAL void uuid_format(const uint8_t u[16], char out[37]);

/*
 * Parse the canonical 8-4-4-4-12 hex form (either case, nothing before
 * or after it); false on anything else
 */
extern UUID5_LOCAL bool uuid_parse(const char *s, uint8_t out[16]);

/* Incident (correlation group) id of a metric signal of an alert rule */
extern UUID5_LOCAL void tripl_incident_id(int64_t rule_id, int64_t metric_id,
							  const char *direction, char out[37]);

#endif							/* TRIPL_UUID5_H */
