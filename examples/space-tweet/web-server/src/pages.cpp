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

std::string csrf_field(const Viewer& viewer) {
  return "<input type=\"hidden\" name=\"csrf\" value=\"" + escape_html(viewer.csrf) + "\">";
}

std::string error_line(const std::string& error) {
  return error.empty() ? "" : "<p class=\"error\" role=\"alert\">" + escape_html(error) + "</p>\n";
}

// "2026-11-30T11:20:05Z" → "2026-11-30 11:20 UTC" (the live script formats the same way).
std::string shown_time(const std::string& iso) {
  if (iso.size() < 16) return "";
  return iso.substr(0, 10) + " " + iso.substr(11, 5) + " UTC";
}

std::string pager_links(const Pager& pager) {
  if (pager.page <= 1 && !pager.more) return "";
  auto at = [&](int page) { return escape_html(pager.base + (page > 1 ? "?page=" + std::to_string(page) : "")); };
  std::string out = "<nav class=\"pager\" aria-label=\"pages\">";
  if (pager.page > 1) out += "<a rel=\"prev\" href=\"" + at(pager.page - 1) + "\">&larr; newer</a>";
  out += "<span>page " + std::to_string(pager.page) + "</span>";
  if (pager.more) out += "<a rel=\"next\" href=\"" + at(pager.page + 1) + "\">older &rarr;</a>";
  return out + "</nav>\n";
}

std::string tweet_list(const json::array& tweets, const Pager& pager, const Viewer& viewer, const std::string& empty) {
  std::string out = "<ol id=\"tweets\" class=\"tweets\">\n";
  for (const auto& t : tweets)
    if (const auto* o = t.if_object()) out += tweet_item(*o, viewer);
  out += "</ol>\n";
  if (tweets.empty()) out += "<p class=\"empty\">" + escape_html(empty) + "</p>\n";
  return out + pager_links(pager);
}

constexpr const char* kLiveScript = R"js(
<script type="module">
  // New and removed tweets, and messages for this user, arrive through ExoCom's gateway.
  const data = document.body.dataset;
  const url = data.gatewayUrl || `ws://${location.hostname}:${data.gateway}/`;
  const { Relay } = await import(`${url.replace(/^ws/, 'http')}exocom.js`);
  const relay = new Relay({ url, gateway: true, log: () => {} });
  const list = document.getElementById('tweets');
  const notice = document.getElementById('notice');
  const shownTime = (iso) => (iso && iso.length >= 16 ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '');
  const element = (tag, props, ...children) => {
    const e = Object.assign(document.createElement(tag), props);
    e.append(...children);
    return e;
  };
  relay.on('tweet.posted', ({ payload }) => {
    if (!list || data.liveList !== 'yes' || document.getElementById(`tweet-${payload.id}`)) return;
    if (data.owner && payload.owner_id !== data.owner) return;
    const id = encodeURIComponent(payload.id);
    const li = element('li', { className: 'tweet', id: `tweet-${payload.id}` },
      element('a', { className: 'author', href: `/users/${encodeURIComponent(payload.owner_id ?? '')}`,
                     textContent: payload.author ?? 'anonymous' }), ' ',
      element('time', { dateTime: payload.created_at ?? '', textContent: shownTime(payload.created_at) }),
      element('p', { className: 'content' }, element('a', { href: `/tweets/${id}`, textContent: payload.content })));
    if (data.viewer && payload.owner_id === data.viewer) {
      li.append(element('form', { method: 'post', action: `/tweets/${id}?_method=DELETE`, className: 'delete' },
        element('input', { type: 'hidden', name: 'csrf', value: data.csrf }),
        element('button', { type: 'submit', textContent: 'Delete' })));
    }
    list.prepend(li);
    document.querySelector('.empty')?.remove();
  });
  relay.on('tweet.removed', ({ payload }) => document.getElementById(`tweet-${payload.id}`)?.remove());
  relay.on('notice', ({ payload }) => {
    notice.textContent = payload.text;
    notice.hidden = false;
  });
  relay.on('live.joined', () => { data.joined = 'yes'; });
  // Each connection (a reconnect too) is a new gateway session: it joins its user's room again.
  relay.onStatus((online) => { if (online && data.liveToken) relay.send('live.join', { token: data.liveToken }); });
  await relay.start();
  data.live = 'yes';
