/*-------------------------------------------------------------------------
 *
 * derived.c
 *	  The expressions of derived metrics (see derived.h): tokenizer,
 *	  recursive-descent parser, evaluator with gap semantics, and the
 *	  equivalent SQL for explain_metric.
 *
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corebuf.h"
#include "derived.h"

typedef enum TokKind
{
	TOK_END,
	TOK_NUMBER,
	TOK_NAME,					/* a bare name: a function when '(' follows */
	TOK_QUOTED,					/* a quoted metric name */
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_COMMA,
	TOK_PLUS,
	TOK_MINUS,
	TOK_STAR,
	TOK_SLASH
} TokKind;

typedef struct Token
{
	TokKind		kind;
	int			pos;			/* 1-based character position */
	int			start;			/* offset of the text (names: inside quotes) */
	int			len;
	double		number;
} Token;

typedef struct Parser
{
	const char *text;
	Token	   *toks;
	int			ntoks;
	int			cur;
	int			depth;
	DerivedExpr *e;
	DerivedError kind;
	char	   *errbuf;
	size_t		errlen;
} Parser;

/* The functions, with their argument counts */
static const struct
{
	const char *name;
	DerivedOp	op;
	int			min_args;
	int			max_args;
}			functions[] =
{
	{"abs", DOP_ABS, 1, 1},
	{"coalesce", DOP_COALESCE, 1, DERIVED_MAX_INPUTS},
	{"nullif", DOP_NULLIF, 2, 2},
	{"greatest", DOP_GREATEST, 1, DERIVED_MAX_INPUTS},
	{"least", DOP_LEAST, 1, DERIVED_MAX_INPUTS},
	{"round", DOP_ROUND, 1, 2},
};
#define NFUNCTIONS ((int) (sizeof(functions) / sizeof(functions[0])))
#define FUNCTIONS_LIST "abs, coalesce, nullif, greatest, least and round"

static bool
syntax_error(Parser *p, const char *fmt, int pos, const char *what)
{
	char		msg[256];

	p->kind = DERIVED_ERR_SYNTAX;
	snprintf(msg, sizeof(msg), fmt, what);
	return core_errorf(p->errbuf, p->errlen, "%s at character %d", msg, pos);
}

static bool
limit_error(Parser *p, const char *msg, int pos)
{
	p->kind = DERIVED_ERR_LIMIT;
	return core_errorf(p->errbuf, p->errlen, "%s at character %d", msg, pos);
}

/* A token's text for messages (truncated) */
static const char *
tok_text(Parser *p, const Token *t, char *buf, size_t len)
{
	int			n;

	if (t->kind == TOK_END)
		return "end of expression";
	n = t->len < 40 ? t->len : 40;
	snprintf(buf, len, "\"%.*s%s\"", n, p->text + t->start, t->len > n ? "..." : "");
	return buf;
}

static bool
is_name_start(int c)
{
	return isalpha(c) || c == '_';
}

static bool
is_name_char(int c)
{
	return isalnum(c) || c == '_' || c == '.';
}

