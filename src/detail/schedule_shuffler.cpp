// schedule_shuffler.cpp — the seeded schedule shuffler's state (detail/schedule_shuffler.hpp):
// the global seed and on-flag, each thread's stream, and the DUET_SCHEDULE_SEED start-up switch.
#include "shuffle_hook.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "duet/detail/cpu_relax.hpp"

namespace duet::detail::shuffle {

namespace {

// g_seed — the seed of the current run; meaningful while the shuffler is on.
std::atomic<std::uint64_t> g_seed{0};
// g_epoch — bumped by every enable(); a thread whose stream is from an older epoch restarts it.
std::atomic<std::uint64_t> g_epoch{0};
// g_threads — threads that started a stream in this epoch (their rank derives their stream).
std::atomic<std::uint64_t> g_threads{0};

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Stream — one thread's generator (xorshift64*), the epoch it was seeded in, and the thread's
// name (name_thread), which keys its stream instead of its rank.
struct Stream {
  std::uint64_t state = 0;
  std::uint64_t epoch = ~std::uint64_t{0};
  std::uint64_t name = 0;  // 0: unnamed
};

// stream() — the calling thread's Stream. Not inlined, and its address is used only inside the
// calls below: a fiber that migrates between threads must never keep another thread's address.
[[gnu::noinline]] Stream& stream() noexcept {
  thread_local Stream s;
  return s;
}

// next() — the calling thread's next 64 random bits.
std::uint64_t next() noexcept {
  Stream& s = stream();
  const std::uint64_t epoch = g_epoch.load(std::memory_order_acquire);
  if (s.epoch != epoch) [[unlikely]] {
    // A named thread (a pool worker) is keyed by its name; any other thread by the order in which
    // unnamed threads first drew in this epoch.
    const std::uint64_t key = s.name != 0 ? s.name | (std::uint64_t{1} << 63)
                                          : g_threads.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t x = g_seed.load(std::memory_order_relaxed) ^ (key * 0xD1B54A32D192ED03ull);
    s.state = splitmix64(x) | 1;  // xorshift's state must not be 0
    s.epoch = epoch;
  }
  s.state ^= s.state >> 12;
  s.state ^= s.state << 25;
  s.state ^= s.state >> 27;
  return s.state * 0x2545F4914F6CDD1Dull;
}

}  // namespace

#if DUET_SCHEDULE_SHUFFLER
std::atomic<bool> g_on{false};
#endif

bool compiled_in() noexcept { return DUET_SCHEDULE_SHUFFLER != 0; }

void enable(std::uint64_t seed) noexcept {
#if DUET_SCHEDULE_SHUFFLER
  g_seed.store(seed, std::memory_order_relaxed);
  g_threads.store(0, std::memory_order_relaxed);
  g_epoch.fetch_add(1, std::memory_order_release);
  g_on.store(true, std::memory_order_release);
#else
  (void)seed;
#endif
}

void disable() noexcept {
#if DUET_SCHEDULE_SHUFFLER
  g_on.store(false, std::memory_order_release);
#endif
}

std::optional<std::uint64_t> seed() noexcept {
  if (!on()) return std::nullopt;
  return g_seed.load(std::memory_order_relaxed);
}

void name_thread(std::uint64_t name) noexcept {
  Stream& s = stream();
  s.name = name;
  s.epoch = ~std::uint64_t{0};  // restart the stream under the new key
}

std::uint32_t draw(std::uint32_t n) noexcept {
  return static_cast<std::uint32_t>((next() >> 32) % n);
}

void preempt() noexcept {
  const std::uint64_t r = next();
  switch (r & 7) {
    case 0:
      std::this_thread::yield();
      break;
    case 1:
      for (std::uint64_t i = (r >> 8) & 255; i > 0; --i) cpu_relax();
      break;
    default:
      break;
  }
}

namespace {

// from_environment() — DUET_SCHEDULE_SEED at start-up: turns the shuffler on and prints the seed
// (so every log of a shuffled run names it), or says why it cannot.
bool from_environment() noexcept {
  const char* text = std::getenv("DUET_SCHEDULE_SEED");
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long value = std::strtoull(text, &end, 0);
  if (errno != 0 || end == text || *end != '\0' || *text == '-') {
    std::fprintf(stderr,
                 "duet: DUET_SCHEDULE_SEED='%s' is not an unsigned integer; the schedule "
                 "shuffler stays off (set it to a seed such as 42 to shuffle)\n",
                 text);
    return false;
  }
  if (!compiled_in()) {
    std::fprintf(stderr,
                 "duet: DUET_SCHEDULE_SEED is set but this build of duet has no schedule "
                 "shuffler; configure with -Dschedule_shuffler=enabled (default in debug and "
                 "debugoptimized builds)\n");
    return false;
  }
  enable(value);
  std::fprintf(stderr,
               "duet: schedule shuffler on, DUET_SCHEDULE_SEED=%llu (set it again to replay "
               "this schedule)\n",
               value);
  return true;
}

// Read once while the library's static objects are initialised (this file is linked whenever a
// hook is, since the hooks read g_on).
[[maybe_unused]] const bool g_from_environment = from_environment();

}  // namespace

}  // namespace duet::detail::shuffle
