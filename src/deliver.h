/*-------------------------------------------------------------------------
 *
 * deliver.h
 *	  Sending the outbox: delivery passes, in the delivery worker or in a
 *	  dynamic worker for tripl.deliver() (deliver.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DELIVER_H
#define TRIPL_DELIVER_H

#include "postgres.h"

#include "datatype/timestamp.h"

extern int	deliver_pass(int max_deliveries, int *claimed);
extern int	deliver_run_in_worker(int max_deliveries);
extern void deliver_log_pass(TimestampTz started, int claimed, int sent, const char *error);
extern int	deliver_effective_lease_ms(void);

#endif							/* TRIPL_DELIVER_H */
