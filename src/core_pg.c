/*-------------------------------------------------------------------------
 *
 * core_pg.c
 *	  core_alloc/core_free for the pure cores when they run inside the
 *	  server: palloc in the current memory context, huge allocations allowed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "core/core.h"

/* Zeroed allocation in the current memory context */
void *
core_alloc(size_t size)
{
	return palloc_extended(size > 0 ? size : 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
}

/* Release memory from core_alloc */
void
core_free(void *ptr)
{
	if (ptr != NULL)
		pfree(ptr);
}
