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
 *
 * CURVE (mr_net_set_curve): every TCP connection is encrypted and both ends
 * authenticated.  A socket that binds for peers is a CURVE server
 * (mr_socket_set_curve_server): it holds the process's key pair, and a ZAP
 * handler thread of the process's context accepts a client only when its
 * public key is one of the authorized keys (DIR/authorized/), logging every
 * refusal with the peer's address.  A socket that connects is a CURVE
 * client of one server key (mr_socket_set_curve_client): it proves its own
 * key pair and talks only to a server holding that key's secret.  Messages
 * received by a CURVE server carry the client's public key
 * (mr_socket_recv_from).  Without CURVE every call about it is a no-op.
 *
 * Message size: every TCP socket refuses a frame larger than its maximum
 * (MR_NET_MAX_FRAME unless mr_socket_set_max_message says otherwise): the
 * connection is dropped before the frame is held in memory.
 */
#ifndef MR_TRANSPORT_H
#define MR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "net/wire.h"

typedef struct mr_net mr_net;       /* one per process */
typedef struct mr_curve_keys mr_curve_keys;
typedef struct mr_socket mr_socket; /* owned by one thread */

typedef enum mr_sock_type {
    MR_SOCK_ROUTER,
    MR_SOCK_DEALER,
    MR_SOCK_PUSH,
    MR_SOCK_PULL,
} mr_sock_type;

/* Default largest frame a TCP socket takes in: a column buffer of a batch
 * (up to MR_WIRE_MAX_ROWS rows) may be large, a control message is not. */
#define MR_NET_MAX_FRAME ((int64_t)256 << 20)
/* Length of a key in Z85 text (32 bytes). */
#define MR_CURVE_KEY_LEN 40

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

/* Like mr_socket_recv; peer (cap >= MR_CURVE_KEY_LEN + 1) receives the
 * sender's CURVE public key in Z85, or "" without CURVE. */
int mr_socket_recv_from(mr_socket *s, mr_frames *out, int timeout_ms, char *peer, size_t cap,
                        mr_err *err);
/* Largest frame taken in (bytes; -1: no limit); a bigger one drops the
 * connection that sent it.  0 or MR_EIO. */
int mr_socket_set_max_message(mr_socket *s, int64_t bytes);

/* ---- CURVE keys ---------------------------------------------------------- */

/* Makes a key pair in dir (created 0700 when missing): dir/public.key and
 * dir/secret.key (mode 0600), Z85 text and a newline each.  Refuses to
 * overwrite an existing pair (MR_EINVAL).  0 or a negative code. */
int mr_curve_keygen(const char *dir, mr_err *err);
/* Loads dir/public.key, dir/secret.key (which must not be readable by
 * group or others) and every key in dir/authorized/ (one Z85 key per file,
 * surrounding blanks ignored; dotfiles skipped).  NULL with err set when a
 * file is missing or not a key.  Free with mr_curve_free. */
mr_curve_keys *mr_curve_load(const char *dir, mr_err *err);
void mr_curve_free(mr_curve_keys *k); /* NULL is a no-op */
/* This process's public key (Z85). */
const char *mr_curve_public(const mr_curve_keys *k);
/* The coordinator's public key as an executor knows it:
 * dir/authorized/coordinator.key when that file exists, else this process's
 * own public key (a cluster sharing one pair). */
const char *mr_curve_coordinator(const mr_curve_keys *k);
/* Whether z85 is one of the authorized keys. */
int mr_curve_authorized(const mr_curve_keys *k, const char *z85);
size_t mr_curve_count(const mr_curve_keys *k);

/* Turns CURVE on for every socket of net opened afterwards that is made a
 * server or client below, and starts the ZAP handler (log lines name
 * component).  net takes keys.  Call before opening sockets.  0 or a
 * negative code (keys are freed either way). */
int mr_net_set_curve(mr_net *net, mr_curve_keys *keys, const char *component, mr_err *err);
/* The keys in use, or NULL when CURVE is off. */
const mr_curve_keys *mr_net_curve(const mr_net *net);
/* Makes s a CURVE server (before bind).  No-op without CURVE.  0 or MR_EIO. */
int mr_socket_set_curve_server(mr_socket *s, mr_err *err);
/* Makes s a CURVE client of server_key (Z85; before connect).  No-op
 * without CURVE; MR_EINVAL when server_key is NULL or not a key. */
int mr_socket_set_curve_client(mr_socket *s, const char *server_key, mr_err *err);

/* Appends a copy of (data, len) as a frame. 0 or MR_ENOMEM. */
int mr_frames_push(mr_frames *f, const void *data, size_t len);
/* Empties f, keeping nothing. */
void mr_frames_clear(mr_frames *f);

#endif
