/*-------------------------------------------------------------------------
 *
 * privilege.c
 *	  Who may do what with a definition: its owner manages it, tripl_admin
 *	  (and superusers) manage everything, tripl_reader reads every metric's
 *	  values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/acl.h"

#include "privilege.h"

/* Is the current role a superuser or a member of tripl_admin? */
bool
caller_is_admin(void)
{
	Oid			admin = get_role_oid("tripl_admin", true);

	if (superuser())
		return true;
	return OidIsValid(admin) && has_privs_of_role(GetUserId(), admin);
}

/* May the current role collect (or otherwise manage) what owner defined? */
bool
caller_may_manage(Oid owner)
{
	return has_privs_of_role(GetUserId(), owner) || caller_is_admin();
}

/*
 * May the current role read what owner's metrics computed (values,
 * breakdowns, anomalies)?  The owner, tripl_admin, and members of
 * tripl_reader; private until granted, as PostgreSQL's own objects.
 */
bool
caller_may_read(Oid owner)
{
	Oid			reader = get_role_oid("tripl_reader", true);

	if (caller_may_manage(owner))
		return true;
	return OidIsValid(reader) && has_privs_of_role(GetUserId(), reader);
}

/* Refuse unless the current role may read the metric's values */
void
check_may_read(Oid owner, const char *metric)
{
	if (!caller_may_read(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read the values of metric \"%s\"", metric),
				 errhint("Values are readable by the metric's owner and by members of tripl_reader or tripl_admin.")));
}
