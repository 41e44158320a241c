/*-------------------------------------------------------------------------
 *
 * netguard.h
 *	  Safety checks for outbound alert deliveries: which URLs may be
 *	  fetched and which addresses may be connected to.
 *
 *	  The intended use is three layers:
 *	    1. url_check() when a destination is stored and before each send;
 *	    2. host_literal_is_forbidden() on the host it returns, to reject
 *	       literal addresses early with a clear message;
 *	    3. sockaddr_is_forbidden() on every address the host name resolves
 *	       to, right before connecting (e.g. from curl's open-socket
 *	       callback), which also defeats DNS names pointing inside.
 *	  All three are skipped or relaxed only when the superuser enables
 *	  tripl.allow_private_destinations.
 *
 *	  Forbidden IPv4: 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16
 *	  (169.254.169.254 reported as the cloud metadata address), 172.16/12,
 *	  192.0.0/24, 192.168/16, 198.18/15, 224/4, 240/4, 255.255.255.255.
 *	  Forbidden IPv6: ::, ::1, fc00::/7, fe80::/10, fec0::/10 (deprecated
 *	  site-local), ff00::/8, fd00:ec2::254, 64:ff9b:1::/48 (local-use
 *	  NAT64); and the IPv4 embedded in ::ffff:0:0/96 (mapped),
 *	  ::ffff:0:0:0/96 (translated), ::/96 (compatible), 64:ff9b::/96
 *	  (NAT64) and 2002::/16 (6to4) is checked as above.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_NETGUARD_H
#define TRIPL_NETGUARD_H

#include <sys/socket.h>

#include "core.h"

/* Longest URL accepted, in bytes */
#define NETGUARD_MAX_URL		2048

/* Longest host name accepted (DNS limit), in bytes */
#define NETGUARD_MAX_HOST		253

/* A host_out buffer of this size always suffices */
#define NETGUARD_HOST_BUFLEN	(NETGUARD_MAX_HOST + 2)

/*
 * Check that url is an absolute http:// or https:// URL (scheme in any
 * case) with a non-empty host, an optional port 1..65535, no user
 * information, no whitespace or control characters, and at most
 * NETGUARD_MAX_URL bytes.  Hosts are DNS names (letters, digits, "-",
 * "_", dots; labels of 1..63 bytes; one trailing dot allowed) or
 * bracketed IPv6 literals (no zone ids).  Backslashes and percent
 * signs are not allowed in the host.
 *
 * On success host_out receives the host in lower case, without IPv6
 * brackets, and *port_out the port (80 or 443 by default); either may
 * be NULL.  On failure returns false with a message in errbuf.
 */
extern bool url_check(const char *url, char *host_out, size_t host_len,
					  int *port_out, char *errbuf, size_t errlen);

/*
 * Is host a literal address that is forbidden?  Literals are IPv6 (with
 * or without brackets, zone id ignored) and IPv4 in every spelling
 * inet_aton accepts (1 to 4 parts, each decimal, 0x-hex or 0-octal:
 * 2130706433, 0x7f.1, 017700000001, 127.1).  Host names return false:
 * they are checked after DNS resolution.  When true, why names the
 * address class.
 */
extern bool host_literal_is_forbidden(const char *host, char *why, size_t whylen);

/*
 * Is the socket address forbidden?  IPv4 and IPv6 as listed above;
 * any other address family is forbidden too.  When true, why names the
 * address class ("loopback address", "private address", ...).
 */
extern bool sockaddr_is_forbidden(const struct sockaddr *sa, char *why,
								  size_t whylen);

/*
 * Parse an IPv4 literal the way inet_aton does (see above; also one
 * trailing dot).  *addr is in host byte order.
 */
extern bool netguard_parse_ipv4(const char *s, uint32_t *addr);

#endif							/* TRIPL_NETGUARD_H */
