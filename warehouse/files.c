/* files.c - file outputs (a write node's `to: csv | jsonl | parquet`) as a third
 * warehouse driver: part files staged per task attempt, published by
 * rename.
 *
 * Layout.  The staging area of a job's output cfg->path is the folder
 * "<path>.millrace-tmp-<job>" beside it; every task attempt writes its
 * rows there into one part file named after its staging name
 * ("<staging>.<csv|jsonl>", with a header line for CSV), through
 * core/filewriter.h.  Staging and commit in the driver's steps:
 *   begin:   (job start) create the folders leading to the output, refuse
 *            an existing output unless the mode is overwrite, make an
 *            empty staging folder.
 *   stage:   one part file per attempt; finish fsyncs it, abort removes it.
 *   prepare: (before the warehouse transaction) rename the chosen attempt
 *            of each task to "part-%05d.<ext>", remove superseded
 *            attempts' files, write _SUCCESS.  Nothing visible changed yet.
 *   publish: (after the warehouse committed) move an existing output aside,
 *            rename the staging folder onto the output, remove the old one.
 *            These are renames within one folder.
 *   drop:    (a failed or cancelled job) remove the staging folder.
 * A target is never half written.  Coordinator and executors must see the
 * same file system here, as for the SQLite warehouse (a shared volume in a
 * cluster).  Confinement to the data root is the callers' check
 * (coordinator/files.c, executor/task.c): a driver trusts its paths.
 *
 * An s3:// output has the same steps over an object store, in
 * warehouse/files_obj.c: a part is written to a local temporary file and
 * uploaded when it is finished; publish copies instead of renaming.
 */
#include "warehouse/warehouse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/filewriter.h"
#include "core/io.h"
#include "warehouse/files_obj.h"

typedef struct files_stage {
    mr_wh_stage base;
    mr_filewriter *fw;
    char *local; /* an s3:// part: the local file written, then uploaded */
    char *url;
} files_stage;

static const char *ext_of(const mr_wh_config *cfg)
{
    return strcmp(cfg->driver, "jsonl") == 0     ? "jsonl"
           : strcmp(cfg->driver, "parquet") == 0 ? "parquet"
                                                 : "csv";
}

static void staging_dir(const mr_wh_config *cfg, char *out, size_t cap)
{
    snprintf(out, cap, "%s.millrace-tmp-%s", cfg->path, cfg->job_id);
}

int mr_wh_files_part_path(const mr_wh_config *cfg, const char *staging, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.millrace-tmp-%s/%s.%s", cfg->path, cfg->job_id, staging,
                     ext_of(cfg));
    return n < 0 || (size_t)n >= cap ? MR_ETOOBIG : 0;
}

/* Removes a folder of plain files (what a file output is). */
static int remove_flat_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    return rmdir(dir);
}

/* Creates the folders leading to path (like mkdir -p of its parent). */
static int make_parents(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return 0;
}

/* ---- staging ------------------------------------------------------------- */

static int files_stage_open(const mr_wh_config *cfg, const char *staging, const mr_schema *schema,
                            mr_wh_stage **out, mr_err *err)
{
    char path[4096];
    if (mr_wh_files_part_path(cfg, staging, path, sizeof path) < 0)
        return mr_err_set(err, MR_EINVAL, "output path too long: '%s'", cfg->path);
    files_stage *s = calloc(1, sizeof *s);
    if (!s)
        return mr_err_oom(err, NULL);
    s->base.driver = &mr_wh__files;
    const char *local = path;
    if (mr_io_is_remote(path)) {
        const char *tmpdir = getenv("TMPDIR");
        int fd = -1;
        if (!(s->url = strdup(path)) ||
            asprintf(&s->local, "%s/millrace-part-XXXXXX", tmpdir && tmpdir[0] ? tmpdir
                                                                              : "/tmp") < 0)
            s->local = NULL;
        if (!s->url || !s->local || (fd = mkstemp(s->local)) < 0) {
            int rc = s->url && s->local ? mr_err_set(err, MR_EIO, "cannot create a local file "
                                                     "for part '%s'", path)
                                        : mr_err_oom(err, NULL);
            free(s->url);
            free(s->local);
            free(s);
            return rc;
        }
        close(fd);
        local = s->local;
    }
    mr_filewriter_opts fo = {.header = 1, .compression = cfg->compression,
                             .row_group_rows = cfg->row_group_rows};
    s->fw = mr_filewriter_open_opts(local, ext_of(cfg), schema, &fo, err);
    if (!s->fw) {
        if (s->local)
            unlink(s->local);
        free(s->local);
        free(s->url);
        free(s);
        return err->code ? err->code : MR_EIO;
    }
    *out = &s->base;
    return 0;
}

static int files_stage_append(mr_wh_stage *base, const mr_batch *b, mr_err *err)
{
    return mr_filewriter_write(((files_stage *)base)->fw, b, err);
}

static int files_stage_finish(mr_wh_stage *base, mr_err *err)
{
    files_stage *s = (files_stage *)base;
    int rc = mr_filewriter_close(s->fw, err);
    if (s->local && rc == 0)
        rc = mr_wh_obj_stage_upload(s->local, s->url, err);
    else if (s->local)
        unlink(s->local);
    free(s->local);
    free(s->url);
    free(s);
    return rc;
}

