/*-------------------------------------------------------------------------
 *
 * alert_test.c
 *	  Unit tests for alert_core: rule matching, the rule-state/cooldown
 *	  transitions, retry backoff, Retry-After parsing and HTTP status
 *	  classification.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include <limits.h>
#include <time.h>

#include "alert_core.h"

#define NONE		ALERT_TIME_NONE
#define SEC			CORE_USECS_PER_SEC
#define MIN			CORE_USECS_PER_MINUTE
#define HOUR		CORE_USECS_PER_HOUR
#define DAY			CORE_USECS_PER_DAY
#define NOW			(INT64_C(1767225600) * SEC)	/* 2026-01-01 00:00 UTC */

/* "YYYY-MM-DD HH:MM:SS" (UTC) to microseconds, via timegm */
static int64_t
ts(const char *s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		abort();
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t) timegm(&tm) * SEC;
}

/* ------------------------------------------------------------------ */
/* Matching                                                           */
/* ------------------------------------------------------------------ */

typedef struct MatchCase
{
	const char *what;
	bool		spike;
	bool		drop;
	double		min_expected;
	double		min_abs;
	double		min_pct;
	int			filter;			/* 0: all metrics, 1: {3, 5}, 2: empty list,
								 * 3: NULL list with n = 2 */
	int64_t		metric;
	int			direction;
	double		actual;
	double		expected;
	AlertMatchResult expect;
} MatchCase;

static const MatchCase match_cases[] = {
	/* percent gate with the defaults (30 %) */
	{"+30 % of 100 matches (boundary)", true, true, 0, 0, 30, 0, 1, 1, 130, 100, ALERT_MATCH},
	{"+29.9 % does not", true, true, 0, 0, 30, 0, 1, 1, 129.9, 100, ALERT_SKIP_PERCENT_DELTA},
	{"-30 % drop matches", true, true, 0, 0, 30, 0, 1, -1, 70, 100, ALERT_MATCH},
	{"-29 % drop does not", true, true, 0, 0, 30, 0, 1, -1, 71, 100, ALERT_SKIP_PERCENT_DELTA},
	{"+50 % vs 50 % (exact boundary)", true, true, 0, 0, 50, 0, 1, 1, 150, 100, ALERT_MATCH},
	{"+25 % vs 25 % (exact boundary)", true, true, 0, 0, 25, 0, 1, 1, 125, 100, ALERT_MATCH},
	{"+24.99 % vs 25 %", true, true, 0, 0, 25, 0, 1, 1, 124.99, 100, ALERT_SKIP_PERCENT_DELTA},
	{"negative expected: percent uses |expected|", true, true, 0, 0, 30, 0, 1, -1, -130, -100, ALERT_MATCH},
	{"negative expected: 20 % is below 30 %", true, true, 0, 0, 30, 0, 1, 1, -80, -100, ALERT_SKIP_PERCENT_DELTA},
	{"huge spike", true, true, 0, 0, 30, 0, 1, 1, 1e12, 1, ALERT_MATCH},
	{"min_percent 0 matches a zero change", true, true, 0, 0, 0, 0, 1, 1, 100, 100, ALERT_MATCH},
	/* expected == 0 */
	{"expected 0, actual 5: no percent gate", true, true, 0, 0, 30, 0, 1, 1, 5, 0, ALERT_MATCH},
	{"expected 0, actual 0.001", true, true, 0, 0, 1000, 0, 1, 1, 0.001, 0, ALERT_MATCH},
	{"expected 0, actual -5 drop", true, true, 0, 0, 30, 0, 1, -1, -5, 0, ALERT_MATCH},
	{"expected 0, actual 0: no change", true, true, 0, 0, 30, 0, 1, 1, 0, 0, ALERT_SKIP_NO_CHANGE},
	{"expected -0.0, actual 0: no change", true, true, 0, 0, 30, 0, 1, -1, 0, -0.0, ALERT_SKIP_NO_CHANGE},
	{"expected 0 fails min_expected 1", true, true, 1, 0, 30, 0, 1, 1, 5, 0, ALERT_SKIP_MIN_EXPECTED},
	{"expected 0, min_abs 10, delta 5", true, true, 0, 10, 30, 0, 1, 1, 5, 0, ALERT_SKIP_ABSOLUTE_DELTA},
	/* direction flags */
	{"spike with notify_on_spike off", false, true, 0, 0, 30, 0, 1, 1, 200, 100, ALERT_SKIP_DIRECTION},
	{"drop with notify_on_drop off", true, false, 0, 0, 30, 0, 1, -1, 10, 100, ALERT_SKIP_DIRECTION},
	{"drop with only drops on", false, true, 0, 0, 30, 0, 1, -1, 10, 100, ALERT_MATCH},
	{"spike with only spikes on", true, false, 0, 0, 30, 0, 1, 1, 200, 100, ALERT_MATCH},
	{"direction 0 never matches", true, true, 0, 0, 30, 0, 1, 0, 200, 100, ALERT_SKIP_DIRECTION},
	{"direction +7 counts as spike", true, false, 0, 0, 30, 0, 1, 7, 200, 100, ALERT_MATCH},
	/* metric filter */
	{"metric 5 in {3,5}", true, true, 0, 0, 30, 1, 5, 1, 200, 100, ALERT_MATCH},
	{"metric 3 in {3,5}", true, true, 0, 0, 30, 1, 3, 1, 200, 100, ALERT_MATCH},
	{"metric 4 not in {3,5}", true, true, 0, 0, 30, 1, 4, 1, 200, 100, ALERT_SKIP_METRIC},
	{"empty metric list matches nothing", true, true, 0, 0, 30, 2, 4, 1, 200, 100, ALERT_SKIP_METRIC},
	{"NULL metric list matches nothing", true, true, 0, 0, 30, 3, 4, 1, 200, 100, ALERT_SKIP_METRIC},
	/* min_expected */
	{"|expected| 9.99 < 10", true, true, 10, 0, 30, 0, 1, 1, 100, 9.99, ALERT_SKIP_MIN_EXPECTED},
	{"|expected| 10 >= 10", true, true, 10, 0, 30, 0, 1, 1, 100, 10, ALERT_MATCH},
	{"|expected| uses the absolute value", true, true, 10, 0, 30, 0, 1, -1, -100, -10, ALERT_MATCH},
	{"|-9| < 10", true, true, 10, 0, 30, 0, 1, 1, 100, -9, ALERT_SKIP_MIN_EXPECTED},
	/* min_absolute_delta */
	{"|delta| 40 < 50", true, true, 0, 50, 30, 0, 1, 1, 140, 100, ALERT_SKIP_ABSOLUTE_DELTA},
	{"|delta| 50 >= 50", true, true, 0, 50, 30, 0, 1, 1, 150, 100, ALERT_MATCH},
	{"|delta| of a drop", true, true, 0, 50, 30, 0, 1, -1, 40, 100, ALERT_MATCH},
	{"min_abs 0 and no change (expected 0) is no_change", true, true, 0, 0, 0, 0, 1, 1, 0, 0, ALERT_SKIP_NO_CHANGE},
	/* order of the gates: the first failing one is reported */
	{"order: metric before direction", false, false, 1e9, 1e9, 1e9, 1, 4, 1, 1, 1, ALERT_SKIP_METRIC},
	{"order: direction before min_expected", false, false, 1e9, 1e9, 1e9, 0, 4, 1, 1, 1, ALERT_SKIP_DIRECTION},
	{"order: min_expected before min_abs", true, true, 1e9, 1e9, 1e9, 0, 4, 1, 1, 1, ALERT_SKIP_MIN_EXPECTED},
	{"order: min_abs before percent", true, true, 0, 1e9, 1e9, 0, 4, 1, 2, 1, ALERT_SKIP_ABSOLUTE_DELTA},
	{"order: percent last", true, true, 0, 0, 1e9, 0, 4, 1, 2, 1, ALERT_SKIP_PERCENT_DELTA},
	{"order: values checked before min_expected", true, true, 1e9, 0, 0, 0, 4, 1, NAN, 1, ALERT_SKIP_VALUE},
	/* non-finite values */
	{"NaN actual", true, true, 0, 0, 30, 0, 1, 1, NAN, 100, ALERT_SKIP_VALUE},
	{"NaN expected", true, true, 0, 0, 30, 0, 1, 1, 100, NAN, ALERT_SKIP_VALUE},
	{"infinite actual", true, true, 0, 0, 30, 0, 1, 1, INFINITY, 100, ALERT_SKIP_VALUE},
	{"infinite expected", true, true, 0, 0, 30, 0, 1, -1, 100, -INFINITY, ALERT_SKIP_VALUE},
	{"NaN threshold never passes", true, true, NAN, 0, 30, 0, 1, 1, 200, 100, ALERT_SKIP_MIN_EXPECTED},
};

