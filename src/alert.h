/*-------------------------------------------------------------------------
 *
 * alert.h
 *	  Alerting: destinations, rules, evaluating rules against signals into
 *	  the outbox (tripl.deliveries), digests; and sending (deliver.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ALERT_H
#define TRIPL_ALERT_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Settings (tripl.c) */
extern bool tripl_allow_private_destinations;
extern int	tripl_delivery_max_attempts;
extern int	tripl_delivery_connect_timeout_ms;
extern int	tripl_delivery_timeout_ms;
extern int	tripl_delivery_retry_base_ms;
extern int	tripl_delivery_retry_cap_ms;
extern int	tripl_delivery_lease_ms;
extern int	tripl_delivery_concurrency;

/* What one alert evaluation did */
typedef struct AlertSummary
{
	int			rules;
	int			transitions;
	int			enqueued;		/* deliveries written to the outbox */
	int			buffered;		/* digest items written */
	int			flushed;		/* digest deliveries written */
} AlertSummary;

extern void alert_evaluate(TimestampTz now, AlertSummary *summary, List **events);
extern int	alert_flush_digests(TimestampTz now);

/* deliver.c */
extern int	deliver_pass(int max_deliveries, int *claimed);
extern int	deliver_run_in_worker(int max_deliveries);
extern void deliver_wake(void);
extern void deliver_log_pass(TimestampTz started, int claimed, int sent, const char *error);
extern int	delivery_effective_lease_ms(void);

#endif							/* TRIPL_ALERT_H */
