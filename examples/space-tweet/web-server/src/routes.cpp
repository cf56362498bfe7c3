#include "routes.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace spacetweet {

using exosphere::http::Request;
using exosphere::http::Response;

namespace {

constexpr auto kTimeout = std::chrono::seconds(5);
constexpr int kTweetsPerPage = 20;
constexpr int kPeoplePerPage = 50;
constexpr size_t kMaxTweet = 280;      // characters
constexpr size_t kMaxName = 40;
constexpr size_t kMinPassword = 8;

json::array array_at(const exosphere::Message& m, const char* key) {
  if (const auto* o = m.payload.if_object())
    if (const auto* a = o->if_contains(key); a && a->is_array()) return a->get_array();
  return {};
}

bool flag_at(const exosphere::Message& m, const char* key) {
  if (const auto* o = m.payload.if_object())
    if (const auto* v = o->if_contains(key); v && v->is_bool()) return v->get_bool();
  return false;
}

std::string text_at(const json::value& v, const char* key) {
  if (const auto* o = v.if_object())
    if (const auto* s = o->if_contains(key); s && s->is_string()) return std::string(s->get_string());
  return "";
}

std::string error_of(const exosphere::Message& m) {
  std::string e = text_at(m.payload, "error");
  return e.empty() ? m.name : e;
}

size_t characters(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string trimmed(std::string s) {
  auto space = [](unsigned char c) { return std::isspace(c) != 0; };
  while (!s.empty() && space(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t start = 0;
  while (start < s.size() && space(static_cast<unsigned char>(s[start]))) ++start;
  return s.substr(start);
}

std::string now_iso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

int page_of(const Request& req) {
  std::string p = req.field("page");
  if (p.empty() || p.size() > 6 || !std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; })) return 1;
  return std::max(1, std::stoi(p));
}

// A path on this site: "/..." but not "//host"; no backslash or control character either, since
// browsers read "/\host" and "/<tab>/host" as another site and a line break would end the header.
bool local_path(const std::string& p) {
  if (!p.starts_with("/") || p.starts_with("//")) return false;
  return std::none_of(p.begin(), p.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '\\'; });
}

// Where to go after a form: the page it came from (its path only, never another site).
std::string back_to(const Request& req, const std::string& fallback) {
  std::string referer = req.header("referer");
  auto scheme = referer.find("://");
  if (scheme == std::string::npos) return fallback;
  auto path = referer.find('/', scheme + 3);
  if (path == std::string::npos) return fallback;
  std::string p = referer.substr(path);
  return local_path(p) ? p : fallback;
}

// One request's view of the site: its session and the pages it answers with.
struct Visit {
  Site& site;
  const Request& req;
  Session session;

  Visit(Site& s, const Request& r) : site(s), req(r), session(s.sessions.of(r)) {}

  Viewer viewer() const {
    Viewer v{session.user_id, session.name, site.sessions.csrf_token(session), ""};
    if (session.logged_in()) v.live_token = site.sessions.live_token(session);
    return v;
  }
  Response finish(Response res) const {
    site.sessions.remember(res, session, req);
    res.headers.emplace_back("X-Frame-Options", "DENY");
    res.headers.emplace_back("Referrer-Policy", "same-origin");
    return res;
  }
  Response page(const std::string& title, const std::string& body, int status = 200, const LiveList& live = {}) const {
    return finish(Response::html(layout(title, body, viewer(), site.gateway, live), status));
  }
  Response refusal(int status, const std::string& title, const std::string& why, const std::string& link = "",
                   const std::string& link_text = "") const {
    return finish(Response::html(layout(title, message_page(title, why, link, link_text), viewer(), {}), status));
  }
  Response redirect(const std::string& to) const { return finish(Response::redirect(to, 303)); }

