/* test_inputs.c - how the coordinator turns a read node's path into splits.
 *
 * A scratch folder under /tmp holds files of known sizes.  Paths are
 * resolved as a single file, a folder (hidden and '_'-prefixed names and
 * subfolders skipped), and a glob; failures must say what is wrong ('no
 * input files match', 'does not exist', outside the data root).  Splits
 * must tile each file exactly at split_bytes, and file order must be sorted
 * whatever order the files were created in.
 */
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "coordinator/coordinator.h"

typedef struct fixture {
    char root[PATH_MAX]; /* real path of the scratch folder */
} fixture;

static void write_file(const char *dir, const char *name, size_t size)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++)
        fputc(i % 50 == 49 ? '\n' : 'a' + (int)(i % 26), f);
    fclose(f);
}

static void make_dir(const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_int_equal(mkdir(path, 0755), 0);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char tmpl[] = "/tmp/mr_test_inputs_XXXXXX";
    if (!f || !mkdtemp(tmpl) || !realpath(tmpl, f->root))
        return -1;
    /* created out of order, to prove sorting */
    make_dir(f->root, "in");
    char in[PATH_MAX + 8];
    snprintf(in, sizeof in, "%s/in", f->root);
    write_file(in, "z.csv", 10);
    write_file(in, "b.csv", 2500);
    write_file(in, "a.csv", 100);
    write_file(in, "m.txt", 2000);
    write_file(in, ".hidden.csv", 10);
    write_file(in, "_SUCCESS", 0);
    write_file(in, "_tmp.csv", 5);
    make_dir(in, "sub");
    make_dir(f->root, "empty");
    make_dir(f->root, "only_hidden");
    char oh[PATH_MAX + 16];
    snprintf(oh, sizeof oh, "%s/only_hidden", f->root);
    write_file(oh, ".x", 3);
    write_file(f->root, "outside.csv", 7);
    write_file(f->root, "zero.csv", 0);
    make_dir(f->root, "inx");
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture *f = *state;
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

typedef struct result {
    Millrace__Split **splits;
    size_t n;
    int rc;
    mr_err err;
} result;

static result resolve(const fixture *f, const char *data_root, const char *pattern,
                      uint64_t split_bytes)
{
    result r;
    memset(&r, 0, sizeof r);
    r.rc = coord_resolve_inputs(f->root, data_root, pattern, split_bytes, 0, &r.splits,
                                &r.n, &r.err);
    return r;
}

static void result_free(result *r)
{
    for (size_t i = 0; i < r->n; i++)
        millrace__split__free_unpacked(r->splits[i], NULL);
    free(r->splits);
    r->splits = NULL;
    r->n = 0;
}

/* The file name part of split i. */
static const char *base(const result *r, size_t i)
{
    const char *s = strrchr(r->splits[i]->path, '/');
    return s ? s + 1 : r->splits[i]->path;
}

/* Checks that the splits of `name` are consecutive, start at 0, tile the
 * file exactly with pieces of split_bytes (the last may be shorter) and
 * name its size; returns how many there were. */
static size_t check_tiling(const result *r, const char *name, uint64_t size, uint64_t split_bytes)
{
    size_t count = 0;
    uint64_t next = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (strcmp(base(r, i), name) != 0)
            continue;
        const Millrace__Split *s = r->splits[i];
        assert_int_equal(s->offset, next);
        assert_int_equal(s->file_size, size);
        assert_true(s->length <= split_bytes);
        if (s->offset + s->length < size)
            assert_int_equal(s->length, split_bytes);
        next += s->length;
        count++;
    }
    assert_int_equal(next, size);
    return count;
}

static void test_single_file(void **state)
{
    fixture *f = *state;
    result r = resolve(f, f->root, "in/a.csv", 1 << 20);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1);
    char want[PATH_MAX * 2];
    snprintf(want, sizeof want, "%s/in/a.csv", f->root);
    assert_string_equal(r.splits[0]->path, want);
    assert_int_equal(r.splits[0]->offset, 0);
    assert_int_equal(r.splits[0]->length, 100);
    assert_int_equal(r.splits[0]->file_size, 100);
    result_free(&r);
    /* an absolute path ignores the base folder */
    r = resolve(f, f->root, want, 1 << 20);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.splits[0]->path, want);
    result_free(&r);
    /* a file whose name starts with '_' is read when named directly */
    r = resolve(f, f->root, "in/_tmp.csv", 1 << 20);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1);
    result_free(&r);
    /* an empty file is one empty split */
    r = resolve(f, f->root, "zero.csv", 4096);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.splits[0]->length, 0);
    assert_int_equal(r.splits[0]->file_size, 0);
    result_free(&r);
}

