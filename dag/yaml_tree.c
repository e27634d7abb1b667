/* yaml_tree.c - libyaml events -> a small tree of scalars, maps and lists
 * that remembers where each value starts in the file.
 *
 * libyaml's document loader would do most of this, but it resolves aliases
 * into shared (even cyclic) nodes and keeps no per-scalar style we can rely
 * on for positions; building our own tree from the event stream is short
 * and lets us refuse aliases, cap nesting depth (so hostile input cannot
 * exhaust the stack of later recursive walks) and allocate from the arena.
 *
 * While a collection is open its children collect in a malloc'd vector on
 * an explicit stack; when it closes they are copied into the arena.
 */
#include "dag/dag_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64

typedef struct frame {
    ynode *node;
    ynode **kids;
    size_t n, cap;
} frame;

static int frame_push_kid(frame *f, ynode *kid)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 8;
        ynode **k = realloc(f->kids, cap * sizeof *k);
        if (!k)
            return -1;
        f->kids = k;
        f->cap = cap;
    }
    f->kids[f->n++] = kid;
    return 0;
}

/* Line and column (1-based) of byte offset off in text, for reader errors
 * that carry only an offset. */
static void offset_position(const char *text, size_t len, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static ynode *node_new(dag_arena *a, ynode_kind kind, const yaml_mark_t *start,
                       const yaml_mark_t *end)
{
    ynode *n = dag_arena_alloc(a, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)start->line + 1;
    n->col = (int)start->column + 1;
    n->end_line = (int)end->line + 1;
    return n;
}

static ynode_style style_of(yaml_scalar_style_t s)
{
    switch (s) {
    case YAML_PLAIN_SCALAR_STYLE: return YS_PLAIN;
    case YAML_SINGLE_QUOTED_SCALAR_STYLE: return YS_SINGLE;
    case YAML_DOUBLE_QUOTED_SCALAR_STYLE: return YS_DOUBLE;
    case YAML_LITERAL_SCALAR_STYLE: return YS_LITERAL;
    case YAML_FOLDED_SCALAR_STYLE: return YS_FOLDED;
    default: return YS_OTHER;
    }
}

ynode *dag_yaml_load(dag_arena *a, const char *text, size_t len, int *line, int *col,
                     char *msg, size_t cap)
{
    yaml_parser_t p;
    yaml_event_t ev;
    frame stack[YAML_MAX_DEPTH + 1];
    int depth = 0; /* frames in use */
    ynode *root = NULL;
    int docs = 0, done = 0, failed = 0;

    *line = 1;
    *col = 1;
    msg[0] = '\0';
    if (!yaml_parser_initialize(&p)) {
        snprintf(msg, cap, "out of memory starting the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    while (!done && !failed) {
        if (!yaml_parser_parse(&p, &ev)) {
            if (p.error == YAML_READER_ERROR) {
                offset_position(text, len, p.problem_offset, line, col);
                snprintf(msg, cap, "YAML syntax error: %s", p.problem ? p.problem : "bad input");
            } else if (p.error == YAML_MEMORY_ERROR) {
                snprintf(msg, cap, "out of memory parsing YAML");
            } else {
                *line = (int)p.problem_mark.line + 1;
                *col = (int)p.problem_mark.column + 1;
                if (p.context)
                    snprintf(msg, cap, "YAML syntax error: %s (%s at line %d, column %d)",
                             p.problem ? p.problem : "bad input", p.context,
                             (int)p.context_mark.line + 1, (int)p.context_mark.column + 1);
                else
                    snprintf(msg, cap, "YAML syntax error: %s", p.problem ? p.problem : "bad input");
            }
            failed = 1;
            break;
        }
        ynode *made = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1) {
                *line = (int)ev.start_mark.line + 1;
                *col = (int)ev.start_mark.column + 1;
                snprintf(msg, cap, "a DAG file holds one YAML document; found a second one here");
                failed = 1;
            }
            break;
        case YAML_ALIAS_EVENT:
            *line = (int)ev.start_mark.line + 1;
            *col = (int)ev.start_mark.column + 1;
            snprintf(msg, cap, "YAML aliases (*%s) are not supported in DAG files",
                     (const char *)ev.data.alias.anchor);
            failed = 1;
            break;
        case YAML_SCALAR_EVENT:
            made = node_new(a, YN_SCALAR, &ev.start_mark, &ev.end_mark);
            if (made) {
                made->style = style_of(ev.data.scalar.style);
                made->text = dag_arena_strndup(a, (const char *)ev.data.scalar.value,
                                               ev.data.scalar.length);
                made->len = ev.data.scalar.length;
                made->raw = made->text;
                made->raw_len = made->len;
            }
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth == YAML_MAX_DEPTH) {
                *line = (int)ev.start_mark.line + 1;
                *col = (int)ev.start_mark.column + 1;
                snprintf(msg, cap, "YAML nested more than %d levels deep", YAML_MAX_DEPTH);
                failed = 1;
                break;
            }
            stack[depth].node = node_new(a, ev.type == YAML_MAPPING_START_EVENT ? YN_MAP : YN_SEQ,
                                         &ev.start_mark, &ev.end_mark);
            stack[depth].kids = NULL;
            stack[depth].n = stack[depth].cap = 0;
            depth++;
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            frame *f = &stack[--depth];
            made = f->node;
            if (made) {
                made->end_line = (int)ev.end_mark.line + 1;
                made->n = made->kind == YN_MAP ? f->n / 2 : f->n;
                made->items = dag_arena_alloc(a, (f->n ? f->n : 1) * sizeof *made->items);
                if (made->items && f->n)
                    memcpy(made->items, f->kids, f->n * sizeof *made->items);
            }
            free(f->kids);
            break;
        }
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (made) {
            if (depth == 0)
                root = made;
            else if (frame_push_kid(&stack[depth - 1], made) != 0)
                a->failed = 1;
        }
        if (a->failed && !failed) {
            snprintf(msg, cap, "out of memory parsing YAML");
            failed = 1;
        }
    }
    while (depth > 0)
        free(stack[--depth].kids);
    yaml_parser_delete(&p);
    if (failed)
        return NULL;
    if (!root) {
        snprintf(msg, cap, "the DAG file is empty");
        return NULL;
    }
    return root;
}

