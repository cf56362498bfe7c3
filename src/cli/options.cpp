#include "cli/options.hpp"

#include <CLI/CLI.hpp>

#include "common/error.hpp"

namespace exo::cli {

struct Options::Impl {
  std::string command;
  CLI::App app;
};

Options::Options(std::string command) : impl_(std::make_unique<Impl>()) {
  impl_->command = std::move(command);
  impl_->app.set_help_flag();  // `exo <cmd> help` is handled by the dispatcher
  impl_->app.allow_extras(false);
}

Options::~Options() = default;

Options& Options::flag(const std::string& name, bool* target, const std::string& help) {
  impl_->app.add_flag(name, *target, help);
  return *this;
}

Options& Options::option(const std::string& name, std::string* target, const std::string& help) {
  impl_->app.add_option(name, *target, help);
  return *this;
}

Options& Options::option(const std::string& name, int* target, const std::string& help) {
  impl_->app.add_option(name, *target, help);
  return *this;
}

Options& Options::list(const std::string& name, std::vector<std::string>* target, const std::string& help) {
  impl_->app.add_option(name, *target, help)->delimiter(',');
  return *this;
}

Options& Options::positionals(std::vector<std::string>* target) {
  impl_->app.add_option("args", *target);
  return *this;
}

void Options::parse(const Args& args) {
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes arguments in reverse
  try {
    impl_->app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    throw UserError("exo " + impl_->command + ": " + e.what() + "; see 'exo " + impl_->command + " help'");
  }
}

}  // namespace exo::cli