static void test_folder(void **state)
{
    fixture *f = *state;
    result r = resolve(f, f->root, "in", 1 << 20);
    assert_int_equal(r.rc, 0);
    /* sorted; hidden files, '_' names and the subfolder skipped */
    assert_int_equal(r.n, 4);
    assert_string_equal(base(&r, 0), "a.csv");
    assert_string_equal(base(&r, 1), "b.csv");
    assert_string_equal(base(&r, 2), "m.txt");
    assert_string_equal(base(&r, 3), "z.csv");
    for (size_t i = 0; i < r.n; i++)
        assert_true(r.splits[i]->path[0] == '/');
    result_free(&r);
    /* trailing slash too */
    r = resolve(f, f->root, "in/", 1 << 20);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 4);
    result_free(&r);
    /* nothing readable in a folder */
    r = resolve(f, f->root, "empty", 1 << 20);
    assert_true(r.rc < 0);
    assert_int_equal(r.n, 0);
    assert_null(r.splits);
    assert_non_null(strstr(r.err.msg, "no input files in 'empty'"));
    r = resolve(f, f->root, "only_hidden", 1 << 20);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "no input files in 'only_hidden'"));
}

static void test_glob(void **state)
{
    fixture *f = *state;
    result r = resolve(f, f->root, "in/*.csv", 1 << 20);
    assert_int_equal(r.rc, 0);
    /* a wildcard skips dotfiles and '_tmp.csv' like a folder read does */
    size_t nz = 0;
    for (size_t i = 0; i < r.n; i++) {
        assert_true(strstr(base(&r, i), ".csv") != NULL);
        assert_true(base(&r, i)[0] != '.');
        assert_true(base(&r, i)[0] != '_');
        if (i)
            assert_true(strcmp(r.splits[i - 1]->path, r.splits[i]->path) <= 0);
        nz += strcmp(base(&r, i), "z.csv") == 0;
    }
    assert_int_equal(nz, 1);
    assert_string_equal(base(&r, r.n - 1), "z.csv");
    result_free(&r);
    /* a trailing slash on a folder does not double the separator */
    r = resolve(f, f->root, "in/", 1 << 20);
    assert_int_equal(r.rc, 0);
    for (size_t i = 0; i < r.n; i++)
        assert_null(strstr(r.splits[i]->path, "//"));
    result_free(&r);
    r = resolve(f, f->root, "in/[ab].csv", 1 << 20);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(base(&r, 0), "a.csv");
    assert_string_equal(base(&r, 1), "b.csv");
    result_free(&r);
    /* a glob matching only a folder finds no files */
    r = resolve(f, f->root, "in/su?", 1 << 20);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "no input files"));
}

static void test_missing(void **state)
{
    fixture *f = *state;
    result r = resolve(f, f->root, "in/*.json", 1 << 20);
    assert_true(r.rc < 0);
    assert_int_equal(r.n, 0);
    assert_non_null(strstr(r.err.msg, "no input files match 'in/*.json'"));
    r = resolve(f, f->root, "in/nope.csv", 1 << 20);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "input file 'in/nope.csv' does not exist"));
    /* the message shows where the path led and the data root */
    char want[8400];
    snprintf(want, sizeof want, "(resolved to '%s/in/nope.csv'; data root '%s')", f->root, f->root);
    assert_non_null(strstr(r.err.msg, want));
    r = resolve(f, f->root, "no/such/folder/", 1 << 20);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "does not exist"));
    /* a missing file is a negative MR_E* code, with no splits left behind */
    Millrace__Split **splits = NULL;
    size_t n = 99;
    mr_err err;
    assert_int_equal(coord_resolve_inputs(f->root, f->root, "missing.csv", 4096, 0, &splits, &n, &err),
                     MR_ENOTFOUND);
    assert_int_equal(n, 0);
    assert_null(splits);
}

static void test_splits(void **state)
{
    fixture *f = *state;
    result r = resolve(f, f->root, "in", 1000);
    assert_int_equal(r.rc, 0);
    assert_int_equal(check_tiling(&r, "a.csv", 100, 1000), 1);
    assert_int_equal(check_tiling(&r, "b.csv", 2500, 1000), 3);
    assert_int_equal(check_tiling(&r, "m.txt", 2000, 1000), 2); /* no empty tail split */
    assert_int_equal(check_tiling(&r, "z.csv", 10, 1000), 1);
    assert_int_equal(r.n, 7);
    /* splits of one file are adjacent, files in sorted order */
    assert_string_equal(base(&r, 0), "a.csv");
    for (size_t i = 1; i < 4; i++)
        assert_string_equal(base(&r, i), "b.csv");
    assert_string_equal(base(&r, 4), "m.txt");
    assert_string_equal(base(&r, 6), "z.csv");
    result_free(&r);
    /* one byte per split */
    r = resolve(f, f->root, "in/z.csv", 1);
    assert_int_equal(r.rc, 0);
    assert_int_equal(check_tiling(&r, "z.csv", 10, 1), 10);
    result_free(&r);
    /* split size equal to the file */
    r = resolve(f, f->root, "in/m.txt", 2000);
    assert_int_equal(r.rc, 0);
    assert_int_equal(check_tiling(&r, "m.txt", 2000, 2000), 1);
    result_free(&r);
}