/* Every matching case */
static void
test_matching(void)
{
	static const int64_t ids[] = {3, 5};
	size_t		i;

	for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++)
	{
		const MatchCase *c = &match_cases[i];
		AlertRule	r;
		AlertSignal s;
		AlertMatchResult got;
		char		what[200];

		memset(&r, 0, sizeof(r));
		r.notify_on_spike = c->spike;
		r.notify_on_drop = c->drop;
		r.min_expected = c->min_expected;
		r.min_absolute_delta = c->min_abs;
		r.min_percent_delta = c->min_pct;
		r.all_metrics = (c->filter == 0);
		r.metric_ids = (c->filter == 1 || c->filter == 2) ? ids : NULL;
		r.n_metric_ids = (c->filter == 1 || c->filter == 3) ? 2 : 0;
		s.metric_id = c->metric;
		s.direction = c->direction;
		s.actual = c->actual;
		s.expected = c->expected;
		got = alert_rule_match(&r, &s);
		snprintf(what, sizeof(what), "%s -> %s", c->what, alert_match_result_name(c->expect));
		CHECK(got == c->expect, what);
		if (got != c->expect)
			printf("#   got %s\n", alert_match_result_name(got));
	}

	/* all_metrics ignores any list it is given */
	{
		AlertRule	r;
		AlertSignal s = {99, 1, 200, 100};

		memset(&r, 0, sizeof(r));
		r.notify_on_spike = r.notify_on_drop = true;
		r.min_percent_delta = 30;
		r.all_metrics = true;
		r.metric_ids = ids;
		r.n_metric_ids = 2;
		CHECK(alert_rule_match(&r, &s) == ALERT_MATCH, "all_metrics ignores the list");
		r.n_metric_ids = -5;
		r.all_metrics = false;
		CHECK(alert_rule_match(&r, &s) == ALERT_SKIP_METRIC, "negative list length matches nothing");
	}

	CHECK_STR(alert_match_result_name(ALERT_MATCH), "match", "result name: match");
	CHECK_STR(alert_match_result_name(ALERT_SKIP_PERCENT_DELTA), "min_percent_delta", "result name: percent");
	CHECK_STR(alert_match_result_name((AlertMatchResult) 99), "unknown", "result name: out of range");
}

/* The payload deltas */
static void
test_deltas(void)
{
	double		a,
				p;

	alert_deltas(130, 100, &a, &p);
	CHECK_NEAR(a, 30, 1e-12, "absolute delta of a spike");
	CHECK_NEAR(p, 30, 1e-12, "percent delta of a spike");
	alert_deltas(70, 100, &a, &p);
	CHECK_NEAR(a, -30, 1e-12, "absolute delta of a drop is negative");
	CHECK_NEAR(p, -30, 1e-12, "percent delta of a drop is negative");
	alert_deltas(-130, -100, &a, &p);
	CHECK_NEAR(a, -30, 1e-12, "negative expected: absolute delta");
	CHECK_NEAR(p, -30, 1e-12, "negative expected: percent divides by |expected|");
	alert_deltas(-70, -100, &a, &p);
	CHECK_NEAR(p, 30, 1e-12, "negative expected, value rose: positive percent");
	alert_deltas(5, 0, &a, &p);
	CHECK_NEAR(a, 5, 1e-12, "expected 0: absolute delta");
	CHECK(isnan(p), "expected 0: percent is NAN");
	alert_deltas(0, 0, &a, &p);
	CHECK(a == 0 && isnan(p), "0 vs 0: delta 0, percent NAN");
	alert_deltas(100, 100, &a, &p);
	CHECK(a == 0 && p == 0, "no change: zero deltas");
	alert_deltas(1, 3, &a, &p);
	CHECK_NEAR(p, -200.0 / 3.0, 1e-12, "non-round percent");
}

/* ------------------------------------------------------------------ */
/* State + cooldown                                                   */
/* ------------------------------------------------------------------ */

typedef struct StateCase
{
	const char *what;
	/* previous state */
	bool		exists;
	bool		active;
	int64_t		opened_at;
	int64_t		closed_at;
	int64_t		last_notified_at;
	int64_t		last_bucket;
	/* evaluation */
	bool		matched;
	int64_t		bucket;
	int64_t		cooldown;
	bool		digest;
	bool		muted;
	/* expected */
	AlertStateEvent event;
	bool		send;
	bool		muted_send;
	bool		active_after;
	int64_t		opened_after;
	int64_t		closed_after;
	int64_t		bucket_after;
} StateCase;

