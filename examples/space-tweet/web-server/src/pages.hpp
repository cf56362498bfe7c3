#pragma once

// SpaceTweet's HTML. Everything that comes from users or services is escaped.

#include <string>

#include <exosphere/exosphere.hpp>

namespace spacetweet {

namespace json = exosphere::json;

// Where pages reach ExoCom's gateway: a port on the page's own host (exo run), or a URL
// (wss://..., when deployed behind a load balancer). Neither: no live updates.
struct Gateway {
  int port = 0;
  std::string url;
  bool live() const { return port != 0 || !url.empty(); }
};

// Who is looking at a page.
struct Viewer {
  std::string user_id, name;  // empty: a visitor who has not logged in
  std::string csrf;           // the token every form carries
  std::string live_token;     // proves the user to the web service through the gateway (live.join)
  bool logged_in() const { return !user_id.empty(); }
};

// Which page of a list: links to newer and older pages of `base`.
struct Pager {
  std::string base;  // "/" or "/users/<id>"
  int page = 1;
  bool more = false;
};

// A form shown again after a refusal: what the person typed and why it was refused.
struct FormState {
  std::string value;  // the tweet text, the name
  std::string error;
};

// Which new tweets a page adds as they come: on the first page of a timeline (`list`), all, or
// only those of `owner`; other pages add none.
struct LiveList {
  bool list = false;
  std::string owner;
};

// The page frame. With a gateway, the page adds and removes tweets as they come and shows messages
// for its user.
std::string layout(const std::string& title, const std::string& body, const Viewer& viewer, const Gateway& gateway,
                   const LiveList& live = {});
std::string tweet_item(const json::object& tweet, const Viewer& viewer);
std::string home_page(const json::array& tweets, const Pager& pager, const Viewer& viewer, const FormState& form,
                      bool empty_app);
std::string user_page(const json::object& user, const json::array& tweets, const Pager& pager, const Viewer& viewer);
std::string users_page(const json::array& users, const Pager& pager);
std::string tweet_page(const json::object& tweet, const Viewer& viewer);
std::string signup_page(const Viewer& viewer, const FormState& form);
std::string login_page(const Viewer& viewer, const FormState& form, const std::string& next);
std::string message_page(const std::string& title, const std::string& text, const std::string& link = "",
                         const std::string& link_text = "");

// The one stylesheet, served at /style.css.
extern const char* const kStylesheet;

}  // namespace spacetweet
