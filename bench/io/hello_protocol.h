/* bench/io/hello_protocol.h — the keep-alive "hello" HTTP/1.1 exchange every server of the I/O
 * benchmark speaks (bench/io/io_bench.py), shared by the C floor and the C++ servers so they all
 * do exactly the same work per request: count the requests in what was read (each ends with an
 * empty line, "\r\n\r\n"; the benchmark's requests have no body), answer each with the same
 * 5-byte "hello" response, keep the connection open.
 *
 * The startup line: a server listens on 127.0.0.1, port 0 (the kernel picks a free one), prints
 * "listening <port>\n" on stdout, flushes, and serves until it is killed (SIGTERM/SIGKILL).
 * Per connection a server keeps one int of parser state (hello_scan's *state), plus its read
 * buffer of HELLO_READ_BUFFER bytes where the model needs one per connection.
 * Thread-safety: the functions are pure (state is the caller's). */
#ifndef DUET_BENCH_IO_HELLO_PROTOCOL_H
#define DUET_BENCH_IO_HELLO_PROTOCOL_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define HELLO_READ_BUFFER 512u
/* HELLO_MAX_BATCH — the most requests one read of HELLO_READ_BUFFER bytes can end (each ends
 * with 4 bytes at least), so one hello_responses() call always answers a whole read. */
#define HELLO_MAX_BATCH (HELLO_READ_BUFFER / 4)

static const char hello_response[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";
#define HELLO_RESPONSE_LEN (sizeof(hello_response) - 1)

/* hello_scan(state, p, n) — the number of requests that end in p[0..n), carrying the partial
 * match of "\r\n\r\n" (0-3 characters) across reads in *state. */
static inline int hello_scan(int* state, const char* p, size_t n) {
  int s = *state;
  int requests = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    if (c == '\r') {
      s = (s == 2) ? 3 : 1;
    } else if (c == '\n' && (s == 1 || s == 3)) {
      if (s == 3) {
        ++requests;
        s = 0;
      } else {
        s = 2;
      }
    } else {
      s = 0;
    }
  }
  *state = s;
  return requests;
}

/* hello_responses(count, len) — `count` (1..HELLO_MAX_BATCH) responses back to back, in a static
 * buffer; *len gets their size. */
static inline const char* hello_responses(size_t count, size_t* len) {
  static char batch[HELLO_RESPONSE_LEN * HELLO_MAX_BATCH];
  static int filled = 0;
  if (!filled) {
    for (size_t i = 0; i < HELLO_MAX_BATCH; ++i) memcpy(batch + i * HELLO_RESPONSE_LEN, hello_response, HELLO_RESPONSE_LEN);
    filled = 1;
  }
  if (count > HELLO_MAX_BATCH) count = HELLO_MAX_BATCH;
  *len = count * HELLO_RESPONSE_LEN;
  return batch;
}

/* hello_announce(port) — the startup line. */
static inline void hello_announce(unsigned port) {
  printf("listening %u\n", port);
  fflush(stdout);
}

#endif
