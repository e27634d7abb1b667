/* log.h - one line per event: time, level, component, then the message.
 *
 * Messages name the job/stage/task/executor they concern ("job=j1 stage=0
 * task=3 attempt=0 ...") so that a line can be grepped by id.  Writes go to
 * stderr with one write() per line so lines of concurrent threads do not
 * interleave.  Secrets must never be passed in.
 */
#ifndef MR_LOG_H
#define MR_LOG_H

typedef enum mr_log_level { MR_LOG_DEBUG, MR_LOG_INFO, MR_LOG_WARN, MR_LOG_ERROR } mr_log_level;

/* Lines below level are dropped (default MR_LOG_INFO; MILLRACE_LOG=debug|
 * info|warn|error sets it at first use). */
void mr_log_set_level(mr_log_level level);
void mr_log(mr_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
