/* files_obj.h - the object store side of file outputs (warehouse/files.c
 * hands an s3:// output's steps to these). */
#ifndef MR_WAREHOUSE_FILES_OBJ_H
#define MR_WAREHOUSE_FILES_OBJ_H

#include "warehouse/warehouse.h"

int mr_wh_obj_begin(const mr_wh_config *cfg, const mr_wh_target *t, const char *tmp,
                    mr_err *err);
int mr_wh_obj_prepare(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                      const char *tmp, const char *ext, mr_err *err);
int mr_wh_obj_publish(const mr_wh_config *cfg, mr_wh_target *targets, int ntargets,
                      const char *tmp, const char *ext, mr_err *err);
int mr_wh_obj_drop(const char *tmp, mr_err *err);
/* A finished part staged in the local file local: uploaded as url, then
 * the local file removed (also on failure). */
int mr_wh_obj_stage_upload(const char *local, const char *url, mr_err *err);

#endif