/* Split the text into tokens (p->toks, ending with TOK_END) */
static bool
tokenize(Parser *p)
{
	const char *s = p->text;
	int			n = (int) strlen(s);
	int			i = 0;

	p->toks = core_alloc(sizeof(Token) * (n + 1));
	while (true)
	{
		Token	   *t = &p->toks[p->ntoks];
		unsigned char c;

		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
			i++;
		t->pos = i + 1;
		t->start = i;
		if (i >= n)
		{
			t->kind = TOK_END;
			p->ntoks++;
			return true;
		}
		c = (unsigned char) s[i];
		if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char) s[i + 1])))
		{
			char		buf[64];
			int			j = i;

			while (j < n && isdigit((unsigned char) s[j]))
				j++;
			if (j < n && s[j] == '.')
				for (j++; j < n && isdigit((unsigned char) s[j]); j++);
			if (j < n && (s[j] == 'e' || s[j] == 'E'))
			{
				int			k = j + 1;

				if (k < n && (s[k] == '+' || s[k] == '-'))
					k++;
				if (k < n && isdigit((unsigned char) s[k]))
					for (j = k; j < n && isdigit((unsigned char) s[j]); j++);
			}
			if (j < n && (is_name_char((unsigned char) s[j]) || s[j] == '"'))
				return syntax_error(p, "invalid number%s", t->pos, "");
			if (j - i >= (int) sizeof(buf))
				return syntax_error(p, "number too long%s", t->pos, "");
			memcpy(buf, s + i, j - i);
			buf[j - i] = '\0';
			t->number = strtod(buf, NULL);
			if (!isfinite(t->number))
				return syntax_error(p, "number out of range%s", t->pos, "");
			t->kind = TOK_NUMBER;
			t->len = j - i;
			i = j;
		}
		else if (is_name_start(c))
		{
			int			j = i;

			while (j < n && is_name_char((unsigned char) s[j]))
				j++;
			if (j - i > DERIVED_MAX_NAME)
				return limit_error(p, "name too long", t->pos);
			if (j < n && s[j] == '"')
				return syntax_error(p, "unexpected quote%s", j + 1, "");
			t->kind = TOK_NAME;
			t->len = j - i;
			i = j;
		}
		else if (c == '"')
		{
			int			j = i + 1;

			while (j < n && (isalnum((unsigned char) s[j]) || s[j] == '_' || s[j] == '.' || s[j] == '-'))
				j++;
			if (j >= n || s[j] != '"')
				return syntax_error(p, "a quoted metric name may contain only letters, digits, \"_\", \".\" and \"-\", and must end with a quote%s",
									j + 1, "");
			if (j == i + 1)
				return syntax_error(p, "empty quoted name%s", t->pos, "");
			if (j - i - 1 > DERIVED_MAX_NAME)
				return limit_error(p, "name too long", t->pos);
			if (j + 1 < n && (is_name_char((unsigned char) s[j + 1]) || s[j + 1] == '"'))
				return syntax_error(p, "unexpected character after a quoted name%s", j + 2, "");
			t->kind = TOK_QUOTED;
			t->start = i + 1;
			t->len = j - i - 1;
			i = j + 1;
		}
		else
		{
			char		what[16];

			if ((c == '-' && i + 1 < n && s[i + 1] == '-') || (c == '/' && i + 1 < n && s[i + 1] == '*'))
				return syntax_error(p, "comments are not allowed%s", t->pos, "");
			switch (c)
			{
				case '(':
					t->kind = TOK_LPAREN;
					break;
				case ')':
					t->kind = TOK_RPAREN;
					break;
				case ',':
					t->kind = TOK_COMMA;
					break;
				case '+':
					t->kind = TOK_PLUS;
					break;
				case '-':
					t->kind = TOK_MINUS;
					break;
				case '*':
					t->kind = TOK_STAR;
					break;
				case '/':
					t->kind = TOK_SLASH;
					break;
				default:
					if (c >= 0x20 && c < 0x7f)
						snprintf(what, sizeof(what), "\"%c\"", c);
					else
						snprintf(what, sizeof(what), "byte 0x%02x", c);
					return syntax_error(p, "unexpected character %s (allowed: numbers, metric names, + - * /, parentheses and the functions " FUNCTIONS_LIST ")",
										t->pos, what);
			}
			t->len = 1;
			i++;
		}
		p->ntoks++;
	}
}

/* Add a node; returns its index, or -1 past the limit */
static int
add_node(Parser *p, DerivedOp op, int pos)
{
	DerivedExpr *e = p->e;

	if (e->nnodes >= DERIVED_MAX_NODES)
	{
		limit_error(p, "expression has too many terms", pos);
		return -1;
	}
	e->nodes[e->nnodes].op = op;
	e->nodes[e->nnodes].input = -1;
	return e->nnodes++;
}

/* Set a node's operands */
static void
set_args(Parser *p, int node, const int *args, int nargs)
{
	DerivedExpr *e = p->e;

	e->nodes[node].first = e->nargs;
	e->nodes[node].nargs = nargs;
	memcpy(e->args + e->nargs, args, sizeof(int) * nargs);
	e->nargs += nargs;
}

