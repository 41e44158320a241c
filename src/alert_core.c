/*-------------------------------------------------------------------------
 *
 * alert_core.c
 *	  Rule matching, rule-state/cooldown transitions, delivery retry
 *	  backoff, Retry-After parsing and HTTP status classification.
 *
 *	  Everything here is a pure function of its arguments: callers pass
 *	  "now" and random numbers in.  The behaviour follows section 5 of
 *	  tripl-behaviour.md; alert_core.h documents each decision.
 *
 *-------------------------------------------------------------------------
 */
#include "alert_core.h"
#include "grid.h"

#include <math.h>
#include <string.h>

/* Match a signal against a rule, reporting the first gate that failed */
AlertMatchResult
alert_rule_match(const AlertRule *rule, const AlertSignal *signal)
{
	double		delta;
	double		expected_size;

	if (!rule->all_metrics)
	{
		bool		found = false;
		int			i;

		if (rule->metric_ids != NULL)
		{
			for (i = 0; i < rule->n_metric_ids && !found; i++)
				found = (rule->metric_ids[i] == signal->metric_id);
		}
		if (!found)
			return ALERT_SKIP_METRIC;
	}

	if (signal->direction > 0 ? !rule->notify_on_spike :
		signal->direction < 0 ? !rule->notify_on_drop : true)
		return ALERT_SKIP_DIRECTION;

	if (!isfinite(signal->actual) || !isfinite(signal->expected))
		return ALERT_SKIP_VALUE;

	expected_size = fabs(signal->expected);
	delta = fabs(signal->actual - signal->expected);

	if (!(expected_size >= rule->min_expected))
		return ALERT_SKIP_MIN_EXPECTED;
	if (!(delta >= rule->min_absolute_delta))
		return ALERT_SKIP_ABSOLUTE_DELTA;
	if (signal->expected != 0.0)
	{
		if (!(delta / expected_size * 100.0 >= rule->min_percent_delta))
			return ALERT_SKIP_PERCENT_DELTA;
	}
	else if (!(delta > 0.0))
		return ALERT_SKIP_NO_CHANGE;
	return ALERT_MATCH;
}

/* Short lower-case name of a match result */
const char *
alert_match_result_name(AlertMatchResult r)
{
	switch (r)
	{
		case ALERT_MATCH:
			return "match";
		case ALERT_SKIP_METRIC:
			return "metric";
		case ALERT_SKIP_DIRECTION:
			return "direction";
		case ALERT_SKIP_VALUE:
			return "value";
		case ALERT_SKIP_MIN_EXPECTED:
			return "min_expected";
		case ALERT_SKIP_ABSOLUTE_DELTA:
			return "min_absolute_delta";
		case ALERT_SKIP_PERCENT_DELTA:
			return "min_percent_delta";
		case ALERT_SKIP_NO_CHANGE:
			return "no_change";
	}
	return "unknown";
}

/* Signed absolute and percent deltas; percent is NAN when expected == 0 */
void
alert_deltas(double actual, double expected, double *absolute_delta,
			 double *percent_delta)
{
	double		delta = actual - expected;

	*absolute_delta = delta;
	*percent_delta = (expected != 0.0) ? delta / fabs(expected) * 100.0 : NAN;
}

/* Has the cooldown elapsed at now since last_notified_at (none: yes)? */
bool
alert_cooldown_elapsed(int64_t last_notified_at, int64_t now,
					   int64_t cooldown_us)
{
	if (last_notified_at == ALERT_TIME_NONE || cooldown_us <= 0)
		return true;
	if (now < last_notified_at)
		return false;			/* clock went backwards: not yet */
	/* now - last_notified_at would overflow: certainly elapsed */
	if (last_notified_at < 0 && now > INT64_MAX + last_notified_at)
		return true;
	return now - last_notified_at >= cooldown_us;
}

