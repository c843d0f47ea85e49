// producer_consumer — fiber style: Produce and Consume as straight-line code on fibers; every
// await is duet::await. The program is driver.hpp.
#include "driver.hpp"

namespace {

duet::Task<> produce(std::string name, int count, std::chrono::milliseconds every,
                     duet::ChannelWriter<std::string> writer, duet::CancellationToken ct) {
  return duet::fiber::async([=]() mutable {
    for (int i = 1; i <= count; ++i) {
      duet::await(duet::delay(every, ct));
      std::string item = name + std::to_string(i);
      duet::await(writer.write_async(item, ct));  // waits while the channel is full
      print_wrote(name, item);
    }
  });
}

duet::Task<int> consume(std::string name, duet::ChannelReader<std::string> reader,
                        std::chrono::milliseconds work, duet::CancellationToken ct) {
  return duet::fiber::async([=]() mutable {
    int n = 0;
    try {
      for (;;) {
        std::string item = duet::await(reader.read_async(ct));
        print_took(name, item);
        duet::await(duet::delay(work));  // finish the item even when canceled
        ++n;
      }
    } catch (const duet::ChannelClosedError&) {
      print_closed(name, n);
    } catch (const duet::OperationCanceledError&) {
      print_canceled(name, n);
    }
    return n;
  });
}

}  // namespace
