/*-------------------------------------------------------------------------
 *
 * corebuf.c
 *	  A growable byte buffer for the pure cores (see corebuf.h).
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "corebuf.h"

/* Make room for n more bytes plus a terminating NUL */
void
corebuf_reserve(CoreBuf *b, size_t n)
{
	size_t		need = b->len + n + 1;
	size_t		cap;
	char	   *nd;

	if (need <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
	nd = core_alloc(cap);
	if (b->len > 0)
		memcpy(nd, b->data, b->len);
	if (b->data != NULL)
		core_free(b->data);
	b->data = nd;
	b->cap = cap;
}

/* Append n bytes */
void
corebuf_append(CoreBuf *b, const char *s, size_t n)
{
	corebuf_reserve(b, n);
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a NUL-terminated string */
void
corebuf_puts(CoreBuf *b, const char *s)
{
	corebuf_append(b, s, strlen(s));
}

/* Append formatted text */
void
corebuf_printf(CoreBuf *b, const char *fmt,...)
{
	char		small[512];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t) n < sizeof(small))
	{
		corebuf_append(b, small, (size_t) n);
		return;
	}
	corebuf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

/* Free a buffer's memory; it can be used again */
void
corebuf_free(CoreBuf *b)
{
	if (b->data != NULL)
		core_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* Bytes of v as a varint (7 bits a byte, low first) */
size_t
core_varint_size(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

/* Write v as a varint at p; the bytes written */
size_t
core_varint_put(char *p, uint64_t v)
{
	size_t		n = 0;

	while (v >= 0x80)
	{
		p[n++] = (char) ((v & 0x7f) | 0x80);
		v >>= 7;
	}
	p[n++] = (char) v;
	return n;
}

/* Read a varint from [*p, end); false when cut or longer than 64 bits */
bool
core_varint_get(const char **p, const char *end, uint64_t *v)
{
	uint64_t	r = 0;
	int			shift = 0;

	while (*p < end)
	{
		unsigned char b = (unsigned char) *(*p)++;

		if (shift == 63 && b > 1)
			return false;
		r |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = r;
			return true;
		}
		shift += 7;
		if (shift > 63)
			return false;
	}
	return false;
}
