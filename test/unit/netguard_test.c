/*-------------------------------------------------------------------------
 *
 * netguard_test.c
 *	  Unit tests for outbound URL and address safety.
 *
 *	  Address classes follow the IANA special-purpose registries; the
 *	  IPv4 literal parser is cross-checked against libc's inet_aton.
 *
 *-------------------------------------------------------------------------
 */
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "netguard.h"

typedef struct AddrCase
{
	const char *addr;
	const char *why;			/* NULL: allowed */
} AddrCase;

static const AddrCase v4_cases[] = {
	{"0.0.0.0", "unspecified address"},
	{"0.1.2.3", "this-network address"},
	{"0.255.255.255", "this-network address"},
	{"1.0.0.0", NULL},
	{"9.255.255.255", NULL},
	{"10.0.0.0", "private address"},
	{"10.1.2.3", "private address"},
	{"10.255.255.255", "private address"},
	{"11.0.0.0", NULL},
	{"100.63.255.255", NULL},
	{"100.64.0.0", "shared address space (carrier-grade nat)"},
	{"100.100.100.200", "shared address space (carrier-grade nat)"},
	{"100.127.255.255", "shared address space (carrier-grade nat)"},
	{"100.128.0.0", NULL},
	{"126.255.255.255", NULL},
	{"127.0.0.1", "loopback address"},
	{"127.0.0.0", "loopback address"},
	{"127.255.255.254", "loopback address"},
	{"128.0.0.0", NULL},
	{"169.253.255.255", NULL},
	{"169.254.0.0", "link-local address"},
	{"169.254.0.1", "link-local address"},
	{"169.254.169.253", "link-local address"},
	{"169.254.169.254", "cloud metadata address"},
	{"169.254.255.255", "link-local address"},
	{"169.255.0.0", NULL},
	{"172.15.255.255", NULL},
	{"172.16.0.0", "private address"},
	{"172.20.1.1", "private address"},
	{"172.31.255.255", "private address"},
	{"172.32.0.0", NULL},
	{"191.255.255.255", NULL},
	{"192.0.0.0", "ietf protocol assignment address"},
	{"192.0.0.170", "ietf protocol assignment address"},
	{"192.0.0.255", "ietf protocol assignment address"},
	{"192.0.1.0", NULL},
	{"192.0.2.1", NULL},
	{"192.167.255.255", NULL},
	{"192.168.0.0", "private address"},
	{"192.168.1.1", "private address"},
	{"192.168.255.255", "private address"},
	{"192.169.0.0", NULL},
	{"198.17.255.255", NULL},
	{"198.18.0.0", "benchmarking address"},
	{"198.19.255.255", "benchmarking address"},
	{"198.20.0.0", NULL},
	{"203.0.113.5", NULL},
	{"223.255.255.255", NULL},
	{"224.0.0.0", "multicast address"},
	{"224.0.0.251", "multicast address"},
	{"239.255.255.255", "multicast address"},
	{"240.0.0.0", "reserved address"},
	{"250.1.2.3", "reserved address"},
	{"255.255.255.254", "reserved address"},
	{"255.255.255.255", "broadcast address"},
	{"8.8.8.8", NULL},
	{"1.1.1.1", NULL},
	{"93.184.216.34", NULL},
	{"52.95.110.1", NULL},
};

