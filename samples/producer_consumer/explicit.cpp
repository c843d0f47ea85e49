// producer_consumer — explicit style: Produce and Consume as the state machines Roslyn generates
// (state_, builder_, one awaiter field per await, the try block's own dispatch). The program is
// driver.hpp.
#include "driver.hpp"

#include <optional>

namespace {

struct ProduceStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<> builder_;
  std::string name_;  // parameters
  int count_ = 0;
  std::chrono::milliseconds every_{};
  std::optional<duet::ChannelWriter<std::string>> writer_;
  duet::CancellationToken ct_;
  int i_ = 0;  // hoisted locals
  std::string item_;
  duet::TaskAwaiter<void> awaiter1_;       // await Task.Delay(...)
  duet::ValueTaskAwaiter<void> awaiter2_;  // await writer.WriteAsync(...)

  void move_next() {
    try {
      switch (state_) {
        case 0:
          state_ = -1;
          goto resume0;
        case 1:
          state_ = -1;
          goto resume1;
        default:
          break;
      }
      for (i_ = 1; i_ <= count_; ++i_) {
        awaiter1_ = duet::delay(every_, ct_).get_awaiter();
        if (!awaiter1_.is_completed()) {
          state_ = 0;
          builder_.await_unsafe_on_completed(awaiter1_, *this);
          return;
        }
      resume0:
        awaiter1_.get_result();
        item_ = name_ + std::to_string(i_);
        awaiter2_ = writer_->write_async(item_, ct_).get_awaiter();  // waits while full
        if (!awaiter2_.is_completed()) {
          state_ = 1;
          builder_.await_unsafe_on_completed(awaiter2_, *this);
          return;
        }
      resume1:
        awaiter2_.get_result();
        print_wrote(name_, item_);
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());  // OperationCanceledError: canceled
      return;
    }
    state_ = -2;
    builder_.set_result();
  }
};

struct ConsumeStateMachine {
  int state_ = -1;
  duet::AsyncTaskMethodBuilder<int> builder_;
  std::string name_;  // parameters
  std::optional<duet::ChannelReader<std::string>> reader_;
  std::chrono::milliseconds work_{};
  duet::CancellationToken ct_;
  int n_ = 0;  // hoisted locals
  std::string item_;
  duet::ValueTaskAwaiter<std::string> awaiter1_;  // await reader.ReadAsync(ct)
  duet::TaskAwaiter<void> awaiter2_;              // await Task.Delay(work)

  void move_next() {
    try {
      try {
        switch (state_) {  // the try block's own dispatch: C++ cannot jump into a try block
          case 0:
            state_ = -1;
            goto resume0;
          case 1:
            state_ = -1;
            goto resume1;
          default:
            break;
        }
        for (;;) {
          awaiter1_ = reader_->read_async(ct_).get_awaiter();
          if (!awaiter1_.is_completed()) {
            state_ = 0;
            builder_.await_unsafe_on_completed(awaiter1_, *this);
            return;
          }
        resume0:
          item_ = awaiter1_.get_result();
          print_took(name_, item_);
          awaiter2_ = duet::delay(work_).get_awaiter();  // finish the item even when canceled
          if (!awaiter2_.is_completed()) {
            state_ = 1;
            builder_.await_unsafe_on_completed(awaiter2_, *this);
            return;
          }
        resume1:
          awaiter2_.get_result();
          ++n_;
        }
      } catch (const duet::ChannelClosedError&) {
        print_closed(name_, n_);
      } catch (const duet::OperationCanceledError&) {
        print_canceled(name_, n_);
      }
    } catch (...) {
      state_ = -2;
      builder_.set_exception(std::current_exception());
      return;
    }
    state_ = -2;
    builder_.set_result(n_);
  }
};

duet::Task<> produce(std::string name, int count, std::chrono::milliseconds every,
                     duet::ChannelWriter<std::string> writer, duet::CancellationToken ct) {
  ProduceStateMachine sm;
  sm.name_ = std::move(name);
  sm.count_ = count;
  sm.every_ = every;
  sm.writer_.emplace(std::move(writer));
  sm.ct_ = std::move(ct);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

duet::Task<int> consume(std::string name, duet::ChannelReader<std::string> reader,
                        std::chrono::milliseconds work, duet::CancellationToken ct) {
  ConsumeStateMachine sm;
  sm.name_ = std::move(name);
  sm.reader_.emplace(std::move(reader));
  sm.work_ = work;
  sm.ct_ = std::move(ct);
  sm.builder_.start(sm);
  return sm.builder_.task();
}

}  // namespace