</script>)js";

}  // namespace

std::string layout(const std::string& title, const std::string& body, const Viewer& viewer, const Gateway& gateway,
                   const LiveList& live) {
  std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>" +
                     escape_html(title) + " · SpaceTweet</title>\n<link rel=\"stylesheet\" href=\"/style.css\"></head>\n<body";
  if (gateway.live()) {
    html += " data-gateway=\"" + std::to_string(gateway.port) + "\" data-gateway-url=\"" + escape_html(gateway.url) + "\"";
    if (viewer.logged_in())
      html += " data-viewer=\"" + escape_html(viewer.user_id) + "\" data-live-token=\"" + escape_html(viewer.live_token) + "\"";
    html += " data-csrf=\"" + escape_html(viewer.csrf) + "\"";
    if (live.list) html += " data-live-list=\"yes\"";
    if (!live.owner.empty()) html += " data-owner=\"" + escape_html(live.owner) + "\"";
  }
  html += ">\n<header><div class=\"bar\"><a class=\"brand\" href=\"/\">SpaceTweet</a><nav><a href=\"/\">Home</a> <a href=\"/users\">People</a> ";
  if (viewer.logged_in())
    html += "<a id=\"me\" href=\"/users/" + escape_html(url_encode(viewer.user_id)) + "\">" + escape_html(viewer.name) + "</a>";
  else
    html += "<a href=\"/login\">Log in</a> <a class=\"button\" href=\"/signup\">Sign up</a>";
  html += "</nav></div></header>\n<main>\n<p id=\"notice\" class=\"notice\" role=\"status\" hidden></p>\n" + body + "</main>";
  if (gateway.live()) html += kLiveScript;
  return html + "\n</body></html>\n";
}

std::string tweet_item(const json::object& tweet, const Viewer& viewer) {
  std::string id = text(tweet, "id"), owner = text(tweet, "owner_id"), author = text(tweet, "author");
  std::string link = escape_html(url_encode(id));
  std::string html = "<li class=\"tweet\" id=\"tweet-" + escape_html(id) + "\"><a class=\"author\" href=\"/users/" +
                     escape_html(url_encode(owner)) + "\">" + escape_html(author.empty() ? "anonymous" : author) +
                     "</a> <time datetime=\"" + escape_html(text(tweet, "created_at")) + "\">" +
                     escape_html(shown_time(text(tweet, "created_at"))) + "</time><p class=\"content\"><a href=\"/tweets/" +
                     link + "\">" + escape_html(text(tweet, "content")) + "</a></p>";
  if (viewer.logged_in() && owner == viewer.user_id)
    html += "<form method=\"post\" action=\"/tweets/" + link + "?_method=DELETE\" class=\"delete\">" + csrf_field(viewer) +
            "<button type=\"submit\">Delete</button></form>";
  return html + "</li>\n";
}

std::string home_page(const json::array& tweets, const Pager& pager, const Viewer& viewer, const FormState& form,
                      bool empty_app) {
  std::string body;
  if (viewer.logged_in()) {
    body += "<form method=\"post\" action=\"/tweets\" id=\"new-tweet\" class=\"card\">" + csrf_field(viewer) +
            "<label for=\"tweet-content\">Your tweet</label>" + error_line(form.error) +
            "<textarea id=\"tweet-content\" name=\"content\" maxlength=\"280\" rows=\"3\" required "
            "placeholder=\"What happens in space?\">" + escape_html(form.value) + "</textarea>"
            "<button type=\"submit\">Tweet</button></form>\n";
  } else {
    body += "<p class=\"card\"><a href=\"/signup\">Sign up</a> or <a href=\"/login\">log in</a> to tweet.</p>\n";
    if (empty_app)
      body += "<form method=\"post\" action=\"/demo\" id=\"demo\">" + csrf_field(viewer) +
              "<p>Nobody is here yet. <button type=\"submit\">Load the demo crew</button></p></form>\n";
  }
  body += "<h1>Latest tweets</h1>\n";
  return body + tweet_list(tweets, pager, viewer, "No tweets yet.");
}

