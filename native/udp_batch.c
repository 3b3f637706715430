/*
 * Batched UDP for `sluice relay`: a listening socket of our own, drained with recvmmsg() when libuv
 * says it is readable (a uv_poll_t on the addon's fd), so one JS call handles a whole batch of
 * datagrams instead of one 'message' event each; and sendmmsg() of a batch to one connected socket.
 *
 * The datagrams land in a slab the caller allocated (one fixed-size slot per datagram, large enough
 * for any UDP payload), with a meta row per datagram (length, family, port, flags) and 16 address
 * bytes, so nothing is allocated per datagram on either side. Errors come back as -errno.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include "napi_args.h"
#include <uv.h>

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_BATCH 1024
#define META 4 /* int32 per datagram: length, family (4 | 6), port, flags (1 = truncated) */
#define ROUNDS 8 /* batches per readiness wake-up before libuv gets the loop back */

static int arg_i32s(napi_env env, napi_value v, int32_t **data, size_t *len) {
  napi_typedarray_type t;
  void *d;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, &d, &ab, &off) != napi_ok || t != napi_int32_array) return -1;
  *data = d;
  return 0;
}

static napi_value type_error(napi_env env, const char *usage) {
  napi_throw_type_error(env, NULL, usage);
  return NULL;
}

/* openUdpListener(family, addr: Buffer(4 | 16), port, rcvbuf, v6only): a bound non-blocking UDP socket, or -errno. */
static napi_value js_open_listener(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family = 0, port = 0, rcvbuf = 0;
  bool v6only = false;
  uint8_t *addr;
  size_t alen;
  if (argc < 5 || arg_int(env, argv[0], &family) || arg_buf(env, argv[1], &addr, &alen) || arg_int(env, argv[2], &port) ||
      arg_int(env, argv[3], &rcvbuf) || napi_get_value_bool(env, argv[4], &v6only) != napi_ok || (family == 4 ? alen != 4 : family == 6 ? alen != 16 : 1))
    return type_error(env, "openUdpListener(family, addr, port, rcvbuf, v6only)");
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  /* As node:dgram does: IPV6_V6ONLY only when asked (else the system default, dual-stack on Linux),
   * no SO_REUSEADDR (exclusive), SO_RCVBUF as given (the kernel doubles it). */
  int rc = 0;
  if (family == 6 && v6only) {
    int one = 1;
    rc = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (rc == 0) {
    if (family == 4) {
      struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
      memcpy(&sa.sin_addr, addr, 4);
      rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    } else {
      struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
      memcpy(&sa.sin6_addr, addr, 16);
      rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    }
  }
  if (rc == 0 && rcvbuf > 0) rc = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (rc != 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  return num(env, fd);
}

/* localPort(fd): the bound port, or -errno. */
static napi_value js_local_port(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || arg_int(env, argv[0], &fd)) return type_error(env, "localPort(fd)");
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0) return num(env, -errno);
  return num(env, ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port) : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

/* recvBufferSize(fd): SO_RCVBUF as the kernel reports it (twice what was asked on Linux), or -errno. */
static napi_value js_recv_buffer_size(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  if (argc < 1 || arg_int(env, argv[0], &fd)) return type_error(env, "recvBufferSize(fd)");
  int v = 0;
  socklen_t l = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &l) != 0) return num(env, -errno);
  return num(env, v);
}

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_ref cb, slab_ref, meta_ref, addr_ref, resource;
  napi_async_context actx;
  int fd, max, stopped;
  uint8_t *slab, *addrs;
  size_t slot;
  int32_t *meta;
  struct mmsghdr *msgs;
  struct iovec *iov;
  struct sockaddr_storage *names;
} receiver_t;

