/*-------------------------------------------------------------------------
 *
 * tripl.h
 *	  Conventions shared by every PostgreSQL-side file: declaring SQL
 *	  functions, limits on user input, Unix-epoch time.  A file's own API
 *	  is in its own header (see src/README.md).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_H
#define TRIPL_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "fmgr.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"

/*
 * Declare a SQL-callable function.  The extension is built with
 * -fvisibility=hidden; PostgreSQL 15's PG_FUNCTION_INFO_V1 exports only the
 * info record, so the function itself is declared exported first.
 */
#define TRIPL_SQL_FUNCTION(name) \
	extern PGDLLEXPORT Datum name(PG_FUNCTION_ARGS); \
	PG_FUNCTION_INFO_V1(name)

/* Limits on user input */
#define TRIPL_MAX_QUERY_LENGTH		262144
#define TRIPL_MAX_FRAGMENT_LENGTH	32768
#define TRIPL_MAX_ROW_FILTERS		100
#define TRIPL_MAX_TEXT_LENGTH		10000
#define TRIPL_MAX_CHUNK_ROWS		100000
#define TRIPL_MAX_WINDOW_BUCKETS	400 /* buckets of a rolling window */
#define TRIPL_BREAKDOWN_CHARS		500 /* breakdown values keep this many characters */

/* Unix-epoch microseconds <-> TimestampTz */
static inline int64
ts_to_unix(TimestampTz t)
{
	return (int64) t + INT64CONST(946684800000000);
}

static inline TimestampTz
unix_to_ts(int64 u)
{
	return (TimestampTz) (u - INT64CONST(946684800000000));
}

#endif							/* TRIPL_H */
