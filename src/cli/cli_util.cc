#include "cli/cli_util.h"

#include <cstdio>
#include <iostream>

#include "core/base/exit_code.h"

namespace porthole::cli {

int ParseCli(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitSuccess;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitSuccess;
  } catch (const CLI::ParseError& e) {
    std::string prog = app.get_name();
    for (const CLI::App* sub : app.get_subcommands()) {
      prog += " " + sub->get_name();
    }
    std::fprintf(stderr, "%s: %s (see %s --help)\n", prog.c_str(), e.what(),
                 prog.c_str());
    return kExitUsage;
  }
  return -1;
}

int Fail(const std::string& prog, const Status& status) {
  std::fprintf(stderr, "%s: %s\n", prog.c_str(), status.message().c_str());
  return ExitCodeFor(status);
}

void Print(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void PrintJson(const Json& json) {
  auto text = tuf::DumpJsonPretty(json);
  Print(text.ok() ? *text : "null\n");
}

std::pair<std::vector<std::string>, std::vector<std::string>> SplitAtDashDash(
    const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") {
      return {std::vector<std::string>(args.begin(), args.begin() + i),
              std::vector<std::string>(args.begin() + i + 1, args.end())};
    }
  }
  return {args, {}};
}

}  // namespace porthole::cli
