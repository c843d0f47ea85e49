// producer_consumer — a bounded channel between two producers and three consumers, on virtual
// time, with cancellation:
//
//   static async Task Produce(string name, int count, int everyMs, ChannelWriter<string> writer,
//                             CancellationToken ct) {
//       for (int i = 1; i <= count; i++) {
//           await Task.Delay(everyMs, ct);
//           await writer.WriteAsync($"{name}{i}", ct);   // waits while the channel is full
//           Console.WriteLine($"[{now}] {name} wrote {name}{i}");
//       }
//   }
//   static async Task<int> Consume(string name, ChannelReader<string> reader, int workMs,
//                                  CancellationToken ct) {
//       int n = 0;
//       try {
//           while (true) {
//               string item = await reader.ReadAsync(ct);
//               Console.WriteLine($"[{now}] {name} took {item}");
//               await Task.Delay(workMs);                // finish the item even when canceled
//               n++;
//           }
//       } catch (ChannelClosedException) {
//           Console.WriteLine($"[{now}] {name}: channel completed after {n} items");
//       } catch (OperationCanceledException) {
//           Console.WriteLine($"[{now}] {name}: canceled after {n} items");
//       }
//       return n;
//   }
//
// Main creates Channel.CreateBounded<string>(2), cancels its source after 400 ms, starts
// producers A (12 items, every 30 ms) and B (12 items, every 45 ms) and consumers c1, c2, c3
// (50, 70 and 110 ms of work per item), waits for the producers, completes the writer, then
// waits for the consumers and prints the totals. The producers outrun the consumers, so the
// channel fills and the writers wait (backpressure); at 400 ms the cancellation stops the
// producers and the consumers that are waiting for an item.
//
// Every continuation runs on the main thread's virtual-time loop (common/virtual_time.hpp), so
// the output is the same on every run and in every style. The driver is shared by the three
// styles; explicit.cpp, dsl.cpp and fiber.cpp define produce() and consume().
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <duet/duet.hpp>

#include "virtual_time.hpp"

using namespace std::chrono_literals;

namespace {

using samples::now_ms;

duet::Task<> produce(std::string name, int count, std::chrono::milliseconds every,
                     duet::ChannelWriter<std::string> writer, duet::CancellationToken ct);
duet::Task<int> consume(std::string name, duet::ChannelReader<std::string> reader,
                        std::chrono::milliseconds work, duet::CancellationToken ct);

void print_wrote(const std::string& name, const std::string& item) {
  std::printf("[%4lld ms] %s wrote %s\n", now_ms(), name.c_str(), item.c_str());
}
void print_took(const std::string& name, const std::string& item) {
  std::printf("[%4lld ms] %s took %s\n", now_ms(), name.c_str(), item.c_str());
}
void print_closed(const std::string& name, int n) {
  std::printf("[%4lld ms] %s: channel completed after %d items\n", now_ms(), name.c_str(), n);
}
void print_canceled(const std::string& name, int n) {
  std::printf("[%4lld ms] %s: canceled after %d items\n", now_ms(), name.c_str(), n);
}

}  // namespace

int main() {
  samples::VirtualTimeLoop loop;
  auto channel = duet::Channel<std::string>::create_bounded(2);
  duet::CancellationTokenSource cts;
  cts.cancel_after(400ms);
  std::vector<duet::Task<>> producers;
  std::vector<duet::Task<int>> consumers;
  try {
    loop.run([&] {
      producers.push_back(produce("A", 12, 30ms, channel.writer(), cts.token()));
      producers.push_back(produce("B", 12, 45ms, channel.writer(), cts.token()));
      consumers.push_back(consume("c1", channel.reader(), 50ms, cts.token()));
      consumers.push_back(consume("c2", channel.reader(), 70ms, cts.token()));
      consumers.push_back(consume("c3", channel.reader(), 110ms, cts.token()));
      return duet::when_all(producers);  // await Task.WhenAll(producers)
    });
  } catch (const duet::OperationCanceledError&) {
  }
  std::printf("[%4lld ms] producers: A %s, B %s; completing the writer\n", now_ms(),
              producers[0].is_canceled() ? "canceled" : "done", producers[1].is_canceled() ? "canceled" : "done");
  channel.writer().complete();
  const std::vector<int> counts = loop.run([&] { return duet::when_all(consumers); });
  int total = 0;
  for (int n : counts) total += n;
  std::printf("[%4lld ms] consumers processed %d items (c1 %d, c2 %d, c3 %d); %zu left in the channel\n",
              now_ms(), total, counts[0], counts[1], counts[2], channel.reader().count());
  return 0;
}
