// trace.cpp — the Chrome-trace event stream (diag/trace.hpp).
//
// Each thread records into its own buffer (found through a thread_local pointer, registered once
// in a global list that outlives the thread: a finished thread's events stay in the trace). A
// buffer has its own mutex, uncontended except while write_chrome_json() reads it.
#include "duet/diag/trace.hpp"

#include <pthread.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <vector>

namespace duet::tracing {

namespace detail {
std::atomic<bool> g_active{false};
}  // namespace detail

namespace {

struct Event {
  char ph;
  const char* prefix;  // "suspend ", "resume " or ""
  const char* name;
  const void* id;
  std::int64_t ts_ns;
};

struct Buffer {
  std::mutex mutex;
  std::vector<Event> events;
  int depth = 0;  // open B slices
  int tid = 0;
  std::string thread_name;
};

struct Trace {
  std::mutex mutex;
  std::vector<std::unique_ptr<Buffer>> buffers;
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();
  std::atomic<std::size_t> count{0};
};

Trace& trace() noexcept {
  static Trace* const t = new Trace();  // never destroyed: threads may record during exit
  return *t;
}

thread_local Buffer* t_buffer = nullptr;

Buffer* buffer() noexcept {
  if (t_buffer) return t_buffer;
  try {
    auto b = std::make_unique<Buffer>();
    char name[32] = {};
    if (pthread_getname_np(pthread_self(), name, sizeof name) == 0) b->thread_name = name;
    Trace& t = trace();
    std::lock_guard<std::mutex> lk(t.mutex);
    b->tid = static_cast<int>(t.buffers.size()) + 1;
    t_buffer = b.get();
    t.buffers.push_back(std::move(b));
  } catch (...) {
    return nullptr;
  }
  return t_buffer;
}

std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                              trace().origin)
      .count();
}

void push(Buffer& b, char ph, const char* prefix, const char* name, const void* id) noexcept {
  std::lock_guard<std::mutex> lk(b.mutex);
  try {
    b.events.push_back(Event{ph, prefix, name, id, now_ns()});
    trace().count.fetch_add(1, std::memory_order_relaxed);
  } catch (...) {
    // out of memory: the event is lost, the program goes on
  }
}

void json_string(std::ostream& out, const std::string& s) {
  out << '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out << buf;
    } else {
      out << c;
    }
  }
  out << '"';
}

void write_event(std::ostream& out, const Event& e, int tid, bool& first) {
  out << (first ? "\n" : ",\n");
  first = false;
  char ts[32];
  std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(e.ts_ns) / 1000.0);
  out << "{\"ph\":\"" << e.ph << "\",\"name\":";
  json_string(out, std::string(e.prefix ? e.prefix : "") + (e.name ? e.name : ""));
  out << ",\"cat\":\"duet\",\"pid\":1,\"tid\":" << tid << ",\"ts\":" << ts;
  if (e.ph == 's' || e.ph == 'f') {
    char id[32];
    std::snprintf(id, sizeof id, "%p", e.id);
    out << ",\"id\":\"" << id << "\"";
    if (e.ph == 'f') out << ",\"bp\":\"e\"";
  } else if (e.ph == 'i') {
    out << ",\"s\":\"t\"";
  }
  out << "}";
}

// DUET_TRACE=path: trace the whole run, written at exit.
std::string* g_env_path = nullptr;

void write_env_trace() {
  stop();
  if (g_env_path && !write_chrome_json(*g_env_path)) {
    std::fprintf(stderr, "duet: DUET_TRACE: could not write %s\n", g_env_path->c_str());
  }
}

const bool g_env_checked = [] {
  const char* p = std::getenv("DUET_TRACE");
  if (p && *p && compiled_in()) {
    g_env_path = new std::string(p);
    start();
    std::atexit(&write_env_trace);
  }
  return true;
}();

}  // namespace

namespace detail {

// record_prefixed(ph, prefix, name, id) — record() with a prefix for the event's name.
void record_prefixed(char ph, const char* prefix, const char* name, const void* id) noexcept {
  Buffer* const b = buffer();
  if (!b) return;
  if (ph == 'B') {
    ++b->depth;
  } else if (ph == 'E') {
    if (b->depth == 0) return;  // its begin was not recorded (tracing started in between)
    --b->depth;
  }
  push(*b, ph, prefix, name, id);
}

void record(char ph, const char* name, const void* id) noexcept { record_prefixed(ph, "", name, id); }

void suspended(const void* owner, const char* name) noexcept {
  record_prefixed('B', "suspend ", name, nullptr);
  record_prefixed('s', "suspend ", name, owner);
  record('E', nullptr, nullptr);
}

void resumed(const void* owner, const char* name) noexcept {
  record_prefixed('B', "resume ", name, nullptr);
  record_prefixed('f', "suspend ", name, owner);
}

void end() noexcept { record('E', nullptr, nullptr); }

}  // namespace detail

void start() noexcept {
  Trace& t = trace();
  {
    std::lock_guard<std::mutex> lk(t.mutex);
    for (auto& b : t.buffers) {
      std::lock_guard<std::mutex> blk(b->mutex);
      b->events.clear();
      b->depth = 0;
    }
    t.count.store(0, std::memory_order_relaxed);
  }
  detail::g_active.store(true, std::memory_order_release);
}

void stop() noexcept { detail::g_active.store(false, std::memory_order_release); }

bool is_active() noexcept { return detail::active(); }

bool compiled_in() noexcept {
#if defined(DUET_TRACING)
  return true;
#else
  return false;
#endif
}

std::size_t event_count() noexcept { return trace().count.load(std::memory_order_relaxed); }

void write_chrome_json(std::ostream& out) {
  Trace& t = trace();
  std::lock_guard<std::mutex> lk(t.mutex);
  out << "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[";
  bool first = true;
  for (const auto& b : t.buffers) {
    std::lock_guard<std::mutex> blk(b->mutex);
    if (b->events.empty()) continue;
    out << (first ? "\n" : ",\n");
    first = false;
    out << "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":" << b->tid << ",\"args\":{\"name\":";
    json_string(out, b->thread_name.empty() ? "thread " + std::to_string(b->tid) : b->thread_name);
    out << "}}";
    int open = 0;
    for (const Event& e : b->events) {
      if (e.ph == 'B') ++open;
      if (e.ph == 'E') --open;
      write_event(out, e, b->tid, first);
    }
    // Slices still open (recording stopped inside them) end at the thread's last event.
    for (; open > 0; --open) write_event(out, Event{'E', nullptr, nullptr, nullptr, b->events.back().ts_ns}, b->tid, first);
  }
  out << "\n]}\n";
}

bool write_chrome_json(const std::string& path) {
  std::ofstream f(path);
  if (!f) return false;
  write_chrome_json(f);
  f.close();
  return static_cast<bool>(f);
}

}  // namespace duet::tracing