static const AddrCase v6_cases[] = {
	{"::", "unspecified address"},
	{"::1", "loopback address"},
	{"::2", "this-network address (ipv4-compatible ipv6)"},
	{"::127.0.0.1", "loopback address (ipv4-compatible ipv6)"},
	{"::10.0.0.1", "private address (ipv4-compatible ipv6)"},
	{"::8.8.8.8", NULL},
	{"::ffff:127.0.0.1", "loopback address (ipv4-mapped ipv6)"},
	{"::ffff:7f00:1", "loopback address (ipv4-mapped ipv6)"},
	{"::ffff:10.1.2.3", "private address (ipv4-mapped ipv6)"},
	{"::ffff:169.254.169.254", "cloud metadata address (ipv4-mapped ipv6)"},
	{"::ffff:0.0.0.0", "unspecified address (ipv4-mapped ipv6)"},
	{"::ffff:192.168.0.1", "private address (ipv4-mapped ipv6)"},
	{"::ffff:224.0.0.1", "multicast address (ipv4-mapped ipv6)"},
	{"::ffff:8.8.8.8", NULL},
	{"::ffff:0:127.0.0.1", "loopback address (ipv4-translated ipv6)"},
	{"::ffff:0:8.8.8.8", NULL},
	{"64:ff9b::127.0.0.1", "loopback address (nat64)"},
	{"64:ff9b::10.0.0.1", "private address (nat64)"},
	{"64:ff9b::169.254.169.254", "cloud metadata address (nat64)"},
	{"64:ff9b::8.8.8.8", NULL},
	{"64:ff9b:1::1", "local-use nat64 address"},
	{"64:ff9b:1:ffff::1", "local-use nat64 address"},
	{"2002:7f00:1::1", "loopback address (6to4)"},
	{"2002:a9fe:a9fe::", "cloud metadata address (6to4)"},
	{"2002:c0a8:101::1", "private address (6to4)"},
	{"2002:808:808::1", NULL},
	{"fc00::", "unique local address"},
	{"fc00::1", "unique local address"},
	{"fd12:3456:789a::1", "unique local address"},
	{"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local address"},
	{"fd00:ec2::254", "cloud metadata address"},
	{"fd00:ec2::253", "unique local address"},
	{"fbff:ffff::1", NULL},
	{"fe80::", "link-local address"},
	{"fe80::1", "link-local address"},
	{"febf:ffff::1", "link-local address"},
	{"fec0::1", "site-local address"},
	{"feff::1", "site-local address"},
	{"ff00::", "multicast address"},
	{"ff02::1", "multicast address"},
	{"ff05::1:3", "multicast address"},
	{"2001:4860:4860::8888", NULL},
	{"2606:4700:4700::1111", NULL},
	{"2a00:1450:4001:82a::200e", NULL},
	{"2001:db8::1", NULL},
	{"::1:0:0:0", NULL},
};

/* Classify one textual address through a real sockaddr */
static void
check_sockaddr(const char *addr, const char *expect, bool v6)
{
	struct sockaddr_storage ss;
	char		why[128];
	char		what[200];
	bool		forbidden;

	memset(&ss, 0, sizeof(ss));
	if (v6)
	{
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(443);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
		{
			printf("# bad test address %s\n", addr);
			abort();
		}
	}
	else
	{
		struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(443);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
		{
			printf("# bad test address %s\n", addr);
			abort();
		}
	}
	strcpy(why, "junk");
	forbidden = sockaddr_is_forbidden((struct sockaddr *) &ss, why, sizeof(why));
	snprintf(what, sizeof(what), "sockaddr %s -> %s", addr, expect ? expect : "allowed");
	if (expect == NULL)
		CHECK(!forbidden && why[0] == '\0', what);
	else
	{
		CHECK(forbidden, what);
		snprintf(what, sizeof(what), "sockaddr %s: reason", addr);
		CHECK_STR(why, expect, what);
	}

	/* the same address as a host literal gives the same verdict */
	strcpy(why, "junk");
	forbidden = host_literal_is_forbidden(addr, why, sizeof(why));
	snprintf(what, sizeof(what), "literal %s -> %s", addr, expect ? expect : "allowed");
	CHECK(forbidden == (expect != NULL) && strcmp(why, expect ? expect : "") == 0, what);
}