static void test_deterministic(void **state)
{
    fixture *f = *state;
    result a = resolve(f, f->root, "in/*", 700);
    result b = resolve(f, f->root, "in/*", 700);
    assert_int_equal(a.rc, 0);
    assert_int_equal(b.rc, 0);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        assert_string_equal(a.splits[i]->path, b.splits[i]->path);
        assert_int_equal(a.splits[i]->offset, b.splits[i]->offset);
        assert_int_equal(a.splits[i]->length, b.splits[i]->length);
        if (i)
            assert_true(strcmp(a.splits[i - 1]->path, a.splits[i]->path) <= 0);
    }
    result_free(&a);
    result_free(&b);
}

static void test_data_root(void **state)
{
    fixture *f = *state;
    char in[PATH_MAX + 8];
    snprintf(in, sizeof in, "%s/in", f->root);
    /* inside the root: fine */
    result r = resolve(f, in, "in/a.csv", 4096);
    assert_int_equal(r.rc, 0);
    result_free(&r);
    /* a file beside the root is refused, naming the file */
    r = resolve(f, in, "outside.csv", 4096);
    assert_true(r.rc < 0);
    assert_int_equal(r.n, 0);
    assert_non_null(strstr(r.err.msg, "outside the data root"));
    assert_non_null(strstr(r.err.msg, "outside.csv"));
    /* escaping with .. is refused */
    r = resolve(f, in, "in/../outside.csv", 4096);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "outside the data root"));
    /* a symlink inside the root pointing out of it is refused */
    char link[PATH_MAX + 16], target[PATH_MAX + 16];
    snprintf(link, sizeof link, "%s/in/sub/link.csv", f->root);
    snprintf(target, sizeof target, "%s/outside.csv", f->root);
    assert_int_equal(symlink(target, link), 0);
    r = resolve(f, in, "in/sub/link.csv", 4096);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "outside the data root"));
    /* a folder whose name extends the root's is not inside it */
    write_file(f->root, "inx/evil.csv", 3);
    r = resolve(f, in, "inx/evil.csv", 4096);
    assert_true(r.rc < 0);
    assert_non_null(strstr(r.err.msg, "outside the data root"));
    /* no root (or '/') allows everything */
    r = resolve(f, NULL, "outside.csv", 4096);
    assert_int_equal(r.rc, 0);
    result_free(&r);
    r = resolve(f, "/", "outside.csv", 4096);
    assert_int_equal(r.rc, 0);
    result_free(&r);

    char p[PATH_MAX * 2];
    snprintf(p, sizeof p, "%s/a.csv", in);
    assert_true(coord_path_under(in, p));
    assert_true(coord_path_under(in, in));
    assert_true(coord_path_under(f->root, p));
    snprintf(p, sizeof p, "%s/inx/evil.csv", f->root);
    assert_false(coord_path_under(in, p));
    assert_false(coord_path_under(in, "/definitely/not/there"));
    assert_true(coord_path_under("", "/etc"));
}

static void test_resolve_path(void **state)
{
    (void)state;
    char *p = coord_resolve_path("/data/base", "x/y.csv");
    assert_string_equal(p, "/data/base/x/y.csv");
    free(p);
    p = coord_resolve_path("/data/base", "/abs/y.csv");
    assert_string_equal(p, "/abs/y.csv");
    free(p);
    p = coord_resolve_path(NULL, "rel.csv");
    assert_string_equal(p, "rel.csv");
    free(p);
    p = coord_resolve_path("", "rel.csv");
    assert_string_equal(p, "rel.csv");
    free(p);
    p = coord_resolve_path("/data", "*.csv");
    assert_string_equal(p, "/data/*.csv");
    free(p);
}

/* A compressed file (by its suffix, or the read's compression) is one
 * split however large; a plain file beside it is still cut. */
static void test_compressed_one_split(void **state)
{
    fixture *f = *state;
    make_dir(f->root, "gz");
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/gz", f->root);
    write_file(dir, "a.csv.gz", 5000);
    write_file(dir, "b.csv.zst", 3000);
    write_file(dir, "c.csv", 3000);
    result r = resolve(f, f->root, "gz/*", 1000);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 1 + 1 + 3);
    assert_string_equal(base(&r, 0), "a.csv.gz");
    assert_int_equal(r.splits[0]->offset, 0);
    assert_int_equal(r.splits[0]->length, 5000);
    assert_string_equal(base(&r, 1), "b.csv.zst");
    assert_int_equal(r.splits[1]->length, 3000);
    assert_int_equal(check_tiling(&r, "c.csv", 3000, 1000), 3);
    result_free(&r);
    /* compression: none cuts them all; gzip keeps every file whole */
    r.rc = coord_resolve_inputs(f->root, f->root, "gz/*", 1000, 1, &r.splits, &r.n, &r.err);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 5 + 3 + 3);
    result_free(&r);
    r.rc = coord_resolve_inputs(f->root, f->root, "gz/*", 1000, 2, &r.splits, &r.n, &r.err);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.n, 3);
    result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_single_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_one_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_glob, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_splits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deterministic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_data_root, setup, teardown),
        cmocka_unit_test(test_resolve_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
