// The certpress binary: everything happens in app::Main.
#include "app/cli.h"

int main(int argc, char** argv) {
  return certpress::app::Main(argc, argv);
}