/* Every IPv4 and IPv6 class */
static void
test_address_classes(void)
{
	size_t		i;
	struct sockaddr sa;
	char		why[64];

	for (i = 0; i < sizeof(v4_cases) / sizeof(v4_cases[0]); i++)
		check_sockaddr(v4_cases[i].addr, v4_cases[i].why, false);
	for (i = 0; i < sizeof(v6_cases) / sizeof(v6_cases[0]); i++)
		check_sockaddr(v6_cases[i].addr, v6_cases[i].why, true);

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	CHECK(sockaddr_is_forbidden(&sa, why, sizeof(why)), "AF_UNIX is forbidden");
	CHECK_STR(why, "unsupported address family", "AF_UNIX reason");
	sa.sa_family = AF_UNSPEC;
	CHECK(sockaddr_is_forbidden(&sa, NULL, 0), "AF_UNSPEC is forbidden, NULL why is fine");
	CHECK(sockaddr_is_forbidden(NULL, why, sizeof(why)), "NULL address is forbidden");
}

typedef struct LiteralCase
{
	const char *host;
	const char *why;			/* NULL: not forbidden */
} LiteralCase;

static const LiteralCase literal_cases[] = {
	/* inet_aton spellings of 127.0.0.1 */
	{"127.0.0.1", "loopback address"},
	{"127.1", "loopback address"},
	{"127.0.1", "loopback address"},
	{"2130706433", "loopback address"},
	{"0x7f000001", "loopback address"},
	{"0X7F000001", "loopback address"},
	{"0x7f.1", "loopback address"},
	{"0x7F.0X0.0.1", "loopback address"},
	{"017700000001", "loopback address"},
	{"0177.0.0.1", "loopback address"},
	{"0177.1", "loopback address"},
	{"127.000.000.001", "loopback address"},
	{"127.0.0.1.", "loopback address"},
	{"127.255.255.255", "loopback address"},
	/* other classes in odd spellings */
	{"0", "unspecified address"},
	{"0.0.0.0", "unspecified address"},
	{"0x0", "unspecified address"},
	{"10.1", "private address"},
	{"167772161", "private address"},
	{"012.0.0.1", "private address"},
	{"3232235521", "private address"},
	{"192.168.257", "private address"},
	{"0xa9fea9fe", "cloud metadata address"},
	{"2852039166", "cloud metadata address"},
	{"169.254.43518", "cloud metadata address"},
	{"0251.0376.0251.0376", "cloud metadata address"},
	{"4294967295", "broadcast address"},
	{"0xffffffff", "broadcast address"},
	/* allowed literals */
	{"8.8.8.8", NULL},
	{"134744072", NULL},
	{"0x8080808", NULL},
	{"1.1.1.1", NULL},
	/* IPv6 spellings */
	{"::1", "loopback address"},
	{"[::1]", "loopback address"},
	{"0:0:0:0:0:0:0:1", "loopback address"},
	{"[::ffff:127.0.0.1]", "loopback address (ipv4-mapped ipv6)"},
	{"::FFFF:7F00:1", "loopback address (ipv4-mapped ipv6)"},
	{"fe80::1%eth0", "link-local address"},
	{"[fe80::1%25eth0]", "link-local address"},
	{"[fd00:ec2::254]", "cloud metadata address"},
	{"[2001:4860:4860::8888]", NULL},
	/* host names and non-literals */
	{"example.com", NULL},
	{"localhost", NULL},
	{"127.0.0.1.nip.io", NULL},
	{"1.2.3.4.5", NULL},
	{"256.1.1.1", NULL},
	{"1.256.1.1", NULL},
	{"1.1.1.256", NULL},
	{"1.1.65536", NULL},
	{"1.16777216", NULL},
	{"4294967296", NULL},
	{"0x100000000", NULL},
	{"99999999999999999999999", NULL},
	{"08.1.1.1", NULL},
	{"09", NULL},
	{"1..1", NULL},
	{".1.1.1", NULL},
	{"1.2.3.4x", NULL},
	{"0xg", NULL},
	{"", NULL},
	{"[", NULL},
	{"[]", NULL},
	{"::g", NULL},
	{":::", NULL},
	{"[::1", NULL},
	{"-1", NULL},
	{"+1", NULL},
};

