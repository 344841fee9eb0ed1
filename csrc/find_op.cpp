// specbias::find_op and library_version for the public header (csrc/include/specbias/ops.h):
// a C++ program that calls any op references this file's symbols, so the linker keeps the
// library (whose static initialisers register the ops) even with --as-needed.
#include <ATen/core/dispatch/Dispatcher.h>

#include <string>

#ifndef SPECBIAS_VERSION
#define SPECBIAS_VERSION ""
#endif

namespace specbias {

c10::OperatorHandle find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow((std::string("specbias::") + name).c_str(),
                                                        "");
}

const char* library_version() { return SPECBIAS_VERSION; }

}  // namespace specbias
