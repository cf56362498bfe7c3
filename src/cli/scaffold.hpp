#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace exo::cli {

using TemplateData = std::map<std::string, std::string>;

// Copies `source` to `destination`, rendering {{mustache}} in text files and in file and folder
// names; binary files are copied as they are; executable bits are kept. Returns the files written.
std::vector<std::filesystem::path> render_template(const std::filesystem::path& source,
                                                   const std::filesystem::path& destination, const TemplateData& data);
// Renders one text.
std::string render_text(const std::string& text, const TemplateData& data);

// Adds `role` with `location` under services.<level> in application.yml's text, keeping every
// other line (comments included) as it is, in alphabetical position among its siblings.
std::string insert_service(const std::string& yaml, const std::string& level, const std::string& role,
                           const std::string& location);

// The add-service templates: the built-in ones, then the application's own
// (<app>/.exosphere/templates/add-service/<name>/), by name.
std::map<std::string, std::filesystem::path> service_templates(const std::filesystem::path& app_root);

}  // namespace exo::cli