/* host_literal_is_forbidden over odd spellings */
static void
test_literals(void)
{
	size_t		i;
	char		why[128];
	char	   *big;

	for (i = 0; i < sizeof(literal_cases) / sizeof(literal_cases[0]); i++)
	{
		const LiteralCase *c = &literal_cases[i];
		char		what[200];
		bool		f;

		strcpy(why, "junk");
		f = host_literal_is_forbidden(c->host, why, sizeof(why));
		snprintf(what, sizeof(what), "host \"%s\" -> %s", c->host, c->why ? c->why : "not forbidden");
		CHECK(f == (c->why != NULL), what);
		snprintf(what, sizeof(what), "host \"%s\": reason", c->host);
		CHECK_STR(why, c->why ? c->why : "", what);
	}

	CHECK(host_literal_is_forbidden("127.0.0.1", NULL, 0), "NULL why buffer is fine");
	CHECK(host_literal_is_forbidden("127.0.0.1", why, 5) && strcmp(why, "loop") == 0,
		  "why truncated to a small buffer");

	big = core_alloc(1 << 20);
	memset(big, '1', (1 << 20) - 1);
	CHECK(!host_literal_is_forbidden(big, why, sizeof(why)), "1 MB of digits is not a literal");
	memset(big, ':', (1 << 20) - 1);
	CHECK(!host_literal_is_forbidden(big, why, sizeof(why)), "1 MB of colons is not a literal");
	core_free(big);
}

/* netguard_parse_ipv4 agrees with libc inet_aton */
static void
test_inet_aton_oracle(void)
{
	static const char *const spellings[] = {
		"127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0x7f.1", "017700000001",
		"0177.0.0.1", "0", "00", "0x0", "0x", "0x.1", "1.2.3.4", "255.255.255.255", "4294967295",
		"4294967296", "256.0.0.0", "1.256.0.0", "1.2.256.0", "1.2.3.256", "1.2.65535",
		"1.2.65536", "1.16777215", "1.16777216", "08", "07", "0x1g", "1.2.3.4.5", "1..2",
		".1", "1.", "", "a", "0xffffffff", "0xFFFFFFFF", "037777777777", "040000000000",
		"1 2", "1.2.3.4 ", "1e3", "-1", "0x7f.0x0.0x0.0x1", "0X7F.1", "000000000000000000001",
		"0x00000000000000000000007f.1",
	};
	size_t		i;
	int			disagreements = 0;

	for (i = 0; i < sizeof(spellings) / sizeof(spellings[0]); i++)
	{
		struct in_addr ia;
		uint32_t	mine = 0;
		int			libc_ok = inet_aton(spellings[i], &ia);
		bool		my_ok = netguard_parse_ipv4(spellings[i], &mine);

		/* a trailing dot is accepted on purpose (conservative) */
		if (strlen(spellings[i]) > 0 && spellings[i][strlen(spellings[i]) - 1] == '.')
			continue;
		if ((libc_ok != 0) != my_ok || (my_ok && mine != ntohl(ia.s_addr)))
		{
			disagreements++;
			printf("# \"%s\": inet_aton %s %08x, mine %s %08x\n", spellings[i],
				   libc_ok ? "ok" : "fail", libc_ok ? ntohl(ia.s_addr) : 0,
				   my_ok ? "ok" : "fail", mine);
		}
	}
	CHECK(disagreements == 0, "netguard_parse_ipv4 agrees with inet_aton");
	CHECK(netguard_parse_ipv4("1.2.3.4.", &(uint32_t) {0}), "one trailing dot accepted");
	CHECK(!netguard_parse_ipv4("1.2.3.4..", &(uint32_t) {0}), "two trailing dots rejected");
}

typedef struct UrlCase
{
	const char *url;
	const char *host;			/* expected host, NULL on error */
	int			port;
	const char *error;			/* expected message on error */
} UrlCase;