/* Compute the next rule x metric state and whether to send */
void
alert_state_transition(const AlertRuleState *prev, const AlertEvaluation *ev,
					   AlertTransition *out)
{
	AlertRuleState st = *prev;
	bool		send = false;

	memset(out, 0, sizeof(*out));

	if (!prev->exists)
	{
		if (!ev->matched)
		{
			out->state = st;
			out->event = ALERT_STATE_NONE;
			return;
		}
		st.exists = true;
		st.active = true;
		st.opened_at = ev->now;
		st.closed_at = ALERT_TIME_NONE;
		st.last_notified_at = ALERT_TIME_NONE;
		st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_CREATED;
		send = true;
	}
	else if (!prev->active)
	{
		if (!ev->matched)
		{
			out->state = st;
			out->event = ALERT_STATE_NONE;
			return;
		}
		st.active = true;
		st.opened_at = ev->now;
		st.closed_at = ALERT_TIME_NONE;
		if (prev->last_anomaly_bucket == ALERT_TIME_NONE ||
			ev->anomaly_bucket > prev->last_anomaly_bucket)
			st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_REOPENED;
		send = ev->is_digest ||
			alert_cooldown_elapsed(prev->last_notified_at, ev->now, ev->cooldown_us);
	}
	else if (ev->matched)
	{
		bool		newer = (prev->last_anomaly_bucket == ALERT_TIME_NONE ||
							 ev->anomaly_bucket > prev->last_anomaly_bucket);

		if (newer)
			st.last_anomaly_bucket = ev->anomaly_bucket;
		out->event = ALERT_STATE_STILL_ACTIVE;
		if (prev->last_notified_at == ALERT_TIME_NONE)
			send = true;
		else
			send = newer &&
				(ev->is_digest ||
				 alert_cooldown_elapsed(prev->last_notified_at, ev->now, ev->cooldown_us));
	}
	else
	{
		st.active = false;
		st.closed_at = ev->now;
		out->event = ALERT_STATE_CLOSED;
		send = false;
	}

	out->state = st;
	if (ev->muted)
	{
		out->muted_send = send;
		out->send = false;
	}
	else
		out->send = send;
}

/* Record that a message for this state was sent at sent_at */
void
alert_state_mark_notified(AlertRuleState *state, int64_t sent_at)
{
	state->last_notified_at = sent_at;
}

/* Short lower-case name of a state event */
const char *
alert_state_event_name(AlertStateEvent e)
{
	switch (e)
	{
		case ALERT_STATE_NONE:
			return "none";
		case ALERT_STATE_CREATED:
			return "created";
		case ALERT_STATE_REOPENED:
			return "reopened";
		case ALERT_STATE_STILL_ACTIVE:
			return "still_active";
		case ALERT_STATE_CLOSED:
			return "closed";
	}
	return "unknown";
}

/* Exponential backoff with jitter, honouring Retry-After up to its cap */
int64_t
delivery_backoff_us(int attempt, int64_t base_us, int64_t cap_us,
					double random01, int64_t retry_after_us)
{
	int64_t		delay;
	int64_t		result;
	double		factor;
	double		scaled;
	int			i;

	if (attempt < 1)
		attempt = 1;
	if (base_us < 0)
		base_us = 0;
	if (cap_us < 0)
		cap_us = 0;

	/* min(cap, base * 2^(attempt-1)) without overflow */
	delay = base_us < cap_us ? base_us : cap_us;
	for (i = 1; i < attempt && i < 64 && delay < cap_us; i++)
		delay = (delay > cap_us / 2) ? cap_us : delay * 2;

	if (!(random01 >= 0.0))		/* also NaN */
		random01 = 0.0;
	if (random01 >= 1.0)
		random01 = 0.9999999999;
	factor = 1.0 + ALERT_BACKOFF_JITTER * (2.0 * random01 - 1.0);
	scaled = (double) delay * factor + 0.5;
	if (scaled >= 9223372036854775807.0)
		result = INT64_MAX;
	else
		result = (int64_t) scaled;

	if (retry_after_us >= 0)
	{
		int64_t		ra = retry_after_us < ALERT_RETRY_AFTER_CAP_US ?
			retry_after_us : ALERT_RETRY_AFTER_CAP_US;

		if (ra > result)
			result = ra;
	}
	return result;
}

