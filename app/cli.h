// cli.h: the `certpress` command line. Options come from the config file (--config, else
// $CERTPRESS_CONFIG), then CERTPRESS_* environment variables, then flags; later sources win.
// Exit codes: 0 success, 1 failure, 2 bad usage.
#pragma once

namespace certpress::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int Main(int argc, char** argv);

}  // namespace certpress::app
