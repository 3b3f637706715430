/*
 * sluice's small N-API addon: send a UDP datagram with a source address and port of our choosing
 * (what `sluice relay -S` needs to keep the exporter's address), over raw IPv4 and IPv6 sockets.
 *
 * We build the IP header ourselves (IPv4 with IPPROTO_RAW, IPv6 with IPV6_HDRINCL), so the kernel
 * does not fragment for us: a datagram larger than the path MTU is cut into fragments here
 * (RFC 791 for IPv4, an RFC 8200 Fragment header for IPv6). Fragments are handed to sendmsg() as
 * iovecs pointing into the caller's buffer, so the payload is never copied.
 *
 * The sockets are non-blocking: a full send buffer comes back as -EAGAIN and the caller counts a
 * drop instead of stalling the event loop. Errors are returned as negative errno values (send) or
 * thrown with the errno name as `code` (open), so JS can explain what is missing.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include "napi_args.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef IPV6_HDRINCL
#define IPV6_HDRINCL 36
#endif
#ifndef IP_MTU
#define IP_MTU 14
#endif

#define IPV4_HDR 20
#define IPV6_HDR 40
#define IPV6_FRAG_HDR 8
#define UDP_HDR 8

static uint16_t ipv4_id;
static uint32_t ipv6_frag_id;

/* One's complement sum over native-order 32-bit loads; the folded result stored in native order
 * is the right byte sequence (RFC 1071: the sum is independent of byte order). */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t len) {
  while (len >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    sum += w;
    p += 4;
    len -= 4;
  }
  if (len >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    len -= 2;
  }
  if (len == 1) {
    uint8_t last[2] = {p[0], 0};
    uint16_t w;
    memcpy(&w, last, 2);
    sum += w;
  }
  return sum;
}

static uint16_t csum_fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  const char *code = err == EPERM ? "EPERM" : err == EACCES ? "EACCES" : err == EAFNOSUPPORT ? "EAFNOSUPPORT" : err == ENOPROTOOPT ? "ENOPROTOOPT" : "ESYSCALL";
  napi_throw_error(env, code, msg);
  return NULL;
}

/* open(family: 4 | 6, sndbuf: number): fd */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family = 0, sndbuf = 0;
  if (argc < 2 || arg_int(env, argv[0], &family) || arg_int(env, argv[1], &sndbuf) || (family != 4 && family != 6)) {
    napi_throw_type_error(env, NULL, "open(family: 4 | 6, sndbuf: number)");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return throw_errno(env, errno, family == 4 ? "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)" : "socket(AF_INET6, SOCK_RAW, IPPROTO_RAW)");
  if (family == 6) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_HDRINCL, &one, sizeof one) != 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "setsockopt(IPV6_HDRINCL)");
    }
  }
  if (sndbuf > 0) {
    /* SO_SNDBUFFORCE passes net.core.wmem_max when we have CAP_NET_ADMIN; else the capped one. */
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  }
  return num(env, fd);
}

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc >= 1 && arg_int(env, argv[0], &fd) == 0 && fd >= 0) close(fd);
  return NULL;
}

/* pathMtu(family, dst: Buffer): the kernel's MTU towards dst (route or learned PMTU), or -errno. */
static napi_value js_path_mtu(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family = 0;
  uint8_t *dst;
  size_t dlen;
  if (argc < 2 || arg_int(env, argv[0], &family) || arg_buf(env, argv[1], &dst, &dlen) || (family == 4 ? dlen != 4 : dlen != 16)) {
    napi_throw_type_error(env, NULL, "pathMtu(family: 4 | 6, dst: Buffer(4 | 16))");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  int rc;
  int mtu = 0;
  socklen_t ml = sizeof mtu;
  if (family == 4) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
    memcpy(&sa.sin_addr, dst, 4);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc == 0) rc = getsockopt(fd, IPPROTO_IP, IP_MTU, &mtu, &ml);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    memcpy(&sa.sin6_addr, dst, 16);
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc == 0) rc = getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &mtu, &ml);
  }
  int e = errno;
  close(fd);
  return num(env, rc == 0 ? mtu : -e);
}

/* Fill iov[] with the bytes [off, off + len) of the UDP segment (8-byte header, then payload). */
static int seg_iov(struct iovec *iov, uint8_t *udp, uint8_t *payload, size_t off, size_t len) {
  int n = 0;
  if (off < UDP_HDR) {
    size_t h = UDP_HDR - off < len ? UDP_HDR - off : len;
    iov[n].iov_base = udp + off;
    iov[n].iov_len = h;
    n++;
    off += h;
    len -= h;
  }
  if (len > 0) {
    iov[n].iov_base = payload + (off - UDP_HDR);
    iov[n].iov_len = len;
    n++;
  }
  return n;
}

static ssize_t send_iov(int fd, void *sa, socklen_t salen, struct iovec *iov, int n) {
  struct msghdr m = {.msg_name = sa, .msg_namelen = salen, .msg_iov = iov, .msg_iovlen = (size_t)n};
  ssize_t r;
  do r = sendmsg(fd, &m, 0);
  while (r < 0 && errno == EINTR);
  return r;
}