#define OPENED	(NOW - 3 * DAY)
#define CLOSED	(NOW - 2 * DAY)
#define B0		(NOW - 10 * HOUR)	/* an older bucket */
#define B1		(NOW - 2 * HOUR)	/* the stored bucket */
#define B2		(NOW - HOUR)		/* a newer bucket */

static const StateCase state_cases[] = {
	/* no state yet */
	{"no state, no match: nothing", false, false, NONE, NONE, NONE, NONE,
	false, B1, DAY, false, false, ALERT_STATE_NONE, false, false, false, NONE, NONE, NONE},
	{"first match: create and send", false, false, NONE, NONE, NONE, NONE,
	true, B1, DAY, false, false, ALERT_STATE_CREATED, true, false, true, NOW, NONE, B1},
	{"first match while muted: create, no send", false, false, NONE, NONE, NONE, NONE,
	true, B1, DAY, false, true, ALERT_STATE_CREATED, false, true, true, NOW, NONE, B1},
	{"first match, digest: create and send", false, false, NONE, NONE, NONE, NONE,
	true, B1, DAY, true, false, ALERT_STATE_CREATED, true, false, true, NOW, NONE, B1},
	/* closed state */
	{"closed, matched, cooldown elapsed: reopen and send", true, false, OPENED, CLOSED, NOW - 2 * DAY, B0,
	true, B1, DAY, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	{"closed, matched, within cooldown: reopen, no send", true, false, OPENED, CLOSED, NOW - HOUR, B0,
	true, B1, DAY, false, false, ALERT_STATE_REOPENED, false, false, true, NOW, NONE, B1},
	{"closed, matched, never notified: reopen and send", true, false, OPENED, CLOSED, NONE, B0,
	true, B1, DAY, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	{"closed, matched, cooldown exactly elapsed: send", true, false, OPENED, CLOSED, NOW - DAY, B0,
	true, B1, DAY, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	{"closed, matched, 1 us short of cooldown: no send", true, false, OPENED, CLOSED, NOW - DAY + 1, B0,
	true, B1, DAY, false, false, ALERT_STATE_REOPENED, false, false, true, NOW, NONE, B1},
	{"closed, matched, digest skips cooldown: send", true, false, OPENED, CLOSED, NOW - HOUR, B0,
	true, B1, DAY, true, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	{"closed, matched, muted: reopen, no send", true, false, OPENED, CLOSED, NOW - 2 * DAY, B0,
	true, B1, DAY, false, true, ALERT_STATE_REOPENED, false, true, true, NOW, NONE, B1},
	{"closed, matched older bucket: bucket stays the max", true, false, OPENED, CLOSED, NOW - 2 * DAY, B1,
	true, B0, DAY, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	{"closed, matched, no stored bucket", true, false, OPENED, CLOSED, NOW - 2 * DAY, NONE,
	true, B0, DAY, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B0},
	{"closed, not matched: nothing", true, false, OPENED, CLOSED, NOW - HOUR, B1,
	false, B2, DAY, false, false, ALERT_STATE_NONE, false, false, false, OPENED, CLOSED, B1},
	{"closed, cooldown 0: send", true, false, OPENED, CLOSED, NOW - 1, B0,
	true, B1, 0, false, false, ALERT_STATE_REOPENED, true, false, true, NOW, NONE, B1},
	/* active state, matched */
	{"active, never notified: send", true, true, OPENED, NONE, NONE, B1,
	true, B1, DAY, false, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B1},
	{"active, never notified, older bucket: send", true, true, OPENED, NONE, NONE, B1,
	true, B0, DAY, false, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B1},
	{"active, newer bucket, cooldown elapsed: send", true, true, OPENED, NONE, NOW - 2 * DAY, B1,
	true, B2, DAY, false, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B2},
	{"active, same bucket, cooldown elapsed: no send", true, true, OPENED, NONE, NOW - 2 * DAY, B1,
	true, B1, DAY, false, false, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B1},
	{"active, older bucket: no send, bucket stays max", true, true, OPENED, NONE, NOW - 2 * DAY, B1,
	true, B0, DAY, false, false, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B1},
	{"active, newer bucket, within cooldown: no send", true, true, OPENED, NONE, NOW - HOUR, B1,
	true, B2, DAY, false, false, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B2},
	{"active, newer bucket, cooldown exactly elapsed: send", true, true, OPENED, NONE, NOW - DAY, B1,
	true, B2, DAY, false, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B2},
	{"active, newer bucket, digest skips cooldown: send", true, true, OPENED, NONE, NOW - HOUR, B1,
	true, B2, DAY, true, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B2},
	{"active, same bucket, digest: no send", true, true, OPENED, NONE, NOW - HOUR, B1,
	true, B1, DAY, true, false, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B1},
	{"active, no stored bucket counts as newer", true, true, OPENED, NONE, NOW - 2 * DAY, NONE,
	true, B0, DAY, false, false, ALERT_STATE_STILL_ACTIVE, true, false, true, OPENED, NONE, B0},
	{"active, newer, elapsed, muted: no send", true, true, OPENED, NONE, NOW - 2 * DAY, B1,
	true, B2, DAY, false, true, ALERT_STATE_STILL_ACTIVE, false, true, true, OPENED, NONE, B2},
	{"active, within cooldown, muted: nothing would be sent", true, true, OPENED, NONE, NOW - HOUR, B1,
	true, B2, DAY, false, true, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B2},
	{"active, clock went backwards: within cooldown", true, true, OPENED, NONE, NOW + HOUR, B1,
	true, B2, DAY, false, false, ALERT_STATE_STILL_ACTIVE, false, false, true, OPENED, NONE, B2},
	/* active state, not matched */
	{"active, not matched: close", true, true, OPENED, NONE, NOW - HOUR, B1,
	false, B2, DAY, false, false, ALERT_STATE_CLOSED, false, false, false, OPENED, NOW, B1},
	{"active, not matched, muted: close", true, true, OPENED, NONE, NONE, B1,
	false, B2, DAY, false, true, ALERT_STATE_CLOSED, false, false, false, OPENED, NOW, B1},
	{"active, not matched, digest: close", true, true, OPENED, NONE, NONE, B1,
	false, B2, DAY, true, false, ALERT_STATE_CLOSED, false, false, false, OPENED, NOW, B1},
};

/* Every state transition case */
static void
test_state_cases(void)
{
	size_t		i;

	for (i = 0; i < sizeof(state_cases) / sizeof(state_cases[0]); i++)
	{
		const StateCase *c = &state_cases[i];
		AlertRuleState prev;
		AlertEvaluation ev;
		AlertTransition out;
		char		what[256];
		bool		ok;

		memset(&prev, 0, sizeof(prev));
		prev.exists = c->exists;
		prev.active = c->active;
		prev.opened_at = c->opened_at;
		prev.closed_at = c->closed_at;
		prev.last_notified_at = c->last_notified_at;
		prev.last_anomaly_bucket = c->last_bucket;
		memset(&ev, 0, sizeof(ev));
		ev.matched = c->matched;
		ev.anomaly_bucket = c->bucket;
		ev.now = NOW;
		ev.cooldown_us = c->cooldown;
		ev.is_digest = c->digest;
		ev.muted = c->muted;

		alert_state_transition(&prev, &ev, &out);

		snprintf(what, sizeof(what), "%s: event %s", c->what, alert_state_event_name(c->event));
		CHECK(out.event == c->event, what);
		snprintf(what, sizeof(what), "%s: send=%d muted_send=%d", c->what, c->send, c->muted_send);
		CHECK(out.send == c->send && out.muted_send == c->muted_send, what);
		ok = out.state.active == c->active_after &&
			out.state.opened_at == c->opened_after &&
			out.state.closed_at == c->closed_after &&
			out.state.last_anomaly_bucket == c->bucket_after &&
			out.state.exists == (c->exists || c->matched);
		snprintf(what, sizeof(what), "%s: new state fields", c->what);
		CHECK(ok, what);
		snprintf(what, sizeof(what), "%s: last_notified_at untouched", c->what);
		CHECK(out.state.last_notified_at == (c->exists ? c->last_notified_at : NONE), what);
	}
}

/* A rule x metric over several runs, with the caller recording sends */
static void
test_state_sequence(void)
{
	AlertRuleState st;
	AlertEvaluation ev;
	AlertTransition tr;
	int64_t		t = NOW;

	memset(&st, 0, sizeof(st));
	memset(&ev, 0, sizeof(ev));
	ev.cooldown_us = DAY;

	/* run 1: first anomaly */
	ev.matched = true;
	ev.anomaly_bucket = t - HOUR;
	ev.now = t;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_CREATED && tr.send, "run 1: created and sent");
	st = tr.state;
	alert_state_mark_notified(&st, t);
	CHECK(st.last_notified_at == t, "mark_notified sets last_notified_at");

	/* run 2: same anomaly still latest */
	ev.now = t + 5 * MIN;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_STILL_ACTIVE && !tr.send, "run 2: same bucket, no resend");
	st = tr.state;

	/* run 3: a newer anomaly within the cooldown */
	ev.now = t + 2 * HOUR;
	ev.anomaly_bucket = t + HOUR;
	alert_state_transition(&st, &ev, &tr);
	CHECK(!tr.send, "run 3: newer bucket within cooldown, no send");
	st = tr.state;
	CHECK(st.last_anomaly_bucket == t + HOUR, "run 3: bucket recorded anyway");

	/* run 4: a newer anomaly after the cooldown */
	ev.now = t + DAY + HOUR;
	ev.anomaly_bucket = t + DAY;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.send, "run 4: newer bucket after cooldown, send");
	st = tr.state;
	/* the delivery failed: the caller does not mark it notified */

	/* run 5: same bucket; the failed send means last_notified_at is old */
	ev.now = t + DAY + 2 * HOUR;
	alert_state_transition(&st, &ev, &tr);
	CHECK(!tr.send, "run 5: same bucket is not resent by the transition");
	st = tr.state;

	/* run 6: no anomaly: close */
	ev.matched = false;
	ev.now = t + DAY + 3 * HOUR;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_CLOSED && !tr.state.active &&
		  tr.state.closed_at == t + DAY + 3 * HOUR, "run 6: closed");
	st = tr.state;

	/* run 7: stays closed */
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_NONE && !tr.send && !tr.state.active, "run 7: closed and quiet");
	st = tr.state;

	/* run 8: anomaly again, cooldown (from the run-1 send) elapsed */
	ev.matched = true;
	ev.anomaly_bucket = t + DAY + 4 * HOUR;
	ev.now = t + DAY + 5 * HOUR;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_REOPENED && tr.send && tr.state.opened_at == ev.now &&
		  tr.state.closed_at == NONE, "run 8: reopened and sent");
	st = tr.state;
	alert_state_mark_notified(&st, ev.now);

	/* run 9: close and reopen quickly: within cooldown */
	ev.matched = false;
	ev.now += HOUR;
	alert_state_transition(&st, &ev, &tr);
	st = tr.state;
	ev.matched = true;
	ev.anomaly_bucket = ev.now;
	ev.now += HOUR;
	alert_state_transition(&st, &ev, &tr);
	CHECK(tr.event == ALERT_STATE_REOPENED && !tr.send, "run 9: flapping within cooldown is quiet");

	CHECK_STR(alert_state_event_name(ALERT_STATE_STILL_ACTIVE), "still_active", "event name still_active");
	CHECK_STR(alert_state_event_name(ALERT_STATE_NONE), "none", "event name none");
	CHECK_STR(alert_state_event_name((AlertStateEvent) 42), "unknown", "event name out of range");
}

