#include "cli/dispatcher.hpp"

int main(int argc, char** argv) { return exo::cli::main(argc, argv); }