/* Days in a month of the proleptic Gregorian calendar */
static int
ra_days_in_month(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* ASCII lower-case */
static char
ra_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Skip spaces and tabs */
static const char *
ra_skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Read a run of letters into buf (lower-cased, at most 9); returns length */
static int
ra_read_word(const char **pp, char *buf)
{
	const char *p = *pp;
	int			n = 0;

	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
	{
		if (n < 10)
			buf[n] = ra_lower(*p);
		n++;
		p++;
	}
	buf[n < 10 ? n : 10] = '\0';
	*pp = p;
	return n;
}

/* Read min..max decimal digits; false if the count is outside that */
static bool
ra_read_digits(const char **pp, int min, int max, int *value)
{
	const char *p = *pp;
	int			n = 0;
	int			v = 0;

	while (*p >= '0' && *p <= '9')
	{
		if (n < max)
			v = v * 10 + (*p - '0');
		n++;
		p++;
	}
	if (n < min || n > max)
		return false;
	*value = v;
	*pp = p;
	return true;
}

/* Month number of a 3-letter lower-case name, or 0 */
static int
ra_month(const char *w)
{
	static const char *const names[12] = {
		"jan", "feb", "mar", "apr", "may", "jun",
		"jul", "aug", "sep", "oct", "nov", "dec"
	};
	int			i;

	for (i = 0; i < 12; i++)
		if (strcmp(w, names[i]) == 0)
			return i + 1;
	return 0;
}

/* Is w a weekday name, short ("sun") or long ("sunday")? */
static bool
ra_is_weekday(const char *w)
{
	static const char *const names[7][2] = {
		{"sun", "sunday"}, {"mon", "monday"}, {"tue", "tuesday"},
		{"wed", "wednesday"}, {"thu", "thursday"}, {"fri", "friday"},
		{"sat", "saturday"}
	};
	int			i;

	for (i = 0; i < 7; i++)
		if (strcmp(w, names[i][0]) == 0 || strcmp(w, names[i][1]) == 0)
			return true;
	return false;
}

/* Read "HH:MM:SS" */
static bool
ra_read_time(const char **pp, int *h, int *mi, int *s)
{
	const char *p = *pp;

	if (!ra_read_digits(&p, 1, 2, h) || *p++ != ':' ||
		!ra_read_digits(&p, 1, 2, mi) || *p++ != ':' ||
		!ra_read_digits(&p, 1, 2, s))
		return false;
	if (*h > 23 || *mi > 59 || *s > 60)
		return false;
	*pp = p;
	return true;
}

/* Read the "GMT" zone (also accepting "UTC"), any case */
static bool
ra_read_zone(const char **pp)
{
	char		w[11];

	if (ra_read_word(pp, w) != 3)
		return false;
	return strcmp(w, "gmt") == 0 || strcmp(w, "utc") == 0;
}

/*
 * Parse an HTTP-date (RFC 9110 5.6.7) into microseconds since the epoch.
 *   IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime:     Sun Nov  6 08:49:37 1994
 * The weekday must be a weekday name but is not cross-checked.
 */
static bool
ra_parse_http_date(const char *p, int64_t now_us, int64_t *out)
{
	char		w[11];
	int			day = 0,
				month = 0,
				year = 0,
				h = 0,
				mi = 0,
				s = 0;

	if (ra_read_word(&p, w) == 0 || !ra_is_weekday(w))
		return false;
	if (*p == ',')
	{
		p = ra_skip_blanks(p + 1);
		if (!ra_read_digits(&p, 1, 2, &day))
			return false;
		if (*p == '-')
		{
			/* RFC 850: dd-Mon-yy */
			p++;
			if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0 || *p++ != '-')
				return false;
			if (!ra_read_digits(&p, 4, 4, &year))
			{
				/* two-digit year: RFC 9110 says not more than 50 years ahead */
				int64_t		now_year;
				int			now_month;
				int			now_day;
				int64_t		y;

				grid_civil_from_days(grid_floor_div(now_us, CORE_USECS_PER_DAY),
									 &now_year, &now_month, &now_day);

				if (!ra_read_digits(&p, 2, 2, &year))
					return false;
				y = now_year - now_year % 100 + year;
				if (y > now_year + 50)
					y -= 100;
				if (y < 0 || y > 9999)
					return false;
				year = (int) y;
			}
		}
		else
		{
			/* IMF-fixdate: dd Mon yyyy */
			if (*p != ' ' && *p != '\t')
				return false;
			p = ra_skip_blanks(p);
			if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0)
				return false;
			if (*p != ' ' && *p != '\t')
				return false;
			p = ra_skip_blanks(p);
			if (!ra_read_digits(&p, 4, 4, &year))
				return false;
		}
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_time(&p, &h, &mi, &s))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_zone(&p))
			return false;
	}
	else
	{
		/* asctime: Mon dd HH:MM:SS yyyy, day possibly space-padded */
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (ra_read_word(&p, w) != 3 || (month = ra_month(w)) == 0)
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_digits(&p, 1, 2, &day))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_time(&p, &h, &mi, &s))
			return false;
		if (*p != ' ' && *p != '\t')
			return false;
		p = ra_skip_blanks(p);
		if (!ra_read_digits(&p, 4, 4, &year))
			return false;
	}
	p = ra_skip_blanks(p);
	if (*p != '\0')
		return false;
	if (day < 1 || day > ra_days_in_month(year, month))
		return false;

	*out = grid_days_from_civil(year, month, day) * CORE_USECS_PER_DAY +
		((int64_t) h * 3600 + mi * 60 + s) * CORE_USECS_PER_SEC;
	return true;
}

