/*-------------------------------------------------------------------------
 *
 * netguard.c
 *	  Outbound URL and address safety for alert deliveries: URL syntax
 *	  checks and the list of address ranges tripl never connects to
 *	  (loopback, private, link-local, metadata, multicast, reserved, and
 *	  IPv6 forms that embed such IPv4 addresses).
 *
 *-------------------------------------------------------------------------
 */
#include "netguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

/* Copy a class name into the caller's "why" buffer; returns true */
static bool
ng_forbidden(char *why, size_t whylen, const char *cls, const char *via)
{
	if (why != NULL && whylen > 0)
	{
		if (via != NULL)
			snprintf(why, whylen, "%s (%s)", cls, via);
		else
			snprintf(why, whylen, "%s", cls);
	}
	return true;
}

/* Clear the caller's "why" buffer */
static void
ng_clear(char *why, size_t whylen)
{
	if (why != NULL && whylen > 0)
		why[0] = '\0';
}

/* ASCII lower-case */
static char
ng_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char) (c - 'A' + 'a') : c;
}

/* Class of a forbidden IPv4 address (host byte order), or NULL if allowed */
static const char *
ng_ipv4_class(uint32_t a)
{
	if (a == 0)
		return "unspecified address";
	if ((a >> 24) == 0)
		return "this-network address";		/* 0.0.0.0/8 */
	if ((a >> 24) == 10)
		return "private address";	/* 10/8 */
	if ((a & 0xffc00000U) == 0x64400000U)
		return "shared address space (carrier-grade nat)";	/* 100.64/10 */
	if ((a >> 24) == 127)
		return "loopback address";	/* 127/8 */
	if (a == 0xa9fea9feU)
		return "cloud metadata address";	/* 169.254.169.254 */
	if ((a & 0xffff0000U) == 0xa9fe0000U)
		return "link-local address";	/* 169.254/16 */
	if ((a & 0xfff00000U) == 0xac100000U)
		return "private address";	/* 172.16/12 */
	if ((a & 0xffffff00U) == 0xc0000000U)
		return "ietf protocol assignment address";	/* 192.0.0/24 */
	if ((a & 0xffff0000U) == 0xc0a80000U)
		return "private address";	/* 192.168/16 */
	if ((a & 0xfffe0000U) == 0xc6120000U)
		return "benchmarking address";	/* 198.18/15 */
	if ((a & 0xf0000000U) == 0xe0000000U)
		return "multicast address"; /* 224/4 */
	if (a == 0xffffffffU)
		return "broadcast address";
	if ((a & 0xf0000000U) == 0xf0000000U)
		return "reserved address";	/* 240/4 */
	return NULL;
}

