// duet/diag/diagnostics.hpp — who is waiting on whom: a registry of every suspended method (an
// explicit or dsl state machine's box, a pooled ValueTask box, a fiber) and dump_async(), which
// prints their await chains the way .NET's `dumpasync --stacks` (SOS) does.
//
//   duet::diagnostics::enable();            // or DUET_DIAGNOSTICS=1 in the environment
//   ...                                     // the program hangs, or a test wants to know
//   duet::diagnostics::dump_async(std::cerr);
//
//   2 chains, 4 suspended frames
//   x1 chain:
//     #0 [explicit] LeafMachine (state 0) awaits duet::TaskCompletionSource<int>
//     #1 [dsl] MiddleMachine (state 16) awaits task of #0
//     #2 [explicit] RootMachine (state 0) awaits task of #1
//   x1 chain:
//     #0 [fiber] worker awaits delay (due at wheel tick 150 ms)
//          at worker_body()
//          at ...
//
// Each chain runs from the innermost awaited operation (line #0) up to its root: a frame whose
// task nobody suspended awaits. Identical chains (same lines: names, styles, states, what the
// innermost awaits, fiber stacks) are printed once with their count. A dsl method's state is its
// resume label (DUET_* labels are __COUNTER__-based), an explicit one's its state_. Tasks awaited
// through when_all hang under the method awaiting it, one chain per pending child, through a
// link line (one per child, recorded while the registry is enabled when when_all starts):
//
//   #0 [dsl] Leaf (state 12) awaits duet::TaskCompletionSource<int>
//   #1 [when_all] when_all (child 1) awaits task of #0
//   #2 [explicit] Root (state 0) awaits when_all of #1
//
// The registry. Off by default: each suspension and each resumption costs one load of a global
// flag and a predictable branch (bench_diag measures it against a build without the hooks,
// -Ddiagnostics=false / DUET_NO_DIAGNOSTICS). When enabled, a suspension copies a small record
// (name, style, state, what it awaits; for a fiber, the return addresses of its own stack,
// captured with backtrace(3) while still on that stack) into a list under a mutex, and the
// resumption removes it. Enabling affects suspensions from then on; disable() forgets every
// record. The list is plain memory (FrameRecord below), so tools/duet-gdb.py walks it from a core
// file without calling into the process.
//
// What an await is described as. A suspension asks the awaiter: an awaiter with a member
// `void diag_describe(duet::diagnostics::Awaited&) const noexcept` fills in the kind, a key (the
// identity that links chains: for a task, its state) and a label; Task awaiters forward to the
// task state's virtual diag_describe (a TaskCompletionSource's task, a delay, when_all, a
// method's box each say what they are), ValueTask awaiters to their source's. Any other awaiter
// is described by its demangled type name. A socket operation (duet::net: Socket's receive,
// send, accept, connect, and so NetworkStream's reads and writes) describes itself with the
// endpoint at the other end: "awaits socket receive from 127.0.0.1:40000", "awaits socket accept
// on 127.0.0.1:8080".
//
// Async iterators. An explicit or dsl iterator (sm/async_iterator.hpp) suspended on an await is a
// frame of its own, as a fiber stream's producer is; a consumer awaiting its move_next_async (or
// dispose_async) links to it: "#1 [dsl] Consumer (state 3) awaits move_next_async of #0". An
// iterator parked at a yield awaits nothing and is not recorded, in any style.
//
// Naming. A frame is named by its state machine's demangled type, unless the machine declares
// DUET_ASYNC_NAME("...") among its members; a fiber by FiberOptions::name (else "fiber").
//
// Thread-safety: every function may be called from any thread. dump_async() holds the registry's
// lock while it prints, so a method that is resumed meanwhile waits for the dump (its awaiter,
// which the record points to, stays alive until then).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <typeinfo>

namespace duet::diagnostics {

// enable() / disable() / is_enabled() — switch the registry. The environment variable
// DUET_DIAGNOSTICS=1 enables it at start-up. disable() forgets every record.
void enable() noexcept;
void disable() noexcept;
bool is_enabled() noexcept;

// dump_async(out) — every chain of suspended methods, innermost first, merged with counts (see
// the header comment). Prints "no suspended methods" when the registry is empty, and a line
// saying it is disabled when it is.
void dump_async(std::ostream& out);
// dump_async() — the same, as a string.
std::string dump_async();
// dump_chain_of(key) — only the chains that contain the frame whose task is `key` (a
// TaskStateBase*); empty when there is none (or the registry is disabled).
std::string dump_chain_of(const void* key);
// suspended_count() — how many suspended frames the registry holds now (when_all links aside).
std::size_t suspended_count() noexcept;

// AwaitKind — what a frame awaits.
enum class AwaitKind : std::uint8_t {
  other,         // an awaiter that does not describe itself: label = its type
  task,          // a Task (of a method: the chain goes on through it)
  tcs,           // a TaskCompletionSource's task
  delay,         // duet::delay: due_ms is its deadline tick
  when_all,      // when_all / when_any
  value_task,    // a ValueTask over an IValueTaskSource
  channel_read,  // a channel read (ChannelReader::read_async / wait_to_read_async)
  channel_write, // a channel write waiting for room
  io,            // an I/O operation: "socket receive from 127.0.0.1:5000", "socket accept on ..."
  async_stream,  // an async iterator's move_next_async / dispose_async: the chain goes on
                 // through the iterator's frame (label: which of the two)
  parked,        // not an operation: a fiber stream's producer parked at a yield until the next
                 // move_next_async; not recorded (an explicit or dsl iterator at a yield is not
                 // suspended at all)
};
const char* to_string(AwaitKind k) noexcept;

// Awaited — the description of one awaited operation, filled by diag_describe.
struct Awaited {
  static constexpr std::size_t k_label = 96;
  AwaitKind kind = AwaitKind::other;
  const void* key = nullptr;   // the awaited object; a method's box key links the chain
  std::int64_t due_ms = -1;    // delay: the deadline, in its wheel's ticks (ms); else -1
  char label[k_label] = {};    // NUL-terminated