/* The cooldown helper at extremes */
static void
test_cooldown(void)
{
	CHECK(alert_cooldown_elapsed(NONE, NOW, DAY), "never notified: elapsed");
	CHECK(alert_cooldown_elapsed(NOW, NOW, 0), "zero cooldown: elapsed");
	CHECK(alert_cooldown_elapsed(NOW, NOW, -5), "negative cooldown: elapsed");
	CHECK(!alert_cooldown_elapsed(NOW, NOW, 1), "1 us cooldown, same instant: not elapsed");
	CHECK(alert_cooldown_elapsed(NOW - 1, NOW, 1), "1 us cooldown after 1 us: elapsed");
	CHECK(alert_cooldown_elapsed(INT64_MIN + 1, INT64_MAX, INT64_MAX), "no overflow at extremes");
	CHECK(!alert_cooldown_elapsed(0, INT64_MAX - 1, INT64_MAX), "large cooldown not elapsed");
	CHECK(alert_cooldown_elapsed(NOW, NOW - 1, 0), "clock backwards with zero cooldown: elapsed");
}

/* ------------------------------------------------------------------ */
/* Backoff                                                            */
/* ------------------------------------------------------------------ */

/* Exact values and bounds of the backoff */
static void
test_backoff(void)
{
	static const double randoms[] = {0.0, 0.001, 0.25, 0.5, 0.75, 0.999};
	int			attempt;
	size_t		r;
	bool		in_bounds = true;
	bool		monotonic = true;

	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, -1) == SEC, "attempt 1, no jitter: base");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.0, -1) == 875000, "attempt 1, random 0: -12.5 %");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.999, -1) == 1124750, "attempt 1, random 0.999: +12.475 %");
	CHECK(delivery_backoff_us(2, SEC, HOUR, 0.5, -1) == 2 * SEC, "attempt 2: 2 x base");
	CHECK(delivery_backoff_us(3, SEC, HOUR, 0.5, -1) == 4 * SEC, "attempt 3: 4 x base");
	CHECK(delivery_backoff_us(5, 30 * SEC, HOUR, 0.5, -1) == 480 * SEC, "attempt 5: 16 x base");
	CHECK(delivery_backoff_us(12, SEC, HOUR, 0.5, -1) == 2048 * SEC, "attempt 12: 2048 s < cap");
	CHECK(delivery_backoff_us(13, SEC, HOUR, 0.5, -1) == HOUR, "attempt 13: capped at 1 h");
	CHECK(delivery_backoff_us(13, SEC, HOUR, 0.0, -1) == 3150 * SEC, "capped, random 0: 0.875 cap");
	CHECK(delivery_backoff_us(13, SEC, HOUR, 0.999, -1) == (int64_t) 4049100 * 1000,
		  "capped, random 0.999: 1.12475 cap");
	CHECK(delivery_backoff_us(INT_MAX, SEC, HOUR, 0.5, -1) == HOUR, "attempt INT_MAX: cap");
	CHECK(delivery_backoff_us(0, SEC, HOUR, 0.5, -1) == SEC, "attempt 0 treated as 1");
	CHECK(delivery_backoff_us(-7, SEC, HOUR, 0.5, -1) == SEC, "negative attempt treated as 1");
	CHECK(delivery_backoff_us(3, 0, HOUR, 0.5, -1) == 0, "base 0: no wait");
	CHECK(delivery_backoff_us(3, -SEC, HOUR, 0.5, -1) == 0, "negative base: no wait");
	CHECK(delivery_backoff_us(1, 2 * HOUR, HOUR, 0.5, -1) == HOUR, "base above cap: cap");
	CHECK(delivery_backoff_us(3, SEC, 0, 0.5, -1) == 0, "cap 0: no wait");
	CHECK(delivery_backoff_us(3, SEC, -HOUR, 0.5, -1) == 0, "negative cap: no wait");
	CHECK(delivery_backoff_us(1, SEC, HOUR, NAN, -1) == 875000, "random NaN treated as 0");
	CHECK(delivery_backoff_us(1, SEC, HOUR, -3.0, -1) == 875000, "random < 0 treated as 0");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 1.0, -1) == 1125000, "random 1.0 clamped just below 1");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 7.0, -1) == 1125000, "random > 1 clamped");
	CHECK(delivery_backoff_us(100, INT64_MAX, INT64_MAX, 0.999, -1) == INT64_MAX,
		  "INT64_MAX cap with jitter saturates");
	CHECK(delivery_backoff_us(62, 1, INT64_MAX, 0.5, -1) == (INT64_C(1) << 61), "2^61 without overflow");
	CHECK(delivery_backoff_us(64, 1, INT64_MAX, 0.5, -1) > (INT64_C(1) << 61), "2^63 caps at INT64_MAX");

	/* Retry-After */
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, 2 * SEC) == 2 * SEC, "Retry-After longer than backoff wins");
	CHECK(delivery_backoff_us(3, SEC, HOUR, 0.5, SEC / 2) == 4 * SEC, "Retry-After shorter than backoff: backoff");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, 0) == SEC, "Retry-After 0: backoff");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, -1) == SEC, "no Retry-After (-1)");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, 2 * HOUR) == ALERT_RETRY_AFTER_CAP_US,
		  "Retry-After 2 h capped at 1 h");
	CHECK(delivery_backoff_us(1, SEC, HOUR, 0.5, INT64_MAX) == ALERT_RETRY_AFTER_CAP_US,
		  "huge Retry-After capped at 1 h");
	CHECK(delivery_backoff_us(20, SEC, 4 * HOUR, 0.5, 2 * HOUR) == 4 * HOUR,
		  "backoff above the Retry-After cap is kept");
	CHECK(delivery_backoff_us(1, 0, 0, 0.5, 30 * SEC) == 30 * SEC, "Retry-After with zero backoff");

	/* bounds over many attempts and random values */
	for (attempt = 1; attempt <= 40; attempt++)
	{
		int64_t		nominal = SEC;
		int64_t		prev = -1;
		int			k;

		for (k = 1; k < attempt && nominal < 15 * MIN; k++)
			nominal *= 2;
		if (nominal > 15 * MIN)
			nominal = 15 * MIN;
		for (r = 0; r < sizeof(randoms) / sizeof(randoms[0]); r++)
		{
			int64_t		d = delivery_backoff_us(attempt, SEC, 15 * MIN, randoms[r], -1);

			if (d < (int64_t) (nominal * 0.875) || d > (int64_t) (nominal * 1.125))
				in_bounds = false;
			if (d < prev)
				monotonic = false;
			prev = d;
		}
	}
	CHECK(in_bounds, "backoff within +-12.5 % of min(cap, base * 2^(n-1)) for n = 1..40");
	CHECK(monotonic, "backoff grows with random01");
}

