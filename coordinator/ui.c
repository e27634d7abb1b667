/* ui.c - serves the web UI's files, built into the binary, under /ui/.
 *
 * The files (coordinator/ui/index.html, ui.js, ui.css) are turned into the
 * table coord_ui_assets by coordinator/ui/embed.cmake at build time, so a
 * coordinator needs no files beside it and reaches no network to show its
 * UI.  They are public: they hold no data.  Everything the page shows comes
 * from the REST API, which asks for the token as for any other client.
 *
 * Every answer carries a strict Content-Security-Policy (scripts, styles
 * and connections only from this server, no inline script or style, no
 * frames, no forms posted elsewhere), X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer and Cache-Control: no-cache (a new binary's
 * UI is fetched again).
 */
#include <stdlib.h>
#include <string.h>

#include "coordinator/coordinator.h"
#include "coordinator/ui.h"

struct coord_ui_asset {
    const char *name, *type;
    const unsigned char *data;
    size_t len;
};
extern const struct coord_ui_asset coord_ui_assets[];

#define UI_CSP                                                                              \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "             \
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static enum MHD_Result ui_send(struct MHD_Connection *con, unsigned status, const void *data,
                               size_t len, const char *type, const char *location)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    if (location)
        MHD_add_response_header(r, "Location", location);
    enum MHD_Result ret = MHD_queue_response(con, status, r);
    MHD_destroy_response(r);
    return ret;
}

int coord_ui_path(const char *url)
{
    return strncmp(url, "/ui", 3) == 0 && (url[3] == '\0' || url[3] == '/');
}

enum MHD_Result coord_ui_serve(struct MHD_Connection *con, const char *url, const char *method)
{
    static const char not_found[] = "not found\n";
    static const char not_allowed[] = "method not allowed: the UI takes GET\n";
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
            sizeof not_allowed - 1, (void *)not_allowed, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
        MHD_add_response_header(r, "Allow", "GET, HEAD");
        enum MHD_Result ret = MHD_queue_response(con, 405, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strcmp(url, "/ui") == 0)
        return ui_send(con, 301, "", 0, "text/plain; charset=utf-8", "/ui/");
    const char *name = url + 4; /* after "/ui/" */
    if (!name[0])
        name = "index.html";
    for (const struct coord_ui_asset *a = coord_ui_assets; a->name; a++)
        if (strcmp(a->name, name) == 0)
            return ui_send(con, 200, a->data, a->len, a->type, NULL);
    return ui_send(con, 404, not_found, sizeof not_found - 1, "text/plain; charset=utf-8", NULL);
}
