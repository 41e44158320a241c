/*-------------------------------------------------------------------------
 *
 * distsrc.h
 *	  What Citus does with a source (distsrc.c): the tables a source's
 *	  query reads, which of them are distributed, and whether a column of
 *	  the source is the distribution column.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_DISTSRC_H
#define TRIPL_DISTSRC_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* The Citus tables a source reads */
typedef struct DistSource
{
	int			ndistributed;	/* reads of hash-distributed tables */
	int			nreference;		/* reads of reference tables */
	bool		colocated;		/* every distributed table in one co-location
								 * group */
	char	   *table;			/* the first distributed table (qualified) */
	char	   *column;			/* its distribution column */
	int			shards;			/* its shard count */
	Oid			relid;			/* its OID */
	AttrNumber	attno;			/* its distribution column's number */
	void	   *query;			/* the analysed source query (Query *) */
} DistSource;

/*
 * Inspect a source query (the definition's SQL, parsed under its
 * search_path as its owner; nothing is run).  False when the database has
 * no Citus or the source reads no Citus table.
 */
extern bool distsrc_inspect(const char *sql, Oid role, const char *search_path, DistSource *ds);

/*
 * Is the source's output column the distribution column of the only
 * distributed table it reads (so that rows with one value of it are all on
 * one shard)?
 */
extern bool distsrc_is_dist_column(const DistSource *ds, const char *column);

/*
 * Lines for tripl.explain_metric(): how Citus runs a slot's statement,
 * given whether the C engine computes it and the distinct-count columns
 * its operands read (List of char *).
 */
extern char *distsrc_plan_shape(const DistSource *ds, bool engine, List *distinct_columns);

#endif							/* TRIPL_DISTSRC_H */
