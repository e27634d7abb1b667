/* xml.c - the XML answers of S3 (ListObjectsV2, errors), read with
 * libxml2 (no network, no entities). */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/s3.h"

static xmlDocPtr parse(const char *xml, size_t len)
{
    if (!xml || len == 0 || len > INT32_MAX)
        return NULL;
    return xmlReadMemory(xml, (int)len, "s3.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The text of n's first child element called name, malloc'd, or NULL. */
static char *child_text(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (is(c, name)) {
            xmlChar *t = xmlNodeGetContent(c);
            char *s = t ? strdup((const char *)t) : strdup("");
            xmlFree(t);
            return s;
        }
    return NULL;
}

void os_s3_list_page_free(os_s3_list_page *page)
{
    for (size_t i = 0; i < page->n; i++)
        free(page->keys[i]);
    for (size_t i = 0; page->etags && i < page->n; i++)
        free(page->etags[i]);
    free(page->etags);
    free(page->keys);
    free(page->sizes);
    free(page->next_token);
    memset(page, 0, sizeof *page);
}

int os_s3_list_parse(const char *xml, size_t len, os_s3_list_page *page)
{
    memset(page, 0, sizeof *page);
    xmlDocPtr doc = parse(xml, len);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !is(root, "ListBucketResult")) {
        xmlFreeDoc(doc);
        return MR_EPROTO;
    }
    size_t cap = 0;
    int rc = 0;
    for (xmlNodePtr c = root->children; c && rc == 0; c = c->next) {
        if (!is(c, "Contents"))
            continue;
        char *key = child_text(c, "Key"), *size = child_text(c, "Size");
        if (!key || !size) {
            free(key);
            free(size);
            rc = MR_EPROTO;
            break;
        }
        if (page->n == cap) {
            size_t nc = cap ? cap * 2 : 64;
            char **nk = realloc(page->keys, nc * sizeof *nk);
            if (nk)
                page->keys = nk;
            uint64_t *ns = nk ? realloc(page->sizes, nc * sizeof *ns) : NULL;
            if (ns)
                page->sizes = ns;
            char **ne = ns ? realloc(page->etags, nc * sizeof *ne) : NULL;
            if (ne)
                page->etags = ne;
            if (!nk || !ns || !ne) {
                free(key);
                free(size);
                rc = MR_ENOMEM;
                break;
            }
            cap = nc;
        }
        char *end;
        unsigned long long v = strtoull(size, &end, 10);
        if (end == size || *end) {
            free(key);
            free(size);
            rc = MR_EPROTO;
            break;
        }
        char *etag = child_text(c, "ETag");
        if (!etag && !(etag = strdup(""))) {
            free(key);
            free(size);
            rc = MR_ENOMEM;
            break;
        }
        page->keys[page->n] = key;
        page->etags[page->n] = etag;
        page->sizes[page->n++] = v;
        free(size);
    }
    char *trunc = rc == 0 ? child_text(root, "IsTruncated") : NULL;
    if (trunc && strcmp(trunc, "true") == 0) {
        page->next_token = child_text(root, "NextContinuationToken");
        if (!page->next_token || !page->next_token[0])
            rc = MR_EPROTO; /* truncated without a way on */
    }
    free(trunc);
    xmlFreeDoc(doc);
    if (rc < 0)
        os_s3_list_page_free(page);
    return rc;
}

void os_s3_error_parse(const char *xml, size_t len, char *code, size_t ccap, char *msg,
                       size_t mcap)
{
    code[0] = msg[0] = '\0';
    xmlDocPtr doc = parse(xml, len);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root && is(root, "Error")) {
        char *c = child_text(root, "Code"), *m = child_text(root, "Message");
        /* S3's codes are words; keep only such text, so an answer cannot
         * put arbitrary bytes into a message */
        if (c && strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.") ==
                     strlen(c))
            snprintf(code, ccap, "%s", c);
        if (m)
            snprintf(msg, mcap, "%s", m);
        free(c);
        free(m);
    }
    xmlFreeDoc(doc);
}

static char *find_text(xmlNodePtr n, const char *name)
{
    for (; n; n = n->next) {
        if (is(n, name)) {
            xmlChar *t = xmlNodeGetContent(n);
            char *s = t ? strdup((const char *)t) : NULL;
            xmlFree(t);
            return s;
        }
        char *s = find_text(n->children, name);
        if (s)
            return s;
    }
    return NULL;
}

char *os_s3_xml_text(const char *xml, size_t len, const char *name)
{
    xmlDocPtr doc = parse(xml, len);
    char *s = doc ? find_text(xmlDocGetRootElement(doc), name) : NULL;
    xmlFreeDoc(doc);
    return s;
}