  // set(kind, key, label) — fills the three (label truncated to fit).
  void set(AwaitKind k, const void* what, const char* text) noexcept;
};

// Style — how a frame's method is written.
// when_all: not a method but a link: one record per pending child of a when_all, keyed as the
// when_all's task and awaiting that child, so the chains of the children continue up through the
// method awaiting the when_all (state: the child's index). Not counted as a suspended frame.
enum class Style : std::uint8_t { explicit_sm, dsl, pooled_value_task, fiber, when_all };
const char* to_string(Style s) noexcept;

// FrameRecord — one suspended frame, as the registry keeps it (a node of a doubly-linked list;
// tools/duet-gdb.py reads these fields by name: keep the two in step).
struct FrameRecord {
  static constexpr int k_max_pcs = 24;
  FrameRecord* next = nullptr;
  FrameRecord* prev = nullptr;
  const void* owner = nullptr;     // the box or fiber: the resumption's identity
  const void* self_key = nullptr;  // the task (or ValueTask source) this frame completes
  const char* name = "";           // static storage
  Style style = Style::explicit_sm;
  std::int32_t state = -1;         // explicit/dsl: the state number it resumes at
  Awaited awaited;
  std::int32_t npcs = 0;           // fiber: return addresses on its own stack, innermost first
  void* pcs[k_max_pcs] = {};
};

namespace detail {

// The run-time switch the hooks test (one relaxed load and a predictable branch).
extern std::atomic<bool> g_enabled;
inline bool enabled() noexcept { return g_enabled.load(std::memory_order_relaxed); }

// note_suspended(rec) — adds (a copy of) rec, replacing a record with the same owner. Never
// throws: a record that cannot be allocated is dropped (dropped_count()).
void note_suspended(const FrameRecord& rec) noexcept;
// note_resumed(owner) — removes owner's record, if any.
void note_resumed(const void* owner) noexcept;
// capture_stack(rec) — the calling stack's return addresses into rec.pcs (skipping `skip`).
void capture_stack(FrameRecord& rec, int skip) noexcept;
// demangle(mangled) — the demangled name, interned for the life of the process.
const char* demangle(const char* mangled) noexcept;
// dropped_count() — records that could not be allocated.
std::size_t dropped_count() noexcept;

// describe_awaiter(a, out) — asks the awaiter (see "What an await is described as").
template <class A>
void describe_awaiter(const A& a, Awaited& out) noexcept {
  if constexpr (requires { a.diag_describe(out); }) {
    a.diag_describe(out);
  } else {
    out.set(AwaitKind::other, &a, demangle(typeid(A).name()));
  }
}

// machine_name<SM>() — DUET_ASYNC_NAME's string, or SM's demangled type.
template <class SM>
const char* machine_name() noexcept {
  if constexpr (requires { SM::duet_async_name(); }) {
    return SM::duet_async_name();
  } else {
    static const char* const name = demangle(typeid(SM).name());
    return name;
  }
}

}  // namespace detail
}  // namespace duet::diagnostics

// DUET_ASYNC_NAME("name") — inside a state machine's struct: the name dump_async() prints for it.
#define DUET_ASYNC_NAME(text) \
  static constexpr const char* duet_async_name() noexcept { return text; }

// DUET_DIAG_HOOK(stmt) — runs stmt only while diagnostics are enabled; compiled out entirely
// with DUET_NO_DIAGNOSTICS (meson -Ddiagnostics=false).
#if defined(DUET_NO_DIAGNOSTICS)
#define DUET_DIAG_HOOK(...) \
  do {                      \
  } while (false)
#else
#define DUET_DIAG_HOOK(...)                                                 \
  do {                                                                      \
    if (::duet::diagnostics::detail::enabled()) [[unlikely]] { __VA_ARGS__; } \
  } while (false)
#endif
