/*-------------------------------------------------------------------------
 *
 * alert_core.h
 *	  Pure decisions of alerting: does a rule match a metric signal, what
 *	  happens to the rule x metric state (and is a message sent), how long
 *	  to wait before retrying a delivery, and what an HTTP answer means.
 *
 *	  Times are int64 microseconds since the Unix epoch (UTC).  An absent
 *	  time ("none", SQL NULL) is ALERT_TIME_NONE.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_ALERT_CORE_H
#define TRIPL_ALERT_CORE_H

#include "core.h"

/* An absent timestamp (SQL NULL) */
#define ALERT_TIME_NONE		INT64_MIN

/* Retry-After values longer than this are cut to it (one hour) */
#define ALERT_RETRY_AFTER_CAP_US	CORE_USECS_PER_HOUR

/* Fraction of the backoff used as jitter, either way (12.5 %) */
#define ALERT_BACKOFF_JITTER	0.125

/* ---------------------------------------------------------------------
 * Rule matching (doc/alerting.md, "Matching")
 * ---------------------------------------------------------------------
 */

/* The numeric part of an alert rule that matching looks at */
typedef struct AlertRule
{
	bool		notify_on_spike;	/* match direction +1 */
	bool		notify_on_drop; /* match direction -1 */
	double		min_expected;	/* |expected| >= this */
	double		min_absolute_delta; /* |actual - expected| >= this */
	double		min_percent_delta;	/* |a - e| / |e| * 100 >= this */
	bool		all_metrics;	/* true: any metric (metric_ids ignored) */
	const int64_t *metric_ids;	/* else: only these (n_metric_ids of them; */
	int			n_metric_ids;	/* an empty list matches nothing) */
} AlertRule;

/* One metric anomaly signal */
typedef struct AlertSignal
{
	int64_t		metric_id;
	int			direction;		/* +1 spike (up), -1 drop (down) */
	double		actual;
	double		expected;
} AlertSignal;

/* Result of matching, naming the first gate that failed */
typedef enum AlertMatchResult
{
	ALERT_MATCH = 0,			/* all gates passed */
	ALERT_SKIP_METRIC,			/* metric not in the rule's list */
	ALERT_SKIP_DIRECTION,		/* spike/drop flag off (or direction 0) */
	ALERT_SKIP_VALUE,			/* actual or expected is NaN or infinite */
	ALERT_SKIP_MIN_EXPECTED,	/* |expected| < min_expected */
	ALERT_SKIP_ABSOLUTE_DELTA,	/* |a - e| < min_absolute_delta */
	ALERT_SKIP_PERCENT_DELTA,	/* expected != 0 and percent < minimum */
	ALERT_SKIP_NO_CHANGE		/* expected == 0 and actual == 0 */
} AlertMatchResult;

/*
 * Match a signal against a rule.  Gates, in order: metric filter,
 * direction flag, finite values, |expected| >= min_expected,
 * |a-e| >= min_absolute_delta, then if expected != 0:
 * |a-e|/|e|*100 >= min_percent_delta, else |a-e| > 0.
 */
extern AlertMatchResult alert_rule_match(const AlertRule *rule,
										 const AlertSignal *signal);

/* Short lower-case name of a match result ("match", "direction", ...) */
extern const char *alert_match_result_name(AlertMatchResult r);

/*
 * Deltas as shown in payloads: absolute_delta = actual - expected (signed),
 * percent_delta = (actual - expected) / |expected| * 100 (signed; the
 * expected value is a size, not a sign), NAN when expected == 0.
 */
extern void alert_deltas(double actual, double expected,
						 double *absolute_delta, double *percent_delta);

/* ---------------------------------------------------------------------
 * Rule state + cooldown (doc/alerting.md, "State and cooldown"), per rule x metric
 * ---------------------------------------------------------------------
 */

/* The persisted state of one rule x metric (x direction) */
typedef struct AlertRuleState
{
	bool		exists;			/* false: no row yet */
	bool		active;
	int64_t		opened_at;
	int64_t		closed_at;		/* ALERT_TIME_NONE while active */
	int64_t		last_notified_at;	/* ALERT_TIME_NONE: never notified */
	int64_t		last_anomaly_bucket;	/* ALERT_TIME_NONE: none seen */
} AlertRuleState;

