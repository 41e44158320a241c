/*-------------------------------------------------------------------------
 *
 * spiutil.h
 *	  SPI helpers for tripl's own SQL: catalog statements as the extension
 *	  owner, result cells, parameters, the per-metric row lock (spiutil.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_SPIUTIL_H
#define TRIPL_SPIUTIL_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "utils/array.h"

/* Owner of the extension's objects: catalog writes run as this role */
extern Oid	tripl_catalog_owner(void);

extern int	catalog_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
							const char *nulls, bool read_only, long tcount);
extern void metric_state_lock(Datum metric_id);
extern bool catalog_has_column(const char *relname, const char *column);

extern const char *spi_text(int row, int col);
extern bool spi_isnull(int row, int col);
extern int64 spi_int64(int row, int col);
extern List *spi_text_array(int row, int col);
extern ArrayType *spi_int8_array(Datum *elems, int n);
extern void spi_param_text(Datum *values, char *nulls, int i, const char *s);

#endif							/* TRIPL_SPIUTIL_H */
