// The certpress binary: everything happens in app::Main.
//
// The process allocates through TBB's scalable allocator: including this header makes the
// binary load libtbbmalloc_proxy, which replaces malloc/free for every library in it, OpenSSL
// and the PKCS#11 module included. Issuing allocates and frees small blocks on every worker
// thread (BIGNUMs, DER buffers, the HSM module's per-call objects); with glibc's allocator
// this cost about a tenth of the throughput (docs/BENCHMARKS.md).
// Sanitized builds (CERTPRESS_SANITIZE) keep the allocator their runtime provides.
#ifndef CERTPRESS_NO_MALLOC_PROXY
#include <oneapi/tbb/tbbmalloc_proxy.h>
#endif

#include "app/cli.h"

int main(int argc, char** argv) {
  return certpress::app::Main(argc, argv);
}
