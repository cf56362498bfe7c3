#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace exo::deploy {

// Writes HCL as `terraform fmt` lays it out: two-space indentation, the `=` of consecutive
// one-line attributes aligned, multi-line values on their own.
class HclWriter {
 public:
  void comment(std::string_view text);
  void blank();
  void open(std::string_view header);  // `module "web" {`
  void close();
  void attribute(std::string_view name, std::string_view expression);
  // `name = {` ... `}`: an object whose entries are written with `attribute`.
  void open_object(std::string_view name);
  void close_object();
  // `name = <<-EOT` with `text` indented below it (`${` and `%{` escaped).
  void heredoc(std::string_view name, std::string_view text);
  std::string str();

 private:
  void flush();
  void line(std::string_view text);
  std::string out_;
  int depth_ = 0;
  std::vector<std::pair<std::string, std::string>> pending_;
};

// A quoted HCL string with `"`, `\`, control characters and template sequences escaped.
std::string hcl_string(std::string_view text);
// `name` as an object key: bare when it is an identifier, else quoted.
std::string hcl_key(std::string_view name);

}  // namespace exo::deploy