std::string user_page(const json::object& user, const json::array& tweets, const Pager& pager, const Viewer& viewer) {
  std::string body = "<h1>" + escape_html(text(user, "name")) + "</h1>\n";
  if (viewer.logged_in() && viewer.user_id == text(user, "id"))
    body += "<form method=\"post\" action=\"/logout\" id=\"log-out\" class=\"card\">" + csrf_field(viewer) +
            "<p>This is your page. <button type=\"submit\">Log out</button></p></form>\n";
  return body + tweet_list(tweets, pager, viewer, "No tweets yet.");
}

std::string users_page(const json::array& users, const Pager& pager) {
  std::string body = "<h1>People</h1>\n<ul id=\"users\" class=\"people\">\n";
  for (const auto& u : users)
    if (const auto* o = u.if_object())
      body += "<li><a href=\"/users/" + escape_html(url_encode(text(*o, "id"))) + "\">" + escape_html(text(*o, "name")) + "</a></li>\n";
  body += "</ul>\n";
  if (users.empty()) body += "<p class=\"empty\">Nobody has signed up yet.</p>\n";
  return body + pager_links(pager);
}

std::string tweet_page(const json::object& tweet, const Viewer& viewer) {
  return "<ol id=\"tweets\" class=\"tweets\">\n" + tweet_item(tweet, viewer) + "</ol>\n<p><a href=\"/\">All tweets</a></p>\n";
}

namespace {
std::string account_form(const char* id, const char* action, const Viewer& viewer, const FormState& form,
                         const char* password_hint, const char* button, const std::string& extra) {
  return std::string("<form method=\"post\" action=\"") + action + "\" id=\"" + id + "\" class=\"card\">" + csrf_field(viewer) + extra +
         error_line(form.error) + "<label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"40\" "
         "autocomplete=\"username\" value=\"" + escape_html(form.value) + "\"><label for=\"password\">Password</label>"
         "<input id=\"password\" name=\"password\" type=\"password\" required " + password_hint +
         "><button type=\"submit\">" + button + "</button></form>\n";
}
}  // namespace

std::string signup_page(const Viewer& viewer, const FormState& form) {
  return "<h1>Sign up</h1>\n" +
         account_form("sign-up", "/signup", viewer, form, "minlength=\"8\" autocomplete=\"new-password\"", "Sign up", "") +
         "<p>At least 8 characters for the password. Already on board? <a href=\"/login\">Log in</a>.</p>\n";
}

std::string login_page(const Viewer& viewer, const FormState& form, const std::string& next) {
  std::string extra = next.empty() ? "" : "<input type=\"hidden\" name=\"next\" value=\"" + escape_html(next) + "\">";
  return "<h1>Log in</h1>\n" + account_form("log-in", "/login", viewer, form, "autocomplete=\"current-password\"", "Log in", extra) +
         "<p>New here? <a href=\"/signup\">Sign up</a>.</p>\n";
}

std::string message_page(const std::string& title, const std::string& message, const std::string& link,
                         const std::string& link_text) {
  std::string body = "<h1>" + escape_html(title) + "</h1>\n<p class=\"error\" role=\"alert\">" + escape_html(message) + "</p>\n";
  if (!link.empty()) body += "<p><a href=\"" + escape_html(link) + "\">" + escape_html(link_text) + "</a></p>\n";
  return body;
}

}  // namespace spacetweet
