/* schema_pb.c - conversions between mr_schema and the protobuf Schema.
 *
 * Both directions copy everything, so neither result points into its
 * source.  The protobuf side is built with plain malloc so that its owner
 * can free it with mr_schema_pb_free without knowing how it was made.
 */
#include "proto/schema_pb.h"

#include <stdlib.h>
#include <string.h>

Millrace__Schema *mr_schema_to_pb(const mr_schema *s)
{
    Millrace__Schema *pb = malloc(sizeof *pb);
    if (!pb)
        return NULL;
    millrace__schema__init(pb);
    int n = s ? s->nfields : 0;
    if (n == 0)
        return pb;
    pb->fields = calloc((size_t)n, sizeof *pb->fields);
    if (!pb->fields)
        goto fail;
    for (int i = 0; i < n; i++) {
        Millrace__Field *f = malloc(sizeof *f);
        if (!f)
            goto fail;
        millrace__field__init(f);
        pb->fields[i] = f;
        pb->n_fields = (size_t)i + 1;
        f->name = strdup(s->fields[i].name ? s->fields[i].name : "");
        f->type = malloc(sizeof *f->type);
        if (!f->name || !f->type)
            goto fail;
        millrace__type__init(f->type);
        f->type->id = (Millrace__TypeId)s->fields[i].type.id;
        f->type->precision = s->fields[i].type.precision;
        f->type->scale = s->fields[i].type.scale;
    }
    return pb;
fail:
    mr_schema_pb_free(pb);
    return NULL;
}

void mr_schema_pb_free(Millrace__Schema *pb)
{
    if (!pb)
        return;
    for (size_t i = 0; i < pb->n_fields; i++) {
        Millrace__Field *f = pb->fields[i];
        if (!f)
            continue;
        if (f->name != protobuf_c_empty_string)
            free(f->name);
        free(f->type);
        free(f);
    }
    free(pb->fields);
    free(pb);
}

mr_schema *mr_schema_from_pb(const Millrace__Schema *pb, mr_err *err)
{
    int n = pb ? (int)pb->n_fields : 0;
    if (pb && pb->n_fields > 65535) {
        mr_err_set(err, MR_EPROTO, "schema has %zu fields, more than 65535", pb->n_fields);
        return NULL;
    }
    mr_schema *s = mr_schema_create(n);
    if (!s) {
        mr_err_set(err, MR_ENOMEM, "out of memory converting a schema");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const Millrace__Field *f = pb->fields[i];
        if (!f || !f->name || !f->name[0]) {
            mr_err_set(err, MR_EPROTO, "schema field %d has no name", i);
            goto fail;
        }
        if (!f->type) {
            mr_err_set(err, MR_EPROTO, "schema field '%s' has no type", f->name);
            goto fail;
        }
        const Millrace__Type *t = f->type;
        if (t->id < MILLRACE__TYPE_ID__TYPE_BOOL || t->id > MILLRACE__TYPE_ID__TYPE_TIMESTAMPTZ) {
            mr_err_set(err, MR_EPROTO, "schema field '%s' has bad type id %d", f->name, (int)t->id);
            goto fail;
        }
        mr_type ty = mr_type_make((mr_type_id)t->id);
        if (t->id == MILLRACE__TYPE_ID__TYPE_DECIMAL) {
            if (t->precision < 1 || t->precision > MR_DECIMAL_MAX_PRECISION || t->scale > t->precision) {
                mr_err_set(err, MR_EPROTO, "schema field '%s' has bad decimal(%u,%u)", f->name,
                           t->precision, t->scale);
                goto fail;
            }
            ty = mr_type_decimal((int)t->precision, (int)t->scale);
        }
        if (mr_schema_set(s, i, f->name, ty) != 0) {
            mr_err_set(err, MR_ENOMEM, "out of memory converting a schema");
            goto fail;
        }
    }
    return s;
fail:
    mr_schema_destroy(s);
    return NULL;
}
