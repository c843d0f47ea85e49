// producer_consumer — DSL style: Produce and Consume as duet::AsyncMethod machines written with
// the DUET_* macros (the try/catch around Consume's loop is DUET_TRY / DUET_CATCH). The program
// is driver.hpp.
#include "driver.hpp"

namespace {

struct Produce : duet::AsyncMethod<Produce> {
  std::string name_;
  int count_;
  std::chrono::milliseconds every_;
  duet::ChannelWriter<std::string> writer_;
  duet::CancellationToken ct_;
  int i_ = 0;
  std::string item_;

  Produce(std::string name, int count, std::chrono::milliseconds every, duet::ChannelWriter<std::string> writer,
          duet::CancellationToken ct)
      : name_(std::move(name)), count_(count), every_(every), writer_(std::move(writer)), ct_(std::move(ct)) {}

  void move_next() {
    DUET_BEGIN
      for (i_ = 1; i_ <= count_; ++i_) {
        DUET_AWAIT(duet::delay(every_, ct_));
        item_ = name_ + std::to_string(i_);
        DUET_AWAIT(writer_.write_async(item_, ct_));  // waits while the channel is full
        print_wrote(name_, item_);
      }
    DUET_END
  }
};

struct Consume : duet::AsyncMethod<Consume, int> {
  std::string name_;
  duet::ChannelReader<std::string> reader_;
  std::chrono::milliseconds work_;
  duet::CancellationToken ct_;
  int n_ = 0;
  std::string item_;

  Consume(std::string name, duet::ChannelReader<std::string> reader, std::chrono::milliseconds work,
          duet::CancellationToken ct)
      : name_(std::move(name)), reader_(std::move(reader)), work_(work), ct_(std::move(ct)) {}

  void move_next() {
    DUET_BEGIN
      DUET_TRY
        for (;;) {
          DUET_AWAIT_INTO(item_, reader_.read_async(ct_));
          print_took(name_, item_);
          DUET_AWAIT(duet::delay(work_));  // finish the item even when canceled
          ++n_;
        }
      DUET_CATCH(const duet::ChannelClosedError&, closed)
        (void)closed;
        print_closed(name_, n_);
      DUET_CATCH(const duet::OperationCanceledError&, canceled)
        (void)canceled;
        print_canceled(name_, n_);
      DUET_END_TRY
      DUET_RETURN(n_);
    DUET_END
  }
};

duet::Task<> produce(std::string name, int count, std::chrono::milliseconds every,
                     duet::ChannelWriter<std::string> writer, duet::CancellationToken ct) {
  return duet::start<Produce>(std::move(name), count, every, std::move(writer), std::move(ct));
}

duet::Task<int> consume(std::string name, duet::ChannelReader<std::string> reader,
                        std::chrono::milliseconds work, duet::CancellationToken ct) {
  return duet::start<Consume>(std::move(name), std::move(reader), work, std::move(ct));
}

}  // namespace
