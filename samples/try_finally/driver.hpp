// try_finally — seed 003's upload button ("UI Responsiveness"): an async void event handler on
// the UI thread, with try/catch/finally around an await that offloads CPU work to the pool.
//
//   private async void OnUploadButtonClick(string file)
//   {
//       StatusLabel.Text = $"Uploading {file}...";
//       UploadButton.IsEnabled = false;
//       try {
//           await Task.Run(() => ProcessLargeFile(file));  // offload the heavy processing
//           StatusLabel.Text = "Upload Complete!";           // resumes here, on the UI thread
//       } catch (Exception ex) {
//           StatusLabel.Text = "Error: " + ex.Message;
//       } finally {
//           UploadButton.IsEnabled = true;
//       }
//   }
//
// The main thread plays the UI thread: it installs a SingleThreadContext (the one-thread
// SynchronizationContext a UI framework installs) and pumps it. The user clicks three times; the
// second file is corrupt, so that click takes the error path. What the output shows, for every
// click:
//  * the handler runs on the UI thread up to its await, and the click returns at once;
//  * while ProcessLargeFile runs on a pool thread, the UI thread is free: it repaints;
//  * the rest of the handler — the success line or the catch block, then the finally block —
//    runs back on the UI thread, because the await captured the UI context;
//  * the finally block runs on both paths, so the button is enabled again after every click.
// ProcessLargeFile waits until the UI has repainted before it starts, so the lines from the two
// threads come in one order on every run.
//
// The driver, shared by the three styles: main(), the form's controls and the work.
// explicit.cpp, dsl.cpp and fiber.cpp define on_upload_button_click(), each in its own style.
#pragma once

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>

#include <duet/duet.hpp>

#include "context_roles.hpp"

namespace {

using context_sample::thread_role;

// The form: two controls whose setters print what they are set to and on which thread, and count
// what the handlers did (for the summary at the end).
struct Form {
  std::string status_label;
  bool upload_button_enabled = true;
  int errors_shown = 0;
  int times_reenabled = 0;
};
Form g_form;

void set_status_label(const std::string& text) {
  g_form.status_label = text;
  if (text.rfind("Error: ", 0) == 0) ++g_form.errors_shown;
  std::printf("  StatusLabel.Text = \"%s\" (on %s)\n", text.c_str(), thread_role());
}

void set_upload_button_enabled(bool enabled) {
  g_form.upload_button_enabled = enabled;
  if (enabled) ++g_form.times_reenabled;
  std::printf("  UploadButton.IsEnabled = %s (on %s)\n", enabled ? "true" : "false", thread_role());
}

// The UI has repainted since the current upload started; ProcessLargeFile waits for it.
std::atomic<bool> g_repainted{false};

// process_large_file(file) — the CPU work the handler offloads with run(). A file whose name
// starts with "corrupt" fails.
void process_large_file(const std::string& file) {
  g_repainted.wait(false);
  std::printf("  ProcessLargeFile(%s): crunching on %s\n", file.c_str(), thread_role());
  if (file.rfind("corrupt", 0) == 0) throw std::runtime_error(file + ": checksum mismatch");
}

// on_upload_button_click(file) — OnUploadButtonClick, an async void method; one per style.
void on_upload_button_click(std::string file);

// repaint() — the UI thread's other work while an upload is under way.
void repaint() {
  std::printf("  UI: repainting while the upload runs (label \"%s\", button %s) (on %s)\n",
              g_form.status_label.c_str(), g_form.upload_button_enabled ? "enabled" : "disabled",
              thread_role());
  g_repainted.store(true);
  g_repainted.notify_all();
}

}  // namespace

int main() {
  context_sample::set_thread_role("ui thread");
  duet::SingleThreadContext ui;
  duet::SyncContextScope on_ui(&ui);

  const char* const files[] = {"report.pdf", "corrupt.zip", "photo.png"};
  int clicks = 0;
  for (const char* file : files) {
    std::printf("== click %d: upload %s\n", ++clicks, file);
    g_repainted.store(false);
    on_upload_button_click(file);  // returns at the handler's first await
    std::printf("  the click returned; the handler is waiting (on %s)\n", thread_role());
    repaint();
    ui.run_until_operations_complete();  // the loop runs the rest of the handler
    std::printf("\n");
  }
  std::printf("%d clicks: %d took the error path; the finally block ran %d times\n", clicks,
              g_form.errors_shown, g_form.times_reenabled);
  std::printf("UploadButton.IsEnabled = %s; outstanding operations: %ld\n",
              g_form.upload_button_enabled ? "true" : "false", ui.outstanding_operations());
  return 0;
}
