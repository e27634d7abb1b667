/* transport.h - the ZeroMQ transport: the only module that includes zmq.h.
 *
 * Daemons speak through these thin wrappers so that socket details (linger,
 * high-water marks, identities, multipart framing) are decided in one place.
 * Sockets are not thread-safe: one thread owns each socket, as in ZeroMQ.
 *
 * Topology:
 *   coordinator ROUTER  <->  executor DEALER     control (protobuf Control)
 *   map task DEALER      ->  executor ROUTER     shuffle data (BatchHeader + column frames)
 *   task thread PUSH     ->  executor PULL       inproc status from worker threads
 */
#ifndef MR_TRANSPORT_H
#define MR_TRANSPORT_H

#include <stddef.h>

#include "core/error.h"
#include "net/wire.h"

typedef struct mr_net mr_net;       /* one per process */
typedef struct mr_socket mr_socket; /* owned by one thread */

typedef enum mr_sock_type {
    MR_SOCK_ROUTER,
    MR_SOCK_DEALER,
    MR_SOCK_PUSH,
    MR_SOCK_PULL,
} mr_sock_type;

mr_net *mr_net_create(void);
/* Ends the context; every socket must be closed first.  NULL is a no-op. */
void mr_net_destroy(mr_net *net);

/* Opens a socket; linger defaults to 0 (pending messages are dropped at
 * close) unless mr_socket_set_linger says otherwise. */
mr_socket *mr_socket_open(mr_net *net, mr_sock_type type, mr_err *err);
void mr_socket_close(mr_socket *s); /* NULL is a no-op */
/* Binds; `actual` receives the resolved endpoint (a '*' port is replaced by
 * the one the OS chose).  0 or MR_EIO. */
int mr_socket_bind(mr_socket *s, const char *endpoint, char *actual, size_t cap, mr_err *err);
int mr_socket_connect(mr_socket *s, const char *endpoint, mr_err *err);
int mr_socket_set_identity(mr_socket *s, const char *id);
/* -1 waits forever for pending messages at close; ms otherwise. */
int mr_socket_set_linger(mr_socket *s, int ms);
/* Send/receive high-water marks, in messages. */
int mr_socket_set_hwm(mr_socket *s, int msgs);

/* Sends frames as one multipart message; blocks while the peer's queue is
 * full unless timeout_ms >= 0 elapses: then MR_ETIMEDOUT, and nothing of the
 * message was sent, so it may be sent again.  Returns 0 or a negative code. */
int mr_socket_send(mr_socket *s, const mr_frame *frames, size_t n, int timeout_ms, mr_err *err);
/* Receives one multipart message into out (reset first; frames owned by
 * out).  Returns 1 when a message arrived, 0 after timeout_ms (-1: wait
 * forever, 0: do not wait), negative on error. */
int mr_socket_recv(mr_socket *s, mr_frames *out, int timeout_ms, mr_err *err);

/* Waits until one of socks is readable or timeout_ms passes; sets ready[i]
 * to 1 for readable sockets.  Returns how many are ready (0 on timeout) or a
 * negative code (MR_EIO; an interrupting signal gives 0). */
int mr_socket_poll(mr_socket *const *socks, int n, int timeout_ms, int *ready);

/* Appends a copy of (data, len) as a frame. 0 or MR_ENOMEM. */
int mr_frames_push(mr_frames *f, const void *data, size_t len);
/* Empties f, keeping nothing. */
void mr_frames_clear(mr_frames *f);

#endif