  // A form that changes something: it must carry this session's CSRF token.
  bool forged() const { return !site.sessions.csrf_ok(req, session); }
  Response forged_form() const {
    return refusal(403, "Form expired", "This form has expired or did not come from SpaceTweet. Go back, reload the page and try again.",
                   "/", "Back to SpaceTweet");
  }
  Response no_such_tweet() const {
    return refusal(404, "Not found", "There is no such tweet; it may have been deleted.", "/", "All tweets");
  }
  Response login_needed(const std::string& what) const {
    return refusal(401, "Log in first", "Log in to " + what + ".", "/login", "Log in");
  }
};

// Every handler answers a page: a service that does not answer gets one that says which.
template <class F>
exosphere::http::Handler visit(Site& site, F f) {
  return [&site, f](const Request& req) {
    Visit v(site, req);
    try {
      return f(v);
    } catch (const exosphere::Error& e) {
      return v.refusal(503, "Unavailable", std::string("SpaceTweet cannot answer right now: ") + e.what() + ". Try again shortly.");
    }
  };
}

Response home(Visit& v, const FormState& form, int status) {
  int page = page_of(v.req);
  auto tweets = v.site.bus.request("tweets.list", json::object{{"limit", kTweetsPerPage}, {"skip", (page - 1) * kTweetsPerPage},
                                                               {"newest_first", true}}, kTimeout).get();
  if (tweets.name != "tweets.listed") throw exosphere::Error(exosphere::Status::store_error, "the tweets service says " + error_of(tweets));
  json::array entries = array_at(tweets, "entries");
  bool empty_app = false;
  if (entries.empty() && page == 1 && !v.session.logged_in())
    empty_app = array_at(v.site.bus.request("users.list", json::object{{"limit", 1}}, kTimeout).get(), "users").empty();
  return v.page("Tweets", home_page(entries, {"/", page, flag_at(tweets, "more")}, v.viewer(), form, empty_app), status,
                {.list = page == 1});
}

// The account a new session belongs to, once signed up or logged in.
Response start_session(Visit& v, const json::value& user, const std::string& to) {
  v.session = Sessions::for_user(text_at(user, "id"), text_at(user, "name"));
  return v.redirect(to);
}

void add_tweet_routes(exosphere::http::Server& web, Site& site) {
  web.get("/", visit(site, [](Visit& v) { return home(v, {}, 200); }));

  web.post("/tweets", visit(site, [](Visit& v) {
    if (!v.session.logged_in()) return v.login_needed("tweet");
    if (v.forged()) return v.forged_form();
    std::string content = trimmed(v.req.field("content"));
    if (content.empty()) return home(v, {content, "Your tweet is empty. Write something first."}, 400);
    if (size_t n = characters(content); n > kMaxTweet)
      return home(v, {content, "A tweet has at most 280 characters; this one has " + std::to_string(n) + "."}, 400);
    // The author is whoever is logged in: nothing in the form can say otherwise.
    json::object tweet{{"content", content}, {"owner_id", v.session.user_id}, {"author", v.session.name}, {"created_at", now_iso()}};
    auto created = v.site.bus.request("tweets.create", tweet, kTimeout).get();
    if (created.name != "tweets.created") return home(v, {content, "Your tweet was not saved: " + error_of(created)}, 502);
    v.site.bus.send("tweet.posted", created.payload);  // to every open page, through the gateway
    v.site.bus.send("notice", json::object{{"text", "Your tweet is posted."}, {"tweet", text_at(created.payload, "id")}},
                    {.auth = json::object{{"room", "user:" + v.session.user_id}}});  // to this person's pages only
    return v.redirect("/");
  }));

  web.del("/tweets/:id", visit(site, [](Visit& v) {
    if (!v.session.logged_in()) return v.login_needed("delete your tweets");
    if (v.forged()) return v.forged_form();
    const std::string& id = v.req.params.at("id");
    auto tweet = v.site.bus.request("tweets.get-details", json::object{{"id", id}}, kTimeout).get();
    if (tweet.name != "tweets.details") return v.no_such_tweet();
    if (text_at(tweet.payload, "owner_id") != v.session.user_id)
      return v.refusal(403, "Not yours", "You can delete only your own tweets.", "/", "All tweets");
    auto removed = v.site.bus.request("tweets.delete", json::object{{"id", id}}, kTimeout).get();
    if (removed.name == "tweets.deleted") v.site.bus.send("tweet.removed", json::object{{"id", id}});
    return v.redirect(back_to(v.req, "/"));
  }));

  web.get("/tweets/:id", visit(site, [](Visit& v) {
    auto tweet = v.site.bus.request("tweets.get-details", json::object{{"id", v.req.params.at("id")}}, kTimeout).get();
    if (tweet.name != "tweets.details") return v.no_such_tweet();
    return v.page("Tweet", tweet_page(tweet.payload.as_object(), v.viewer()));
  }));

  // The demo crew, for a first look at an empty SpaceTweet: two people and a tweet each.
  web.post("/demo", visit(site, [](Visit& v) {
    if (v.forged()) return v.forged_form();
    if (!array_at(v.site.bus.request("users.list", json::object{{"limit", 1}}, kTimeout).get(), "users").empty())
      return v.redirect("/");
    const std::pair<const char*, const char*> crew[] = {{"Jean-Luc Picard", "Tea, Earl Grey, hot."}, {"William Riker", "Shields up!"}};
    for (const auto& [name, line] : crew) {
      auto user = v.site.bus.request("users.create", json::object{{"name", name}, {"password", exosphere::random_token(12)}}, kTimeout).get();
      if (user.name != "users.created") continue;
      auto created = v.site.bus.request("tweets.create", json::object{{"content", line}, {"owner_id", text_at(user.payload, "id")},
                                                                       {"author", name}, {"created_at", now_iso()}}, kTimeout).get();
      if (created.name == "tweets.created") v.site.bus.send("tweet.posted", created.payload);
    }
    return v.redirect("/");
  }));
}

void add_people_routes(exosphere::http::Server& web, Site& site) {
  web.get("/users", visit(site, [](Visit& v) {
    int page = page_of(v.req);
    auto users = v.site.bus.request("users.list", json::object{{"limit", kPeoplePerPage}, {"skip", (page - 1) * kPeoplePerPage}}, kTimeout).get();
    return v.page("People", users_page(array_at(users, "users"), {"/users", page, flag_at(users, "more")}));
  }));

  web.get("/users/:id", visit(site, [](Visit& v) {
    const std::string& id = v.req.params.at("id");
    auto user = v.site.bus.request("user.get-details", json::object{{"id", id}}, kTimeout).get();
    if (user.name != "user.details") return v.refusal(404, "Not found", "There is nobody by that link.", "/users", "Everyone");
    int page = page_of(v.req);
    auto tweets = v.site.bus.request("tweets.list", json::object{{"owner_id", id}, {"limit", kTweetsPerPage},
                                                                 {"skip", (page - 1) * kTweetsPerPage}, {"newest_first", true}},
                                     kTimeout).get();
    return v.page(text_at(user.payload, "name"),
                  user_page(user.payload.as_object(), array_at(tweets, "entries"), {"/users/" + id, page, flag_at(tweets, "more")}, v.viewer()),
                  200, {.list = page == 1, .owner = id});
  }));
}

void add_account_routes(exosphere::http::Server& web, Site& site) {
  web.get("/signup", visit(site, [](Visit& v) { return v.page("Sign up", signup_page(v.viewer(), {})); }));

  web.post("/signup", visit(site, [](Visit& v) {
    if (v.forged()) return v.forged_form();
    std::string name = trimmed(v.req.field("name")), password = v.req.field("password");
    auto again = [&](int status, const std::string& why) { return v.page("Sign up", signup_page(v.viewer(), {name, why}), status); };
    if (name.empty()) return again(400, "Choose a name.");
    if (characters(name) > kMaxName) return again(400, "A name has at most 40 characters.");
    if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      return again(400, "A name cannot hold control characters.");
    if (characters(password) < kMinPassword) return again(400, "A password needs at least 8 characters.");
    auto taken = v.site.bus.request("user.get-details", json::object{{"name", name}}, kTimeout).get();
    if (taken.name == "user.details") return again(409, "That name is taken; choose another.");
    auto created = v.site.bus.request("users.create", json::object{{"name", name}, {"password", password}}, kTimeout).get();
    if (created.name != "users.created") return again(400, error_of(created));
    return start_session(v, created.payload, "/");
  }));

  web.get("/login", visit(site, [](Visit& v) { return v.page("Log in", login_page(v.viewer(), {}, v.req.field("next"))); }));

  web.post("/login", visit(site, [](Visit& v) {
    if (v.forged()) return v.forged_form();
    std::string name = trimmed(v.req.field("name")), next = v.req.field("next");
    auto again = [&](int status, const std::string& why) { return v.page("Log in", login_page(v.viewer(), {name, why}, next), status); };
    if (int wait = v.site.throttle.attempt(name); wait > 0)
      return again(429, "Too many failed log-ins for this name. Try again in " + std::to_string(wait) + (wait == 1 ? " second." : " seconds."));
    auto answer = v.site.bus.request("user.authenticate", json::object{{"name", name}, {"password", v.req.field("password")}}, kTimeout).get();
    if (answer.name != "user.authenticated") {
      // The same answer for an unknown name and a wrong password.
      return again(401, "That name and password do not match.");
    }
    v.site.throttle.succeeded(name);
    return start_session(v, answer.payload, local_path(next) ? next : "/");
  }));

  web.post("/logout", visit(site, [](Visit& v) {
    if (v.forged()) return v.forged_form();
    v.session = Sessions::anonymous();
    return v.redirect("/");
  }));

  web.get("/style.css", [](const Request&) {
    Response res{200, "text/css; charset=utf-8", kStylesheet, {{"Cache-Control", "max-age=300"}}};
    return res;
  });
}

}  // namespace

void add_routes(exosphere::http::Server& web, Site& site) {
  add_tweet_routes(web, site);
  add_people_routes(web, site);
  add_account_routes(web, site);
}

void add_live_updates(exosphere::Service& service, const Sessions& sessions) {
  service.on("live.join", [&service, &sessions](const json::value& payload, exosphere::Request& req) {
    auto user = sessions.live_user(text_at(payload, "token"));
    const json::value& auth = req.message().auth;
    if (!user || !auth.is_object() || text_at(auth, "sessionId").empty()) return;  // not a page of a logged-in user
    json::object join = auth.as_object();
    join["join"] = "user:" + *user;
    service.relay().send("live.joined", json::object{}, {.activity_id = req.message().activity_id, .auth = join});
  });
}

}  // namespace spacetweet
