/*
 * derived_test.c
 *	  Unit tests of the expressions of derived metrics (derived.c): the
 *	  grammar and its refusals (with positions), the limits, the evaluator's
 *	  gap semantics against values worked out by hand, round against
 *	  PostgreSQL's round(numeric) results, and the SQL rendering.
 */
#include <math.h>
#include <string.h>

#include "unit.h"
#include "derived.h"

static char errbuf[512];

/* Parse text, which must succeed */
static DerivedExpr *
parse_ok(const char *text)
{
	DerivedExpr *e = NULL;
	DerivedError kind;

	errbuf[0] = '\0';
	if (!derived_parse(text, &e, &kind, errbuf, sizeof(errbuf)))
	{
		printf("# parse of \"%s\" failed: %s\n", text, errbuf);
		return NULL;
	}
	return e;
}

/* Parse text, which must fail with kind and a message containing what */
static void
check_refused(const char *text, DerivedError want, const char *what)
{
	DerivedExpr *e = NULL;
	DerivedError kind = DERIVED_ERR_NONE;
	bool		ok = derived_parse(text, &e, &kind, errbuf, sizeof(errbuf));
	char		label[200];

	snprintf(label, sizeof(label), "refused: %.60s", text);
	CHECK(!ok && e == NULL && kind == want && strstr(errbuf, what) != NULL, label);
	if (ok || kind != want || strstr(errbuf, what) == NULL)
		printf("#   got: %s (kind %d), wanted \"%s\"\n", ok ? "accepted" : errbuf, (int) kind, what);
	derived_free(e);
}

/* Evaluate text with the inputs named a, b, c (values in that order) */
static double
eval3(const char *text, double a, double b, double c)
{
	DerivedExpr *e = parse_ok(text);
	double		in[DERIVED_MAX_INPUTS];
	const char *names[3] = {"a", "b", "c"};
	double		vals[3] = {a, b, c};
	double		r;
	int			k;

	if (e == NULL)
		return -12345.0;
	for (k = 0; k < e->ninputs; k++)
	{
		int			j;

		in[k] = NAN;
		for (j = 0; j < 3; j++)
			if (strcmp(e->inputs[k], names[j]) == 0)
				in[k] = vals[j];
	}
	r = derived_eval(e, in);
	derived_free(e);
	return r;
}

#define GAP NAN

static void
test_grammar(void)
{
	DerivedExpr *e;
	char	   *sql;
	const char *cols[3] = {"v1", "v2", "v3"};

	e = parse_ok("revenue_completed / nullif(active_sessions, 0)");
	CHECK(e != NULL && e->ninputs == 2, "the contract's example parses, two inputs");
	if (e)
	{
		CHECK(strcmp(e->inputs[0], "revenue_completed") == 0 && strcmp(e->inputs[1], "active_sessions") == 0,
			  "inputs in order of first use");
		CHECK(derived_input_index(e, "active_sessions") == 1 && derived_input_index(e, "x") == -1,
			  "derived_input_index");
		sql = derived_sql(e, cols);
		CHECK(strcmp(sql, "(v1 / nullif(nullif(v2, 0::float8), 0))") == 0, "SQL rendering");
		printf("# %s\n", sql);
		core_free(sql);
		derived_free(e);
	}
	e = parse_ok("a + a * a - \"a\"");
	CHECK(e != NULL && e->ninputs == 1, "one input named four times, quoted or not");
	derived_free(e);
	e = parse_ok("\"checkout-rate.v2\" + orders.count + _x1");
	CHECK(e != NULL && e->ninputs == 3 && strcmp(e->inputs[0], "checkout-rate.v2") == 0 &&
		  strcmp(e->inputs[1], "orders.count") == 0, "quoted names with '-', dotted names");
	derived_free(e);
	e = parse_ok("ROUND(Abs(a), -2) + CoAlesce(b, 1e3, .5, 2.5E-1)");
	CHECK(e != NULL && e->ninputs == 2, "function names ignore case; number forms");
	derived_free(e);
	e = parse_ok("round + abs");
	CHECK(e != NULL && e->ninputs == 2, "a function name without '(' is a metric name");
	derived_free(e);

	check_refused("", DERIVED_ERR_SYNTAX, "expression is empty");
	check_refused("   ", DERIVED_ERR_SYNTAX, "expression is empty");
	check_refused("pg_sleep(1)", DERIVED_ERR_SYNTAX, "function \"pg_sleep\" is not allowed (the functions are abs, coalesce, nullif, greatest, least and round) at character 1");
	check_refused("a + sqrt(b)", DERIVED_ERR_SYNTAX, "round) at character 5");
	check_refused("1; DROP TABLE x", DERIVED_ERR_SYNTAX, "unexpected character \";\"");
	check_refused("a::text", DERIVED_ERR_SYNTAX, "unexpected character \":\" (allowed");
	check_refused("a -- b", DERIVED_ERR_SYNTAX, "comments are not allowed at character 3");
	check_refused("a /* b */", DERIVED_ERR_SYNTAX, "comments are not allowed");
	check_refused("'a'", DERIVED_ERR_SYNTAX, "unexpected character \"'\"");
	check_refused("\"a\"\"b\"", DERIVED_ERR_SYNTAX, "unexpected character after a quoted name");
	check_refused("\"a; drop\"", DERIVED_ERR_SYNTAX, "a quoted metric name may contain only");
	check_refused("\"a", DERIVED_ERR_SYNTAX, "must end with a quote");
	check_refused("\"\"", DERIVED_ERR_SYNTAX, "empty quoted name");
	check_refused("\"abs\"(a)", DERIVED_ERR_SYNTAX, "is a metric name, not a function");
	check_refused("a b", DERIVED_ERR_SYNTAX, "unexpected \"b\" at character 3");
	check_refused("(a + b", DERIVED_ERR_SYNTAX, "expected \")\", found end of expression");
	check_refused("a +", DERIVED_ERR_SYNTAX, "found end of expression at character 4");
	check_refused("a * * b", DERIVED_ERR_SYNTAX, "found \"*\" at character 5");
	check_refused("nullif(a)", DERIVED_ERR_SYNTAX, "too few arguments for nullif");
	check_refused("nullif(a, b, c)", DERIVED_ERR_SYNTAX, "too many arguments for nullif");
	check_refused("abs()", DERIVED_ERR_SYNTAX, "found \")\"");
	check_refused("round(a, b)", DERIVED_ERR_SYNTAX, "must be an integer constant");
	check_refused("round(a, 1.5)", DERIVED_ERR_SYNTAX, "must be an integer constant");
	check_refused("round(a, 16)", DERIVED_ERR_SYNTAX, "between -15 and 15");
	check_refused("1a", DERIVED_ERR_SYNTAX, "invalid number");
	check_refused("1e999", DERIVED_ERR_SYNTAX, "number out of range");
	check_refused("a % b", DERIVED_ERR_SYNTAX, "unexpected character \"%\"");
	check_refused("a ^ b", DERIVED_ERR_SYNTAX, "unexpected character \"^\"");
	check_refused("a\xc3\xa9", DERIVED_ERR_SYNTAX, "byte 0xc3");
	check_refused("$1", DERIVED_ERR_SYNTAX, "unexpected character \"$\"");
	check_refused("a[1]", DERIVED_ERR_SYNTAX, "unexpected character \"[\"");
}

