// http_client.hpp — a simulated HTTP client for the samples (seed 001's `http.GetAsync(url)`).
//
// HttpClient::get_async(url) returns a Task<HttpResponse> that completes on a thread-pool thread,
// as a real client's I/O completion would. To keep every sample's output stable, the simulated
// network holds each response until the program says it may arrive:
//
//   * Latency::until_released (default) — responses wait in a queue until release_responses()
//     is called; each is then completed by its own work item on duet::default_scheduler(). The
//     awaiting method therefore always suspends at its await (the task is never completed when
//     get_async returns), and nothing races the main thread's printing.
//   * Latency::none — get_async queues the completion to the pool at once. Whether the awaiter
//     then finds the task completed is a race, so use it only where the output does not depend on
//     whether the method suspended.
//
// Responses come from a route table (add_route); an unknown URL answers 404 Not Found. The client
// prints nothing: the samples print, so the three styles' outputs can be compared line by line.
//
// Thread-safety: every member may be called from any thread. The client must outlive the
// responses it has not released yet (release_responses() or the destructor hand them to the pool;
// the destructor completes still-held requests with 503 so no task is left pending forever).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "duet/duet.hpp"

namespace samples {

// HttpResponse — what get_async produces: the status code, its reason phrase and the URL asked for.
struct HttpResponse {
  int status_code = 0;         // e.g. 200
  std::string reason_phrase;   // e.g. "OK"
  std::string url;             // the request's URL
};

// Latency — when a response arrives (see the header comment).
enum class Latency {
  until_released,  // held until release_responses()
  none,            // queued to the pool as soon as it is requested
};

// HttpClient — the simulated client (see the header comment).
class HttpClient {
 public:
  explicit HttpClient(Latency latency = Latency::until_released) : latency_(latency) {}
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  // ~HttpClient — answers every held request with 503 Service Unavailable (nothing is lost).
  ~HttpClient() {
    std::vector<Pending> held;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      held.swap(pending_);
    }
    for (auto& p : held) {
      p.response = HttpResponse{503, "Service Unavailable", p.response.url};
      respond_on_pool(std::move(p));
    }
  }

  // add_route(url, status_code, reason_phrase) — what a GET of `url` answers.
  void add_route(const std::string& url, int status_code, std::string reason_phrase) {
    std::lock_guard<std::mutex> lk(mutex_);
    routes_[url] = {status_code, std::move(reason_phrase)};
  }

  // get_async(url) — starts a GET of `url`; the task completes on a thread-pool thread.
  duet::Task<HttpResponse> get_async(const std::string& url) {
    Pending p;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      auto it = routes_.find(url);
      p.response = it == routes_.end() ? HttpResponse{404, "Not Found", url}
                                       : HttpResponse{it->second.first, it->second.second, url};
      ++requests_;
    }
    duet::Task<HttpResponse> task = p.source.task();
    if (latency_ == Latency::none) {
      respond_on_pool(std::move(p));
    } else {
      std::lock_guard<std::mutex> lk(mutex_);
      pending_.push_back(std::move(p));
    }
    return task;
  }

  // release_responses() — lets every held response arrive (each completes on a pool thread);
  // returns how many were released.
  std::size_t release_responses() {
    std::vector<Pending> held;
    {
      std::lock_guard<std::mutex> lk(mutex_);
      held.swap(pending_);
    }
    for (auto& p : held) respond_on_pool(std::move(p));
    return held.size();
  }

  // requests() — how many GETs were started so far.
  std::size_t requests() const {
    std::lock_guard<std::mutex> lk(mutex_);
    return requests_;
  }

 private:
  struct Pending {
    duet::TaskCompletionSource<HttpResponse> source;
    HttpResponse response;
  };

  // respond_on_pool(p) — completes p's task from a default_scheduler() worker ("the I/O thread").
  static void respond_on_pool(Pending p) {
    duet::run([source = p.source, response = std::move(p.response)]() mutable {
      source.set_result(std::move(response));
    });
  }

  Latency latency_;
  mutable std::mutex mutex_;
  std::map<std::string, std::pair<int, std::string>> routes_;  // guarded by mutex_
  std::vector<Pending> pending_;                               // guarded by mutex_
  std::size_t requests_ = 0;                                   // guarded by mutex_
};

}  // namespace samples
