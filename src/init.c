/*-------------------------------------------------------------------------
 *
 * init.c
 *	  Module entry point: _PG_init defines the settings, installs the
 *	  user-SQL guard and, when preloaded, the background workers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"

#include "guc.h"
#include "userquery.h"
#include "worker.h"
#include "worker_shmem.h"

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

/* Module load: define settings; workers are registered only when preloaded */
void
_PG_init(void)
{
	guc_define();

	/* refuse functions whose effect would outlive user SQL */
	userquery_init();

	/* background workers only when preloaded, and never during pg_upgrade */
	if (process_shared_preload_libraries_in_progress && !IsBinaryUpgrade)
	{
		worker_shmem_init();
		worker_register_launcher();
	}
}
