/* parquet_int.h - the Parquet reader's private declarations: the file
 * metadata as decoded from the footer's Thrift compact protocol
 * (parquet_thrift.c), page decoding, codecs and encodings (parquet_page.c),
 * shared by format_parquet.c.
 *
 * Everything here reads bytes that came from a file, so every length,
 * offset and count is checked against the buffer it points into before it
 * is used; a decoder that finds a lie returns a negative code and writes
 * the reason into the caller's `why` buffer (the caller adds file, row
 * group and column).  Names are pq_* (module-private to core/formats). */
#ifndef MR_PARQUET_INT_H
#define MR_PARQUET_INT_H

#include <stddef.h>
#include <stdint.h>

/* Physical types (parquet.thrift Type). */
enum {
    PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3,
    PQ_FLOAT = 4, PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6, PQ_FLBA = 7,
};
/* ConvertedType values the reader maps. */
enum {
    PQ_CT_UTF8 = 0, PQ_CT_MAP = 1, PQ_CT_MAP_KV = 2, PQ_CT_LIST = 3, PQ_CT_ENUM = 4,
    PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIME_MILLIS = 7, PQ_CT_TIME_MICROS = 8,
    PQ_CT_TS_MILLIS = 9, PQ_CT_TS_MICROS = 10, PQ_CT_UINT_8 = 11, PQ_CT_UINT_16 = 12,
    PQ_CT_UINT_32 = 13, PQ_CT_UINT_64 = 14, PQ_CT_INT_8 = 15, PQ_CT_INT_16 = 16,
    PQ_CT_INT_32 = 17, PQ_CT_INT_64 = 18, PQ_CT_JSON = 19, PQ_CT_BSON = 20,
    PQ_CT_INTERVAL = 21,
};
/* LogicalType union members (the field id). */
enum {
    PQ_LT_STRING = 1, PQ_LT_MAP = 2, PQ_LT_LIST = 3, PQ_LT_ENUM = 4, PQ_LT_DECIMAL = 5,
    PQ_LT_DATE = 6, PQ_LT_TIME = 7, PQ_LT_TIMESTAMP = 8, PQ_LT_INTEGER = 10,
    PQ_LT_UNKNOWN = 11, PQ_LT_JSON = 12, PQ_LT_BSON = 13, PQ_LT_UUID = 14, PQ_LT_FLOAT16 = 15,
};
enum { PQ_UNIT_MILLIS = 1, PQ_UNIT_MICROS = 2, PQ_UNIT_NANOS = 3 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum {
    PQ_CODEC_NONE = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2, PQ_CODEC_LZO = 3,
    PQ_CODEC_BROTLI = 4, PQ_CODEC_LZ4 = 5, PQ_CODEC_ZSTD = 6, PQ_CODEC_LZ4_RAW = 7,
};
enum {
    PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICT = 2, PQ_ENC_RLE = 3, PQ_ENC_BIT_PACKED = 4,
    PQ_ENC_DELTA_BP = 5, PQ_ENC_DELTA_LBA = 6, PQ_ENC_DELTA_BA = 7, PQ_ENC_RLE_DICT = 8,
    PQ_ENC_BSS = 9,
};
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICT = 2, PQ_PAGE_DATA_V2 = 3 };

typedef struct pq_schema_el {
    const char *name; /* into the footer buffer, name_len bytes, not NUL-ended */
    uint32_t name_len;
    int type;         /* physical type, -1 for a group */
    int32_t type_length;
    int repetition;   /* -1 when absent (the root) */
    int32_t num_children;
    int converted;    /* ConvertedType, -1 when absent */
    int32_t scale, precision;
    int logical;      /* LogicalType member, 0 when absent */
    int32_t lt_scale, lt_precision;
    int lt_unit, lt_utc;     /* TIME / TIMESTAMP */
    int lt_bits, lt_signed;  /* INTEGER */
} pq_schema_el;

typedef struct pq_chunk {
    int has_meta;     /* ColumnMetaData present (not only file_path) */
    int external;     /* file_path set: the chunk lives in another file */
    int type;
    int codec;
    int64_t num_values;
    int64_t total_compressed;
    int64_t data_page_offset;
    int64_t dict_page_offset; /* -1 when absent */
    /* Statistics (into the footer buffer): min_value/max_value, or the
     * older min/max (signed order; used for numbers only); NULL when
     * absent.  null_count -1 when absent. */
    const uint8_t *min, *max;
    uint32_t min_len, max_len;
    int legacy_minmax; /* min/max came from the deprecated fields 1, 2 */
    int64_t null_count;
} pq_chunk;

typedef struct pq_row_group {
    pq_chunk *cols;
    uint32_t ncols;
    int64_t num_rows;
} pq_row_group;

typedef struct pq_file_meta {
    pq_schema_el *schema;
    uint32_t nschema;
    int64_t num_rows;
    pq_row_group *rgs;
    uint32_t nrgs;
} pq_file_meta;

/* Decodes a FileMetaData from buf[0..n) (which must outlive *m: names
 * point into it).  0, or a negative code with the reason in why. */
int pq_meta_parse(const uint8_t *buf, size_t n, pq_file_meta *m, char *why, size_t cap);
void pq_meta_free(pq_file_meta *m);

typedef struct pq_page_header {
    int type;
    int32_t uncompressed, compressed;
    int32_t num_values;
    int encoding;
    int def_enc, rep_enc;            /* v1 */
    int32_t num_nulls, num_rows;     /* v2 */
    int32_t def_len, rep_len;        /* v2 */
    int is_compressed;               /* v2; default true */
    int has_body;                    /* the header for its type was present */
} pq_page_header;