/* ------------------------------------------------------------------ */
/* Retry-After                                                        */
/* ------------------------------------------------------------------ */

typedef struct RetryAfterCase
{
	const char *value;
	const char *now;
	int64_t		expect;			/* microseconds, -1 unparseable */
} RetryAfterCase;

static const RetryAfterCase retry_after_cases[] = {
	/* delta-seconds */
	{"120", "2026-01-01 00:00:00", 120 * SEC},
	{"0", "2026-01-01 00:00:00", 0},
	{"007", "2026-01-01 00:00:00", 7 * SEC},
	{"  5  ", "2026-01-01 00:00:00", 5 * SEC},
	{"\t3600", "2026-01-01 00:00:00", 3600 * SEC},
	{"86400", "2026-01-01 00:00:00", 86400 * SEC},
	{"-5", "2026-01-01 00:00:00", -1},
	{"+5", "2026-01-01 00:00:00", -1},
	{"1.5", "2026-01-01 00:00:00", -1},
	{"5s", "2026-01-01 00:00:00", -1},
	{"5 6", "2026-01-01 00:00:00", -1},
	{"0x10", "2026-01-01 00:00:00", -1},
	{"", "2026-01-01 00:00:00", -1},
	{"   ", "2026-01-01 00:00:00", -1},
	{"soon", "2026-01-01 00:00:00", -1},
	/* the three HTTP-date forms of RFC 9110 */
	{"Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06 08:49:00", 37 * SEC},
	{"Sunday, 06-Nov-94 08:49:37 GMT", "1994-11-06 08:49:00", 37 * SEC},
	/* two-digit years: at most 50 years ahead of now, else the century before */
	{"Friday, 02-Jan-26 00:00:00 GMT", "2026-01-01 00:00:00", DAY},
	{"Saturday, 01-Jan-77 00:00:00 GMT", "2026-01-01 00:00:00", 0},
	{"Sun Nov  6 08:49:37 1994", "1994-11-06 08:49:00", 37 * SEC},
	{"Sun Nov 6 08:49:37 1994", "1994-11-06 08:49:00", 37 * SEC},
	{"sun, 06 nov 1994 08:49:37 gmt", "1994-11-06 08:49:00", 37 * SEC},
	{"  Sun, 06 Nov 1994 08:49:37 GMT  ", "1994-11-06 08:49:00", 37 * SEC},
	{"Sun, 06 Nov 1994 08:49:37 UTC", "1994-11-06 08:49:00", 37 * SEC},
	{"Mon, 07 Nov 1994 08:49:00 GMT", "1994-11-06 08:49:00", DAY},
	{"Sun, 06 Nov 1994 08:00:00 GMT", "1994-11-06 08:49:00", 0},
	{"Thu, 01 Jan 1970 00:00:00 GMT", "2026-01-01 00:00:00", 0},
	{"Tue, 10 Mar 2026 12:00:30 GMT", "2026-03-10 12:00:00", 30 * SEC},
	{"Thu, 01 Jan 2026 00:00:00 GMT", "2025-12-31 23:59:59", SEC},
	{"Wed, 31 Dec 2025 23:59:60 GMT", "2025-12-31 23:59:59", SEC},
	{"Thu, 29 Feb 2024 00:00:00 GMT", "2024-02-28 00:00:00", DAY},
	{"Thursday, 01-Jan-26 00:01:00 GMT", "2026-01-01 00:00:00", MIN},
	{"Wednesday, 01-Jan-76 00:00:00 GMT", "2026-01-01 00:00:00", INT64_C(18262) * DAY},
	{"Friday, 01-Jan-77 00:00:00 GMT", "2026-01-01 00:00:00", 0},
	{"Thu Jan  1 00:00:10 2026", "2026-01-01 00:00:00", 10 * SEC},
	/* malformed dates */
	{"Sun, 06 Nov 1994 08:49:37", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 1994 08:49:37 PST", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 1994 08:49:37 GMT junk", "1994-11-06 08:49:00", -1},
	{"Sun, 31 Feb 1994 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Wed, 29 Feb 2023 00:00:00 GMT", "2023-01-01 00:00:00", -1},
	{"Mon, 29 Feb 2100 00:00:00 GMT", "2023-01-01 00:00:00", -1},
	{"Sun, 00 Nov 1994 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Foo 1994 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 1994 24:00:00 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 1994 08:60:00 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 1994 08:49:61 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 94 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 Nov 19945 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 006 Nov 1994 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun,06 Nov 1994 08:49:37GMT", "1994-11-06 08:49:00", -1},
	{"Sun, 06 November 1994 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Funday, 06-Nov-94 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sunday, 06-Nov-9 08:49:37 GMT", "1994-11-06 08:49:00", -1},
	{"Sun Nov  6 08:49:37", "1994-11-06 08:49:00", -1},
	{"Sun Nov  6 08:49 1994", "1994-11-06 08:49:00", -1},
	{"Sun", "1994-11-06 08:49:00", -1},
	{"Sun,", "1994-11-06 08:49:00", -1},
	{",", "1994-11-06 08:49:00", -1},
	{"2026-01-01T00:00:00Z", "2026-01-01 00:00:00", -1},
};

