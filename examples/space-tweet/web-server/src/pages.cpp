#include "pages.hpp"

#include <boost/json/serialize.hpp>
#include <exosphere/http.hpp>

namespace spacetweet {

using exosphere::http::escape_html;
using exosphere::http::url_encode;

namespace {

std::string text(const json::object& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end()) return "";
  return it->value().is_string() ? std::string(it->value().get_string()) : json::serialize(it->value());
}

constexpr const char* kLiveScript = R"js(
<script type="module">
  // New and removed tweets arrive through ExoCom's gateway, without a reload.
  const { gateway, gatewayUrl } = document.body.dataset;
  const url = gatewayUrl || `ws://${location.hostname}:${gateway}/`;
  const { Relay } = await import(`${url.replace(/^ws/, 'http')}exocom.js`);
  const relay = new Relay({ url, gateway: true, log: () => {} });
  const list = document.getElementById('tweets');
  const count = document.getElementById('count');
  const recount = () => { if (count) count.textContent = String(list.children.length); };
  relay.on('tweet.posted', ({ payload }) => {
    if (!list || document.getElementById(`tweet-${payload.id}`)) return;
    const li = document.createElement('li');
    li.className = 'tweet';
    li.id = `tweet-${payload.id}`;
    const author = document.createElement('span');
    author.className = 'author';
    author.textContent = payload.author ?? 'anonymous';
    const content = document.createElement('a');
    content.className = 'content';
    content.href = `/tweets/${encodeURIComponent(payload.id)}`;
    content.textContent = payload.content;
    const form = document.createElement('form');
    form.method = 'post';
    form.action = `/tweets/${encodeURIComponent(payload.id)}?_method=DELETE`;
    const button = document.createElement('button');
    button.type = 'submit';
    button.textContent = 'delete';
    form.append(button);
    li.append(author, ' ', content, ' ', form);
    list.prepend(li);
    recount();
  });
  relay.on('tweet.removed', ({ payload }) => {
    document.getElementById(`tweet-${payload.id}`)?.remove();
    recount();
  });
  await relay.start();
  document.body.dataset.live = 'yes';
</script>)js";

}  // namespace

std::string layout(const std::string& title, const std::string& body, const Gateway& gateway) {
  std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + escape_html(title) +
                     " · SpaceTweet</title>\n<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}"
                     ".tweet{margin:.5em 0}.author{font-weight:bold}.error{color:#b00}form{display:inline}</style>"
                     "</head>\n<body data-gateway=\"" + std::to_string(gateway.port) + "\" data-gateway-url=\"" +
                     escape_html(gateway.url) + "\">\n"
                     "<h1>SpaceTweet</h1>\n<nav><a href=\"/\">tweets</a> · <a href=\"/users\">users</a> · <a href=\"/login\">log in</a></nav>\n" + body;
  if (gateway.live()) html += kLiveScript;
  return html + "\n</body></html>\n";
}

std::string tweet_item(const json::object& tweet) {
  std::string id = text(tweet, "id");
  std::string author = text(tweet, "author");
  return "<li class=\"tweet\" id=\"tweet-" + escape_html(id) + "\"><span class=\"author\">" +
         escape_html(author.empty() ? "anonymous" : author) + "</span> <a class=\"content\" href=\"/tweets/" +
         escape_html(url_encode(id)) + "\">" + escape_html(text(tweet, "content")) + "</a> <form method=\"post\" action=\"/tweets/" +
         escape_html(url_encode(id)) + "?_method=DELETE\"><button type=\"submit\">delete</button></form></li>\n";
}