static void
test_limits(void)
{
	char		buf[DERIVED_MAX_LENGTH + 100];
	DerivedExpr *e;
	int			k;
	int			n;

	/* length */
	memset(buf, ' ', sizeof(buf));
	buf[0] = 'a';
	buf[DERIVED_MAX_LENGTH] = '\0';
	e = parse_ok(buf);
	CHECK(e != NULL, "an expression of the maximum length");
	derived_free(e);
	buf[DERIVED_MAX_LENGTH] = ' ';
	buf[DERIVED_MAX_LENGTH + 1] = '\0';
	check_refused(buf, DERIVED_ERR_LIMIT, "longer than 4000 characters");

	/* depth: 31 parentheses fit, 40 do not */
	n = 0;
	for (k = 0; k < 31; k++)
		buf[n++] = '(';
	buf[n++] = 'a';
	for (k = 0; k < 31; k++)
		buf[n++] = ')';
	buf[n] = '\0';
	e = parse_ok(buf);
	CHECK(e != NULL, "31 nested parentheses");
	derived_free(e);
	n = 0;
	for (k = 0; k < 40; k++)
		n += sprintf(buf + n, "abs(");
	buf[n++] = 'a';
	for (k = 0; k < 40; k++)
		buf[n++] = ')';
	buf[n] = '\0';
	check_refused(buf, DERIVED_ERR_LIMIT, "nested too deeply");
	n = 0;
	for (k = 0; k < 100; k++)
		buf[n++] = '-';
	buf[n++] = 'a';
	buf[n] = '\0';
	check_refused(buf, DERIVED_ERR_SYNTAX, "comments are not allowed");
	n = 0;
	for (k = 0; k < 100; k++)
		n += sprintf(buf + n, "- ");
	buf[n++] = 'a';
	buf[n] = '\0';
	check_refused(buf, DERIVED_ERR_LIMIT, "nested too deeply");

	/* inputs */
	n = 0;
	for (k = 0; k < DERIVED_MAX_INPUTS; k++)
		n += sprintf(buf + n, "%sm%d", k ? "+" : "", k);
	e = parse_ok(buf);
	CHECK(e != NULL && e->ninputs == DERIVED_MAX_INPUTS, "32 inputs");
	derived_free(e);
	sprintf(buf + n, "+m%d", k);
	check_refused(buf, DERIVED_ERR_LIMIT, "names too many metrics");

	/* nodes: a long flat sum */
	n = 0;
	for (k = 0; k < 1100; k++)
		n += sprintf(buf + n, "%s1", k ? "+" : "");
	check_refused(buf, DERIVED_ERR_LIMIT, "too many terms");

	/* a name */
	memset(buf, 'x', 129);
	buf[129] = '\0';
	check_refused(buf, DERIVED_ERR_LIMIT, "name too long");
	buf[128] = '\0';
	e = parse_ok(buf);
	CHECK(e != NULL, "a name of 128 characters");
	derived_free(e);
}