const ynode *ymap_key(const ynode *m, const char *key)
{
    if (!m || m->kind != YN_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const ynode *k = m->items[2 * i];
        if (k->kind == YN_SCALAR && strcmp(k->text, key) == 0)
            return k;
    }
    return NULL;
}

typedef struct key_at {
    const char *text;
    size_t i;
} key_at;

static int key_at_cmp(const void *a, const void *b)
{
    const key_at *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

size_t *ymap_dups(dag_arena *a, const ynode *m)
{
    if (!m || m->kind != YN_MAP || m->n == 0)
        return NULL;
    size_t *dup = dag_arena_alloc(a, m->n * sizeof *dup);
    key_at *keys = malloc(m->n * sizeof *keys);
    if (!dup || !keys) {
        free(keys);
        return NULL;
    }
    size_t nk = 0;
    for (size_t i = 0; i < m->n; i++) {
        dup[i] = YMAP_NO_DUP;
        if (m->items[2 * i]->kind == YN_SCALAR)
            keys[nk++] = (key_at){m->items[2 * i]->text, i};
    }
    /* Sorting by (key, position) puts each key's first pair ahead of its
     * repeats: n log n where comparing every pair was n^2 (a DAG's nodes
     * mapping may hold thousands of keys). */
    qsort(keys, nk, sizeof *keys, key_at_cmp);
    for (size_t k = 1, first = 0; k < nk; k++) {
        if (strcmp(keys[k].text, keys[first].text) == 0)
            dup[keys[k].i] = keys[first].i;
        else
            first = k;
    }
    free(keys);
    return dup;
}

const ynode *ymap_get(const ynode *m, const char *key)
{
    if (!m || m->kind != YN_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++) {
        const ynode *k = m->items[2 * i];
        if (k->kind == YN_SCALAR && strcmp(k->text, key) == 0)
            return m->items[2 * i + 1];
    }
    return NULL;
}

int yscalar_is_null(const ynode *n)
{
    if (!n || n->kind != YN_SCALAR || n->style != YS_PLAIN)
        return 0;
    return n->len == 0 || strcmp(n->raw, "~") == 0 || strcmp(n->raw, "null") == 0 ||
           strcmp(n->raw, "Null") == 0 || strcmp(n->raw, "NULL") == 0;
}

int yscalar_bool(const ynode *n, int *out)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "on"};
    static const char *const no[] = {"false", "False", "FALSE", "no", "No", "off"};
    if (!n || n->kind != YN_SCALAR)
        return -1;
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcmp(n->text, yes[i]) == 0)
            return *out = 1, 0;
        if (strcmp(n->text, no[i]) == 0)
            return *out = 0, 0;
    }
    return -1;
}

const char *ynode_kind_name(const ynode *n)
{
    if (!n)
        return "nothing";
    switch (n->kind) {
    case YN_MAP: return "a mapping";
    case YN_SEQ: return "a list";
    default: return yscalar_is_null(n) ? "empty" : "a scalar";
    }
}
