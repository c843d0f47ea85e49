// errors.cpp — the error types' constructors and the unhandled / unobserved exception handlers.
#include "duet/core/errors.hpp"

#include <atomic>
#include <cstdio>
#include <exception>
#include <string>

namespace duet {

namespace {
std::string first_message(const std::vector<std::exception_ptr>& inner) {
  std::string msg = "One or more errors occurred.";
  if (!inner.empty()) msg += " (" + describe(inner.front()) + ")";
  return msg;
}

void default_unhandled(std::exception_ptr e) {
  std::fprintf(stderr, "duet: unhandled exception: %s\n", describe(e).c_str());
  std::fflush(stderr);
  std::terminate();
}

std::atomic<UnhandledExceptionHandler> g_unhandled{nullptr};
std::atomic<UnobservedTaskExceptionHandler> g_unobserved{nullptr};
}  // namespace

AggregateError::AggregateError(std::vector<std::exception_ptr> inner)
    : std::runtime_error(first_message(inner)), inner_(std::move(inner)) {}
AggregateError::AggregateError(const std::string& message, std::vector<std::exception_ptr> inner)
    : std::runtime_error(message), inner_(std::move(inner)) {}

namespace {
void flatten_into(const std::vector<std::exception_ptr>& inner, std::vector<std::exception_ptr>& out) {
  for (const auto& e : inner) {
    try {
      std::rethrow_exception(e);
    } catch (const AggregateError& a) {
      flatten_into(a.inner_exceptions(), out);
      continue;
    } catch (...) {
    }
    out.push_back(e);
  }
}
}  // namespace

AggregateError AggregateError::flatten() const {
  std::vector<std::exception_ptr> out;
  flatten_into(inner_, out);
  return AggregateError(what(), std::move(out));
}

std::string describe(const std::exception_ptr& e) {
  if (!e) return "(no exception)";
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "(an exception not derived from std::exception)";
  }
}

UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler h) noexcept {
  return g_unhandled.exchange(h);
}

UnobservedTaskExceptionHandler set_unobserved_task_exception_handler(
    UnobservedTaskExceptionHandler h) noexcept {
  return g_unobserved.exchange(h);
}

namespace detail {
void report_unhandled_exception(std::exception_ptr e) noexcept {
  auto h = g_unhandled.load();
  (h ? h : &default_unhandled)(std::move(e));
}

void report_pool_destroyed_from_worker() noexcept {
  report_unhandled_exception(error_ptr<InvalidOperationError>(
      "ThreadPool destroyed from one of its own worker threads: a worker cannot join itself. "
      "Destroy a pool from a thread outside it (after its work is done); this pool is "
      "abandoned, its workers keep running and are never joined"));
}

void throw_misuse(const char* subject, const char* name, const char* rule) {
  throw InvalidOperationError(std::string(subject) + name + rule);
}

void report_unobserved_exception(std::exception_ptr e) noexcept {
  if (auto h = g_unobserved.load()) h(std::move(e));
}
}  // namespace detail

}  // namespace duet
