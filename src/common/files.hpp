#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace exo {

namespace fs = std::filesystem;

// Reads a whole file; throws UserError naming the file when it cannot.
std::string read_file(const fs::path& path);
std::optional<std::string> try_read_file(const fs::path& path);
// Whether `path` exists; a folder on the way that cannot be read is a UserError, not "missing".
bool path_exists(const fs::path& path);
// Writes through a temporary file and a rename, so readers never see half a file.
void write_file(const fs::path& path, std::string_view content);
// The path as the user should see it: relative to the working directory when inside it.
std::string display_path(const fs::path& path);
// A fresh directory under the system temp folder, removed by the destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "exo");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};
// The directory of the running executable.
fs::path executable_dir();

}  // namespace exo
