// diagnostics.cpp — the registry of suspended frames and dump_async() (diag/diagnostics.hpp).
//
// The registry is a doubly-linked list of heap FrameRecords (g_registry.head) plus a hash index
// by owner, both under one mutex. tools/duet-gdb.py walks g_registry.head from a core file, so the
// list, not the index, is the source of truth; keep FrameRecord's fields plain.
#include "duet/diag/diagnostics.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <execinfo.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <ostream>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace duet::diagnostics {

namespace detail {

std::atomic<bool> g_enabled{false};

}  // namespace detail

namespace {

bool env_enabled() noexcept {
  const char* v = std::getenv("DUET_DIAGNOSTICS");
  return v && *v && std::strcmp(v, "0") != 0;
}

}  // namespace

// The registry: global, named for the gdb script (duet::diagnostics::g_registry).
struct Registry {
  std::mutex mutex;
  FrameRecord* head = nullptr;  // newest first
  std::size_t count = 0;
  std::size_t dropped = 0;
  std::unordered_map<const void*, FrameRecord*> by_owner;

  void unlink(FrameRecord* r) noexcept {
    if (r->prev) {
      r->prev->next = r->next;
    } else {
      head = r->next;
    }
    if (r->next) r->next->prev = r->prev;
    --count;
    delete r;
  }
  void clear() noexcept {
    while (head) unlink(head);
    by_owner.clear();
  }
};

// Constructed on first use and never destroyed (a suspension may be noted during static
// destruction). The pointer is what the gdb script reads.
Registry* g_registry = nullptr;

namespace {

Registry& registry() noexcept {
  static Registry* const r = [] {
    g_registry = new Registry();
    return g_registry;
  }();
  return *r;
}

const bool g_env_checked = [] {
  if (env_enabled()) {
    registry();
    detail::g_enabled.store(true, std::memory_order_relaxed);
  }
  return true;
}();

}  // namespace

void enable() noexcept {
  registry();
  detail::g_enabled.store(true, std::memory_order_relaxed);
}

void disable() noexcept {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  detail::g_enabled.store(false, std::memory_order_relaxed);
  r.clear();
}

bool is_enabled() noexcept { return detail::enabled(); }

std::size_t suspended_count() noexcept {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  return r.count;
}

const char* to_string(AwaitKind k) noexcept {
  switch (k) {
    case AwaitKind::task: return "task";
    case AwaitKind::tcs: return "TaskCompletionSource";
    case AwaitKind::delay: return "delay";
    case AwaitKind::when_all: return "when_all";
    case AwaitKind::value_task: return "ValueTask";
    case AwaitKind::channel_read: return "channel read";
    case AwaitKind::channel_write: return "channel write";
    case AwaitKind::io: return "I/O";
    case AwaitKind::async_stream: return "async stream";
    case AwaitKind::parked: return "parked";
    case AwaitKind::other: break;
  }
  return "awaiter";
}

const char* to_string(Style s) noexcept {
  switch (s) {
    case Style::explicit_sm: return "explicit";
    case Style::dsl: return "dsl";
    case Style::pooled_value_task: return "pooled ValueTask";
    case Style::fiber: return "fiber";
  }
  return "?";
}

void Awaited::set(AwaitKind k, const void* what, const char* text) noexcept {
  kind = k;
  key = what;
  std::size_t n = text ? std::strlen(text) : 0;
  if (n >= k_label) n = k_label - 1;
  if (n) std::memcpy(label, text, n);
  label[n] = '\0';
}

