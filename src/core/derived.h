/*-------------------------------------------------------------------------
 *
 * derived.h
 *	  The expressions of derived metrics: a tokenizer and recursive-descent
 *	  parser into a small expression tree, its evaluator, and its SQL
 *	  rendering for explain_metric.  Pure core (see core.h).
 *
 *	  The grammar (doc/definitions.md, "Derived metrics"):
 *
 *		expr    := term (('+' | '-') term)*
 *		term    := unary (('*' | '/') unary)*
 *		unary   := ('-' | '+') unary | primary
 *		primary := number | name | func '(' expr (',' expr)* ')' | '(' expr ')'
 *		func    := abs | coalesce | nullif | greatest | least | round
 *		name    := [A-Za-z_][A-Za-z0-9_.]* | '"' [A-Za-z0-9_.-]+ '"'
 *
 *	  A name is another metric's name.  Nothing else is accepted: the
 *	  expression is never handed to SQL, it is evaluated here.
 *
 *	  Values are doubles; NaN means "no value" (a gap).  Arithmetic on a
 *	  gap gives a gap, division by zero gives a gap, and so does any
 *	  non-finite intermediate result; coalesce returns its first non-gap
 *	  argument, nullif(a, b) a gap when a = b, greatest and least ignore
 *	  gaps (as PostgreSQL ignores NULLs), round rounds half away from zero
 *	  on the value's 15 significant digits (PostgreSQL's round(numeric)).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DERIVED_H
#define TRIPL_DERIVED_H

#include "core.h"

/* Limits of one expression */
#define DERIVED_MAX_LENGTH	4000	/* characters */
#define DERIVED_MAX_DEPTH	32		/* nesting of operators, calls, parentheses */
#define DERIVED_MAX_NODES	1000
#define DERIVED_MAX_INPUTS	32		/* distinct metrics named */
#define DERIVED_MAX_NAME	128		/* a metric name's length */
#define DERIVED_MAX_ROUND	15		/* |digits| of round(x, digits) */

typedef enum DerivedOp
{
	DOP_NUMBER,
	DOP_INPUT,
	DOP_NEG,
	DOP_ADD,
	DOP_SUB,
	DOP_MUL,
	DOP_DIV,
	DOP_ABS,
	DOP_COALESCE,
	DOP_NULLIF,
	DOP_GREATEST,
	DOP_LEAST,
	DOP_ROUND
} DerivedOp;

typedef struct DerivedNode
{
	DerivedOp	op;
	double		number;			/* DOP_NUMBER */
	int			input;			/* DOP_INPUT: index into inputs */
	int			digits;			/* DOP_ROUND */
	int			nargs;			/* operands, at args[first .. first + nargs) */
	int			first;
} DerivedNode;

typedef struct DerivedExpr
{
	DerivedNode *nodes;
	int			nnodes;
	int		   *args;			/* operand node indexes */
	int			nargs;
	int			root;
	char	  **inputs;			/* distinct metric names, in order of first use */
	int			ninputs;
} DerivedExpr;

/* What kind of problem derived_parse reports */
typedef enum DerivedError
{
	DERIVED_ERR_NONE = 0,
	DERIVED_ERR_SYNTAX,			/* not in the grammar */
	DERIVED_ERR_LIMIT			/* too long, too deep, too many inputs */
} DerivedError;

extern bool derived_parse(const char *text, DerivedExpr **out, DerivedError *kind,
						  char *errbuf, size_t errlen);
extern void derived_free(DerivedExpr *e);
extern int	derived_input_index(const DerivedExpr *e, const char *name);
extern double derived_eval(const DerivedExpr *e, const double *inputs);
extern double derived_round(double x, int digits);
extern char *derived_sql(const DerivedExpr *e, const char *const *input_sql);

#endif							/* TRIPL_DERIVED_H */
