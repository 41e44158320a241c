/*-------------------------------------------------------------------------
 *
 * corebuf.h
 *	  A growable, always NUL-terminated byte buffer for the pure cores
 *	  (memory from core_alloc).  Zero-initialise it ({0}) before use.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_COREBUF_H
#define TRIPL_COREBUF_H

#include "core.h"

typedef struct CoreBuf
{
	char	   *data;			/* NULL until something is appended */
	size_t		len;
	size_t		cap;
} CoreBuf;

extern void corebuf_reserve(CoreBuf *b, size_t n);
extern void corebuf_append(CoreBuf *b, const char *s, size_t n);
extern void corebuf_puts(CoreBuf *b, const char *s);
extern void corebuf_printf(CoreBuf *b, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void corebuf_free(CoreBuf *b);

/* Varints: 7 bits a byte, low first (at most 10 bytes for 64 bits) */
extern size_t core_varint_size(uint64_t v);
extern size_t core_varint_put(char *p, uint64_t v);
extern bool core_varint_get(const char **p, const char *end, uint64_t *v);

#endif							/* TRIPL_COREBUF_H */