/* Decodes a PageHeader at buf[0..n); *used gets its length.  0, or a
 * negative code with the reason in why. */
int pq_page_header_parse(const uint8_t *buf, size_t n, pq_page_header *h, size_t *used,
                         char *why, size_t cap);

/* One decoded value of a page or dictionary, by physical type: integers
 * (INT32, INT64, BOOLEAN) in i, FLOAT and DOUBLE in d, byte arrays, fixed
 * length arrays and INT96 as bytes in s (pointing into the page buffer, the
 * dictionary or the column's scratch). */
typedef union pq_val {
    int64_t i;
    double d;
    struct {
        const uint8_t *p;
        uint32_t n;
    } s;
} pq_val;

/* A growable byte buffer a column reuses from page to page. */
typedef struct pq_buf {
    uint8_t *p;
    size_t cap;
} pq_buf;
int pq_buf_reserve(pq_buf *b, size_t n); /* 0 or -1 */

/* Decompresses src[0..n) with codec into exactly dn bytes at dst.  0, or a
 * negative code with why set (an unsupported codec is MR_ENOTSUP). */
int pq_decompress(int codec, const uint8_t *src, size_t n, uint8_t *dst, size_t dn, char *why,
                  size_t cap);
const char *pq_codec_name(int codec);
const char *pq_encoding_name(int enc);

/* Decodes count levels of the RLE/bit-packed hybrid of bit width bw from
 * p[0..n) into out.  0, or a negative code with why set. */
int pq_rle_decode(const uint8_t *p, size_t n, int bw, uint32_t count, uint32_t *out, char *why,
                  size_t cap);

/* Decodes count values of physical type ptype (type_len for FLBA) encoded
 * with enc from p[0..n) into out.  Dictionary indices are resolved against
 * dict[0..ndict).  scratch holds bytes the values may point into (delta
 * byte arrays, byte-stream-split FLBA); it is reset here.  0, or a negative
 * code with why set. */
int pq_decode_values(int ptype, int32_t type_len, int enc, const uint8_t *p, size_t n,
                     uint32_t count, pq_val *out, pq_buf *scratch, const pq_val *dict,
                     uint32_t ndict, char *why, size_t cap);

/* ---- the file and its flat columns (parquet_schema.c) ---------------------- */

#include "core/error.h"
#include "core/types.h"
#include "core/io.h"

/* How a file column's values become millrace values (its natural type). */
enum {
    PQ_K_BOOL, PQ_K_INT32, PQ_K_UINT32, PQ_K_INT64, PQ_K_DOUBLE, PQ_K_DATE, PQ_K_TS_MILLIS,
    PQ_K_TS_MICROS, PQ_K_TS_NANOS, PQ_K_INT96, PQ_K_DEC_INT, PQ_K_DEC_BYTES, PQ_K_STRING,
};

/* A top-level field of the file's schema. */
typedef struct pq_field {
    const pq_schema_el *el;
    char *name;   /* NUL-ended copy */
    int leaf;     /* its (first) leaf column: the index of its chunks */
    int nested;   /* a group or a repeated field */
    int max_def;  /* 1 when optional, else 0 */
} pq_field;

/* An open file (local or an object, core/io.h): its size, footer and
 * top-level fields. */
typedef struct pq_file {
    mr_file file;
    char *path;
    uint64_t size;
    uint8_t *footer;
    size_t footer_len;
    pq_file_meta meta;
    pq_field *fields;
    int nfields;
    int nleaves;
} pq_file;

/* Opens path and decodes its footer and schema.  0, or a negative code
 * with "Parquet file 'path': reason" in err; f is then closed. */
int pq_file_open(pq_file *f, const char *path, mr_err *err);
void pq_file_close(pq_file *f); /* safe on a zeroed or closed pq_file */
/* The top-level field named name (exact, then ignoring case), or NULL. */
const pq_field *pq_file_field(const pq_file *f, const char *name);
/* The natural millrace type of a flat field and its conversion kind.  0,
 * or MR_ENOTSUP with why naming what the field is. */
int pq_field_type(const pq_field *fd, mr_type *out, int *kind, char *why, size_t cap);
/* Whether a file column of type nat can be read as type want (equal, or a
 * widening: int32 to int64, integers and decimals to float64, to a wider
 * decimal, date to timestamp). */
int pq_type_fits(mr_type nat, mr_type want);
/* The file's schema as millrace types: every top-level field, or an error
 * naming the first one that is nested or of an unsupported type. */
int pq_file_schema(const pq_file *f, mr_schema **out, mr_err *err);
/* pread of exactly n bytes at off; 0 or MR_EIO with why set. */
int pq_pread(mr_file *f, void *buf, size_t n, uint64_t off, char *why, size_t cap);

/* ---- row-group pruning by statistics (parquet_prune.c) ---- */

/* Per scan column: its leaf in the row groups' chunks (-1: none), its
 * physical type, whether its statistics are in the column's own order. */
typedef struct pq_prune_cols {
    int n;
    const int *leaf;
    const int *ptype;
    const char *usable;
} pq_prune_cols;

typedef struct pq_prune pq_prune;
/* The pushed-down condition bound to the scan's schema; *out NULL when
 * there is none or it does not bind (then nothing is skipped).  0 or
 * MR_ENOMEM. */
int pq_prune_create(const char *filter, const mr_schema *schema, pq_prune **out, mr_err *err);
void pq_prune_free(pq_prune *p);
/* 0 when no row of rg can satisfy the condition (skip it), else 1. */
int pq_prune_keep(const pq_prune *p, const pq_prune_cols *pc, const mr_schema *schema,
                  const pq_row_group *rg);

#endif