/* What a transition did to the state */
typedef enum AlertStateEvent
{
	ALERT_STATE_NONE = 0,		/* nothing (no state and no match, or closed
								 * and not matched) */
	ALERT_STATE_CREATED,		/* first match: state created, active */
	ALERT_STATE_REOPENED,		/* closed state matched again */
	ALERT_STATE_STILL_ACTIVE,	/* active state matched again */
	ALERT_STATE_CLOSED			/* active state not matched this run */
} AlertStateEvent;

/* Inputs of one evaluation of one rule x metric */
typedef struct AlertEvaluation
{
	bool		matched;		/* the rule matched a signal this run */
	int64_t		anomaly_bucket; /* bucket of that signal (if matched) */
	int64_t		now;
	int64_t		cooldown_us;	/* <= 0: no cooldown */
	bool		is_digest;		/* cron destination: cooldown skipped */
	bool		muted;			/* rule muted: state updated, nothing sent */
} AlertEvaluation;

/* Outputs of one evaluation */
typedef struct AlertTransition
{
	AlertRuleState state;		/* the state to persist */
	AlertStateEvent event;
	bool		send;			/* deliver (or buffer into the digest) now */
	bool		muted_send;		/* would have sent, but the rule is muted */
} AlertTransition;

/*
 * Compute the next state and whether to send.  The transition never
 * changes last_notified_at: call alert_state_mark_notified() when a
 * delivery for this state is actually sent (or enqueued, where the
 * outbox guarantees sending).
 *
 * - no state, matched: CREATED (opened_at = now), send.
 * - closed, matched: REOPENED (opened_at = now, closed_at = none); send
 *   iff last_notified_at is none or the cooldown has elapsed since it
 *   (always for digests).
 * - active, matched: STILL_ACTIVE; send iff last_notified_at is none, or
 *   the bucket is newer than last_anomaly_bucket and the cooldown has
 *   elapsed (digests: newer bucket suffices).
 * - active, not matched: CLOSED (closed_at = now), no send.
 * - otherwise NONE, state unchanged.
 * last_anomaly_bucket becomes the largest bucket seen.  When muted, send
 * is false and muted_send tells whether it would have been true.
 */
extern void alert_state_transition(const AlertRuleState *prev,
								   const AlertEvaluation *ev,
								   AlertTransition *out);

/* Record that a message for this state was sent at sent_at */
extern void alert_state_mark_notified(AlertRuleState *state, int64_t sent_at);

/* Has the cooldown elapsed at now since last_notified_at (none: yes)? */
extern bool alert_cooldown_elapsed(int64_t last_notified_at, int64_t now,
								   int64_t cooldown_us);

/* Short lower-case name of an event ("created", "reopened", ...) */
extern const char *alert_state_event_name(AlertStateEvent e);

/* ---------------------------------------------------------------------
 * Delivery: retry backoff, Retry-After, HTTP status classification
 * ---------------------------------------------------------------------
 */

typedef enum DeliveryOutcome
{
	DELIVERY_SENT,				/* 2xx */
	DELIVERY_RETRY,				/* 408, 429, 5xx, transport error, no status */
	DELIVERY_PERMANENT			/* anything else, including 1xx and 3xx */
} DeliveryOutcome;

/*
 * Wait before the next attempt, after `attempt` attempts (1-based):
 * min(cap_us, base_us * 2^(attempt-1)) scaled by a jitter factor in
 * [0.875, 1.125) taken from random01 in [0,1) (0.5 = no jitter; the
 * jitter may take the wait up to 12.5 % past cap_us).  If retry_after_us
 * >= 0 (a Retry-After header), the wait is at least
 * min(retry_after_us, ALERT_RETRY_AFTER_CAP_US).  Never negative.
 */
extern int64_t delivery_backoff_us(int attempt, int64_t base_us, int64_t cap_us,
								   double random01, int64_t retry_after_us);

