/*-------------------------------------------------------------------------
 *
 * distsrc.c
 *	  What Citus does with a source: the tables a source's query reads
 *	  (views expanded, sub-queries and CTEs included), which of them are
 *	  distributed or reference tables (pg_dist_partition), and whether a
 *	  column of the source is the distribution column of the one
 *	  distributed table it reads.  tripl.explain_metric() says from this
 *	  which plan shape a statement gets (doc/citus.md, "What is pushed
 *	  down"); collection uses it for distinct counts over the distribution
 *	  column.
 *
 *	  The source is parsed and analysed (not planned, not run) as its
 *	  owner under its search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "distsrc.h"
#include "spiutil.h"
#include "userquery.h"

/* Walker: the OIDs of every relation a query reads, once per read */
static bool
relations_walker(Node *node, List **relids)
{
	if (node == NULL)
		return false;
	if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION)
			*relids = lappend_oid(*relids, rte->relid);
		return false;
	}
	if (IsA(node, Query))
		return query_tree_walker((Query *) node, relations_walker, relids, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, relations_walker, relids);
}

/* The source, analysed and rewritten (views expanded) as its owner */
static Query *
analyse_source(const char *sql, Oid role, const char *search_path)
{
	UserQueryState st;
	List	   *raw = pg_parse_query(sql);
	List	   *queries;

	if (list_length(raw) != 1)
		return NULL;
	memset(&st, 0, sizeof(st));
	userquery_enter(&st, role, search_path, -1);
	queries = pg_analyze_and_rewrite_fixedparams(linitial_node(RawStmt, raw), sql, NULL, 0, NULL);
	userquery_leave(&st);
	userquery_restore(&st);
	return list_length(queries) == 1 ? linitial_node(Query, queries) : NULL;
}

bool
distsrc_inspect(const char *sql, Oid role, const char *search_path, DistSource *ds)
{
	List	   *relids = NIL;
	Query	   *q;
	Datum	   *oids;
	ListCell   *lc;
	int			n = 0;
	int64		colocation = -1;
	Oid			types[1] = {OIDARRAYOID};
	Datum		values[1];

	memset(ds, 0, sizeof(*ds));
	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	q = analyse_source(sql, role, search_path);
	if (q == NULL)
		return false;
	(void) relations_walker((Node *) q, &relids);
	if (relids == NIL)
		return false;
	oids = palloc(sizeof(Datum) * list_length(relids));
	foreach(lc, relids)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	catalog_execute("SELECT p.logicalrelid::oid::int8, p.partmethod::text, p.repmodel::text, p.colocationid::int8, "
					"format('%I.%I', n.nspname, c.relname), "
					"CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END, "
					"(SELECT count(*) FROM pg_dist_shard s WHERE s.logicalrelid = p.logicalrelid), "
					"CASE WHEN p.partmethod = 'h' THEN (SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = p.logicalrelid "
					"     AND a.attname = column_to_column_name(p.logicalrelid, p.partkey))::int8 END "
					"FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid "
					"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.logicalrelid = ANY($1)",
					1, types, values, NULL, true, 0);
	ds->colocated = true;
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		uint64		i;

		for (i = 0; i < SPI_processed; i++)
		{
			const char *method;

			if ((Oid) spi_int64(i, 0) != relid)
				continue;
			method = spi_text(i, 1);
			if (strcmp(method, "n") == 0)
			{
				/* a reference table; a Citus local table reads like a plain one */
				if (strcmp(spi_text(i, 2), "t") == 0)
					ds->nreference++;
				break;
			}
			ds->ndistributed++;
			if (colocation >= 0 && spi_int64(i, 3) != colocation)
				ds->colocated = false;
			colocation = spi_int64(i, 3);
			if (ds->table == NULL)
			{
				ds->relid = relid;
				ds->table = pstrdup(spi_text(i, 4));
				ds->column = spi_text(i, 5) ? pstrdup(spi_text(i, 5)) : NULL;
				ds->shards = (int) spi_int64(i, 6);
				ds->attno = spi_text(i, 7) ? (AttrNumber) spi_int64(i, 7) : InvalidAttrNumber;
			}
			break;
		}
	}
	ds->query = q;
	return ds->ndistributed + ds->nreference > 0;
}

/* Does a query only pass its rows on (no grouping, set operation or limit)? */
static bool
passes_rows(const Query *q)
{
	return q->commandType == CMD_SELECT && !q->hasAggs && !q->hasWindowFuncs &&
		q->groupClause == NIL && q->groupingSets == NIL && q->distinctClause == NIL &&
		q->setOperations == NULL && q->limitCount == NULL && q->limitOffset == NULL &&
		!q->hasTargetSRFs;
}

