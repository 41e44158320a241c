/*-------------------------------------------------------------------------
 *
 * collect_derived.c
 *	  Derived metrics in a collection pass (doc/collection.md, "Derived
 *	  metrics").  A derived metric reads no source: its values are its
 *	  expression (core/derived.c) over the values its inputs have stored in
 *	  tripl.metric_values, so it is computed after them, in the same pass:
 *
 *	  - collect_derived_plan() adds the active derived metrics that use
 *	    (directly or through other derived metrics) a metric of the pass,
 *	    orders every derived task after its inputs (derived of derived
 *	    too), and widens each one's window to cover its inputs' windows;
 *	  - collect_derived_values() computes one chunk of a task's window.
 *
 *	  Writing the values is collect.c's, as for every metric.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "collect_derived.h"
#include "core/derived.h"
#include "privilege.h"
#include "spiutil.h"
#include "tripl.h"

/* Is this a derived metric? */
bool
collect_derived_is(const MetricDef *m)
{
	return strcmp(m->kind, "derived") == 0;
}

/* An int8[] datum of the ids of tasks */
static Datum
task_ids_datum(List *tasks)
{
	Datum	   *ids = palloc(sizeof(Datum) * (list_length(tasks) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, tasks)
		ids[n++] = Int64GetDatum(((MetricTask *) lfirst(lc))->m->id);
	return PointerGetDatum(spi_int8_array(ids, n));
}

/* The task of a metric id among tasks, or NULL */
static MetricTask *
task_of(List *tasks, int64 id)
{
	ListCell   *lc;

	foreach(lc, tasks)
	{
		MetricTask *t = lfirst(lc);

		if (t->m->id == id)
			return t;
	}
	return NULL;
}

/* Deeper tasks later; ties by name, for a stable order */
static int
depth_cmp(const ListCell *a, const ListCell *b)
{
	MetricTask *x = lfirst(a);
	MetricTask *y = lfirst(b);

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	return strcmp(x->m->name, y->m->name);
}

/*
 * The derived tasks of a pass, in the order to compute them.  derived are
 * the derived tasks among *tasks; the active derived metrics that use a
 * metric of the pass and that the caller may manage are added to *tasks
 * (with an empty window of their own).  Each task's window then covers its
 * inputs' windows in the pass.  A task whose inputs form a cycle fails.
 */
List *
collect_derived_plan(List **tasks, List *derived)
{
	ListCell   *lc;
	int			round;
	bool		changed = true;

	/* a 0.1 catalog (not updated yet) has no derived metrics */
	catalog_execute("SELECT pg_catalog.to_regclass('tripl.metric_inputs') IS NOT NULL",
					0, NULL, NULL, NULL, true, 0);
	if (strcmp(spi_text(0, 0), "t") != 0 || *tasks == NIL)
		return NIL;

	/* the derived metrics using the pass's metrics, not in it yet */
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		vals[1] = {task_ids_datum(*tasks)};

		catalog_execute("WITH RECURSIVE d(id) AS ("
						"  SELECT i.metric_id FROM tripl.metric_inputs i WHERE i.input_metric_id = ANY($1)"
						"  UNION SELECT i.metric_id FROM tripl.metric_inputs i JOIN d ON i.input_metric_id = d.id) "
						"SELECT pg_catalog.array_agg(d.id) FROM d JOIN tripl.metrics m ON m.id = d.id "
						"WHERE m.status = 'active' AND NOT d.id = ANY($1) HAVING count(*) > 0",
						1, types, vals, NULL, true, 0);
		if (SPI_processed == 1)
		{
			bool		isnull;

			vals[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			foreach(lc, defs_metrics("m.id = ANY($1)", 1, types, vals))
			{
				MetricDef  *m = lfirst(lc);
				MetricTask *t;

				if (!caller_may_manage(m->owner))
					continue;
				t = palloc0(sizeof(MetricTask));
				t->m = m;
				t->win.from = PG_INT64_MAX;
				t->win.to = PG_INT64_MIN;
				t->changed_from = PG_INT64_MIN;
				t->bd_base = -1;
				*tasks = lappend(*tasks, t);
				derived = lappend(derived, t);
			}
		}
	}
	if (derived == NIL)
		return NIL;

	/* each derived task's inputs in the pass */
	foreach(lc, derived)
	{
		MetricTask *t = lfirst(lc);
		int			k;

		t->input_tasks = NIL;
		t->depth = 1;
		for (k = 0; k < t->m->ninputs; k++)
		{
			MetricTask *in = task_of(*tasks, t->m->input_ids[k]);

			if (in != NULL)
				t->input_tasks = lappend(t->input_tasks, in);
		}
	}

	/* inputs the owner may no longer read (privilege.c's rule, as create_metric) */
	{
		Oid			types[1] = {INT8ARRAYOID};
		Datum		vals[1] = {task_ids_datum(derived)};
		uint64		r;

		catalog_execute("SELECT i.metric_id, im.owner::oid::int8, pg_catalog.format('%I', im.name) "
						"FROM tripl.metric_inputs i JOIN tripl.metrics im ON im.id = i.input_metric_id "
						"WHERE i.metric_id = ANY($1) ORDER BY i.metric_id, im.name",
						1, types, vals, NULL, true, 0);
		for (r = 0; r < SPI_processed; r++)
		{
			MetricTask *t = task_of(derived, spi_int64(r, 0));

			if (t == NULL || role_may_read(t->m->owner, (Oid) spi_int64(r, 1)))
				continue;
			t->read_error = t->read_error == NULL ? pstrdup(spi_text(r, 2)) :
				psprintf("%s, %s", t->read_error, spi_text(r, 2));
		}
	}

	/* depth: after every derived input; still changing after n rounds: a cycle */
	for (round = 0; changed && round <= list_length(derived); round++)
	{
		changed = false;
		foreach(lc, derived)
		{
			MetricTask *t = lfirst(lc);
			ListCell   *li;

			foreach(li, t->input_tasks)
			{
				MetricTask *in = lfirst(li);

				if (collect_derived_is(in->m) && in->depth + 1 > t->depth)
				{
					t->depth = in->depth + 1;
					changed = true;
				}
			}
		}
	}
	foreach(lc, derived)
	{
		MetricTask *t = lfirst(lc);

		if (changed && t->depth > list_length(derived))
		{
			t->failed = true;
			t->error = psprintf("the inputs of derived metric \"%s\" form a cycle", t->m->name);
		}
	}
	list_sort(derived, depth_cmp);

	/* windows: inputs first, so a derived input's window is final when used */
	foreach(lc, derived)
	{
		MetricTask *t = lfirst(lc);
		ListCell   *li;

		foreach(li, t->input_tasks)
		{
			MetricTask *in = lfirst(li);

			if (in->win.from < in->win.to)
			{
				t->win.from = Min(t->win.from, in->win.from);
				t->win.to = Max(t->win.to, in->win.to);
			}
		}
	}
	return derived;
}

/* Fail a derived task whose input failed in this pass (its values would be stale) */
void
collect_derived_check_inputs(MetricTask *t)
{
	ListCell   *li;

	foreach(li, t->input_tasks)
	{
		MetricTask *in = lfirst(li);

		if (in->failed && !t->failed)
		{
			t->failed = true;
			t->error = psprintf("input metric \"%s\" failed: %s", in->m->name,
								in->error ? in->error : "(no message)");
		}
	}
	if (!t->failed && t->read_error != NULL && t->win.from < t->win.to)
	{
		t->failed = true;
		t->error = psprintf("the owner of derived metric \"%s\" may no longer read the values of %s",
							t->m->name, t->read_error);
	}
}

/*
 * The ids of a derived metric's inputs, in the order of its expression's
 * inputs, and as an int8[] datum (whether its owner may still read them:
 * collect_derived_plan)
 */
static int64 *
expression_input_ids(MetricDef *m, DerivedExpr *e, Datum *ids_array)
{
	int64	   *ids = palloc(sizeof(int64) * (e->ninputs + 1));
	Datum	   *d = palloc(sizeof(Datum) * (e->ninputs + 1));
	int			k;

	for (k = 0; k < e->ninputs; k++)
	{
		int			j;

		for (j = 0; j < m->ninputs; j++)
			if (strcmp(m->input_names[j], e->inputs[k]) == 0)
				break;
		if (j == m->ninputs)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("input metric \"%s\" of derived metric \"%s\" does not exist", e->inputs[k], m->name)));
		ids[k] = m->input_ids[j];
		d[k] = Int64GetDatum(ids[k]);
	}
	*ids_array = PointerGetDatum(spi_int8_array(d, e->ninputs));
	return ids;
}