/* Every Retry-After case, plus big numbers */
static void
test_retry_after(void)
{
	size_t		i;
	int64_t		v;
	char	   *huge;

	for (i = 0; i < sizeof(retry_after_cases) / sizeof(retry_after_cases[0]); i++)
	{
		const RetryAfterCase *c = &retry_after_cases[i];
		char		what[160];
		int64_t		got = parse_retry_after(c->value, ts(c->now));

		snprintf(what, sizeof(what), "Retry-After \"%s\" at %s", c->value, c->now);
		CHECK(got == c->expect, what);
		if (got != c->expect)
			printf("#   got %lld, expected %lld\n", (long long) got, (long long) c->expect);
	}

	v = parse_retry_after("99999999999999999999999999", NOW);
	CHECK(v > 0 && v <= INT64_MAX, "enormous delta-seconds saturates, positive");
	v = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", INT64_MIN + 1);
	CHECK(v == INT64_MAX, "date far after a very old now saturates");
	v = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", NOW);
	CHECK(v > 0, "year 9999");

	huge = core_alloc(1 << 20);
	memset(huge, '9', (1 << 20) - 1);
	CHECK(parse_retry_after(huge, NOW) > 0, "1 MB of digits does not crash");
	memset(huge, 'a', (1 << 20) - 1);
	CHECK(parse_retry_after(huge, NOW) == -1, "1 MB of letters is garbage");
	memset(huge, ',', (1 << 20) - 1);
	CHECK(parse_retry_after(huge, NOW) == -1, "1 MB of commas is garbage");
	core_free(huge);
}

/* ------------------------------------------------------------------ */
/* HTTP status classification                                         */
/* ------------------------------------------------------------------ */

