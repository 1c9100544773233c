// Small pieces every operator command shares: argument parsing with CLI11
// (help, one-line usage errors, exit codes) and output.
#ifndef PORTHOLE_CLI_CLI_UTIL_H_
#define PORTHOLE_CLI_CLI_UTIL_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cli/api_types.h"
#include "core/base/status.h"

namespace porthole::cli {

// Parses `args` (the words after the command name). Returns -1 to go on,
// else the exit code to return: 0 after printing help, 2 after one usage
// line "PROG: reason (see PROG --help)".
int ParseCli(CLI::App& app, const std::vector<std::string>& args);

// Prints "PROG: message" on stderr; returns ExitCodeFor(status).
int Fail(const std::string& prog, const Status& status);

// Writes `text` to stdout as is.
void Print(const std::string& text);

// `json` indented by two spaces with a final newline, on stdout.
void PrintJson(const Json& json);

// The words after the first "--" (and the words before it).
std::pair<std::vector<std::string>, std::vector<std::string>> SplitAtDashDash(
    const std::vector<std::string>& args);

}  // namespace porthole::cli

#endif  // PORTHOLE_CLI_CLI_UTIL_H_