/* The index of a metric name among the inputs, adding it when new */
static int
input_for(Parser *p, const Token *t)
{
	DerivedExpr *e = p->e;
	int			k;
	char	   *name;

	for (k = 0; k < e->ninputs; k++)
		if ((int) strlen(e->inputs[k]) == t->len && memcmp(e->inputs[k], p->text + t->start, t->len) == 0)
			return k;
	if (e->ninputs >= DERIVED_MAX_INPUTS)
	{
		limit_error(p, "expression names too many metrics", t->pos);
		return -1;
	}
	name = core_alloc(t->len + 1);
	memcpy(name, p->text + t->start, t->len);
	e->inputs[e->ninputs] = name;
	return e->ninputs++;
}

static int	parse_expr(Parser *p);

/* A binary operator node over two parsed operands */
static int
binary(Parser *p, DerivedOp op, int left, int right, int pos)
{
	int			args[2] = {left, right};
	int			node = add_node(p, op, pos);

	if (node >= 0)
		set_args(p, node, args, 2);
	return node;
}

/* The integer constant of round(x, digits), or false */
static bool
round_digits(Parser *p, int node, int pos, int *digits)
{
	DerivedNode *d = &p->e->nodes[node];
	double		sign = 1.0;

	if (d->op == DOP_NEG)
	{
		sign = -1.0;
		d = &p->e->nodes[p->e->args[d->first]];
	}
	if (d->op != DOP_NUMBER || d->number != floor(d->number) ||
		fabs(d->number) > DERIVED_MAX_ROUND)
	{
		p->kind = DERIVED_ERR_SYNTAX;
		return core_errorf(p->errbuf, p->errlen,
						   "the digits of round(x, digits) must be an integer constant between -%d and %d at character %d",
						   DERIVED_MAX_ROUND, DERIVED_MAX_ROUND, pos);
	}
	*digits = (int) (sign * d->number);
	return true;
}

/* A function call: name '(' expr (',' expr)* ')' */
static int
parse_call(Parser *p, const Token *name)
{
	char		fname[16];
	char		buf[64];
	int			f;
	int			args[DERIVED_MAX_INPUTS];
	int			nargs = 0;
	int			node;
	int			digits_pos = 0;

	for (f = 0; f < NFUNCTIONS; f++)
	{
		size_t		fl = strlen(functions[f].name);

		if ((size_t) name->len == fl && strncasecmp(p->text + name->start, functions[f].name, fl) == 0)
			break;
	}
	if (f == NFUNCTIONS)
	{
		syntax_error(p, "function %s is not allowed (the functions are " FUNCTIONS_LIST ")",
					 name->pos, tok_text(p, name, buf, sizeof(buf)));
		return -1;
	}
	snprintf(fname, sizeof(fname), "%s", functions[f].name);
	p->cur++;					/* '(' */
	while (true)
	{
		int			arg;

		if (nargs >= functions[f].max_args)
		{
			syntax_error(p, "too many arguments for %s", p->toks[p->cur].pos, fname);
			return -1;
		}
		if (nargs == 1)
			digits_pos = p->toks[p->cur].pos;
		arg = parse_expr(p);
		if (arg < 0)
			return -1;
		args[nargs++] = arg;
		if (p->toks[p->cur].kind == TOK_COMMA)
		{
			p->cur++;
			continue;
		}
		if (p->toks[p->cur].kind != TOK_RPAREN)
		{
			syntax_error(p, "expected \",\" or \")\", found %s", p->toks[p->cur].pos,
						 tok_text(p, &p->toks[p->cur], buf, sizeof(buf)));
			return -1;
		}
		p->cur++;
		break;
	}
	if (nargs < functions[f].min_args)
	{
		syntax_error(p, "too few arguments for %s", name->pos, fname);
		return -1;
	}
	node = add_node(p, functions[f].op, name->pos);
	if (node < 0)
		return -1;
	if (functions[f].op == DOP_ROUND && nargs == 2)
	{
		int			digits = 0;

		if (!round_digits(p, args[1], digits_pos, &digits))
			return -1;
		p->e->nodes[node].digits = digits;
		nargs = 1;
	}
	set_args(p, node, args, nargs);
	return node;
}