static void
test_eval(void)
{
	CHECK_NEAR(eval3("a / nullif(b, 0)", 10, 4, 0), 2.5, 1e-15, "division");
	CHECK_NEAR(eval3("a / b", 10, 0, 0), GAP, 0, "division by zero is a gap");
	CHECK_NEAR(eval3("a / nullif(b, 0)", 10, 0, 0), GAP, 0, "nullif to zero then division: a gap");
	CHECK_NEAR(eval3("a + b", 1, GAP, 0), GAP, 0, "an input without value is a gap");
	CHECK_NEAR(eval3("coalesce(b, 0) + a", 1, GAP, 0), 1, 0, "coalesce supplies a value");
	CHECK_NEAR(eval3("coalesce(b, c, 7)", 1, GAP, GAP), 7, 0, "coalesce: first non-gap");
	CHECK_NEAR(eval3("coalesce(b, c)", 1, GAP, GAP), GAP, 0, "coalesce of gaps is a gap");
	CHECK_NEAR(eval3("coalesce(a / b, -1)", 1, 0, 0), -1, 0, "coalesce over a division by zero");
	CHECK_NEAR(eval3("nullif(a, b)", 3, 3, 0), GAP, 0, "nullif equal: gap");
	CHECK_NEAR(eval3("nullif(a, b)", 3, 4, 0), 3, 0, "nullif different");
	CHECK_NEAR(eval3("nullif(a, b)", 3, GAP, 0), 3, 0, "nullif(a, gap) = a");
	CHECK_NEAR(eval3("nullif(b, a)", 3, GAP, 0), GAP, 0, "nullif(gap, a) = gap");
	CHECK_NEAR(eval3("greatest(a, b, c)", 1, GAP, 3), 3, 0, "greatest ignores gaps");
	CHECK_NEAR(eval3("least(a, b, c)", 2, GAP, 3), 2, 0, "least ignores gaps");
	CHECK_NEAR(eval3("least(b, c)", 2, GAP, GAP), GAP, 0, "least of gaps is a gap");
	CHECK_NEAR(eval3("abs(a - b)", 2, 5, 0), 3, 0, "abs");
	CHECK_NEAR(eval3("-a - -b * +2", 2, 5, 0), 8, 0, "signs and precedence");
	CHECK_NEAR(eval3("(a + b) * c", 1, 2, 3), 9, 0, "parentheses");
	CHECK_NEAR(eval3("a - b - c", 10, 2, 3), 5, 0, "left associative -");
	CHECK_NEAR(eval3("a / b / c", 24, 2, 3), 4, 0, "left associative /");
	CHECK_NEAR(eval3("a * 1e308 * 10", 1, 0, 0), GAP, 0, "overflow is a gap");
	CHECK_NEAR(eval3("coalesce(a * 1e308 * 10, 5)", 1, 0, 0), 5, 0, "coalesce over an overflow");
	CHECK_NEAR(eval3("round(a)", 2.5, 0, 0), 3, 0, "round half away from zero");
	CHECK_NEAR(eval3("round(a)", -2.5, 0, 0), -3, 0, "round half away from zero (negative)");
	CHECK_NEAR(eval3("round(a, 2)", 2.675, 0, 0), 2.68, 0, "round(2.675, 2) = 2.68 as round(numeric)");
	CHECK_NEAR(eval3("round(a, -2)", 1250, 0, 0), 1300, 0, "round to hundreds");
	CHECK_NEAR(eval3("round(a, 1)", 0.04, 0, 0), 0, 0, "round to zero");
	CHECK_NEAR(eval3("round(a, 1)", 0.05, 0, 0), 0.1, 0, "round up from the first kept digit");
	CHECK_NEAR(eval3("round(a, 3)", 1.0 / 3.0, 0, 0), 0.333, 0, "round(1/3, 3)");
	CHECK_NEAR(eval3("round(a, 1)", 9.96, 0, 0), 10, 0, "round with a carry");
	CHECK_NEAR(eval3("round(b, 1)", 0, GAP, 0), GAP, 0, "round of a gap");
	/* values of SELECT round(x::numeric, d)::float8 in PostgreSQL 15 */
	CHECK_NEAR(derived_round(123456.789012345, 4), 123456.789, 0, "round 15 significant digits");
	CHECK_NEAR(derived_round(0.000123456, 5), 0.00012, 0, "round small");
	CHECK_NEAR(derived_round(1.005, 2), 1.01, 0, "round(1.005, 2) = 1.01 as numeric");
	CHECK_NEAR(derived_round(1e20, 2), 1e20, 0, "round of a large value");
}

int
main(void)
{
	test_grammar();
	test_limits();
	test_eval();
	return unit_done();
}
