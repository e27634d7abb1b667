/* ui.h - the web UI's files under /ui/ on the API's HTTP port (ui.c). */
#ifndef MR_COORD_UI_H
#define MR_COORD_UI_H

#include <microhttpd.h>

/* Whether url is /ui or under /ui/. */
int coord_ui_path(const char *url);
/* Answers a request for a UI file: GET or HEAD, else 405; /ui redirects to
 * /ui/, which is index.html; an unknown name is 404. */
enum MHD_Result coord_ui_serve(struct MHD_Connection *con, const char *url, const char *method);

#endif
