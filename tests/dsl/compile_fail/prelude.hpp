// Shared by the compile-fail snippets: each must fail to compile with the message its test
// expects (tests/dsl/meson.build).
#pragma once
#include <duet/duet.hpp>
#include <duet/sm/dsl.hpp>
