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

// The page frame; with a gateway, the page listens for new and removed tweets.
std::string layout(const std::string& title, const std::string& body, const Gateway& gateway);
// "the latest tweets (N)", the form to tweet as one of `users`, newest first.
std::string home_page(const json::array& tweets, const json::array& users, const std::string& error);
std::string tweet_item(const json::object& tweet);
std::string users_page(const json::array& users, const std::string& error);
std::string user_page(const json::object& user);
std::string edit_user_page(const json::object& user);
std::string tweet_page(const json::object& tweet);
std::string login_page(const std::string& message);
std::string message_page(const std::string& title, const std::string& text);

}  // namespace spacetweet
