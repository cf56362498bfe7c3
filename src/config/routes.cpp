#include "config/routes.hpp"

#include "common/json.hpp"

namespace exo::config {

const RoleRoutes* RouteTable::find(std::string_view role) const {
  for (const auto& [r, routes] : roles)
    if (r == role) return &routes;
  return nullptr;
}

RoleRoutes& RouteTable::add(const std::string& role) {
  for (auto& [r, routes] : roles)
    if (r == role) return routes;
  roles.emplace_back(role, RoleRoutes{});
  return roles.back().second;
}

RouteTable compile_routes(const Application& app, const std::map<std::string, Service>& services) {
  RouteTable table;
  for (const auto& ref : app.services) {
    RoleRoutes& r = table.add(ref.role);
    r.translations = ref.translations;
    r.ns = ref.ns;
    if (auto it = services.find(ref.role); it != services.end()) {
      r.receives = it->second.receives;
      r.sends = it->second.sends;
      if (r.ns.empty()) r.ns = it->second.messages_namespace;
    }
  }
  if (const GatewayConfig* g = app.gateway()) {
    RoleRoutes& r = table.add(g->role);
    r.sends = g->sends;
    r.receives = g->receives;
  }
  return table;
}

namespace {

json::array names_json(const std::vector<std::string>& names) {
  json::array a;
  for (const auto& n : names) a.emplace_back(n);
  return a;
}

json::array translations_json(const std::vector<Translation>& ts) {
  json::array a;
  for (const auto& t : ts) a.emplace_back(json::object{{"public", t.public_name}, {"internal", t.internal_name}});
  return a;
}

std::vector<std::string> read_names(const json::object& o, std::string_view key, const std::string& where) {
  std::vector<std::string> out;
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return out;
  if (!it->value().is_array()) throw UserError(where + "." + std::string(key) + ": expected a list of message names");
  for (const auto& v : it->value().get_array()) {
    if (!v.is_string() || v.get_string().empty())
      throw UserError(where + "." + std::string(key) + ": expected a list of non-empty message names");
    out.emplace_back(v.get_string());
  }
  return out;
}

std::vector<Translation> read_translations(const json::object& o, std::string_view key, const std::string& where) {
  std::vector<Translation> out;
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return out;
  if (!it->value().is_array()) throw UserError(where + "." + std::string(key) + ": expected a list of {public, internal}");
  for (const auto& v : it->value().get_array()) {
    const json::object* t = v.if_object();
    if (!t || !t->contains("public") || !t->contains("internal") || !t->at("public").is_string() ||
        !t->at("internal").is_string())
      throw UserError(where + "." + std::string(key) + ": each translation needs text 'public' and 'internal' names");
    out.push_back({std::string(t->at("public").get_string()), std::string(t->at("internal").get_string())});
  }
  return out;
}

RoleRoutes read_role(const json::object& o, const std::string& where) {
  RoleRoutes r;
  r.receives = read_names(o, "receives", where);
  r.sends = read_names(o, "sends", where);
  r.translations = read_translations(o, o.contains("messageTranslations") ? "messageTranslations" : "translations", where);
  if (auto it = o.find("namespace"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_string()) throw UserError(where + ".namespace: expected a text value");
    r.ns = std::string(it->value().get_string());
  }
  return r;
}

}  // namespace

std::string to_service_data(const RouteTable& table) {
  json::object root;
  for (const auto& [role, r] : table.roles) {
    json::object o{{"receives", names_json(r.receives)}, {"sends", names_json(r.sends)},
                   {"translations", translations_json(r.translations)}};
    if (!r.ns.empty()) o["namespace"] = r.ns;
    root[role] = std::move(o);
  }
  return to_json(root);
}

std::string to_service_routes(const RouteTable& table) {
  json::array root;
  for (const auto& [role, r] : table.roles) {
    json::object o{{"role", role},
                   {"receives", r.receives.empty() ? json::value(nullptr) : json::value(names_json(r.receives))},
                   {"sends", r.sends.empty() ? json::value(nullptr) : json::value(names_json(r.sends))}};
    if (!r.ns.empty()) o["namespace"] = r.ns;
    if (!r.translations.empty()) o["messageTranslations"] = translations_json(r.translations);
    root.push_back(std::move(o));
  }
  return to_json(root);
}

RouteTable parse_routes(std::string_view json_text, std::string_view what) {
  json::value v = parse_json(json_text, what);
  RouteTable table;
  std::string base(what);
  if (v.is_object()) {
    for (const auto& [role, entry] : v.get_object()) {
      std::string where = base + ": " + std::string(role);
      if (role.empty()) throw UserError(base + ": role names must not be empty");
      if (entry.is_null()) {
        table.add(std::string(role));
        continue;
      }
      if (!entry.is_object()) throw UserError(where + ": expected {receives, sends, translations}");
      if (table.find(role)) throw UserError(where + ": role is listed twice");
      table.add(std::string(role)) = read_role(entry.get_object(), where);
    }
  } else if (v.is_array()) {
    size_t i = 0;
    for (const auto& entry : v.get_array()) {
      std::string where = base + "[" + std::to_string(i++) + "]";
      const json::object* o = entry.if_object();
      if (!o) throw UserError(where + ": expected {role, receives, sends}");
      auto role = o->find("role");
      if (role == o->end() || !role->value().is_string() || role->value().get_string().empty())
        throw UserError(where + ".role: expected a non-empty role name");
      std::string name(role->value().get_string());
      if (table.find(name)) throw UserError(where + ": role '" + name + "' is listed twice");
      table.add(name) = read_role(*o, where);
    }
  } else {
    throw UserError(base + ": expected an object keyed by role (SERVICE_DATA) or a list of routes (SERVICE_ROUTES)");
  }
  return table;
}

}  // namespace exo::config
