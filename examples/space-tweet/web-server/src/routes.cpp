#include "routes.hpp"

#include "pages.hpp"

namespace spacetweet {

using exosphere::http::Request;
using exosphere::http::Response;

namespace {

constexpr auto kTimeout = std::chrono::seconds(5);

// A page that says which service did not answer, rather than an error page from nowhere.
Response unavailable(const exosphere::Error& e) {
  return Response::html(layout("Unavailable", message_page("Unavailable", e.what()), {}), 503);
}

json::array array_at(const exosphere::Message& m, const char* key) {
  if (const auto* o = m.payload.if_object())
    if (const auto* a = o->if_contains(key); a && a->is_array()) return a->get_array();
  return {};
}

std::string error_of(const exosphere::Message& m) {
  if (const auto* o = m.payload.if_object())
    if (const auto* e = o->if_contains("error"); e && e->is_string()) return std::string(e->get_string());
  return m.name;
}

}  // namespace

void add_routes(exosphere::http::Server& web, exosphere::Relay& bus, const Gateway& gateway) {
  web.get("/", [&bus, gateway](const Request& req) {
    try {
      auto tweets = bus.request("tweets.list", json::object{}, kTimeout);
      auto users = bus.request("users.list", nullptr, kTimeout);
      return Response::html(layout("Tweets", home_page(array_at(tweets.get(), "entries"), array_at(users.get(), "users"),
                                                       req.field("error")),
                                   gateway));
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.post("/tweets", [&bus](const Request& req) {
    try {
      json::object tweet{{"content", req.field("content")}, {"owner_id", req.field("owner_id")}};
      std::string owner = req.field("owner_id");
      if (!owner.empty()) {
        auto user = bus.request("user.get-details", json::object{{"id", owner}}, kTimeout).get();
        if (user.name == "user.details") tweet["author"] = user.payload.at("name");
      }
      auto created = bus.request("tweets.create", tweet, kTimeout).get();
      if (created.name != "tweets.created") return Response::redirect("/?error=" + exosphere::http::url_encode(error_of(created)));
      bus.send("tweet.posted", created.payload);  // to every open page, through the gateway
      return Response::redirect("/");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.del("/tweets/:id", [&bus](const Request& req) {
    try {
      auto removed = bus.request("tweets.delete", json::object{{"id", req.params.at("id")}}, kTimeout).get();
      if (removed.name == "tweets.deleted") bus.send("tweet.removed", json::object{{"id", req.params.at("id")}});
      return Response::redirect("/");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.get("/tweets/:id", [&bus, gateway](const Request& req) {
    try {
      auto tweet = bus.request("tweets.get-details", json::object{{"id", req.params.at("id")}}, kTimeout).get();
      if (tweet.name != "tweets.details")
        return Response::html(layout("Not found", message_page("Not found", "There is no such tweet."), {}), 404);
      return Response::html(layout("Tweet", tweet_page(tweet.payload.as_object()), gateway));
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.put("/tweets/:id", [&bus](const Request& req) {
    try {
      auto updated = bus.request("tweets.update", json::object{{"id", req.params.at("id")}, {"content", req.field("content")}},
                                 kTimeout).get();
      if (updated.name == "tweets.updated") {
        // Pages replace the old text: removed, then posted again.
        bus.send("tweet.removed", json::object{{"id", req.params.at("id")}});
        bus.send("tweet.posted", updated.payload);
      }
      return Response::redirect("/");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  // The demo crew: a few users and tweets at once.
  web.post("/demo", [&bus](const Request&) {
    try {
      json::array crew{json::object{{"name", "Jean-Luc Picard"}, {"password", "make it so"}},
                       json::object{{"name", "William Riker"}, {"password", "number one"}}};
      bus.request("users.create-many", crew, kTimeout).get();
      json::array tweets{json::object{{"content", "Tea, Earl Grey, hot."}, {"author", "Jean-Luc Picard"}},
                         json::object{{"content", "Shields up!"}, {"author", "William Riker"}}};
      bus.request("tweets.create-many", tweets, kTimeout).get();
      return Response::redirect("/");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.get("/login", [gateway](const Request&) { return Response::html(layout("Log in", login_page(""), gateway)); });

  web.post("/login", [&bus, gateway](const Request& req) {
    try {
      auto answer = bus.request("user.authenticate", json::object{{"name", req.field("name")}, {"password", req.field("password")}},
                                kTimeout).get();
      std::string message = answer.name == "user.authenticated" ? "Welcome aboard, " + req.field("name") + "."
                                                                : "That name and password do not match.";
      return Response::html(layout("Log in", login_page(message), gateway), answer.name == "user.authenticated" ? 200 : 401);
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.get("/users", [&bus, gateway](const Request& req) {
    try {
      auto users = bus.request("users.list", nullptr, kTimeout).get();
      return Response::html(layout("Users", users_page(array_at(users, "users"), req.field("error")), gateway));
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.post("/users", [&bus](const Request& req) {
    try {
      auto created = bus.request("users.create", json::object{{"name", req.field("name")}, {"password", req.field("password")}},
                                 kTimeout).get();
      if (created.name != "users.created") return Response::redirect("/users?error=" + exosphere::http::url_encode(error_of(created)));
      return Response::redirect("/users");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  auto show = [&bus, gateway](const Request& req, bool edit) {
    try {
      auto user = bus.request("user.get-details", json::object{{"id", req.params.at("id")}}, kTimeout).get();
      if (user.name != "user.details")
        return Response::html(layout("Not found", message_page("Not found", "There is no such user."), {}), 404);
      const auto& u = user.payload.as_object();
      return Response::html(layout("User", edit ? edit_user_page(u) : user_page(u), gateway));
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  };
  web.get("/users/:id", [show](const Request& req) { return show(req, false); });
  web.get("/users/:id/edit", [show](const Request& req) { return show(req, true); });

  web.put("/users/:id", [&bus](const Request& req) {
    try {
      bus.request("user.update", json::object{{"id", req.params.at("id")}, {"name", req.field("name")}}, kTimeout).get();
      return Response::redirect("/users");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });

  web.del("/users/:id", [&bus](const Request& req) {
    try {
      bus.request("user.delete", json::object{{"id", req.params.at("id")}}, kTimeout).get();
      return Response::redirect("/users");
    } catch (const exosphere::Error& e) {
      return unavailable(e);
    }
  });
}

}  // namespace spacetweet
