/* files_obj.c - file outputs to an object store (s3://): staging under a
 * job prefix, publish by server-side copy, _SUCCESS last.
 *
 * An object store has no rename, so the steps of warehouse/files.c become:
 *   stage:   each task attempt writes its part to a local temporary file
 *            ($TMPDIR), then uploads it (in parts when large) as
 *            "<path>.millrace-tmp-<job>/<attempt>.<ext>"; an attempt that
 *            fails uploads nothing (a failed multipart upload is aborted).
 *   begin:   refuse an output that has objects under "<path>/" unless the
 *            mode is overwrite; clear the job's staging prefix.
 *   prepare: check that every chosen attempt's object is there; delete the
 *            superseded attempts' objects.  Nothing visible changed yet.
 *   publish: delete "<path>/_SUCCESS"; copy each chosen attempt to
 *            "<path>/part-NNNNN.<ext>"; delete every other object that was
 *            under "<path>/" (the old output); write "<path>/_SUCCESS"
 *            last; delete the staging prefix.
 *   drop:    delete the job's staging prefix (the coordinator drops it
 *            again when an attempt of an ended job reports, since a PUT
 *            in flight at the end lands after the first drop).
 * After a commit, exactly the parts and _SUCCESS are under the path.  A
 * reader that waits for _SUCCESS never sees a half-published output; one
 * that lists without waiting can, during the publish, see new parts beside
 * old ones.  If the coordinator dies mid-publish, _SUCCESS is missing
 * (it was the first thing deleted and is the last thing written), the
 * parts may be a mix of old and new, and the staging prefix stays until
 * the job is run again with overwrite, whose publish removes what it does
 * not own under the path (docs/dag-format.md says so for users). */
#include "warehouse/files_obj.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/io.h"

/* Every object under prefix ("<url>/"). */
static int list_under(const mr_io_store *st, const char *url, char ***urls, size_t *n,
                      mr_err *err)
{
    char *prefix;
    uint64_t *sizes = NULL;
    if (asprintf(&prefix, "%s/", url) < 0)
        return mr_err_oom(err, NULL);
    int rc = st->list_all(prefix, urls, &sizes, n, err);
    free(prefix);
    free(sizes);
    return rc;
}

static void free_urls(char **urls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
}

