#include "qdit/cli/commands.h"

int main(int argc, char** argv) { return qdit::cli::main_entry(argc, argv); }