/*
 * Delay requested by a Retry-After header value: delta-seconds, or an
 * HTTP-date (IMF-fixdate, RFC 850 or asctime form) minus now_us, at
 * least 0.  -1 when the value cannot be parsed.
 */
extern int64_t parse_retry_after(const char *value, int64_t now_us);

/* Classify an HTTP answer (redirects are not followed, so 3xx is final) */
extern DeliveryOutcome classify_http(long status, bool transport_error);

/*
 * Classify the end of an SMTP transfer: sent when the server accepted the
 * message (transfer_ok); a 5xx reply (a refused login, sender or
 * recipient, a refused message) is permanent; a 4xx reply, no reply, a
 * timeout or a TLS failure are retried
 */
extern DeliveryOutcome classify_smtp(long reply_code, bool transfer_ok);

/* Short lower-case name of an outcome ("sent", "retry", "permanent") */
extern const char *delivery_outcome_name(DeliveryOutcome o);

/* ---------------------------------------------------------------------
 * Payload text
 * ---------------------------------------------------------------------
 */

/*
 * Length of the longest prefix of the UTF-8 string s that is at most
 * max_bytes long and does not end inside a character (strlen(s) when the
 * whole string fits).  Cuts before the lead byte of a character that
 * would be split; looks back at most 3 continuation bytes, so invalid
 * input is still cut at or below max_bytes.
 */
extern size_t alert_utf8_prefix(const char *s, size_t max_bytes);

/*
 * The first string value of a field called name in a JSON text (a
 * tracker's answer): scans member names in order, skipping strings;
 * false when there is none, or it holds an escape or does not fit outlen
 */
extern bool alert_json_first_string(const char *json, const char *name, char *out, size_t outlen);

/* Is key a Jira issue key, PROJECT-123 (it goes into a URL path)? */
extern bool alert_jira_key_valid(const char *key);

/* Is id a tracker's internal id (Linear's UUIDs, Jira's numbers): 1 to 63 of [A-Za-z0-9-]? */
extern bool alert_tracker_id_valid(const char *id);

/*
 * A GraphQL answer (Linear): false when it reports a failure, with the
 * first error's message (and extensions.code, "" if none) in msg and
 * code: a top-level "errors" array that is not empty, a body that is not
 * a JSON object, or a mutation's "success": false.  rate_limited is set
 * for the code RATELIMITED (Linear's answer when a client is over its
 * limit, with HTTP 400).
 */
extern bool alert_graphql_ok(const char *json, char *msg, size_t msglen, char *code, size_t codelen,
							 bool *rate_limited);

/*
 * The id of the transition called name (ASCII case-insensitive) in Jira's
 * answer to GET .../issue/KEY/transitions ({"transitions": [{"id", "name",
 * "to": {...}}, ...]}); false when none is; offered gets the names that
 * are, comma-separated (cut to offeredlen)
 */
extern bool alert_jira_transition_id(const char *json, const char *name, char *out, size_t outlen,
									 char *offered, size_t offeredlen);

/* A duration for people: "45s", "12m", "3h 10m", "2d 4h" (negative: "0s") */
extern void alert_format_duration(int64_t us, char *out, size_t outlen);

/* ---------------------------------------------------------------------
 * Keeping secrets out of stored texts
 * ---------------------------------------------------------------------
 */

/* Shortest stretch of a secret that redaction looks for, in bytes */
#define ALERT_REDACT_MIN_RUN	6

/*
 * text (NUL-terminated) with every trace of secret replaced by "***": each
 * stretch of at least ALERT_REDACT_MIN_RUN bytes (or a whole spelling, if
 * that is shorter) that also occurs in a spelling of the secret — as
 * written, JSON-escaped (with or without "\/" and "\uXXXX" escapes),
 * percent-encoded (upper- or lower-case hex) or base64 (standard or URL
 * alphabet, at any offset) — is covered, so the secret can neither show
 * whole in another encoding nor in part, e.g. cut at a length limit.
 * Overlapping and adjacent covered stretches become one "***".  A NULL or
 * empty secret leaves the text as it is.  Returns core_alloc'd memory.
 */
extern char *alert_redact_secret(const char *text, const char *secret);

#endif							/* TRIPL_ALERT_CORE_H */
