// try_finally — fiber style: the handler is duet::fiber::async_void (the fiber form of
// AsyncVoidMethodBuilder: it counts as an outstanding operation of the UI loop until it ends),
// and its try/catch is a C++ try/catch on the fiber's stack, around the await itself. C++ has no
// `finally`, so the finally block is written out on the two ways out of the try: after it, and in
// a catch-all that rethrows. A suspended fiber is not leaving its try block, so neither runs
// until the fiber resumes and goes on. The program is driver.hpp.
#include "driver.hpp"

namespace {

void on_upload_button_click(std::string file) {
  duet::fiber::async_void([file = std::move(file)] {
    set_status_label("Uploading " + file + "...");
    set_upload_button_enabled(false);
    try {  // try { ... } finally { ... }
      try {  // try { ... } catch (Exception ex) { ... }
        duet::await(duet::run([file] { process_large_file(file); }));
        set_status_label("Upload Complete!");
      } catch (const std::exception& ex) {
        set_status_label(std::string("Error: ") + ex.what());
      }
    } catch (...) {
      set_upload_button_enabled(true);  // finally, on the way out with an exception
      throw;
    }
    set_upload_button_enabled(true);  // finally, on the normal way out
  });
}

}  // namespace