/* primary := number | name | call | '(' expr ')' */
static int
parse_primary(Parser *p)
{
	Token	   *t = &p->toks[p->cur];
	char		buf[64];
	int			node;

	switch (t->kind)
	{
		case TOK_NUMBER:
			node = add_node(p, DOP_NUMBER, t->pos);
			if (node >= 0)
				p->e->nodes[node].number = t->number;
			p->cur++;
			return node;
		case TOK_NAME:
		case TOK_QUOTED:
			if (p->toks[p->cur + 1].kind == TOK_LPAREN)
			{
				if (t->kind == TOK_QUOTED)
				{
					syntax_error(p, "%s is a metric name, not a function", t->pos, tok_text(p, t, buf, sizeof(buf)));
					return -1;
				}
				p->cur++;
				return parse_call(p, t);
			}
			node = add_node(p, DOP_INPUT, t->pos);
			if (node >= 0 && (p->e->nodes[node].input = input_for(p, t)) < 0)
				return -1;
			p->cur++;
			return node;
		case TOK_LPAREN:
			p->cur++;
			node = parse_expr(p);
			if (node < 0)
				return -1;
			if (p->toks[p->cur].kind != TOK_RPAREN)
			{
				syntax_error(p, "expected \")\", found %s", p->toks[p->cur].pos,
							 tok_text(p, &p->toks[p->cur], buf, sizeof(buf)));
				return -1;
			}
			p->cur++;
			return node;
		default:
			syntax_error(p, "expected a number, a metric name, a function or \"(\", found %s", t->pos,
						 tok_text(p, t, buf, sizeof(buf)));
			return -1;
	}
}

/*
 * unary := ('-' | '+') unary | primary.  Every nesting (sign, parenthesis,
 * call argument) passes here, so the depth is counted here.
 */
static int
parse_unary(Parser *p)
{
	Token	   *t = &p->toks[p->cur];
	int			node;

	if (++p->depth > DERIVED_MAX_DEPTH)
	{
		limit_error(p, "expression nested too deeply", t->pos);
		return -1;
	}
	if (t->kind == TOK_MINUS || t->kind == TOK_PLUS)
	{
		int			operand;

		p->cur++;
		operand = parse_unary(p);
		if (operand < 0)
			return -1;
		if (t->kind == TOK_PLUS)
			node = operand;
		else if (p->e->nodes[operand].op == DOP_NUMBER)
		{
			p->e->nodes[operand].number = -p->e->nodes[operand].number;
			node = operand;
		}
		else
		{
			node = add_node(p, DOP_NEG, t->pos);
			if (node >= 0)
				set_args(p, node, &operand, 1);
		}
	}
	else
		node = parse_primary(p);
	p->depth--;
	return node;
}

/* term := unary (('*' | '/') unary)* */
static int
parse_term(Parser *p)
{
	int			left = parse_unary(p);

	while (left >= 0 && (p->toks[p->cur].kind == TOK_STAR || p->toks[p->cur].kind == TOK_SLASH))
	{
		Token	   *op = &p->toks[p->cur++];
		int			right = parse_unary(p);

		if (right < 0)
			return -1;
		left = binary(p, op->kind == TOK_STAR ? DOP_MUL : DOP_DIV, left, right, op->pos);
	}
	return left;
}

/* expr := term (('+' | '-') term)* */
static int
parse_expr(Parser *p)
{
	int			left = parse_term(p);

	while (left >= 0 && (p->toks[p->cur].kind == TOK_PLUS || p->toks[p->cur].kind == TOK_MINUS))
	{
		Token	   *op = &p->toks[p->cur++];
		int			right = parse_term(p);

		if (right < 0)
			return -1;
		left = binary(p, op->kind == TOK_PLUS ? DOP_ADD : DOP_SUB, left, right, op->pos);
	}
	return left;
}

/*
 * Parse an expression.  On success *out is a new tree (derived_free);
 * otherwise false with the message in errbuf and its kind in *kind.
 */
