/*-------------------------------------------------------------------------
 *
 * core.h
 *	  Shared conventions for tripl's pure cores: plain C, no PostgreSQL
 *	  types.  Times are int64 microseconds since the Unix epoch (UTC).
 *
 *	  Memory comes from core_alloc()/core_free().  Inside the server they
 *	  map to palloc (current memory context, huge allocations allowed); the
 *	  unit tests map them to calloc/free.  core_alloc never returns NULL and
 *	  always returns zeroed memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_CORE_H
#define TRIPL_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CORE_USECS_PER_SEC		INT64_C(1000000)
#define CORE_USECS_PER_MINUTE	(INT64_C(60) * CORE_USECS_PER_SEC)
#define CORE_USECS_PER_HOUR		(INT64_C(60) * CORE_USECS_PER_MINUTE)
#define CORE_USECS_PER_DAY		(INT64_C(24) * CORE_USECS_PER_HOUR)
#define CORE_USECS_PER_WEEK		(INT64_C(7) * CORE_USECS_PER_DAY)

/* Offset of the PostgreSQL epoch (2000-01-01) from the Unix epoch, in us */
#define CORE_PG_EPOCH_OFFSET	INT64_C(946684800000000)

extern void *core_alloc(size_t size);
extern void core_free(void *ptr);

/*
 * Errors: a core function that can fail takes (char *errbuf, size_t errlen)
 * and returns false; core_errorf formats the message into errbuf (when
 * there is one) and returns false, so "return core_errorf(...)" reports.
 */
extern bool core_errorf(char *errbuf, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

#endif							/* TRIPL_CORE_H */
