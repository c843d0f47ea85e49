// duet/sm/dsl_stream.hpp — DUET_YIELD_RETURN(v) and DUET_YIELD_BREAK(): `yield return v;` and
// `yield break;` in a DSL async iterator (a machine deriving from duet::AsyncIterator<Self, T>,
// sm/async_iterator.hpp), anywhere the DSL allows an await: in loops, ifs and try bodies — not in
// a DUET_FINALLY block (C# error CS1625), which is a compile error here too.
//
//   struct Pages : duet::AsyncIterator<Pages, std::string> {
//     int page_ = 0;
//     std::string body_;
//     void move_next() {
//       DUET_BEGIN
//         DUET_TRY
//           for (page_ = 1; page_ <= 3; ++page_) {
//             DUET_AWAIT_INTO(body_, fetch_page_async(page_, token()));
//             DUET_YIELD_RETURN(body_);
//           }
//         DUET_FINALLY
//           std::printf("closed\n");   // also runs when the consumer disposes early
//         DUET_END_TRY
//       DUET_END
//     }
//   };
//
// How a yield works: like an await that the consumer completes. DUET_YIELD_RETURN records its
// resume point exactly as DUET_AWAIT does (state_, and the resume path inside try blocks), then
// hands the value to the iterator (yield_return: current() is set and move_next_async completes
// true) and returns from move_next(). The next move_next_async() re-enters move_next(), which
// descends to that point and carries on. When the consumer disposes early, the iterator is
// re-entered in dispose mode and the resume point executes DUET_YIELD_BREAK() — a DUET_RETURN()
// — so every enclosing DUET_FINALLY runs (and may await) on the way out, as C#'s do.
#pragma once

#include <type_traits>
#include <utility>

#include "duet/sm/async_iterator.hpp"
#include "duet/sm/dsl.hpp"

namespace duet::detail {

// dsl_yield_point<Scope, Label>(self) — records a yield's resume point (dsl_suspend's
// bookkeeping without an awaiter).
template <class Scope, int Label, class M>
DUET_DSL_INLINE_ void dsl_yield_point(M& self) noexcept {
  if constexpr (Scope::depth == 0) {
    self.state_ = Label;
  } else {
    self.dsl_.path[Scope::depth] = Label;
    self.state_ = self.dsl_.path[0];
  }
}

}  // namespace duet::detail

// DUET_YIELD_RETURN(v) — `yield return v;`
#define DUET_YIELD_RETURN(...) DUET_DSL_YIELD_(__COUNTER__, __VA_ARGS__)
// DUET_YIELD_BREAK() — `yield break;`: ends the stream, through the enclosing finally blocks.
#define DUET_YIELD_BREAK() DUET_RETURN()

#define DUET_DSL_YIELD_(n, ...)                                                                  \
  do {                                                                                           \
    static_assert(!duet_scope_::in_finally,                                                      \
                  "duet: DUET_YIELD_RETURN inside DUET_FINALLY: a finally block cannot yield "   \
                  "(C# error CS1625). Yield before the try block ends.");                        \
    if (false) {                                                                                 \
      case DUET_DSL_LABEL_(::duet::detail::dsl_label(n, ::duet::detail::k_dsl_await)):           \
        this->state_ = -1;                                                                       \
        if (this->dispose_mode()) DUET_YIELD_BREAK();                                            \
    } else {                                                                                     \
      auto&& duet_yielded_ = (__VA_ARGS__);                                                      \
      ::duet::detail::dsl_yield_point<duet_scope_,                                               \
                                      ::duet::detail::dsl_label(n, ::duet::detail::k_dsl_await)>( \
          *this);                                                                                \
      duet_guard_.left();                                                                        \
      this->yield_return(std::forward<decltype(duet_yielded_)>(duet_yielded_));                  \
      return;                                                                                    \
    }                                                                                            \
  } while (false)