/* Deletes every object under url/; 0 or the first error. */
static int remove_under(const mr_io_store *st, const char *url, mr_err *err)
{
    char **urls;
    size_t n;
    int rc = list_under(st, url, &urls, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = st->remove(urls[i], err);
    free_urls(urls, n); /* a failed listing leaves NULL, 0 */
    return rc;
}

int mr_wh_obj_stage_upload(const char *local, const char *url, mr_err *err)
{
    const mr_io_store *st = mr_io_store_for(url, err);
    int rc = st ? st->upload(url, local, err) : err->code;
    unlink(local);
    return rc;
}

int mr_wh_obj_begin(const mr_wh_config *cfg, const mr_wh_target *t, const char *tmp,
                    mr_err *err)
{
    const mr_io_store *st = mr_io_store_for(cfg->path, err);
    if (!st)
        return err->code;
    const char *mode = t->mode && t->mode[0] ? t->mode : "error_if_exists";
    if (strcmp(mode, "overwrite") != 0) {
        char **urls;
        size_t n;
        int rc = list_under(st, cfg->path, &urls, &n, err);
        if (rc < 0)
            return rc;
        free_urls(urls, n);
        if (n)
            return mr_err_set(err, MR_EINVAL, "output '%s' already exists (mode "
                              "error_if_exists; use overwrite)", cfg->path);
    }
    return remove_under(st, tmp, err);
}

static const char *base_of(const char *url)
{
    const char *s = strrchr(url, '/');
    return s ? s + 1 : url;
}

/* Whether the staged object name (its last segment) belongs to a chosen
 * attempt of the targets. */
static int chosen(const char *name, const mr_wh_target *targets, int ntargets, const char *ext)
{
    for (int i = 0; i < ntargets; i++)
        for (int k = 0; k < targets[i].nstaging; k++) {
            const char *s = targets[i].staging_tables[k];
            size_t sl = strlen(s);
            if (strncmp(name, s, sl) == 0 && name[sl] == '.' && strcmp(name + sl + 1, ext) == 0)
                return 1;
        }
    return 0;
}

int mr_wh_obj_prepare(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                      const char *tmp, const char *ext, mr_err *err)
{
    const mr_io_store *st = mr_io_store_for(cfg->path, err);
    if (!st)
        return err->code;
    char **urls;
    size_t n;
    int rc = list_under(st, tmp, &urls, &n, err);
    if (rc < 0)
        return rc;
    /* every chosen attempt's part is staged */
    for (int i = 0; rc == 0 && i < ntargets; i++)
        for (int k = 0; rc == 0 && k < targets[i].nstaging; k++) {
            int found = 0;
            for (size_t u = 0; u < n && !found; u++) {
                const char *b = base_of(urls[u]);
                size_t sl = strlen(targets[i].staging_tables[k]);
                found = strncmp(b, targets[i].staging_tables[k], sl) == 0 && b[sl] == '.' &&
                        strcmp(b + sl + 1, ext) == 0;
            }
            if (!found)
                rc = mr_err_set(err, MR_EIO, "output part %d of '%s' is missing from '%s/'", k,
                                cfg->path, tmp);
        }
    /* superseded attempts' parts */
    for (size_t u = 0; rc == 0 && u < n; u++)
        if (!chosen(base_of(urls[u]), targets, ntargets, ext))
            rc = st->remove(urls[u], err);
    free_urls(urls, n);
    return rc;
}

int mr_wh_obj_publish(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                      const char *tmp, const char *ext, mr_err *err)
{
    const mr_io_store *st = mr_io_store_for(cfg->path, err);
    if (!st)
        return err->code;
    char **old;
    size_t nold;
    int rc = list_under(st, cfg->path, &old, &nold, err);
    if (rc < 0)
        return rc;
    char *success = NULL, from[4400], to[4400];
    if (asprintf(&success, "%s/_SUCCESS", cfg->path) < 0) {
        free_urls(old, nold);
        return mr_err_oom(err, NULL);
    }
    /* _SUCCESS goes first and comes back last: while it is missing, the
     * output is not complete */
    rc = st->remove(success, err);
    for (int i = 0; rc == 0 && i < ntargets; i++)
        for (int k = 0; rc == 0 && k < targets[i].nstaging; k++) {
            snprintf(from, sizeof from, "%s/%s.%s", tmp, targets[i].staging_tables[k], ext);
            snprintf(to, sizeof to, "%s/part-%05d.%s", cfg->path, k, ext);
            rc = st->copy(from, to, err);
        }
    /* what was there before and is not one of the new parts */
    for (size_t u = 0; rc == 0 && u < nold; u++) {
        const char *b = base_of(old[u]);
        int keep = 0;
        for (int i = 0; i < ntargets && !keep; i++)
            for (int k = 0; k < targets[i].nstaging && !keep; k++) {
                snprintf(to, sizeof to, "part-%05d.%s", k, ext);
                keep = strcmp(b, to) == 0 && strlen(old[u]) == strlen(cfg->path) + 1 + strlen(to);
            }
        if (!keep)
            rc = st->remove(old[u], err);
    }
    if (rc == 0)
        rc = st->put(success, "", 0, err);
    if (rc == 0)
        rc = remove_under(st, tmp, err);
    free(success);
    free_urls(old, nold);
    if (rc < 0)
        mr_err_prefix(err, "publishing '%s'", cfg->path);
    return rc;
}

int mr_wh_obj_drop(const char *tmp, mr_err *err)
{
    const mr_io_store *st = mr_io_store_for(tmp, err);
    return st ? remove_under(st, tmp, err) : err->code;
}