bool
derived_parse(const char *text, DerivedExpr **out, DerivedError *kind, char *errbuf, size_t errlen)
{
	Parser		p;
	size_t		len;
	int			root;
	char		buf[64];

	*out = NULL;
	*kind = DERIVED_ERR_SYNTAX;
	if (text == NULL)
		return core_errorf(errbuf, errlen, "expression is missing");
	len = strlen(text);
	if (len > DERIVED_MAX_LENGTH)
	{
		*kind = DERIVED_ERR_LIMIT;
		return core_errorf(errbuf, errlen, "expression is longer than %d characters", DERIVED_MAX_LENGTH);
	}
	memset(&p, 0, sizeof(p));
	p.text = text;
	p.errbuf = errbuf;
	p.errlen = errlen;
	p.e = core_alloc(sizeof(DerivedExpr));
	p.e->nodes = core_alloc(sizeof(DerivedNode) * DERIVED_MAX_NODES);
	p.e->args = core_alloc(sizeof(int) * 2 * DERIVED_MAX_NODES);
	p.e->inputs = core_alloc(sizeof(char *) * DERIVED_MAX_INPUTS);
	if (!tokenize(&p))
		goto fail;
	if (p.toks[0].kind == TOK_END)
	{
		syntax_error(&p, "expression is empty%s", 1, "");
		goto fail;
	}
	root = parse_expr(&p);
	if (root < 0)
		goto fail;
	if (p.toks[p.cur].kind != TOK_END)
	{
		syntax_error(&p, "unexpected %s", p.toks[p.cur].pos, tok_text(&p, &p.toks[p.cur], buf, sizeof(buf)));
		goto fail;
	}
	p.e->root = root;
	core_free(p.toks);
	*kind = DERIVED_ERR_NONE;
	*out = p.e;
	return true;

fail:
	*kind = p.kind;
	core_free(p.toks);
	derived_free(p.e);
	return false;
}

/* Free a tree */
void
derived_free(DerivedExpr *e)
{
	int			k;

	if (e == NULL)
		return;
	for (k = 0; k < e->ninputs; k++)
		core_free(e->inputs[k]);
	core_free(e->inputs);
	core_free(e->nodes);
	core_free(e->args);
	core_free(e);
}

/* The index of a metric name among the inputs, or -1 */
int
derived_input_index(const DerivedExpr *e, const char *name)
{
	int			k;

	for (k = 0; k < e->ninputs; k++)
		if (strcmp(e->inputs[k], name) == 0)
			return k;
	return -1;
}

/*
 * Round half away from zero to digits decimal places, on the value's 15
 * significant digits: what round(x::numeric, digits)::float8 gives.
 */
double
derived_round(double x, int digits)
{
	char		buf[40];
	char		mant[32];
	long long	m = 0;
	int			exp10;
	int			keep;
	int			i;
	bool		neg = x < 0;

	if (isnan(x) || isinf(x) || x == 0.0)
		return x == 0.0 ? 0.0 : x;
	/* d.dddddddddddddde±XX: 15 significant digits, as float8 -> numeric */
	snprintf(buf, sizeof(buf), "%.14e", fabs(x));
	exp10 = atoi(strchr(buf, 'e') + 1);
	mant[0] = buf[0];
	memcpy(mant + 1, buf + 2, 14);
	/* digit i has place 10^(exp10 - i); keep those at or above 10^-digits */
	keep = exp10 + digits + 1;
	if (keep > 15)
		keep = 15;
	if (keep < 0)
		return 0.0;
	for (i = 0; i < keep; i++)
		m = m * 10 + (mant[i] - '0');
	if (keep < 15 && mant[keep] >= '5')
		m++;
	if (m == 0)
		return 0.0;
	snprintf(buf, sizeof(buf), "%s%llde%d", neg ? "-" : "", m, exp10 - keep + 1);
	return strtod(buf, NULL);
}