/* IPv4 address (host order) from 4 bytes in network order */
static uint32_t
ng_be32(const uint8_t *b)
{
	return ((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
		((uint32_t) b[2] << 8) | (uint32_t) b[3];
}

/* Are bytes [from, to) of b all zero? */
static bool
ng_zero(const uint8_t *b, int from, int to)
{
	int			i;

	for (i = from; i < to; i++)
		if (b[i] != 0)
			return false;
	return true;
}

/* Check a 16-byte IPv6 address; true if forbidden */
static bool
ng_ipv6_forbidden(const uint8_t *b, char *why, size_t whylen)
{
	static const uint8_t metadata[16] = {
		0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54
	};
	const char *cls;
	const char *via = NULL;
	uint32_t	v4;

	if (ng_zero(b, 0, 16))
		return ng_forbidden(why, whylen, "unspecified address", NULL);
	if (ng_zero(b, 0, 15) && b[15] == 1)
		return ng_forbidden(why, whylen, "loopback address", NULL);
	if (memcmp(b, metadata, 16) == 0)
		return ng_forbidden(why, whylen, "cloud metadata address", NULL);
	if ((b[0] & 0xfe) == 0xfc)
		return ng_forbidden(why, whylen, "unique local address", NULL);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return ng_forbidden(why, whylen, "link-local address", NULL);
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return ng_forbidden(why, whylen, "site-local address", NULL);
	if (b[0] == 0xff)
		return ng_forbidden(why, whylen, "multicast address", NULL);
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
		b[4] == 0x00 && b[5] == 0x01)
		return ng_forbidden(why, whylen, "local-use nat64 address", NULL);

	/* forms that embed an IPv4 address */
	if (ng_zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff)
	{
		v4 = ng_be32(b + 12);
		via = "ipv4-mapped ipv6";
	}
	else if (ng_zero(b, 0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
	{
		v4 = ng_be32(b + 12);
		via = "ipv4-translated ipv6";
	}
	else if (ng_zero(b, 0, 12))
	{
		v4 = ng_be32(b + 12);
		via = "ipv4-compatible ipv6";
	}
	else if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
			 ng_zero(b, 4, 12))
	{
		v4 = ng_be32(b + 12);
		via = "nat64";
	}
	else if (b[0] == 0x20 && b[1] == 0x02)
	{
		v4 = ng_be32(b + 2);
		via = "6to4";
	}
	else
		return false;

	cls = ng_ipv4_class(v4);
	if (cls == NULL)
		return false;
	return ng_forbidden(why, whylen, cls, via);
}

/* Is the socket address forbidden? */
bool
sockaddr_is_forbidden(const struct sockaddr *sa, char *why, size_t whylen)
{
	const char *cls;

	ng_clear(why, whylen);
	if (sa == NULL)
		return ng_forbidden(why, whylen, "missing address", NULL);
	if (sa->sa_family == AF_INET)
	{
		struct sockaddr_in sin;

		memcpy(&sin, sa, sizeof(sin));
		cls = ng_ipv4_class(ntohl(sin.sin_addr.s_addr));
		if (cls == NULL)
			return false;
		return ng_forbidden(why, whylen, cls, NULL);
	}
	if (sa->sa_family == AF_INET6)
	{
		struct sockaddr_in6 sin6;

		memcpy(&sin6, sa, sizeof(sin6));
		return ng_ipv6_forbidden(sin6.sin6_addr.s6_addr, why, whylen);
	}
	return ng_forbidden(why, whylen, "unsupported address family", NULL);
}

/* Parse an IPv4 literal the way inet_aton does */
bool
netguard_parse_ipv4(const char *s, uint32_t *addr)
{
	uint64_t	parts[4];
	int			n = 0;
	const char *p = s;
	uint64_t	result;
	int			i;

	for (;;)
	{
		uint64_t	v = 0;
		int			base = 10;
		const char *digits;

		if (n == 4)
			return false;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		{
			base = 16;
			p += 2;
		}
		else if (p[0] == '0')
			base = 8;
		else if (!(p[0] >= '0' && p[0] <= '9'))
			return false;
		digits = p;
		for (;; p++)
		{
			int			d;

			if (*p >= '0' && *p <= '9')
				d = *p - '0';
			else if (base == 16 && *p >= 'a' && *p <= 'f')
				d = *p - 'a' + 10;
			else if (base == 16 && *p >= 'A' && *p <= 'F')
				d = *p - 'A' + 10;
			else
				break;
			if (d >= base)
				return false;	/* 8 or 9 in an octal part */
			v = v * (uint64_t) base + (uint64_t) d;
			if (v > 0xffffffffULL)
				return false;
		}
		if (p == digits && base == 16)
			return false;		/* "0x" needs digits, as in inet_aton */
		parts[n++] = v;
		if (*p == '.')
		{
			p++;
			/* one trailing dot is tolerated */
			if (*p == '\0')
				break;
			continue;
		}
		break;
	}
	/* like inet_aton, ignore anything after a blank */
	if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' &&
		*p != '\f' && *p != '\v')
		return false;

	for (i = 0; i < n - 1; i++)
		if (parts[i] > 0xff)
			return false;
	switch (n)
	{
		case 1:
			result = parts[0];
			break;
		case 2:
			if (parts[1] > 0xffffff)
				return false;
			result = (parts[0] << 24) | parts[1];
			break;
		case 3:
			if (parts[2] > 0xffff)
				return false;
			result = (parts[0] << 24) | (parts[1] << 16) | parts[2];
			break;
		default:
			if (parts[3] > 0xff)
				return false;
			result = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3];
			break;
	}
	*addr = (uint32_t) result;
	return true;
}

