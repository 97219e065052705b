#pragma once

// The fila-extract side of RunExtractor (sandbox.h): reads the document
// from stdin, runs the command named by its first argument, writes the
// result on stdout. A command that throws PermanentError refuses the
// document (its message goes to stderr, exit status 2); running out of
// memory exits 3 (also from C code that allocates through operator new);
// anything else is a crash or a failure, which the worker reports as such.

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace fila::extract {

// Reads `input` (all of stdin) with the command's `args` (after the
// command's name); returns the bytes for stdout.
using Command = std::function<std::string(const std::vector<std::string>& args, std::string input)>;

// fila-extract's main(): dies with its parent, runs the command of argv[1].
int ToolMain(int argc, char** argv, const std::map<std::string, Command>& commands);

}  // namespace fila::extract