static void files_stage_abort(mr_wh_stage *base)
{
    files_stage *s = (files_stage *)base;
    mr_filewriter_abort(s->fw);
    if (s->local)
        unlink(s->local);
    free(s->local);
    free(s->url);
    free(s);
}

/* ---- begin, prepare, publish, drop --------------------------------------- */

static int files_begin(const mr_wh_config *cfg, const mr_wh_target *t, mr_err *err)
{
    struct stat sb;
    const char *mode = t->mode && t->mode[0] ? t->mode : "error_if_exists";
    if (mr_io_is_remote(cfg->path)) {
        char tmp[4096];
        staging_dir(cfg, tmp, sizeof tmp);
        return mr_wh_obj_begin(cfg, t, tmp, err);
    }
    if (make_parents(cfg->path) != 0)
        return mr_err_set(err, MR_EIO, "cannot create the folders of '%s': %s", cfg->path,
                          strerror(errno));
    if (strcmp(mode, "overwrite") != 0 && stat(cfg->path, &sb) == 0)
        return mr_err_set(err, MR_EINVAL,
                          "output '%s' already exists (mode error_if_exists; use overwrite)",
                          cfg->path);
    char tmp[4096];
    staging_dir(cfg, tmp, sizeof tmp);
    remove_flat_dir(tmp);
    if (mkdir(tmp, 0755) != 0)
        return mr_err_set(err, MR_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    return 0;
}

/* Whether name is a published part file name, "part-NNNNN.<ext>". */
static int is_part_name(const char *name, const char *ext)
{
    size_t el = strlen(ext);
    if (strncmp(name, "part-", 5) != 0 || strlen(name) != 5 + 5 + 1 + el)
        return 0;
    for (int i = 5; i < 10; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return name[10] == '.' && strcmp(name + 11, ext) == 0;
}

static int files_prepare(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                         mr_err *err)
{
    char tmp[4096], from[4400], to[4400];
    const char *ext = ext_of(cfg);
    staging_dir(cfg, tmp, sizeof tmp);
    if (mr_io_is_remote(cfg->path))
        return mr_wh_obj_prepare(cfg, targets, ntargets, tmp, ext, err);
    for (int i = 0; i < ntargets; i++) {
        const mr_wh_target *t = &targets[i];
        for (int k = 0; k < t->nstaging; k++) {
            snprintf(from, sizeof from, "%s/%s.%s", tmp, t->staging_tables[k], ext);
            snprintf(to, sizeof to, "%s/part-%05d.%s", tmp, k, ext);
            if (rename(from, to) != 0)
                return mr_err_set(err, MR_EIO, "output part %d of '%s' is missing: %s", k,
                                  cfg->path, strerror(errno));
        }
    }
    /* superseded attempts' files */
    DIR *d = opendir(tmp);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && !is_part_name(e->d_name, ext)) {
            snprintf(from, sizeof from, "%s/%s", tmp, e->d_name);
            unlink(from);
        }
    if (d)
        closedir(d);
    snprintf(to, sizeof to, "%s/_SUCCESS", tmp);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fsync(fd) != 0) {
        int rc = mr_err_set(err, MR_EIO, "cannot write '%s': %s", to, strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

static int files_publish(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                         mr_err *err)
{
    char tmp[4096], old[4200];
    staging_dir(cfg, tmp, sizeof tmp);
    if (mr_io_is_remote(cfg->path))
        return mr_wh_obj_publish(cfg, targets, ntargets, tmp, ext_of(cfg), err);
    snprintf(old, sizeof old, "%s.millrace-old-%s", cfg->path, cfg->job_id);
    struct stat sb;
    int had = stat(cfg->path, &sb) == 0;
    if (had && rename(cfg->path, old) != 0)
        return mr_err_set(err, MR_EIO, "cannot move the old '%s' aside: %s", cfg->path,
                          strerror(errno));
    if (rename(tmp, cfg->path) != 0) {
        int rc = mr_err_set(err, MR_EIO, "cannot publish '%s': %s", cfg->path, strerror(errno));
        if (had)
            rename(old, cfg->path);
        return rc;
    }
    if (had && S_ISDIR(sb.st_mode))
        remove_flat_dir(old);
    else if (had)
        unlink(old);
    return 0;
}

/* The staging folder is the job's whatever the prefix: it goes whole. */
static int files_drop_staging(const mr_wh_config *cfg, const char *prefix, mr_err *err)
{
    (void)prefix;
    char tmp[4096];
    staging_dir(cfg, tmp, sizeof tmp);
    if (mr_io_is_remote(cfg->path))
        return mr_wh_obj_drop(tmp, err);
    if (remove_flat_dir(tmp) != 0 && errno != ENOENT)
        return mr_err_set(err, MR_EIO, "cannot remove '%s': %s", tmp, strerror(errno));
    return 0;
}

const mr_wh__driver mr_wh__files = {
    .name = "files",
    .stage_open = files_stage_open,
    .stage_append = files_stage_append,
    .stage_finish = files_stage_finish,
    .stage_abort = files_stage_abort,
    .drop_staging = files_drop_staging,
    .begin = files_begin,
    .prepare = files_prepare,
    .publish = files_publish,
};