/* Is host a forbidden literal address? */
bool
host_literal_is_forbidden(const char *host, char *why, size_t whylen)
{
	size_t		len = strlen(host);
	uint32_t	v4;

	ng_clear(why, whylen);
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
	{
		host++;
		len -= 2;
	}
	if (memchr(host, ':', len) != NULL)
	{
		char		buf[INET6_ADDRSTRLEN + 1];
		const char *pct = memchr(host, '%', len);
		struct in6_addr a6;

		if (pct != NULL)
			len = (size_t) (pct - host);	/* drop a zone id */
		if (len >= sizeof(buf))
			return false;
		memcpy(buf, host, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return false;
		return ng_ipv6_forbidden(a6.s6_addr, why, whylen);
	}
	else
	{
		char		buf[64];
		const char *cls;

		if (len >= sizeof(buf))
			return false;		/* too long for any IPv4 spelling */
		memcpy(buf, host, len);
		buf[len] = '\0';
		if (!netguard_parse_ipv4(buf, &v4))
			return false;
		cls = ng_ipv4_class(v4);
		if (cls == NULL)
			return false;
		return ng_forbidden(why, whylen, cls, NULL);
	}
}

/* Validate an outbound URL and extract its host and port */
bool
url_check(const char *url, char *host_out, size_t host_len, int *port_out,
		  char *errbuf, size_t errlen)
{
	size_t		len;
	size_t		i;
	const char *sep;
	const char *auth;
	const char *auth_end;
	const char *host;
	const char *host_end;
	const char *port = NULL;
	const char *p;
	bool		https;
	long		portnum;
	size_t		hostlen;

	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	len = strnlen(url, NETGUARD_MAX_URL + 1);
	if (len == 0)
		return core_errorf(errbuf, errlen, "url is empty");
	if (len > NETGUARD_MAX_URL)
		return core_errorf(errbuf, errlen, "url is longer than %d characters",
						NETGUARD_MAX_URL);
	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) url[i];

		if (c <= 0x20 || c == 0x7f)
			return core_errorf(errbuf, errlen,
							"url contains whitespace or a control character at position %zu",
							i + 1);
	}

	/* scheme */
	sep = strstr(url, "://");
	if (sep == NULL)
		return core_errorf(errbuf, errlen, "url must start with http:// or https://");
	for (p = url; p < sep; p++)
	{
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			  (p > url && ((*p >= '0' && *p <= '9') || *p == '+' || *p == '-' || *p == '.'))))
			return core_errorf(errbuf, errlen, "url must start with http:// or https://");
	}
	if (sep - url == 4 && ng_lower(url[0]) == 'h' && ng_lower(url[1]) == 't' &&
		ng_lower(url[2]) == 't' && ng_lower(url[3]) == 'p')
		https = false;
	else if (sep - url == 5 && ng_lower(url[0]) == 'h' && ng_lower(url[1]) == 't' &&
			 ng_lower(url[2]) == 't' && ng_lower(url[3]) == 'p' &&
			 ng_lower(url[4]) == 's')
		https = true;
	else if (sep == url)
		return core_errorf(errbuf, errlen, "url must start with http:// or https://");
	else
		return core_errorf(errbuf, errlen,
						"unsupported url scheme \"%.*s\": only http and https are allowed",
						(int) (sep - url > 20 ? 20 : sep - url), url);

	/* authority: up to the first "/", "?" or "#" */
	auth = sep + 3;
	auth_end = auth;
	while (*auth_end != '\0' && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
		auth_end++;
	if (memchr(auth, '@', (size_t) (auth_end - auth)) != NULL)
		return core_errorf(errbuf, errlen, "url must not contain user information");
	if (auth == auth_end)
		return core_errorf(errbuf, errlen, "url has no host");

	if (*auth == '[')
	{
		char		buf[INET6_ADDRSTRLEN + 1];
		struct in6_addr a6;
		const char *close = memchr(auth, ']', (size_t) (auth_end - auth));

		if (close == NULL)
			return core_errorf(errbuf, errlen, "unterminated ipv6 address in url");
		host = auth + 1;
		host_end = close;
		if (host == host_end || (size_t) (host_end - host) >= sizeof(buf))
			return core_errorf(errbuf, errlen, "invalid ipv6 address in url");
		memcpy(buf, host, (size_t) (host_end - host));
		buf[host_end - host] = '\0';
		if (inet_pton(AF_INET6, buf, &a6) != 1)
			return core_errorf(errbuf, errlen, "invalid ipv6 address in url");
		p = close + 1;
		if (p < auth_end)
		{
			if (*p != ':')
				return core_errorf(errbuf, errlen, "invalid text after ipv6 address in url");
			port = p + 1;
		}
	}
	else
	{
		const char *label;

		host = auth;
		host_end = memchr(auth, ':', (size_t) (auth_end - auth));
		if (host_end == NULL)
			host_end = auth_end;
		else
			port = host_end + 1;
		if (host == host_end)
			return core_errorf(errbuf, errlen, "url has no host");
		for (p = host; p < host_end; p++)
		{
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			{
				if (*p == '[' || *p == ']')
					return core_errorf(errbuf, errlen, "invalid ipv6 address in url");
				if ((unsigned char) *p >= 0x80)
					return core_errorf(errbuf, errlen,
									"invalid byte 0x%02x in url host (use punycode for international names)",
									(unsigned char) *p);
				return core_errorf(errbuf, errlen, "invalid character \"%c\" in url host", *p);
			}
		}
		hostlen = (size_t) (host_end - host);
		if (host_end[-1] == '.')
			hostlen--;			/* one trailing dot: fully qualified */
		if (hostlen == 0)
			return core_errorf(errbuf, errlen, "invalid host name in url");
		if (hostlen > NETGUARD_MAX_HOST)
			return core_errorf(errbuf, errlen, "host name in url is longer than %d characters",
							NETGUARD_MAX_HOST);
		label = host;
		for (p = host; p <= host + hostlen; p++)
		{
			if (p == host + hostlen || *p == '.')
			{
				if (p == label)
					return core_errorf(errbuf, errlen, "invalid host name in url: empty label");
				if (p - label > 63)
					return core_errorf(errbuf, errlen,
									"invalid host name in url: label longer than 63 characters");
				label = p + 1;
			}
		}
	}

	/* port */
	if (port != NULL)
	{
		if (port == auth_end)
			return core_errorf(errbuf, errlen, "url has an empty port");
		portnum = 0;
		for (p = port; p < auth_end; p++)
		{
			if (*p < '0' || *p > '9')
				return core_errorf(errbuf, errlen, "invalid port in url");
			if (portnum <= 65535)
				portnum = portnum * 10 + (*p - '0');
		}
		if (portnum < 1 || portnum > 65535)
			return core_errorf(errbuf, errlen, "port in url must be between 1 and 65535");
	}
	else
		portnum = https ? 443 : 80;

	hostlen = (size_t) (host_end - host);
	if (host_out != NULL)
	{
		if (hostlen >= host_len)
			return core_errorf(errbuf, errlen, "host name in url is too long");
		for (i = 0; i < hostlen; i++)
			host_out[i] = ng_lower(host[i]);
		host_out[hostlen] = '\0';
	}
	if (port_out != NULL)
		*port_out = (int) portnum;
	return true;
}