/* The table column a query's Var comes from, through sub-queries and joins */
static bool
var_origin(Query *q, Var *v, Oid *relid, AttrNumber *attno, int depth)
{
	RangeTblEntry *rte;

	if (depth > 32 || v->varlevelsup != 0 || !passes_rows(q))
		return false;
	rte = rt_fetch(v->varno, q->rtable);
	if (rte->rtekind == RTE_RELATION)
	{
		*relid = rte->relid;
		*attno = v->varattno;
		return true;
	}
	if (rte->rtekind == RTE_SUBQUERY)
	{
		TargetEntry *te = get_tle_by_resno(rte->subquery->targetList, v->varattno);

		return te != NULL && IsA(te->expr, Var) &&
			var_origin(rte->subquery, (Var *) te->expr, relid, attno, depth + 1);
	}
	if (rte->rtekind == RTE_JOIN && v->varattno > 0 && v->varattno <= list_length(rte->joinaliasvars))
	{
		Node	   *alias = list_nth(rte->joinaliasvars, v->varattno - 1);

		return alias != NULL && IsA(alias, Var) && var_origin(q, (Var *) alias, relid, attno, depth + 1);
	}
	return false;
}

bool
distsrc_is_dist_column(const DistSource *ds, const char *column)
{
	Query	   *q = (Query *) ds->query;
	ListCell   *lc;

	if (q == NULL || ds->ndistributed != 1 || ds->attno == InvalidAttrNumber)
		return false;
	foreach(lc, q->targetList)
	{
		TargetEntry *te = lfirst(lc);
		Oid			relid;
		AttrNumber	attno;

		if (te->resjunk || te->resname == NULL || strcmp(te->resname, column) != 0)
			continue;
		return IsA(te->expr, Var) && var_origin(q, (Var *) te->expr, &relid, &attno, 0) &&
			relid == ds->relid && attno == ds->attno;
	}
	return false;
}

char *
distsrc_plan_shape(const DistSource *ds, bool engine, List *distinct_columns)
{
	StringInfoData b;
	ListCell   *lc;

	initStringInfo(&b);
	if (ds->ndistributed == 0)
	{
		appendStringInfo(&b, "-- Citus: reads reference tables only: the statement runs on one node\n");
		return b.data;
	}
	appendStringInfo(&b, "-- Citus: reads distributed table %s (distributed by %s, %d shards)",
					 ds->table, ds->column ? ds->column : "range or append", ds->shards);
	if (ds->ndistributed > 1)
		appendStringInfo(&b, " and %d more distributed table read%s%s", ds->ndistributed - 1,
						 ds->ndistributed > 2 ? "s" : "",
						 ds->colocated ? ", co-located" : ", NOT co-located: Citus must repartition the join, or refuses it");
	if (ds->nreference > 0)
		appendStringInfo(&b, ", %d reference table read%s", ds->nreference, ds->nreference > 1 ? "s" : "");
	appendStringInfoString(&b, "\n");
	if (engine)
		appendStringInfoString(&b, "-- plan: the C engine pushed down: each shard returns one partial engine state, "
							   "the coordinator merges them\n");
	foreach(lc, distinct_columns)
	{
		const char *col = lfirst(lc);

		if (distsrc_is_dist_column(ds, col))
			appendStringInfo(&b, "-- count_distinct of %s: the distribution column (each shard's values are its own): %s\n",
							 col, engine ? "each shard ships its count of values per bucket, the coordinator adds "
							 "them (a breakdown folding values into 'Other' still ships sets)"
							 : "pushed down, the per-shard counts added");
		else if (engine)
			appendStringInfo(&b, "-- count_distinct of %s: not the distribution column: each shard ships its exact set "
							 "of values per bucket, the coordinator unites them\n", col);
	}
	if (!engine)
	{
		bool		gathered = false;

		foreach(lc, distinct_columns)
			gathered = gathered || !distsrc_is_dist_column(ds, (const char *) lfirst(lc));
		if (gathered)
			appendStringInfoString(&b, "-- plan: rows gathered: a count_distinct not over the distribution column makes "
								   "each shard return its (bucket, value) rows, the coordinator aggregates them\n");
		else
			appendStringInfoString(&b, "-- plan: SQL path pushed down: each shard returns its per-bucket aggregates, "
								   "the coordinator combines them\n");
	}
	return b.data;
}
