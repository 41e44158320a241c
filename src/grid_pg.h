/*-------------------------------------------------------------------------
 *
 * grid_pg.h
 *	  Calendar grids inside the server (grid_pg.c): metric time zones as
 *	  PostgreSQL resolves them, and the SQL helpers over a metric's grid.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TRIPL_GRID_PG_H
#define TRIPL_GRID_PG_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "core/grid.h"

extern char *grid_pg_zone(const char *name, const char *what);
extern const char *grid_pg_make(Grid *g, const Interval *bucket, const char *zone);
extern const char *grid_pg_zone_name(const Grid *g);
extern void grid_pg_zone_of(const char *zone, GridZone *z);
extern void grid_pg_zone_abbrev(const void *arg, int64_t utc, char *buf, size_t len);
extern bool grid_pg_is_utc(const char *zone);
extern const char *grid_pg_zone_column(void);

#endif							/* TRIPL_GRID_PG_H */
