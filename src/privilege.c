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
	return role_is_admin(GetUserId());
}

/* Is role a superuser or a member of tripl_admin? */
bool
role_is_admin(Oid role)
{
	Oid			admin = get_role_oid("tripl_admin", true);

	if (superuser_arg(role))
		return true;
	return OidIsValid(admin) && has_privs_of_role(role, admin);
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
	return role_may_read(GetUserId(), owner);
}

/* caller_may_read for any role (a derived metric's owner reading its inputs) */
bool
role_may_read(Oid role, Oid owner)
{
	Oid			reader = get_role_oid("tripl_reader", true);

	if (has_privs_of_role(role, owner) || role_is_admin(role))
		return true;
	return OidIsValid(reader) && has_privs_of_role(role, reader);
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
