/*-------------------------------------------------------------------------
 *
 * subxact.h
 *	  Running a piece of work in a subtransaction (subxact.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_SUBXACT_H
#define TRIPL_SUBXACT_H

#include "postgres.h"

/*
 * Run fn(arg) in a subtransaction.  Returns NULL on success, else the error
 * (the subtransaction rolled back, the error state cleared; the caller
 * frees it with FreeErrorData or re-throws it).  A cancel or a shutdown is
 * re-thrown at once; tripl's own query timeout is returned.
 */
typedef void (*SubxactFn) (void *arg);
extern ErrorData *subxact_run(SubxactFn fn, void *arg);

/*
 * The same, returning NULL on success, else the error message with its
 * detail; *errcode (when not NULL) gets the error's code, *node_failure
 * (when not NULL) whether it is a node failure
 */
extern char *subxact_run_message(SubxactFn fn, void *arg, int *errcode, bool *node_failure);

/*
 * Is this error a failure to reach another server -- a Citus node that is
 * down, not started yet, or stopped in the middle of a statement?  Such a
 * failure is transient: collection retries at the next tick, without the
 * one-bucket backoff of other errors (doc/citus.md, "Node failures").
 */
extern bool subxact_node_failure(const ErrorData *edata);

#endif							/* TRIPL_SUBXACT_H */