/*
 * The values of a derived task in one chunk of its window (whole buckets
 * of width): its expression over its inputs' stored values, bucket by
 * bucket.  A bucket where no input has a value, or where the expression
 * gives a gap, has none.  Returns the number of values.
 */
int
collect_derived_values(MetricTask *t, GridWindow chunk, const Grid *g, int64 **buckets, double **vals)
{
	MetricDef  *m = t->m;
	DerivedExpr *e;
	DerivedError kind;
	char		errbuf[512];
	int64	   *ids;
	Datum		ids_array;
	int			nbi;
	int64_t    *bounds = grid_bounds(g, chunk, &nbi);	/* nbi + 1 starts */
	int64		nb = nbi;
	double	   *grid;
	bool	   *seen;
	double	   *in;
	int64	   *ob;
	double	   *ov;
	int			n = 0;
	int64		b;
	uint64		r;
	int			k;

	if (!derived_parse(m->expression, &e, &kind, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the expression of derived metric \"%s\" is invalid: %s", m->name, errbuf)));
	ids = expression_input_ids(m, e, &ids_array);
	grid = palloc(sizeof(double) * (nb * e->ninputs + 1));
	seen = palloc0(sizeof(bool) * (nb + 1));
	for (b = 0; b < nb * e->ninputs; b++)
		grid[b] = NAN;

	/* the inputs' stored values in the chunk */
	{
		Oid			types[3] = {INT8ARRAYOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
		Datum		v[3];

		v[0] = ids_array;
		v[1] = TimestampTzGetDatum(unix_to_ts(chunk.from));
		v[2] = TimestampTzGetDatum(unix_to_ts(chunk.to));
		catalog_execute("SELECT metric_id, (extract(epoch FROM bucket) * 1000000)::int8, value "
						"FROM tripl.metric_values WHERE metric_id = ANY($1) AND bucket >= $2 AND bucket < $3",
						3, types, v, NULL, true, 0);
	}
	for (r = 0; r < SPI_processed; r++)
	{
		int64		id = spi_int64(r, 0);
		int64		at = spi_int64(r, 1);
		bool		isnull;
		double		value = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3, &isnull));
		int64		lo = 0;
		int64		hi = nb;

		/* the bucket's index on the grid: a start of the chunk's grid, or none */
		while (lo < hi)
		{
			int64		mid = lo + (hi - lo) / 2;

			if (bounds[mid] < at)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo >= nb || bounds[lo] != at)
			continue;			/* not on the grid */
		for (k = 0; k < e->ninputs; k++)
			if (ids[k] == id)
			{
				grid[(int64) k * nb + lo] = value;
				seen[lo] = true;
			}
	}

	in = palloc(sizeof(double) * (e->ninputs + 1));
	ob = palloc(sizeof(int64) * (nb + 1));
	ov = palloc(sizeof(double) * (nb + 1));
	for (b = 0; b < nb; b++)
	{
		double		x;

		if (!seen[b])
			continue;
		for (k = 0; k < e->ninputs; k++)
			in[k] = grid[(int64) k * nb + b];
		x = derived_eval(e, in);
		if (isnan(x))
			continue;
		ob[n] = bounds[b];
		ov[n] = x;
		n++;
	}
	derived_free(e);
	core_free(bounds);
	*buckets = ob;
	*vals = ov;
	return n;
}