/*
 * send(fd, family, src, srcPort, dst, dstPort, ttl, payload, mtu, zeroChecksum): the number of IP
 * packets sent (1, or the fragment count), or -errno (-EMSGSIZE when the datagram cannot be carried
 * by IP at all or the MTU is smaller than the kernel's; -EAGAIN when the send buffer is full).
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd, family, sport, dport, ttl, mtu;
  bool zero = false;
  uint8_t *src, *dst, *payload;
  size_t slen, dlen, plen;
  if (argc < 10 || arg_int(env, argv[0], &fd) || arg_int(env, argv[1], &family) || arg_buf(env, argv[2], &src, &slen) ||
      arg_int(env, argv[3], &sport) || arg_buf(env, argv[4], &dst, &dlen) || arg_int(env, argv[5], &dport) ||
      arg_int(env, argv[6], &ttl) || arg_buf(env, argv[7], &payload, &plen) || arg_int(env, argv[8], &mtu) ||
      napi_get_value_bool(env, argv[9], &zero) != napi_ok) {
    napi_throw_type_error(env, NULL, "send(fd, family, src, srcPort, dst, dstPort, ttl, payload, mtu, zeroChecksum)");
    return NULL;
  }
  size_t alen = family == 4 ? 4 : 16;
  if ((family != 4 && family != 6) || slen != alen || dlen != alen) {
    napi_throw_type_error(env, NULL, "send: addresses must be 4 (IPv4) or 16 (IPv6) bytes");
    return NULL;
  }
  size_t seglen = UDP_HDR + plen;
  uint8_t udp[UDP_HDR];
  put16(udp, (uint16_t)sport);
  put16(udp + 2, (uint16_t)dport);
  put16(udp + 6, 0);
  struct iovec iov[4];
  int sent = 0;

  if (family == 4) {
    if (IPV4_HDR + seglen > 65535) return num(env, -EMSGSIZE);
    put16(udp + 4, (uint16_t)seglen);
    if (!zero) {
      uint8_t pseudo[12];
      memcpy(pseudo, src, 4);
      memcpy(pseudo + 4, dst, 4);
      pseudo[8] = 0;
      pseudo[9] = IPPROTO_UDP;
      put16(pseudo + 10, (uint16_t)seglen);
      uint64_t s = csum_add(0, pseudo, 12);
      s = csum_add(s, udp, UDP_HDR);
      s = csum_add(s, payload, plen);
      uint16_t c = csum_fold(s);
      if (c == 0) c = 0xffff; /* RFC 768: a computed zero is sent as all ones */
      memcpy(udp + 6, &c, 2);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET};
    memcpy(&sa.sin_addr, dst, 4);
    /* Fragment payload size: a multiple of 8 that fits in the MTU after the header. */
    size_t room = mtu > IPV4_HDR + 8 ? (size_t)(mtu - IPV4_HDR) & ~(size_t)7 : 8;
    uint16_t id = ++ipv4_id;
    for (size_t off = 0; off < seglen || off == 0; ) {
      size_t len = seglen - off;
      int more = 0;
      if (IPV4_HDR + len > (size_t)mtu && len > room) {
        len = room;
        more = 1;
      }
      uint8_t ip[IPV4_HDR];
      ip[0] = 0x45;
      ip[1] = 0;
      put16(ip + 2, (uint16_t)(IPV4_HDR + len));
      put16(ip + 4, id);
      put16(ip + 6, (uint16_t)((more ? 0x2000 : 0) | (off >> 3)));
      ip[8] = (uint8_t)ttl;
      ip[9] = IPPROTO_UDP;
      put16(ip + 10, 0);
      memcpy(ip + 12, src, 4);
      memcpy(ip + 16, dst, 4);
      uint16_t hc = csum_fold(csum_add(0, ip, IPV4_HDR));
      memcpy(ip + 10, &hc, 2);
      iov[0].iov_base = ip;
      iov[0].iov_len = IPV4_HDR;
      int n = 1 + seg_iov(iov + 1, udp, payload, off, len);
      if (send_iov(fd, &sa, sizeof sa, iov, n) < 0) return num(env, -errno);
      sent++;
      off += len;
      if (!more) break;
    }
    return num(env, sent);
  }

  /* IPv6: the UDP checksum is mandatory (RFC 8200 8.1), so zeroChecksum is ignored here. */
  if (seglen > 65535) return num(env, -EMSGSIZE);
  put16(udp + 4, (uint16_t)seglen);
  {
    uint8_t pseudo[40];
    memcpy(pseudo, src, 16);
    memcpy(pseudo + 16, dst, 16);
    put32(pseudo + 32, (uint32_t)seglen);
    pseudo[36] = pseudo[37] = pseudo[38] = 0;
    pseudo[39] = IPPROTO_UDP;
    uint64_t s = csum_add(0, pseudo, 40);
    s = csum_add(s, udp, UDP_HDR);
    s = csum_add(s, payload, plen);
    uint16_t c = csum_fold(s);
    if (c == 0) c = 0xffff;
    memcpy(udp + 6, &c, 2);
  }
  struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
  memcpy(&sa.sin6_addr, dst, 16);
  uint8_t ip[IPV6_HDR + IPV6_FRAG_HDR];
  ip[0] = 0x60;
  ip[1] = ip[2] = ip[3] = 0;
  ip[7] = (uint8_t)ttl;
  memcpy(ip + 8, src, 16);
  memcpy(ip + 24, dst, 16);
  if (IPV6_HDR + seglen <= (size_t)mtu) {
    put16(ip + 4, (uint16_t)seglen);
    ip[6] = IPPROTO_UDP;
    iov[0].iov_base = ip;
    iov[0].iov_len = IPV6_HDR;
    int n = 1 + seg_iov(iov + 1, udp, payload, 0, seglen);
    if (send_iov(fd, &sa, sizeof sa, iov, n) < 0) return num(env, -errno);
    return num(env, 1);
  }
  /* Fragments: IPv6 header + Fragment header + a multiple of 8 bytes (the last one any length). */
  if (mtu < IPV6_HDR + IPV6_FRAG_HDR + 8) return num(env, -EMSGSIZE);
  size_t room = (size_t)(mtu - IPV6_HDR - IPV6_FRAG_HDR) & ~(size_t)7;
  uint32_t id = ++ipv6_frag_id;
  ip[6] = 44; /* Fragment header */
  uint8_t *fh = ip + IPV6_HDR;
  fh[0] = IPPROTO_UDP;
  fh[1] = 0;
  put32(fh + 4, id);
  for (size_t off = 0; off < seglen; ) {
    size_t len = seglen - off;
    int more = 0;
    if (len > room) {
      len = room;
      more = 1;
    }
    put16(ip + 4, (uint16_t)(IPV6_FRAG_HDR + len));
    put16(fh + 2, (uint16_t)(off | (more ? 1 : 0))); /* offset in 8-byte units << 3, M flag in bit 0 */
    iov[0].iov_base = ip;
    iov[0].iov_len = IPV6_HDR + IPV6_FRAG_HDR;
    int n = 1 + seg_iov(iov + 1, udp, payload, off, len);
    if (send_iov(fd, &sa, sizeof sa, iov, n) < 0) return num(env, -errno);
    sent++;
    off += len;
  }
  return num(env, sent);
}


