// SPDX-License-Identifier: Apache-2.0
// rampartd command line.
#include <rampart/sdk/abi.h>

#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "config/config.hpp"
#include "daemon/daemon.hpp"

namespace {

Poco::Util::OptionSet option_set() {
  using Poco::Util::Option;
  Poco::Util::OptionSet set;
  set.addOption(Option("config", "c", "configuration file (default: the built-in configuration)")
                    .argument("FILE")
                    .repeatable(false));
  set.addOption(
      Option("check-config", "", "validate the configuration, print the verdict, exit 0 or 1"));
  set.addOption(Option("detach-all", "",
                       "detach every interface, remove all pinned programs and maps, exit"));
  set.addOption(Option("prepare-pin-root", "",
                       "as root: mount bpffs if needed and hand agent.bpf_pin_path to the user "
                       "given with --owner, exit (the systemd unit's ExecStartPre=+)"));
  set.addOption(Option("owner", "", "the user rampartd will run as, for --prepare-pin-root")
                    .argument("USER"));
  set.addOption(
      Option("plugin-dir", "p", "load plugins from DIR instead of agent.plugin_dirs (repeatable)")
          .argument("DIR")
          .repeatable(true));
  set.addOption(
      Option("log-format", "", "text or json (overrides agent.log_format)").argument("FORMAT"));
  set.addOption(Option("log-level", "", "debug, info, warn or error (overrides agent.log_level)")
                    .argument("LEVEL"));
  set.addOption(Option("print-default-config", "", "print the built-in configuration and exit"));
  set.addOption(Option("version", "V", "print the version and exit"));
  set.addOption(Option("help", "h", "show this help"));
  return set;
}

// The options as GNU tools print theirs ("-c, --config FILE"), each
// description wrapped beside them.
void usage(const Poco::Util::OptionSet& set) {
  std::cout << "Usage: rampartd [OPTIONS]\n"
               "       rampartd keys reset [--config FILE]\n"
               "Rampart network-security agent: eBPF programs plus engine, sender and\n"
               "API plugins.\n\nOptions:\n";
  constexpr size_t kColumn = 30, kWidth = 79;
  for (const auto& o : set) {
    std::string names = o.shortName().empty() ? "    " : "-" + o.shortName() + ", ";
    names += "--" + o.fullName();
    if (o.takesArgument()) names += " " + o.argumentName();
    std::string line = "  " + names;
    line += line.size() + 2 <= kColumn ? std::string(kColumn - line.size(), ' ')
                                       : "\n" + std::string(kColumn, ' ');
    size_t col = kColumn;
    std::istringstream words(o.description());
    for (std::string w; words >> w;) {
      if (col > kColumn && col + 1 + w.size() > kWidth) {
        line += "\n" + std::string(kColumn, ' ');
        col = kColumn;
      } else if (col > kColumn) {
        line += ' ';
        ++col;
      }
      line += w;
      col += w.size();
    }
    std::cout << line << "\n";
  }
  std::cout << "\nkeys reset: removes every API key and writes a new admin key's token to\n"
               "<agent.state_dir>/admin.key (root or the agent's user; works while\n"
               "rampartd runs).\n";
}

}  // namespace

int main(int argc, char** argv) {
  const auto set = option_set();
  Poco::Util::OptionProcessor proc(set);
  proc.setUnixStyle(true);
  rampart::daemon::Options opts;
  int first = 1;
  // Subcommands come first: `rampartd keys reset [--config FILE]`.
  if (argc >= 2 && std::string(argv[1]) == "keys") {
    if (argc < 3 || std::string(argv[2]) != "reset") {
      std::fprintf(stderr, "rampartd: usage: rampartd keys reset [--config FILE]\n");
      return 2;
    }
    opts.keys_reset = true;
    first = 3;
  }
  try {
    for (int i = first; i < argc; ++i) {
      std::string name, value;
      if (!proc.process(argv[i], name, value)) {
        throw Poco::Util::UnknownOptionException(argv[i]);
      }
      if (name.empty()) continue;  // the argument of a preceding option
      if (name == "config")
        opts.config_path = value;
      else if (name == "check-config")
        opts.check_config = true;
      else if (name == "detach-all")
        opts.detach_all = true;
      else if (name == "prepare-pin-root")
        opts.prepare_pin_root = true;
      else if (name == "owner")
        opts.owner = value;
      else if (name == "plugin-dir")
        opts.plugin_dirs.push_back(value);
      else if (name == "log-format") {
        rampart::log::Format f;
        if (!rampart::log::parse_format(value, f))
          throw Poco::Util::InvalidArgumentException("--log-format must be text or json");
        opts.log_format = f;
      } else if (name == "log-level") {
        rampart::log::Level l;
        if (!rampart::log::parse_level(value, l))
          throw Poco::Util::InvalidArgumentException(
              "--log-level must be debug, info, warn or error");
        opts.log_level = l;
      } else if (name == "print-default-config") {
        std::fputs(rampart::config::embedded_default_text().c_str(), stdout);
        return 0;
      } else if (name == "version") {
        std::printf("rampartd %s (plugin ABI %d.%d)\n", RAMPART_VERSION, RAMPART_ABI_MAJOR,
                    RAMPART_ABI_MINOR);
        return 0;
      } else if (name == "help") {
        usage(set);
        return 0;
      }
    }
    proc.checkRequired();
    if (opts.prepare_pin_root != !opts.owner.empty())
      throw Poco::Util::InvalidArgumentException("--prepare-pin-root and --owner USER go together");
  } catch (const Poco::Exception& e) {
    std::fprintf(stderr, "rampartd: %s\n", e.displayText().c_str());
    std::fprintf(stderr, "try 'rampartd --help'\n");
    return 2;
  }
  return rampart::daemon::run(opts);
}