namespace detail {

void note_suspended(const FrameRecord& rec) noexcept {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  if (!enabled()) return;  // disabled meanwhile: disable() cleared the list, keep it clear
  try {
    auto [it, fresh] = r.by_owner.try_emplace(rec.owner, nullptr);
    if (!fresh) r.unlink(it->second);
    auto* node = new FrameRecord(rec);
    node->prev = nullptr;
    node->next = r.head;
    if (r.head) r.head->prev = node;
    r.head = node;
    ++r.count;
    it->second = node;
  } catch (...) {
    r.by_owner.erase(rec.owner);
    ++r.dropped;
  }
}

void note_resumed(const void* owner) noexcept {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  auto it = r.by_owner.find(owner);
  if (it == r.by_owner.end()) return;
  r.unlink(it->second);
  r.by_owner.erase(it);
}

void capture_stack(FrameRecord& rec, int skip) noexcept {
  void* buf[FrameRecord::k_max_pcs + 8];
  const int n = ::backtrace(buf, FrameRecord::k_max_pcs + 8);
  int out = 0;
  for (int i = skip + 1; i < n && out < FrameRecord::k_max_pcs; ++i) rec.pcs[out++] = buf[i];
  rec.npcs = out;
}

const char* demangle(const char* mangled) noexcept {
  static std::mutex m;
  static auto* interned = new std::map<std::string, std::string>();
  try {
    std::lock_guard<std::mutex> lk(m);
    auto it = interned->find(mangled);
    if (it == interned->end()) {
      int status = 0;
      char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
      std::string name = (status == 0 && d) ? d : mangled;
      std::free(d);
      it = interned->emplace(mangled, std::move(name)).first;
    }
    return it->second.c_str();
  } catch (...) {
    return mangled;
  }
}

std::size_t dropped_count() noexcept {
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  return r.dropped;
}

}  // namespace detail