/* Delay requested by a Retry-After value, or -1 if unparseable */
int64_t
parse_retry_after(const char *value, int64_t now_us)
{
	const char *p = ra_skip_blanks(value);
	int64_t		date_us;

	if (*p >= '0' && *p <= '9')
	{
		/* delta-seconds = 1*DIGIT */
		int64_t		secs = 0;
		const int64_t max_secs = INT64_MAX / CORE_USECS_PER_SEC;

		while (*p >= '0' && *p <= '9')
		{
			if (secs <= max_secs)
				secs = secs * 10 + (*p - '0');
			p++;
		}
		p = ra_skip_blanks(p);
		if (*p != '\0')
			return -1;
		if (secs > max_secs)
			secs = max_secs;
		return secs * CORE_USECS_PER_SEC;
	}

	if (!ra_parse_http_date(p, now_us, &date_us))
		return -1;
	if (date_us <= now_us)
		return 0;
	if (now_us < 0 && date_us > INT64_MAX + now_us)
		return INT64_MAX;
	return date_us - now_us;
}

/* Classify an HTTP answer */
DeliveryOutcome
classify_http(long status, bool transport_error)
{
	if (transport_error || status <= 0)
		return DELIVERY_RETRY;
	if (status >= 200 && status <= 299)
		return DELIVERY_SENT;
	if (status == 408 || status == 429 || (status >= 500 && status <= 599))
		return DELIVERY_RETRY;
	return DELIVERY_PERMANENT;
}

/* Short lower-case name of a delivery outcome */
const char *
delivery_outcome_name(DeliveryOutcome o)
{
	switch (o)
	{
		case DELIVERY_SENT:
			return "sent";
		case DELIVERY_RETRY:
			return "retry";
		case DELIVERY_PERMANENT:
			return "permanent";
	}
	return "unknown";
}

/* Longest prefix of at most max_bytes that does not split a UTF-8 character */
size_t
alert_utf8_prefix(const char *s, size_t max_bytes)
{
	size_t		n;
	int			back;

	for (n = 0; n <= max_bytes; n++)
	{
		if (s[n] == '\0')
			return n;
	}
	/* s is longer than max_bytes: s[max_bytes] is the first byte cut off */
	n = max_bytes;
	for (back = 0; back < 3 && n > 0 && (((unsigned char) s[n]) & 0xC0) == 0x80; back++)
		n--;
	if ((((unsigned char) s[n]) & 0xC0) == 0x80)
		return max_bytes;		/* not UTF-8: cut where asked */
	return n;
}
