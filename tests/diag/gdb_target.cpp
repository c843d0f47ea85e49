// gdb_target.cpp — the program tests/diag/test_gdb_dump.py runs under gdb: it suspends chains in
// every style (two identical explicit chains, a dsl chain, a fiber chain, a fiber consumer
// awaiting a dsl iterator's move_next_async, a fiber in a socket receive, a fiber awaiting
// when_all of an explicit and a dsl method), writes its own
// dump_async() to argv[1], then stops itself with SIGTRAP so gdb can take a core (gcore) and run
// duet-dump on it. Run without gdb it would die of the SIGTRAP: it is only a test fixture.
#include <array>
#include <csignal>
#include <cstddef>
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
  // A consumer awaiting move_next_async of a dsl iterator suspended on a TCS.
  duet::TaskCompletionSource<> gate;
  duet::AsyncStream<int> stream = duet::make_async_stream<diag_styles::GatedDsl>(gate.task());
  duet::AsyncEnumerator<int> e = stream.get_async_enumerator();
  duet::Task<int> re = duet::fiber::async([&e] { return duet::await(e.move_next_async()) ? e.current() : -1; },
                                          duet::fiber::FiberOptions{}.with_name("Consumer"));
  // A receive on a loopback connection: the frame names the peer.
  using duet::net::IPEndPoint;
  duet::net::TcpListener listener(IPEndPoint(duet::net::IPAddress::loopback(), 0));
  listener.start();
  duet::net::Socket client(listener.local_endpoint().address_family());
  duet::ValueTask<> connected = client.connect_async(listener.local_endpoint());
  duet::net::Socket server = listener.accept_socket_async().result();
  connected.result();
  std::array<std::byte, 4> buf{};
  duet::Task<std::size_t> rr = duet::fiber::async([&] { return duet::await(server.receive_async(buf)); },
                                                  duet::fiber::FiberOptions{}.with_name("Receiver"));
  // A when_all of two methods: both chains go on up through the when_all to Joiner.
  duet::TaskCompletionSource<int> w1, w2;
  duet::Task<int> rw = duet::fiber::async(
      [t1 = diag_styles::explicit_call<0>(w1.task()), t2 = diag_styles::dsl_call<0>(w2.task())] {
        const auto [x, y] = duet::await(duet::when_all(t1, t2));
        return x + y;
      },
      duet::fiber::FiberOptions{}.with_name("Joiner"));
  {
    std::ofstream out(argv[1]);
    duet::diagnostics::dump_async(out);
  }
  std::raise(SIGTRAP);  // gdb stops here: gcore, duet-dump
  a.set_result(0);
  b.set_result(0);
  c.set_result(0);
  d.set_result(0);
  gate.set_result();
  w1.set_result(1);
  w2.set_result(1);
  const std::array<std::byte, 1> one{std::byte{1}};
  (void)client.send_async(one).result();
  const bool ok = ra.result() + rb.result() + rc.result() + rd.result() == 12 && re.result() == 1 &&
                  rr.result() == 1 && rw.result() == 4;
  return ok ? 0 : 1;
}