/* Every class of status */
static void
test_classify(void)
{
	static const struct
	{
		long		status;
		bool		transport;
		DeliveryOutcome expect;
	}			v[] = {
		{200, false, DELIVERY_SENT}, {201, false, DELIVERY_SENT}, {202, false, DELIVERY_SENT},
		{204, false, DELIVERY_SENT}, {299, false, DELIVERY_SENT},
		{408, false, DELIVERY_RETRY}, {429, false, DELIVERY_RETRY}, {500, false, DELIVERY_RETRY},
		{502, false, DELIVERY_RETRY}, {503, false, DELIVERY_RETRY}, {504, false, DELIVERY_RETRY},
		{599, false, DELIVERY_RETRY},
		{100, false, DELIVERY_PERMANENT}, {101, false, DELIVERY_PERMANENT},
		{199, false, DELIVERY_PERMANENT}, {300, false, DELIVERY_PERMANENT},
		{301, false, DELIVERY_PERMANENT}, {302, false, DELIVERY_PERMANENT},
		{304, false, DELIVERY_PERMANENT}, {307, false, DELIVERY_PERMANENT},
		{308, false, DELIVERY_PERMANENT}, {400, false, DELIVERY_PERMANENT},
		{401, false, DELIVERY_PERMANENT}, {403, false, DELIVERY_PERMANENT},
		{404, false, DELIVERY_PERMANENT}, {409, false, DELIVERY_PERMANENT},
		{410, false, DELIVERY_PERMANENT}, {413, false, DELIVERY_PERMANENT},
		{422, false, DELIVERY_PERMANENT}, {428, false, DELIVERY_PERMANENT},
		{431, false, DELIVERY_PERMANENT}, {499, false, DELIVERY_PERMANENT},
		{600, false, DELIVERY_PERMANENT}, {999, false, DELIVERY_PERMANENT},
		{0, false, DELIVERY_RETRY}, {-1, false, DELIVERY_RETRY},
		{0, true, DELIVERY_RETRY}, {200, true, DELIVERY_RETRY}, {404, true, DELIVERY_RETRY},
	};
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		char		what[96];

		snprintf(what, sizeof(what), "status %ld%s -> %s", v[i].status,
				 v[i].transport ? " with transport error" : "",
				 delivery_outcome_name(v[i].expect));
		CHECK(classify_http(v[i].status, v[i].transport) == v[i].expect, what);
	}
	CHECK_STR(delivery_outcome_name(DELIVERY_PERMANENT), "permanent", "outcome name");
	CHECK_STR(delivery_outcome_name((DeliveryOutcome) 9), "unknown", "outcome name out of range");
}

/* ------------------------------------------------------------------ */
/* Cutting payload text on a UTF-8 character boundary                 */
/* ------------------------------------------------------------------ */

/* Prefixes that fit, and cuts that would split 2-, 3- and 4-byte characters */
static void
test_utf8_prefix(void)
{
	/* "é" is 2 bytes, "€" 3, "𝄞" 4 */
	const char *mixed = "ab\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e!";
	char		big[1200];
	size_t		i;
	size_t		n;

	CHECK(alert_utf8_prefix("", 0) == 0, "empty string");
	CHECK(alert_utf8_prefix("abc", 0) == 0, "nothing fits in 0 bytes");
	CHECK(alert_utf8_prefix("abc", 3) == 3, "a string that fits exactly is kept");
	CHECK(alert_utf8_prefix("abc", 1000) == 3, "a short string is kept");
	CHECK(alert_utf8_prefix("abcdef", 4) == 4, "ASCII is cut where asked");
	CHECK(alert_utf8_prefix(mixed, 2) == 2, "cut before a 2-byte character");
	CHECK(alert_utf8_prefix(mixed, 3) == 2, "not inside a 2-byte character");
	CHECK(alert_utf8_prefix(mixed, 4) == 4, "after a 2-byte character");
	CHECK(alert_utf8_prefix(mixed, 5) == 4, "not after the first byte of a 3-byte character");
	CHECK(alert_utf8_prefix(mixed, 6) == 4, "not after the second byte of a 3-byte character");
	CHECK(alert_utf8_prefix(mixed, 7) == 7, "after a 3-byte character");
	CHECK(alert_utf8_prefix(mixed, 8) == 7, "4-byte character: 1 of 4 bytes");
	CHECK(alert_utf8_prefix(mixed, 9) == 7, "4-byte character: 2 of 4 bytes");
	CHECK(alert_utf8_prefix(mixed, 10) == 7, "4-byte character: 3 of 4 bytes");
	CHECK(alert_utf8_prefix(mixed, 11) == 11, "after a 4-byte character");
	CHECK(alert_utf8_prefix(mixed, 12) == 12, "the whole string");
	CHECK(alert_utf8_prefix("ab\x80\x80\x80\x80\x80z", 6) == 6,
		  "invalid input (a run of continuation bytes) is cut where asked");

	/* the PagerDuty case: 999 ASCII bytes then "é" straddles byte 1000 */
	memset(big, 'x', 999);
	memcpy(big + 999, "\xc3\xa9 tail", 8);
	big[1007] = '\0';
	CHECK(alert_utf8_prefix(big, 1000) == 999, "1000-byte summary: the split character is dropped");
	/* every cut of a string of 3-byte characters lands on a boundary */
	for (i = 0; i < 300; i++)
		memcpy(big + 3 * i, "\xe2\x82\xac", 3);
	big[900] = '\0';
	for (n = 0, i = 0; i <= 900; i++)
		n += alert_utf8_prefix(big, i) == i - i % 3;
	CHECK(n == 901, "every cut of 3-byte characters is on a character boundary");
}

/* ------------------------------------------------------------------ */
/* Redacting a secret from stored texts                               */
/* ------------------------------------------------------------------ */

/* Redact and compare with what is expected, freeing the result */
static void
check_redact(const char *text, const char *secret, const char *expect, const char *what)
{
	char	   *got = alert_redact_secret(text, secret);

	CHECK(strcmp(got, expect) == 0, what);
	if (strcmp(got, expect) != 0)
		printf("#   got \"%s\"\n#  want \"%s\"\n", got, expect);
	core_free(got);
}

/*
 * The spellings below were made with Python's json.dumps,
 * urllib.parse.quote(safe='') and base64, not with the code under test
 */