static const UrlCase url_cases[] = {
	{"http://example.com", "example.com", 80, NULL},
	{"https://example.com", "example.com", 443, NULL},
	{"HTTP://Example.com", "example.com", 80, NULL},
	{"HtTpS://EXAMPLE.COM:8443/Path?q=1#f", "example.com", 8443, NULL},
	{"http://example.com/", "example.com", 80, NULL},
	{"http://example.com?x=1", "example.com", 80, NULL},
	{"http://example.com#frag", "example.com", 80, NULL},
	{"http://example.com/path@x?y=@#@", "example.com", 80, NULL},
	{"http://[::1]:8080/x", "::1", 8080, NULL},
	{"https://[2001:DB8::1]/", "2001:db8::1", 443, NULL},
	{"http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1", 80, NULL},
	{"http://127.0.0.1:65535/", "127.0.0.1", 65535, NULL},
	{"http://127.0.0.1:1", "127.0.0.1", 1, NULL},
	{"http://example.com:0080/", "example.com", 80, NULL},
	{"http://2130706433/", "2130706433", 80, NULL},
	{"http://example.com./", "example.com.", 80, NULL},
	{"https://hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com", 443, NULL},
	{"https://api.telegram.org/bot123:ABC/sendMessage", "api.telegram.org", 443, NULL},
	{"http://a_b-c.example.com", "a_b-c.example.com", 80, NULL},
	{"http://x", "x", 80, NULL},
	{"http://example.com/caf\xc3\xa9", "example.com", 80, NULL},
	{"http://user:pass@example.com/", NULL, 0, "url must not contain user information"},
	{"http://user@example.com/", NULL, 0, "url must not contain user information"},
	{"http://@example.com", NULL, 0, "url must not contain user information"},
	{"http://example.com:80@evil.com/", NULL, 0, "url must not contain user information"},
	{"https://[::1]@evil.com/", NULL, 0, "url must not contain user information"},
	{"http://example.com\\@evil.com/", NULL, 0, "url must not contain user information"},
	{"ftp://example.com/", NULL, 0, "unsupported url scheme \"ftp\": only http and https are allowed"},
	{"FILE:///etc/passwd", NULL, 0, "unsupported url scheme \"FILE\": only http and https are allowed"},
	{"gopher://example.com/", NULL, 0, "unsupported url scheme \"gopher\": only http and https are allowed"},
	{"httpx://example.com/", NULL, 0, "unsupported url scheme \"httpx\": only http and https are allowed"},
	{"ws://example.com/", NULL, 0, "unsupported url scheme \"ws\": only http and https are allowed"},
	{"//example.com", NULL, 0, "url must start with http:// or https://"},
	{"://example.com", NULL, 0, "url must start with http:// or https://"},
	{"example.com", NULL, 0, "url must start with http:// or https://"},
	{"http:/example.com", NULL, 0, "url must start with http:// or https://"},
	{"http:example.com", NULL, 0, "url must start with http:// or https://"},
	{"javascript:alert(1)//://", NULL, 0, "url must start with http:// or https://"},
	{"1http://example.com", NULL, 0, "url must start with http:// or https://"},
	{"", NULL, 0, "url is empty"},
	{"http://", NULL, 0, "url has no host"},
	{"http:///path", NULL, 0, "url has no host"},
	{"http://?x", NULL, 0, "url has no host"},
	{"http://:80/", NULL, 0, "url has no host"},
	{"http://::1/", NULL, 0, "url has no host"},
	{"http://example.com:/", NULL, 0, "url has an empty port"},
	{"http://example.com:0/", NULL, 0, "port in url must be between 1 and 65535"},
	{"http://example.com:65536/", NULL, 0, "port in url must be between 1 and 65535"},
	{"http://example.com:99999999999999999999/", NULL, 0, "port in url must be between 1 and 65535"},
	{"http://example.com:8o/", NULL, 0, "invalid port in url"},
	{"http://example.com:-1/", NULL, 0, "invalid port in url"},
	{"http://example.com:80:81/", NULL, 0, "invalid port in url"},
	{"http://exa mple.com/", NULL, 0, "url contains whitespace or a control character at position 11"},
	{" http://example.com", NULL, 0, "url contains whitespace or a control character at position 1"},
	{"http://example.com/\n", NULL, 0, "url contains whitespace or a control character at position 20"},
	{"http://example.com/\r\nX-Injected: 1", NULL, 0, "url contains whitespace or a control character at position 20"},
	{"http://exam\tple.com", NULL, 0, "url contains whitespace or a control character at position 12"},
	{"http://example.com/\x7f", NULL, 0, "url contains whitespace or a control character at position 20"},
	{"http://example.com/\x01", NULL, 0, "url contains whitespace or a control character at position 20"},
	{"http://[::1/", NULL, 0, "unterminated ipv6 address in url"},
	{"http://[::g]/", NULL, 0, "invalid ipv6 address in url"},
	{"http://[]/", NULL, 0, "invalid ipv6 address in url"},
	{"http://[127.0.0.1]/", NULL, 0, "invalid ipv6 address in url"},
	{"http://[fe80::1%25eth0]/", NULL, 0, "invalid ipv6 address in url"},
	{"http://[::1]x/", NULL, 0, "invalid text after ipv6 address in url"},
	{"http://[::1]:/", NULL, 0, "url has an empty port"},
	{"http://[::1]:70000/", NULL, 0, "port in url must be between 1 and 65535"},
	{"http://ex]ample.com/", NULL, 0, "invalid ipv6 address in url"},
	{"http://exa%2ample.com/", NULL, 0, "invalid character \"%\" in url host"},
	{"http://good.com\\evil.com/", NULL, 0, "invalid character \"\\\" in url host"},
	{"http://ex\xc3\xa4mple.com/", NULL, 0, "invalid byte 0xc3 in url host (use punycode for international names)"},
	{"http://a..b/", NULL, 0, "invalid host name in url: empty label"},
	{"http://.example.com/", NULL, 0, "invalid host name in url: empty label"},
	{"http://example.com../", NULL, 0, "invalid host name in url: empty label"},
	{"http://./", NULL, 0, "invalid host name in url"},
};