/*
 * openUdp(family, dst, port, ttl, sndbuf): a non-blocking UDP socket connected to dst:port, so the
 * kernel reports ICMP errors for that receiver on it (as -ECONNREFUSED etc. from sendUdp), or -errno.
 * The plain (not spoofed) fast path: one call and one send() per copy, no libuv request per datagram.
 */
static napi_value js_open_udp(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t family = 0, port = 0, ttl = 0, sndbuf = 0;
  uint8_t *dst;
  size_t dlen;
  if (argc < 5 || arg_int(env, argv[0], &family) || arg_buf(env, argv[1], &dst, &dlen) || arg_int(env, argv[2], &port) ||
      arg_int(env, argv[3], &ttl) || arg_int(env, argv[4], &sndbuf) || (family == 4 ? dlen != 4 : dlen != 16)) {
    napi_throw_type_error(env, NULL, "openUdp(family, dst, port, ttl, sndbuf)");
    return NULL;
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return num(env, -errno);
  if (sndbuf > 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  /* Never read: keep what a receiver might send back to the kernel's minimum. */
  int small = 1;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  int rc;
  if (family == 4) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    memcpy(&sa.sin_addr, dst, 4);
    if (ttl > 0) {
      setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
      setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl);
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
    memcpy(&sa.sin6_addr, dst, 16);
    if (ttl > 0) {
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl);
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl);
    }
    rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
  }
  if (rc != 0) {
    int e = errno;
    close(fd);
    return num(env, -e);
  }
  return num(env, fd);
}

/* sendUdp(fd, payload): bytes sent, or -errno (-EAGAIN when the send buffer is full: never waits). */
static napi_value js_send_udp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd;
  uint8_t *payload;
  size_t plen;
  if (argc < 2 || arg_int(env, argv[0], &fd) || arg_buf(env, argv[1], &payload, &plen)) {
    napi_throw_type_error(env, NULL, "sendUdp(fd, payload)");
    return NULL;
  }
  ssize_t r;
  do r = send(fd, payload, plen, 0);
  while (r < 0 && errno == EINTR);
  return num(env, r < 0 ? -errno : (int32_t)r);
}

void udp_batch_register(napi_env env, napi_value exports); /* udp_batch.c */

static napi_value init(napi_env env, napi_value exports) {
  /* Start identifiers somewhere unpredictable, so two relays on one host do not collide. */
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ipv4_id = (uint16_t)(ts.tv_nsec ^ getpid());
  ipv6_frag_id = (uint32_t)(ts.tv_nsec * 2654435761u) ^ (uint32_t)getpid();
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"pathMtu", NULL, js_path_mtu, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"openUdp", NULL, js_open_udp, NULL, NULL, NULL, napi_default, NULL},
      {"sendUdp", NULL, js_send_udp, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  udp_batch_register(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
