/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  tripl's background workers: the launcher, a scheduler and a delivery
 *	  worker per database (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_WORKER_H
#define TRIPL_WORKER_H

#include "postgres.h"

/* Register the launcher (from _PG_init, when preloaded) */
extern void worker_register_launcher(void);

#endif							/* TRIPL_WORKER_H */