/* Every URL case, plus lengths and buffers */
static void
test_urls(void)
{
	size_t		i;
	char		host[NETGUARD_HOST_BUFLEN];
	char		err[256];
	int			port;
	char	   *u;
	size_t		n;

	for (i = 0; i < sizeof(url_cases) / sizeof(url_cases[0]); i++)
	{
		const UrlCase *c = &url_cases[i];
		char		what[300];
		char		shown[120];
		bool		ok;
		size_t		k;

		snprintf(shown, sizeof(shown), "%s", c->url);
		for (k = 0; shown[k]; k++)
			if ((unsigned char) shown[k] < 0x20)
				shown[k] = '?';
		strcpy(host, "junk");
		port = -1;
		err[0] = 'X';
		err[1] = '\0';
		ok = url_check(c->url, host, sizeof(host), &port, err, sizeof(err));
		snprintf(what, sizeof(what), "url \"%s\" %s", shown, c->host ? "accepted" : "rejected");
		CHECK(ok == (c->host != NULL), what);
		if (c->host != NULL)
		{
			snprintf(what, sizeof(what), "url \"%s\": host and port", shown);
			CHECK(strcmp(host, c->host) == 0 && port == c->port && err[0] == '\0', what);
			if (!ok || strcmp(host, c->host) != 0 || port != c->port)
				printf("#   got host \"%s\" port %d err \"%s\"\n", host, port, err);
		}
		else
		{
			snprintf(what, sizeof(what), "url \"%s\": message", shown);
			CHECK_STR(err, c->error, what);
		}
	}

	/* label and host length limits */
	u = core_alloc(1 << 21);
	strcpy(u, "http://");
	memset(u + 7, 'a', 63);
	strcpy(u + 70, ".com/");
	CHECK(url_check(u, host, sizeof(host), &port, err, sizeof(err)), "63-byte label accepted");
	memset(u + 7, 'a', 64);
	strcpy(u + 71, ".com/");
	CHECK(!url_check(u, host, sizeof(host), &port, err, sizeof(err)), "64-byte label rejected");
	CHECK_STR(err, "invalid host name in url: label longer than 63 characters", "label message");

	/* a 253-byte host: 50 x "abcd." + "abc" */
	strcpy(u, "http://");
	for (n = 0; n < 50; n++)
		strcat(u, "abcd.");
	strcat(u, "abc");
	CHECK(url_check(u, host, sizeof(host), &port, err, sizeof(err)) && strlen(host) == 253,
		  "253-byte host accepted");
	strcat(u, ".");
	CHECK(url_check(u, host, sizeof(host), &port, err, sizeof(err)) && strlen(host) == 254,
		  "253-byte host plus trailing dot fits NETGUARD_HOST_BUFLEN");
	u[strlen(u) - 1] = 'x';
	CHECK(!url_check(u, host, sizeof(host), &port, err, sizeof(err)), "254-byte host rejected");
	CHECK_STR(err, "host name in url is longer than 253 characters", "long host message");

	/* overall length */
	strcpy(u, "https://example.com/");
	n = strlen(u);
	memset(u + n, 'p', NETGUARD_MAX_URL - n);
	u[NETGUARD_MAX_URL] = '\0';
	CHECK(url_check(u, host, sizeof(host), &port, err, sizeof(err)), "2048-byte url accepted");
	u[NETGUARD_MAX_URL] = 'p';
	u[NETGUARD_MAX_URL + 1] = '\0';
	CHECK(!url_check(u, host, sizeof(host), &port, err, sizeof(err)), "2049-byte url rejected");
	CHECK_STR(err, "url is longer than 2048 characters", "overlong message");
	memset(u + n, 'p', (1 << 21) - 1 - n);
	u[(1 << 21) - 1] = '\0';
	CHECK(!url_check(u, host, sizeof(host), &port, err, sizeof(err)), "2 MB url rejected");
	core_free(u);

	/* buffers */
	CHECK(url_check("https://example.com/", NULL, 0, NULL, NULL, 0), "NULL outputs are fine");
	CHECK(!url_check("ftp://x", NULL, 0, NULL, NULL, 0), "NULL error buffer is fine");
	CHECK(!url_check("https://example.com/", host, 4, &port, err, sizeof(err)), "host buffer too small");
	CHECK_STR(err, "host name in url is too long", "small buffer message");
	CHECK(url_check("https://example.com/", host, 12, &port, err, sizeof(err)) &&
		  strcmp(host, "example.com") == 0, "host buffer of exactly the right size");
}

