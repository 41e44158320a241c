/*-------------------------------------------------------------------------
 *
 * mail.h
 *	  Email destinations without PostgreSQL: checking an SMTP URL and
 *	  addresses, and building the RFC 5322 message tripl sends (headers,
 *	  RFC 2047 subject, MIME multipart/alternative with text/plain and
 *	  text/html parts), so that nothing a metric name, a template or a
 *	  value holds can add a header or end the message early.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_MAIL_H
#define TRIPL_MAIL_H

#include "core.h"

/* Most recipients of one email destination */
#define MAIL_MAX_RECIPIENTS		50

/* Longest address (RFC 5321: 254 bytes in a path) */
#define MAIL_MAX_ADDRESS		254

/*
 * Check an SMTP URL: smtp://host[:port][/] or smtps://host[:port][/], the
 * host as url_check() (netguard.h) accepts it.  implicit_tls is set for
 * smtps.  The host goes to host_out (host_len bytes).
 */
extern bool mail_url_check(const char *url, char *host_out, size_t host_len, int *port_out,
						   bool *implicit_tls, char *errbuf, size_t errlen);

/*
 * Check an address as tripl accepts it: local@domain, at most
 * MAIL_MAX_ADDRESS bytes, printable ASCII without blanks, quotes, angle
 * brackets, parentheses, commas, semicolons, colons or backslashes, one
 * "@", a local part and a domain of letters, digits, '-' and '.'.
 */
extern bool mail_address_check(const char *address, char *errbuf, size_t errlen);

/*
 * A header value for the Subject: the text with every CR, LF and other
 * control character made a space, cut to max_bytes (on a UTF-8 character
 * boundary), then as RFC 2047 encoded words ("=?UTF-8?B?...?=", each at
 * most 75 characters, folded onto continuation lines) when it holds
 * anything but printable ASCII or is longer than 70 bytes; otherwise as
 * it is.  core_alloc'd.
 */
extern char *mail_subject(const char *text, size_t max_bytes);

/* An RFC 5322 date-time, "Sat, 28 Nov 2026 15:00:00 +0000" (UTC) */
extern void mail_date(int64_t unix_us, char *out, size_t outlen);

/* What a message is made of */
typedef struct MailMessage
{
	const char *from;			/* a checked address */
	const char *const *to;		/* checked addresses */
	int			n_to;
	const char *subject;		/* any text (encoded by mail_subject) */
	const char *text;			/* the text/plain part (UTF-8, any line ends) */
	const char *html;			/* the text/html part, or NULL: made from text */
	int64_t		date_us;		/* the Date header */
	const char *key;			/* the delivery's idempotency key: Message-ID,
								 * boundary (letters, digits, '-') */
} MailMessage;

/*
 * The whole message, lines ending in CRLF: Date, From, To, Subject,
 * Message-ID (<key@domain of from>), MIME-Version, Auto-Submitted,
 * X-Tripl-Idempotency-Key, Content-Type multipart/alternative; the two
 * parts are UTF-8 in base64 (lines of 76), the text's line ends made CRLF
 * first.  The html part, when NULL, is the text HTML-escaped in a <pre>.
 * core_alloc'd.
 */
extern char *mail_build(const MailMessage *m);

/* The text HTML-escaped (& < > " ') with line ends as <br>; core_alloc'd */
extern char *mail_html_escape(const char *text);

#endif							/* TRIPL_MAIL_H */