/*
 * explain_metric's text for a derived metric: its expression, inputs and
 * the equivalent SQL over tripl.metric_values.
 */
char *
collect_derived_explain(MetricDef *m)
{
	DerivedExpr *e;
	DerivedError kind;
	char		errbuf[512];
	StringInfoData buf;
	const char **cols;
	int64	   *ids;
	Datum		ids_array;
	int			k;
	char	   *sql;

	if (!derived_parse(m->expression, &e, &kind, errbuf, sizeof(errbuf)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the expression of derived metric \"%s\" is invalid: %s", m->name, errbuf)));
	ids = expression_input_ids(m, e, &ids_array);
	cols = palloc(sizeof(char *) * (e->ninputs + 1));
	initStringInfo(&buf);
	appendStringInfo(&buf, "-- tripl: metric %s is derived: computed from the stored values of its inputs,\n"
					 "-- after they are collected in the same pass (no source is read)\n"
					 "-- expression: %s\n-- inputs:", m->name, m->expression);
	for (k = 0; k < e->ninputs; k++)
	{
		appendStringInfo(&buf, "%s %s (id " INT64_FORMAT ")", k ? "," : "", e->inputs[k], ids[k]);
		cols[k] = psprintf("i%d.value", k);
	}
	appendStringInfoString(&buf, "\n-- $1, $2: the window [from, to) as timestamptz; the equivalent SQL\n"
						   "-- (a bucket where no input has a value, or the expression gives NULL, is a gap;\n"
						   "-- so is a non-finite result)\n"
						   "SELECT bucket, value FROM (\n  SELECT b.bucket, ");
	sql = derived_sql(e, cols);
	appendStringInfoString(&buf, sql);
	appendStringInfoString(&buf, " AS value\n  FROM (SELECT DISTINCT v.bucket FROM tripl.metric_values v\n"
						   "        WHERE v.metric_id IN (");
	for (k = 0; k < e->ninputs; k++)
		appendStringInfo(&buf, "%s" INT64_FORMAT, k ? ", " : "", ids[k]);
	appendStringInfoString(&buf, ") AND v.bucket >= $1 AND v.bucket < $2) b");
	for (k = 0; k < e->ninputs; k++)
		appendStringInfo(&buf, "\n  LEFT JOIN tripl.metric_values i%d ON i%d.metric_id = " INT64_FORMAT
						 " AND i%d.bucket = b.bucket", k, k, ids[k], k);
	appendStringInfoString(&buf, ") d\nWHERE value IS NOT NULL ORDER BY bucket");
	derived_free(e);
	return buf.data;
}