/* The three layers together, as the delivery code will use them */
static void
test_layers(void)
{
	static const struct
	{
		const char *url;
		bool		allowed;
	}			v[] = {
		{"https://hooks.slack.com/services/x", true},
		{"http://127.0.0.1:5432/", false},
		{"http://2130706433/", false},
		{"http://0x7f.1/", false},
		{"http://017700000001/", false},
		{"http://[::1]:8080/x", false},
		{"http://[::ffff:169.254.169.254]/latest/meta-data", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"http://[fd00:ec2::254]/", false},
		{"https://8.8.8.8/", true},
		{"https://[2001:4860:4860::8888]/", true},
		{"http://localhost/", true},	/* name: left to the post-DNS check */
	};
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	{
		char		host[NETGUARD_HOST_BUFLEN];
		char		err[128];
		char		why[128];
		char		what[200];
		int			port;
		bool		ok;

		ok = url_check(v[i].url, host, sizeof(host), &port, err, sizeof(err)) &&
			!host_literal_is_forbidden(host, why, sizeof(why));
		snprintf(what, sizeof(what), "%s %s before DNS", v[i].url, v[i].allowed ? "allowed" : "refused");
		CHECK(ok == v[i].allowed, what);
	}
}

/* Run every test group and print the TAP plan */
int
main(void)
{
	test_address_classes();
	test_literals();
	test_inet_aton_oracle();
	test_urls();
	test_layers();
	return unit_done();
}
