// The one stylesheet: readable from a phone's width up, no framework, no web fonts.
#include "pages.hpp"

namespace spacetweet {

const char* const kStylesheet = R"css(:root {
  --ink: #1b2233; --muted: #5a6478; --line: #dde2ec; --paper: #f5f7fb; --card: #fff;
  --accent: #2f4fd8; --accent-ink: #fff; --night: #0f1730; --error: #a4161a; --ok: #146c2e;
}
* { box-sizing: border-box; }
body { margin: 0; font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--paper); }
a { color: var(--accent); }
header { background: var(--night); color: #fff; }
.bar { max-width: 42rem; margin: 0 auto; padding: .75rem 1rem; display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; }
.bar nav { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1rem; }
.bar a { color: #fff; text-decoration: none; }
.bar a:hover, .bar a:focus { text-decoration: underline; }
.brand { font-weight: 700; font-size: 1.25rem; margin-right: auto; letter-spacing: .02em; }
.bar .button { background: var(--accent); padding: .25rem .75rem; border-radius: 999px; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: 1.25rem 0 .5rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: 1rem; margin: 1rem 0; }
label { display: block; font-weight: 600; margin: .5rem 0 .25rem; }
input, textarea { width: 100%; font: inherit; padding: .5rem .6rem; border: 1px solid #b7bfcf; border-radius: .5rem; background: #fff; }
textarea { resize: vertical; }
input:focus, textarea:focus, button:focus { outline: 3px solid #9db0ff; outline-offset: 1px; }
button { font: inherit; font-weight: 600; margin-top: .75rem; padding: .45rem 1.1rem; border: 0; border-radius: 999px;
  background: var(--accent); color: var(--accent-ink); cursor: pointer; }
form p button, .delete button { margin-top: 0; }
.error { color: var(--error); font-weight: 600; margin: .25rem 0; }
.notice { background: #e3f4e8; color: var(--ok); border: 1px solid #b5dfc1; border-radius: .5rem; padding: .5rem .75rem; font-weight: 600; }
.tweets { list-style: none; margin: 0; padding: 0; }
.tweet { background: var(--card); border: 1px solid var(--line); border-radius: .75rem; padding: .75rem 1rem; margin: .5rem 0; position: relative; }
.tweet .author { font-weight: 700; color: var(--ink); text-decoration: none; }
.tweet time { color: var(--muted); font-size: .85rem; margin-left: .5rem; }
.tweet .content { margin: .25rem 0 0; overflow-wrap: anywhere; }
.tweet .content a { color: inherit; text-decoration: none; }
.delete { position: absolute; top: .5rem; right: .75rem; }
.delete button { background: none; color: var(--error); padding: .1rem .5rem; font-size: .85rem; }
.people { padding-left: 1.25rem; }
.empty { color: var(--muted); }
.pager { display: flex; justify-content: space-between; gap: 1rem; margin: 1rem 0; color: var(--muted); }
@media (min-width: 40rem) { main { padding: 1.5rem 1rem; } h1 { font-size: 1.6rem; } }
)css";

}  // namespace spacetweet