static void
test_redact(void)
{
	/* Zq7"Wx\9/Kp é+Lm=T: a quote, a backslash, a slash, a blank, a 2-byte é */
	const char *secret = "Zq7\"Wx\\9/Kp \xc3\xa9+Lm=T";
	char		big[4200];
	char		text[300];
	size_t		i;

	check_redact("no secret here", NULL, "no secret here", "no secret: the text is kept");
	check_redact("no secret here", "", "no secret here", "an empty secret: the text is kept");
	check_redact("Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server", secret,
				 "Failed to connect to 127.0.0.1 port 9 after 0 ms: Couldn't connect to server",
				 "a text without the secret is kept as it is");
	check_redact("token Zq7\"Wx\\9/Kp \xc3\xa9+Lm=T!", secret, "token ***!", "the secret as written");
	check_redact("Zq7\"Wx\\9/Kp \xc3\xa9+Lm=TZq7\"Wx\\9/Kp \xc3\xa9+Lm=T", secret, "***",
				 "the secret twice in a row: one ***");
	check_redact("{\"h\": \"Zq7\\\"Wx\\\\9/Kp \\u00e9+Lm=T\"}", secret, "{\"h\": \"***\"}",
				 "JSON-escaped with \\u escapes (json.dumps)");
	check_redact("{\"h\": \"Zq7\\\"Wx\\\\9/Kp \xc3\xa9+Lm=T\"}", secret, "{\"h\": \"***\"}",
				 "JSON-escaped, UTF-8 kept (ensure_ascii=False)");
	check_redact("{\"h\": \"Zq7\\\"Wx\\\\9\\/Kp \\u00e9+Lm=T\"}", secret, "{\"h\": \"***\"}",
				 "JSON-escaped with \\/");
	check_redact("GET /x?t=Zq7%22Wx%5C9%2FKp%20%C3%A9%2BLm%3DT&y=1", secret, "GET /x?t=***&y=1",
				 "percent-encoded, upper-case hex");
	check_redact("GET /x?t=Zq7%22Wx%5c9%2fKp%20%c3%a9%2bLm%3dT&y=1", secret, "GET /x?t=***&y=1",
				 "percent-encoded, lower-case hex");
	check_redact("Authorization: Basic dXNlcjpacTciV3hcOS9LcCDDqStMbT1U", secret,
				 "Authorization: Basic dXNlcjp***",
				 "base64 of 'user:' + secret (the secret starts 2 bytes into a group)");
	check_redact("b64 YWJacTciV3hcOS9LcCDDqStMbT1U", secret, "b64 YWJ***",
				 "base64 (URL alphabet) of 'ab' + secret");
	check_redact("b64 WnE3Ild4XDkvS3Agw6krTG09VA==.", secret, "b64 ***==.",
				 "base64 of the secret");
	check_redact("{\"echo\": \"Zq7\\\"Wx\\\\9/K", secret, "{\"echo\": \"***",
				 "a text cut in the middle of the JSON-escaped secret");
	check_redact("cut: Zq7\"Wx", secret, "cut: ***", "a text cut 6 bytes into the secret");
	check_redact("pieces Zq7\"Wx and Kp \xc3\xa9+Lm here", secret, "pieces *** and *** here",
				 "pieces of the secret, each at least 6 bytes");
	check_redact("only Lm=T here", secret, "only Lm=T here",
				 "a stretch shorter than 6 bytes of a longer secret is kept");
	check_redact("xabcx abc ab", "abc", "x***x *** ab", "a secret shorter than 6 bytes is looked for whole");

	/* a 4096-byte secret, a 1 kB text cut 1000 bytes into it */
	for (i = 0; i < 4096; i++)
		big[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"[(i * 7 + i / 62) % 62];
	big[4096] = '\0';
	memcpy(text, "x=", 2);
	memcpy(text + 2, big + 1000, 200);
	text[202] = '\0';
	check_redact(text, big, "x=***", "200 bytes from the middle of a 4096-byte secret");
}

/* Run every test group and print the TAP plan */
/* GraphQL answers (Linear) and Jira's transitions, as those services send them */
static void
test_tracker_answers(void)
{
	char		msg[128];
	char		code[64];
	char		id[64];
	char		offered[128];
	bool		rl;

	CHECK(alert_graphql_ok("{\"data\": {\"issueCreate\": {\"success\": true, \"issue\": {\"id\": \"a-1\", \"identifier\": \"ENG-1\"}}}}",
						   msg, sizeof(msg), code, sizeof(code), &rl) && !rl, "a created issue is a success");
	CHECK(!alert_graphql_ok("{\"data\": {\"issueCreate\": {\"success\": false, \"issue\": null}}}",
							msg, sizeof(msg), code, sizeof(code), &rl) && !rl, "success false is a failure");
	CHECK(!alert_graphql_ok("{\"errors\": [{\"message\": \"Argument Validation Error\", \"extensions\": {\"code\": \"INVALID_INPUT\", \"userError\": true}}], \"data\": null}",
							msg, sizeof(msg), code, sizeof(code), &rl), "errors with HTTP 200 are a failure");
	CHECK_STR(msg, "Argument Validation Error", "... the first error's message");
	CHECK_STR(code, "INVALID_INPUT", "... and its code");
	CHECK(!rl, "... not a rate limit");
	CHECK(!alert_graphql_ok("{\"errors\":[{\"message\":\"Rate limit exceeded\",\"extensions\":{\"code\":\"RATELIMITED\"}}]}",
							msg, sizeof(msg), code, sizeof(code), &rl) && rl, "RATELIMITED is a rate limit");
	CHECK(alert_graphql_ok("{\"errors\": [], \"data\": {\"issues\": {\"nodes\": []}}}", msg, sizeof(msg), code, sizeof(code), &rl),
		  "an empty errors array and data is a success");
	CHECK(!alert_graphql_ok("<html>Bad gateway</html>", msg, sizeof(msg), code, sizeof(code), &rl), "not JSON: a failure");
	CHECK(!alert_graphql_ok("{\"data\": {\"x\": 1}", msg, sizeof(msg), code, sizeof(code), &rl), "cut JSON: a failure");
	CHECK(!alert_graphql_ok("{\"data\": {\"a\": {\"errors\": [1]}}, \"extensions\": {}}", msg, sizeof(msg), code, sizeof(code), &rl) == false,
		  "a nested member called errors is not the answer's errors");
	CHECK(!alert_graphql_ok(NULL, msg, sizeof(msg), code, sizeof(code), &rl), "no answer: a failure");

	CHECK(alert_tracker_id_valid("2c8e3f0a-1b2c-4d5e-8f90-123456789abc"), "a UUID is an id");
	CHECK(alert_tracker_id_valid("10001"), "a number is an id");
	CHECK(!alert_tracker_id_valid("a/b") && !alert_tracker_id_valid("") && !alert_tracker_id_valid("a b"),
		  "no slash, blank or empty id");

	{
		const char *t = "{\"expand\": \"transitions\", \"transitions\": ["
			"{\"id\": \"11\", \"name\": \"To Do\", \"to\": {\"id\": \"10000\", \"name\": \"Done\"}},"
			"{\"id\": \"31\", \"name\": \"Done\", \"to\": {\"name\": \"Done\", \"id\": \"10002\"}, \"hasScreen\": false}]}";

		CHECK(alert_jira_transition_id(t, "done", id, sizeof(id), offered, sizeof(offered)), "found by name, any case");
		CHECK_STR(id, "31", "... the transition's id, not its target status's");
		CHECK(!alert_jira_transition_id(t, "Close", id, sizeof(id), offered, sizeof(offered)), "a name not offered");
		CHECK_STR(offered, "\"To Do\", \"Done\"", "... the names that are");
		CHECK(!alert_jira_transition_id("{\"errorMessages\": [\"no\"]}", "Done", id, sizeof(id), offered, sizeof(offered)),
			  "no transitions member");
	}
}

int
main(void)
{
	test_matching();
	test_deltas();
	test_state_cases();
	test_state_sequence();
	test_cooldown();
	test_backoff();
	test_retry_after();
	test_classify();
	test_utf8_prefix();
	test_redact();
	test_tracker_answers();
	return unit_done();
}
