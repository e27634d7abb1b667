/* dsn.c - PostgreSQL connection strings without, and with, their secrets.
 *
 * The coordinator holds the warehouse DSN of a job, password included: it
 * commits.  Executors stage rows and need a connection too, but a task spec
 * crosses the network and reaches any executor, so it carries the DSN with
 * its secrets removed, and each executor adds its own password (from its
 * environment) only for the server, database and user it was configured
 * for; a DAG naming another server never gets the executor's password.
 * Strings are parsed and rebuilt with libpq's own parser, so both forms
 * (key=value and postgresql:// URIs) work, and values are quoted as libpq
 * wants ('...' with \ and ' escaped).
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "warehouse/warehouse.h"

static int is_secret(const char *keyword)
{
    return strcmp(keyword, "password") == 0 || strcmp(keyword, "sslpassword") == 0;
}

/* Appends " key='value'" to the growing string *buf (len, cap). */
static int append_kv(char **buf, size_t *len, size_t *cap, const char *key, const char *val)
{
    size_t need = *len + strlen(key) + 2 * strlen(val) + 8;
    if (need > *cap) {
        size_t ncap = need * 2;
        char *b = realloc(*buf, ncap);
        if (!b)
            return MR_ENOMEM;
        *buf = b;
        *cap = ncap;
    }
    char *p = *buf + *len;
    if (*len)
        *p++ = ' ';
    p += sprintf(p, "%s='", key);
    for (const char *v = val; *v; v++) {
        if (*v == '\\' || *v == '\'')
            *p++ = '\\';
        *p++ = *v;
    }
    *p++ = '\'';
    *p = '\0';
    *len = (size_t)(p - *buf);
    return 0;
}

static PQconninfoOption *parse(const char *dsn, mr_err *err)
{
    char *perr = NULL;
    PQconninfoOption *o = PQconninfoParse(dsn ? dsn : "", &perr);
    PQfreemem(perr); /* may quote the dsn: never shown */
    if (!o)
        mr_err_set(err, MR_EINVAL, "warehouse: the postgres dsn is not a valid libpq connection "
                                   "string");
    return o;
}

static const char *opt(const PQconninfoOption *o, const char *keyword)
{
    for (; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val && o->val[0] ? o->val : "";
    return "";
}

/* Rebuilds o without secrets, plus password when not NULL. */
static int rebuild(const PQconninfoOption *o, const char *password, char **out, mr_err *err)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = 0;
    for (; o->keyword && rc == 0; o++)
        if (o->val && o->val[0] && !is_secret(o->keyword))
            rc = append_kv(&buf, &len, &cap, o->keyword, o->val);
    if (rc == 0 && password && password[0])
        rc = append_kv(&buf, &len, &cap, "password", password);
    if (rc == 0 && !buf && !(buf = strdup("")))
        rc = MR_ENOMEM;
    if (rc < 0) {
        free(buf);
        return mr_err_oom(err, NULL);
    }
    *out = buf;
    return 0;
}

int mr_wh_dsn_public(const char *dsn, char **out, mr_err *err)
{
    *out = NULL;
    PQconninfoOption *o = parse(dsn, err);
    if (!o)
        return MR_EINVAL;
    int rc = rebuild(o, NULL, out, err);
    PQconninfoFree(o);
    return rc;
}

int mr_wh_dsn_with_secret(const char *job_dsn, const char *own_dsn, char **out, mr_err *err)
{
    *out = NULL;
    PQconninfoOption *j = parse(job_dsn, err);
    if (!j)
        return MR_EINVAL;
    PQconninfoOption *own = own_dsn && own_dsn[0] ? PQconninfoParse(own_dsn, NULL) : NULL;
    const char *password = NULL;
    if (own) {
        static const char *const same[] = {"host", "hostaddr", "port", "dbname", "user"};
        int match = 1;
        for (size_t i = 0; i < sizeof same / sizeof *same; i++)
            match &= strcmp(opt(j, same[i]), opt(own, same[i])) == 0;
        if (match)
            password = opt(own, "password");
    }
    int rc = rebuild(j, password, out, err);
    PQconninfoFree(own);
    PQconninfoFree(j);
    return rc;
}
