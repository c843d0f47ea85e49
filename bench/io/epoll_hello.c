/* bench/io/epoll_hello.c — the floor of the I/O benchmark: the keep-alive "hello" server
 * (hello_protocol.h) as a minimal hand-written epoll loop in C, one thread. Level-triggered, one
 * shared read buffer, per connection only the parser's int and the unsent tail of a response
 * (rare: only when the socket's send buffer is full). Nothing here is general: it is what a server
 * that does nothing else costs. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hello_protocol.h"

struct conn {
  int state;      /* hello_scan's partial match */
  char* pending;  /* unsent bytes (malloc'd), or NULL */
  size_t pending_len;
};

static struct conn* conns;
static int conns_cap;

static void die(const char* what) {
  perror(what);
  exit(1);
}

static void close_conn(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(conns[fd].pending);
  memset(&conns[fd], 0, sizeof conns[fd]);
}

/* send_all — sends what it can; keeps the rest and waits for EPOLLOUT. 0 when the peer is gone. */
static int send_all(int ep, int fd, const char* p, size_t n) {
  struct conn* c = &conns[fd];
  while (n > 0 && c->pending_len == 0) { /* behind a pending tail: append, keep the order */
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return 0;
      break;
    }
    p += w;
    n -= (size_t)w;
  }
  if (n > 0) {
    char* tail = malloc(c->pending_len + n);
    if (!tail) die("malloc");
    if (c->pending_len) memcpy(tail, c->pending, c->pending_len);
    memcpy(tail + c->pending_len, p, n);
    free(c->pending);
    c->pending = tail;
    c->pending_len += n;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
  }
  return 1;
}

int main(void) {
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (lfd < 0) die("socket");
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr*)&addr, sizeof addr) < 0) die("bind");
  if (listen(lfd, 4096) < 0) die("listen");
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr*)&addr, &alen);

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  conns_cap = 1024;
  conns = calloc((size_t)conns_cap, sizeof *conns);
  hello_announce(ntohs(addr.sin_port));

  static struct epoll_event events[256];
  static char buf[HELLO_READ_BUFFER];
  for (;;) {
    int n = epoll_wait(ep, events, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (cfd < 0) break;
          setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (cfd >= conns_cap) {
            int cap = conns_cap;
            while (cfd >= cap) cap *= 2;
            conns = realloc(conns, (size_t)cap * sizeof *conns);
            if (!conns) die("realloc");
            memset(conns + conns_cap, 0, (size_t)(cap - conns_cap) * sizeof *conns);
            conns_cap = cap;
          }
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
        }
        continue;
      }
      struct conn* c = &conns[fd];
      if (events[i].events & EPOLLOUT) {
        char* p = c->pending;
        size_t len = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        int ok = send_all(ep, fd, p, len);
        free(p);
        if (!ok) {
          close_conn(ep, fd);
          continue;
        }
      }
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          close_conn(ep, fd);
          continue;
        }
        if (r < 0) continue;
        int requests = hello_scan(&c->state, buf, (size_t)r);
        if (requests > 0) {
          size_t len;
          const char* out = hello_responses(requests, &len);
          if (!send_all(ep, fd, out, len)) close_conn(ep, fd);
        }
      }
    }
  }
}
