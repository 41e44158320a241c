/*-------------------------------------------------------------------------
 *
 * guc.h
 *	  Every tripl.* setting, and the one clock (guc.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_GUC_H
#define TRIPL_GUC_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Collection */
extern int	tripl_query_timeout_ms;
extern int	tripl_chunk_buckets;

/* tripl.engine: how collection aggregates */
#define TRIPL_ENGINE_C		0
#define TRIPL_ENGINE_SQL	1
extern int	tripl_engine;		/* TRIPL_ENGINE_C or TRIPL_ENGINE_SQL */
extern int	tripl_parallel_workers; /* per engine query */
extern int	tripl_engine_memory_limit_kb;	/* -1: work_mem x hash_mem_multiplier */
extern char *tripl_timezone;	/* zone of new metrics */

/* Alert delivery */
extern bool tripl_allow_private_destinations;
extern int	tripl_delivery_max_attempts;
extern int	tripl_delivery_connect_timeout_ms;
extern int	tripl_delivery_timeout_ms;
extern int	tripl_delivery_retry_base_ms;
extern int	tripl_delivery_retry_cap_ms;
extern int	tripl_delivery_lease_ms;
extern int	tripl_delivery_concurrency;
extern char *tripl_delivery_ca_file;

/* Scheduler and retention */
extern bool tripl_scheduler_enabled;
extern int	tripl_tick_interval_ms;
extern char *tripl_databases;
extern int	tripl_run_retention_s;
extern int	tripl_run_error_retention_s;
extern int	tripl_delivery_retention_s;

/* Define every setting (from _PG_init) */
extern void guc_define(void);

/* The one clock (tripl.mock_now or the transaction start); is it mocked? */
extern TimestampTz tripl_now(void);
extern bool tripl_now_is_mocked(void);

#endif							/* TRIPL_GUC_H */