std::string home_page(const json::array& tweets, const json::array& users, const std::string& error) {
  std::string body = "<h2>the latest tweets (<span id=\"count\">" + std::to_string(tweets.size()) + "</span>)</h2>\n";
  if (!error.empty()) body += "<p class=\"error\">" + escape_html(error) + "</p>\n";
  if (users.empty()) {
    body += "<p><a href=\"/users\">Sign up</a> to tweet, or <form method=\"post\" action=\"/demo\">"
            "<button type=\"submit\">load the demo crew</button></form>.</p>\n";
  } else {
    body += "<form method=\"post\" action=\"/tweets\" id=\"new-tweet\"><select name=\"owner_id\">";
    for (const auto& u : users)
      if (const auto* o = u.if_object())
        body += "<option value=\"" + escape_html(text(*o, "id")) + "\">" + escape_html(text(*o, "name")) + "</option>";
    body += "</select> <input name=\"content\" placeholder=\"What happens in space?\" required> "
            "<button type=\"submit\">tweet</button></form>\n";
  }
  body += "<ul id=\"tweets\">\n";
  for (auto it = tweets.rbegin(); it != tweets.rend(); ++it)
    if (const auto* t = it->if_object()) body += tweet_item(*t);
  return body + "</ul>\n";
}

std::string users_page(const json::array& users, const std::string& error) {
  std::string body = "<h2>" + std::to_string(users.size()) + " Users</h2>\n";
  if (!error.empty()) body += "<p class=\"error\">" + escape_html(error) + "</p>\n";
  body += "<table id=\"users\"><tr><th>name</th><th></th></tr>\n";
  for (const auto& u : users) {
    const auto* o = u.if_object();
    if (!o) continue;
    std::string id = escape_html(url_encode(text(*o, "id")));
    body += "<tr><td><a href=\"/users/" + id + "\">" + escape_html(text(*o, "name")) + "</a></td><td><a href=\"/users/" +
            id + "/edit\">edit</a> <form method=\"post\" action=\"/users/" + id +
            "?_method=DELETE\"><button type=\"submit\">delete</button></form></td></tr>\n";
  }
  body += "</table>\n<h3>Sign up</h3>\n<form method=\"post\" action=\"/users\" id=\"sign-up\">"
          "<input name=\"name\" placeholder=\"name\" required> <input name=\"password\" type=\"password\" "
          "placeholder=\"password\"> <button type=\"submit\">sign up</button></form>\n";
  return body;
}

std::string user_page(const json::object& user) {
  return "<h2>" + escape_html(text(user, "name")) + "</h2>\n<p><a href=\"/users/" + escape_html(url_encode(text(user, "id"))) +
         "/edit\">edit</a> · <a href=\"/users\">all users</a></p>\n";
}

std::string edit_user_page(const json::object& user) {
  return "<h2>Edit " + escape_html(text(user, "name")) + "</h2>\n<form method=\"post\" action=\"/users/" +
         escape_html(url_encode(text(user, "id"))) + "?_method=PUT\"><input name=\"name\" value=\"" +
         escape_html(text(user, "name")) + "\" required> <button type=\"submit\">save</button></form>\n";
}

std::string tweet_page(const json::object& tweet) {
  std::string id = escape_html(url_encode(text(tweet, "id")));
  std::string author = text(tweet, "author");
  return "<h2>" + escape_html(author.empty() ? "anonymous" : author) + " tweeted</h2>\n<p class=\"content\">" +
         escape_html(text(tweet, "content")) + "</p>\n<form method=\"post\" action=\"/tweets/" + id +
         "?_method=PUT\" id=\"edit-tweet\"><input name=\"content\" value=\"" + escape_html(text(tweet, "content")) +
         "\" required> <button type=\"submit\">save</button></form>\n<p><a href=\"/\">all tweets</a></p>\n";
}

std::string login_page(const std::string& message) {
  std::string body = "<h2>Log in</h2>\n";
  if (!message.empty()) body += "<p class=\"message\">" + escape_html(message) + "</p>\n";
  return body + "<form method=\"post\" action=\"/login\" id=\"log-in\"><input name=\"name\" placeholder=\"name\" required> "
                "<input name=\"password\" type=\"password\" placeholder=\"password\"> <button type=\"submit\">log in</button></form>\n";
}

std::string message_page(const std::string& title, const std::string& message) {
  return "<h2>" + escape_html(title) + "</h2>\n<p>" + escape_html(message) + "</p>\n";
}

}  // namespace spacetweet