/* Evaluate one node */
static double
eval_node(const DerivedExpr *e, int idx, const double *inputs)
{
	const DerivedNode *n = &e->nodes[idx];
	const int  *a = e->args + n->first;
	double		r = NAN;
	double		x;
	double		y;
	int			k;

	switch (n->op)
	{
		case DOP_NUMBER:
			r = n->number;
			break;
		case DOP_INPUT:
			r = inputs[n->input];
			break;
		case DOP_NEG:
			r = -eval_node(e, a[0], inputs);
			break;
		case DOP_ADD:
		case DOP_SUB:
		case DOP_MUL:
		case DOP_DIV:
			x = eval_node(e, a[0], inputs);
			y = eval_node(e, a[1], inputs);
			if (n->op == DOP_ADD)
				r = x + y;
			else if (n->op == DOP_SUB)
				r = x - y;
			else if (n->op == DOP_MUL)
				r = x * y;
			else
				r = (y == 0.0) ? NAN : x / y;
			break;
		case DOP_ABS:
			r = fabs(eval_node(e, a[0], inputs));
			break;
		case DOP_COALESCE:
			for (k = 0; k < n->nargs && isnan(r); k++)
				r = eval_node(e, a[k], inputs);
			break;
		case DOP_NULLIF:
			x = eval_node(e, a[0], inputs);
			y = eval_node(e, a[1], inputs);
			r = (!isnan(y) && x == y) ? NAN : x;
			break;
		case DOP_GREATEST:
		case DOP_LEAST:
			for (k = 0; k < n->nargs; k++)
			{
				x = eval_node(e, a[k], inputs);
				if (isnan(x))
					continue;
				if (isnan(r) || (n->op == DOP_GREATEST ? x > r : x < r))
					r = x;
			}
			break;
		case DOP_ROUND:
			r = derived_round(eval_node(e, a[0], inputs), n->digits);
			break;
	}
	return isfinite(r) ? r : NAN;
}

/*
 * The value of an expression given its inputs' values (inputs[k] is the
 * value of e->inputs[k], NaN for none); NaN is a gap.
 */
double
derived_eval(const DerivedExpr *e, const double *inputs)
{
	return eval_node(e, e->root, inputs);
}

/* Append a node as SQL */
static void
sql_node(CoreBuf *b, const DerivedExpr *e, int idx, const char *const *input_sql)
{
	const DerivedNode *n = &e->nodes[idx];
	const int  *a = e->args + n->first;
	static const char *const names[] = {
		[DOP_ABS] = "abs", [DOP_COALESCE] = "coalesce", [DOP_NULLIF] = "nullif",
		[DOP_GREATEST] = "greatest", [DOP_LEAST] = "least"
	};
	int			k;

	switch (n->op)
	{
		case DOP_NUMBER:
			corebuf_printf(b, n->number < 0 ? "(%.17g)::float8" : "%.17g::float8", n->number);
			break;
		case DOP_INPUT:
			corebuf_puts(b, input_sql[n->input]);
			break;
		case DOP_NEG:
			corebuf_puts(b, "(-");
			sql_node(b, e, a[0], input_sql);
			corebuf_puts(b, ")");
			break;
		case DOP_ADD:
		case DOP_SUB:
		case DOP_MUL:
		case DOP_DIV:
			corebuf_puts(b, "(");
			sql_node(b, e, a[0], input_sql);
			corebuf_puts(b, n->op == DOP_ADD ? " + " : n->op == DOP_SUB ? " - " : n->op == DOP_MUL ? " * " : " / nullif(");
			sql_node(b, e, a[1], input_sql);
			corebuf_puts(b, n->op == DOP_DIV ? ", 0))" : ")");
			break;
		case DOP_ROUND:
			corebuf_puts(b, "round((");
			sql_node(b, e, a[0], input_sql);
			corebuf_printf(b, ")::numeric, %d)::float8", n->digits);
			break;
		default:
			corebuf_printf(b, "%s(", names[n->op]);
			for (k = 0; k < n->nargs; k++)
			{
				if (k > 0)
					corebuf_puts(b, ", ");
				sql_node(b, e, a[k], input_sql);
			}
			corebuf_puts(b, ")");
			break;
	}
}

/*
 * The expression as SQL over float8 columns (input_sql[k] stands for
 * input k): division by zero as NULL, round over numeric.  Non-finite
 * results aside, it gives the values derived_eval gives, NULL for a gap.
 * Returns a core_alloc'd string.
 */
char *
derived_sql(const DerivedExpr *e, const char *const *input_sql)
{
	CoreBuf		b;

	memset(&b, 0, sizeof(b));
	sql_node(&b, e, e->root, input_sql);
	return b.data;
}