static void call_js(receiver_t *r, int32_t n) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, global, arg, res;
  napi_get_reference_value(env, r->cb, &fn);
  napi_get_global(env, &global);
  napi_create_int32(env, n, &arg);
  /* make_callback, not call_function: it runs process.nextTick queues and microtasks afterwards. */
  if (napi_make_callback(env, r->actx, global, fn, 1, &arg, &res) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)events;
  receiver_t *r = h->data;
  if (r->stopped) return;
  if (status < 0) {
    call_js(r, status); /* libuv errors are -errno on Unix */
    return;
  }
  for (int round = 0; round < ROUNDS && !r->stopped; round++) {
    for (int i = 0; i < r->max; i++) {
      r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
      r->msgs[i].msg_hdr.msg_flags = 0;
      r->msgs[i].msg_len = 0;
    }
    int n = recvmmsg(r->fd, r->msgs, (unsigned)r->max, MSG_DONTWAIT, NULL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      call_js(r, -errno);
      return;
    }
    for (int i = 0; i < n; i++) {
      int32_t *m = r->meta + META * i;
      uint8_t *a = r->addrs + 16 * i;
      struct sockaddr_storage *ss = &r->names[i];
      m[0] = (int32_t)r->msgs[i].msg_len;
      m[3] = (r->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
      if (ss->ss_family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        m[1] = 4;
        m[2] = ntohs(s4->sin_port);
        memcpy(a, &s4->sin_addr, 4);
      } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        m[1] = 6;
        m[2] = ntohs(s6->sin6_port);
        memcpy(a, &s6->sin6_addr, 16);
      }
    }
    if (n > 0) call_js(r, n);
    if (n < r->max) return; /* the queue was emptied: wait for the next wake-up */
  }
}

static void on_closed(uv_handle_t *h) {
  receiver_t *r = h->data;
  close(r->fd);
  free(r->msgs);
  free(r->iov);
  free(r->names);
  free(r);
}

static void stop_receiver(receiver_t *r) {
  if (r->stopped) return;
  r->stopped = 1;
  napi_env env = r->env;
  uv_poll_stop(&r->poll);
  napi_async_destroy(env, r->actx);
  napi_delete_reference(env, r->cb);
  napi_delete_reference(env, r->slab_ref);
  napi_delete_reference(env, r->meta_ref);
  napi_delete_reference(env, r->addr_ref);
  napi_delete_reference(env, r->resource);
  uv_close((uv_handle_t *)&r->poll, on_closed);
}

/*
 * startReceiver(fd, slab: Buffer, slot, meta: Int32Array, addrs: Buffer, onBatch(n)): watches fd and
 * calls onBatch(n) with n datagrams in slab slots 0..n-1 (n < 0: -errno of a receive error). The
 * fd belongs to the receiver from now on: stopReceiver closes it. Returns the receiver handle.
 */
static napi_value js_start_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, slot;
  uint8_t *slab, *addrs;
  size_t slab_len, addrs_len, meta_len;
  int32_t *meta;
  napi_valuetype t;
  if (argc < 6 || arg_int(env, argv[0], &fd) || arg_buf(env, argv[1], &slab, &slab_len) || arg_int(env, argv[2], &slot) || slot <= 0 ||
      arg_i32s(env, argv[3], &meta, &meta_len) || arg_buf(env, argv[4], &addrs, &addrs_len) || napi_typeof(env, argv[5], &t) != napi_ok || t != napi_function)
    return type_error(env, "startReceiver(fd, slab, slot, meta, addrs, onBatch)");
  size_t max = slab_len / (size_t)slot;
  if (meta_len / META < max) max = meta_len / META;
  if (addrs_len / 16 < max) max = addrs_len / 16;
  if (max > MAX_BATCH) max = MAX_BATCH;
  if (max == 0) return type_error(env, "startReceiver: slab, meta and addrs must hold at least one datagram");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return type_error(env, "startReceiver: no event loop");
  receiver_t *r = calloc(1, sizeof *r);
  if (r != NULL) {
    r->msgs = calloc(max, sizeof *r->msgs);
    r->iov = calloc(max, sizeof *r->iov);
    r->names = calloc(max, sizeof *r->names);
  }
  if (r == NULL || r->msgs == NULL || r->iov == NULL || r->names == NULL) {
    if (r != NULL) {
      free(r->msgs);
      free(r->iov);
      free(r->names);
      free(r);
    }
    napi_throw_error(env, "ENOMEM", "startReceiver: out of memory");
    return NULL;
  }
  r->env = env;
  r->fd = fd;
  r->max = (int)max;
  r->slab = slab;
  r->slot = (size_t)slot;
  r->meta = meta;
  r->addrs = addrs;
  for (size_t i = 0; i < max; i++) {
    r->iov[i].iov_base = slab + i * (size_t)slot;
    r->iov[i].iov_len = (size_t)slot;
    r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
    r->msgs[i].msg_hdr.msg_iovlen = 1;
    r->msgs[i].msg_hdr.msg_name = &r->names[i];
  }
  napi_create_reference(env, argv[5], 1, &r->cb);
  napi_create_reference(env, argv[1], 1, &r->slab_ref);
  napi_create_reference(env, argv[3], 1, &r->meta_ref);
  napi_create_reference(env, argv[4], 1, &r->addr_ref);
  napi_value resource, name, handle;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &r->resource);
  napi_create_string_utf8(env, "sluice.UdpBatchReceiver", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &r->actx);
  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc == 0) {
    r->poll.data = r;
    rc = uv_poll_start(&r->poll, UV_READABLE, on_readable);
  }
  if (rc != 0) {
    r->poll.data = r;
    napi_throw_error(env, "ESYSCALL", uv_strerror(rc));
    return NULL;
  }
  napi_create_external(env, r, NULL, NULL, &handle);
  return handle;
}

