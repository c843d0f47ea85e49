// gdb_target.cpp — the program tests/diag/test_gdb_dump.py runs under gdb: it suspends chains in
// every style (two identical explicit chains, a dsl chain, a fiber chain), writes its own
// dump_async() to argv[1], then stops itself with SIGTRAP so gdb can take a core (gcore) and run
// duet-dump on it. Run without gdb it would die of the SIGTRAP: it is only a test fixture.
#include <csignal>
#include <cstdio>
#include <fstream>

#include <duet/duet.hpp>

#include "diag_chain.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: gdb_target DUMP_FILE\n");
    return 2;
  }
  duet::diagnostics::enable();
  duet::TaskCompletionSource<int> a, b, c, d;
  duet::Task<int> ra = diag_styles::explicit_call<2>(a.task());
  duet::Task<int> rb = diag_styles::explicit_call<2>(b.task());
  duet::Task<int> rc = diag_styles::dsl_call<2>(c.task());
  duet::Task<int> rd = diag_fiber_call(2, d.task());
  {
    std::ofstream out(argv[1]);
    duet::diagnostics::dump_async(out);
  }
  std::raise(SIGTRAP);  // gdb stops here: gcore, duet-dump
  a.set_result(0);
  b.set_result(0);
  c.set_result(0);
  d.set_result(0);
  return ra.result() + rb.result() + rc.result() + rd.result() == 12 ? 0 : 1;
}
