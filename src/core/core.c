/*-------------------------------------------------------------------------
 *
 * core.c
 *	  Helpers shared by the pure cores (see core.h): the errbuf-printf
 *	  error report.
 *
 *-------------------------------------------------------------------------
 */
#include <stdarg.h>
#include <stdio.h>

#include "core.h"

/* Format an error message into the caller's buffer (if any); returns false */
bool
core_errorf(char *errbuf, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (errbuf != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}