/* stopReceiver(handle): stops watching and closes the fd (once; later calls do nothing). */
static napi_value js_stop_receiver(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  void *p;
  if (argc < 1 || napi_get_value_external(env, argv[0], &p) != napi_ok) return type_error(env, "stopReceiver(handle)");
  stop_receiver(p);
  return NULL;
}

/*
 * sendBatch(fd, slab, slot, meta, idx: Int32Array, n, res: Int32Array): sends slab slots idx[0..n)
 * (lengths from meta) on a connected socket with sendmmsg(); res[j] = bytes sent or -errno for
 * idx[j]. Returns how many were sent. sendmmsg() stops at the first failing datagram and reports
 * its error only when it is the first of the call. A pending ICMP error (a dead receiver) that
 * stops a batch in the middle is consumed by the kernel without being returned; from there the
 * rest of the batch goes one send() at a time, as the one-at-a-time path does, so each later ICMP
 * error fails the next copy and is counted (only the one that stopped the batch goes uncounted,
 * and the copy it stopped is sent).
 */
static napi_value js_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, slot, n, *meta, *idx, *res;
  uint8_t *slab;
  size_t slab_len, meta_len, idx_len, res_len;
  if (argc < 7 || arg_int(env, argv[0], &fd) || arg_buf(env, argv[1], &slab, &slab_len) || arg_int(env, argv[2], &slot) || slot <= 0 ||
      arg_i32s(env, argv[3], &meta, &meta_len) || arg_i32s(env, argv[4], &idx, &idx_len) || arg_int(env, argv[5], &n) ||
      arg_i32s(env, argv[6], &res, &res_len) || n < 0 || (size_t)n > idx_len || (size_t)n > res_len || n > MAX_BATCH)
    return type_error(env, "sendBatch(fd, slab, slot, meta, idx, n, res)");
  static struct mmsghdr msgs[MAX_BATCH];
  static struct iovec iov[MAX_BATCH];
  for (int j = 0; j < n; j++) {
    size_t i = (size_t)idx[j];
    if ((i + 1) * (size_t)slot > slab_len || META * i + 1 > meta_len || meta[META * i] < 0 || meta[META * i] > slot)
      return type_error(env, "sendBatch: index outside the slab");
    iov[j].iov_base = slab + i * (size_t)slot;
    iov[j].iov_len = (size_t)meta[META * i];
    memset(&msgs[j], 0, sizeof msgs[j]);
    msgs[j].msg_hdr.msg_iov = &iov[j];
    msgs[j].msg_hdr.msg_iovlen = 1;
  }
  int off = 0, sent = 0, single = 0;
  while (off < n) {
    if (single) {
      ssize_t r = send(fd, iov[off].iov_base, iov[off].iov_len, MSG_DONTWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) res[off] = -errno;
      else {
        res[off] = (int32_t)r;
        sent++;
      }
      off++;
      continue;
    }
    int r = sendmmsg(fd, msgs + off, (unsigned)(n - off), MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      res[off++] = -errno;
      continue;
    }
    for (int j = 0; j < r; j++) res[off + j] = (int32_t)msgs[off + j].msg_len;
    off += r;
    sent += r;
    if (off < n) single = 1; /* stopped short: the error of msgs[off] is unknown (see above) */
  }
  return num(env, sent);
}

void udp_batch_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"openUdpListener", NULL, js_open_listener, NULL, NULL, NULL, napi_default, NULL},
      {"localPort", NULL, js_local_port, NULL, NULL, NULL, napi_default, NULL},
      {"recvBufferSize", NULL, js_recv_buffer_size, NULL, NULL, NULL, napi_default, NULL},
      {"startReceiver", NULL, js_start_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"stopReceiver", NULL, js_stop_receiver, NULL, NULL, NULL, napi_default, NULL},
      {"sendBatch", NULL, js_send_batch, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