namespace {

// symbolize(pc) — "function (module)" through dladdr; the executable's own functions need
// -rdynamic (meson: export_dynamic) to be named, else "module+0xoffset" (gdb names them all).
std::string symbolize(void* pc) {
  Dl_info info{};
  // A return address points after the call: look up pc - 1 so a call at a function's end is
  // attributed to that function.
  void* const at = static_cast<char*>(pc) - 1;
  if (::dladdr(at, &info) && info.dli_sname) {
    int status = 0;
    char* d = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
    std::string s = (status == 0 && d) ? d : info.dli_sname;
    std::free(d);
    return s;
  }
  std::ostringstream o;
  if (info.dli_fname) {
    const char* base = std::strrchr(info.dli_fname, '/');
    o << (base ? base + 1 : info.dli_fname) << "+0x" << std::hex
      << (reinterpret_cast<std::uintptr_t>(pc) - reinterpret_cast<std::uintptr_t>(info.dli_fbase));
  } else {
    o << pc;
  }
  return o.str();
}

// One printed line per frame; two chains merge when their lines are equal.
struct Line {
  std::string head;                // "[style] name (state n)"
  std::string awaits;              // "awaits ..."
  std::vector<std::string> stack;  // fiber: symbolized stack
};

std::string awaits_text(const FrameRecord& f, bool inner_is_frame, std::size_t inner_index) {
  std::ostringstream o;
  if (inner_is_frame) {
    const char* what = f.awaited.kind == AwaitKind::value_task     ? "ValueTask"
                       : f.awaited.kind == AwaitKind::async_stream ? f.awaited.label
                                                                   : "task";
    o << "awaits " << what << " of #" << inner_index;
    return o.str();
  }
  o << "awaits " << (f.awaited.label[0] ? f.awaited.label : to_string(f.awaited.kind));
  if (f.awaited.kind == AwaitKind::delay && f.awaited.due_ms >= 0) {
    o << " (due at wheel tick " << f.awaited.due_ms << " ms)";
  }
  return o.str();
}

struct Chain {
  std::vector<const FrameRecord*> frames;  // innermost first
};

// The chains: from every root (a frame whose task no other frame awaits) down through the
// awaited keys, reversed to innermost-first. A frame awaited by two frames appears in both chains.
std::vector<Chain> build_chains(const Registry& r) {
  std::unordered_map<const void*, const FrameRecord*> by_key;
  std::unordered_set<const void*> awaited;
  for (const FrameRecord* f = r.head; f; f = f->next) {
    if (f->self_key) by_key[f->self_key] = f;
    if (f->awaited.key) awaited.insert(f->awaited.key);
  }
  std::vector<const FrameRecord*> roots;
  for (const FrameRecord* f = r.head; f; f = f->next) {
    if (!f->self_key || !awaited.count(f->self_key)) roots.push_back(f);
  }
  std::vector<Chain> chains;
  for (const FrameRecord* root : roots) {
    Chain c;
    std::unordered_set<const FrameRecord*> seen;
    for (const FrameRecord* f = root; f && seen.insert(f).second;) {
      c.frames.push_back(f);
      auto it = f->awaited.key ? by_key.find(f->awaited.key) : by_key.end();
      f = it == by_key.end() ? nullptr : it->second;
    }
    std::reverse(c.frames.begin(), c.frames.end());
    chains.push_back(std::move(c));
  }
  return chains;
}

std::vector<Line> lines_of(const Chain& c) {
  std::vector<Line> lines;
  for (std::size_t i = 0; i < c.frames.size(); ++i) {
    const FrameRecord& f = *c.frames[i];
    Line l;
    std::ostringstream h;
    h << "[" << to_string(f.style) << "] " << f.name;
    if (f.style != Style::fiber) h << " (state " << f.state << ")";
    l.head = h.str();
    l.awaits = awaits_text(f, i > 0, i - 1);
    for (int k = 0; k < f.npcs; ++k) l.stack.push_back(symbolize(f.pcs[k]));
    lines.push_back(std::move(l));
  }
  return lines;
}

std::string key_of(const std::vector<Line>& lines) {
  std::string k;
  for (const Line& l : lines) {
    k += l.head;
    k += '\n';
    // The label may carry an address (a TCS's): merge by kind, not by object.
    k += l.awaits.substr(0, l.awaits.find(" @"));
    k += '\n';
    for (const std::string& s : l.stack) k += s + '\n';
  }
  return k;
}

void print_chains(std::ostream& out, const std::vector<Chain>& chains, std::size_t frames) {
  // Merge identical chains, keeping first-seen order.
  std::vector<std::pair<std::vector<Line>, std::size_t>> groups;
  std::unordered_map<std::string, std::size_t> index;
  for (const Chain& c : chains) {
    std::vector<Line> lines = lines_of(c);
    auto [it, fresh] = index.try_emplace(key_of(lines), groups.size());
    if (fresh) {
      groups.emplace_back(std::move(lines), 1);
    } else {
      ++groups[it->second].second;
    }
  }
  out << chains.size() << (chains.size() == 1 ? " chain, " : " chains, ") << frames
      << (frames == 1 ? " suspended frame\n" : " suspended frames\n");
  for (const auto& [lines, n] : groups) {
    out << "x" << n << " chain:\n";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      out << "  #" << i << " " << lines[i].head << " " << lines[i].awaits << "\n";
      for (const std::string& s : lines[i].stack) out << "       at " << s << "\n";
    }
  }
}

}  // namespace

void dump_async(std::ostream& out) {
  if (!detail::enabled()) {
    out << "duet diagnostics are disabled: call duet::diagnostics::enable() (or set "
           "DUET_DIAGNOSTICS=1) before the methods suspend\n";
    return;
  }
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  if (r.count == 0) {
    out << "no suspended methods\n";
    return;
  }
  print_chains(out, build_chains(r), r.count);
}

std::string dump_async() {
  std::ostringstream o;
  dump_async(o);
  return o.str();
}

std::string dump_chain_of(const void* key) {
  if (!detail::enabled() || !key) return {};
  Registry& r = registry();
  std::lock_guard<std::mutex> lk(r.mutex);
  std::vector<Chain> chains = build_chains(r);
  std::vector<Chain> mine;
  std::size_t frames = 0;
  for (Chain& c : chains) {
    bool has = false;
    for (const FrameRecord* f : c.frames) has = has || f->self_key == key;
    if (has) {
      frames += c.frames.size();
      mine.push_back(std::move(c));
    }
  }
  if (mine.empty()) return {};
  std::ostringstream o;
  print_chains(o, mine, frames);
  return o.str();
}

}  // namespace duet::diagnostics
