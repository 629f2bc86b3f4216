package gateway

import (
	"embed"
	"net/http"
	"strings"
)

// GraphiQL and React are embedded (from npm: graphiql 3.8.3, react 18.3.1,
// MIT licences alongside) so the in-browser IDE works on a hub network with
// no route to a CDN.
//
//go:embed graphiql/*.js graphiql/*.css
var graphiqlAssets embed.FS

// GraphiQLAssets serves the embedded files under /graphiql/.
func GraphiQLAssets() http.Handler {
	return http.FileServer(http.FS(graphiqlAssets))
}

// placeholderNHS is the NHS number in the page's opening query when no
// example child is named: a valid test number no record holds.
const placeholderNHS = "9990000018"

// serveGraphiQL writes the page, its opening query looking up example when
// that is an NHS number (ten digits: nothing else reaches the script).
func serveGraphiQL(w http.ResponseWriter, example string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	page := graphiqlPage
	if len(example) == 10 && strings.Trim(example, "0123456789") == "" {
		page = strings.Replace(page, placeholderNHS, example, 1)
	}
	_, _ = w.Write([]byte(page))
}

// placeholderToken is what the page's Headers tab holds until a token is
// pasted over it. It is not a token (no JWT has angle brackets), so the
// page leaves it out of requests rather than have it refused.
const placeholderToken = "Bearer <paste a token from chronicle serve --demo or chronicle token>"

// The page. A token pasted into GraphiQL's Headers tab
// ({"Authorization": "Bearer ..."}) lives only as long as the tab: on a
// shared hub PC a token kept in the browser would be the next user's. So
// GraphiQL is told not to persist headers (shouldPersistHeaders: false,
// which also hides its setting to turn that on), and, because GraphiQL
// 3.8.3 still writes the headers of each run into its query history and
// of each tab into its tab state, it is given a storage that writes every
// "headers" member as null, never stores the headers editor, and on load
// scrubs whatever an earlier page left in the browser.
const graphiqlPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Chronicle GraphiQL</title>
<link rel="stylesheet" href="/graphiql/graphiql.min.css">
<style>html,body,#graphiql{height:100%;margin:0}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="/graphiql/react.production.min.js"></script>
<script src="/graphiql/react-dom.production.min.js"></script>
<script src="/graphiql/graphiql.min.js"></script>
<script>
const prefix = 'graphiql:';
const scrub = (value) => {
  try { return JSON.stringify(JSON.parse(value), (k, v) => k === 'headers' ? null : v); } catch (e) { return value; }
};
const storage = {
  getItem: (key) => { const v = localStorage.getItem(key); return v === null || key === prefix + 'headers' ? null : scrub(v); },
  setItem: (key, value) => { if (key === prefix + 'headers') { localStorage.removeItem(key); } else { localStorage.setItem(key, scrub(String(value))); } },
  removeItem: (key) => localStorage.removeItem(key),
  clear: () => { for (const key of Object.keys(localStorage)) { if (key.startsWith(prefix)) localStorage.removeItem(key); } },
  get length() { return Object.keys(localStorage).filter((key) => key.startsWith(prefix)).length; },
};
for (const key of Object.keys(localStorage)) { if (key.startsWith(prefix)) storage.setItem(key, localStorage.getItem(key)); }
const send = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
const fetcher = (params, opts) => {
  const headers = Object.assign({}, opts && opts.headers);
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === 'authorization' && String(headers[name]).includes('<')) delete headers[name];
  }
  return send(params, Object.assign({}, opts, { headers }));
};
const example = '# Chronicle: one child, every agency, in time order.\n# Open Headers below and paste a token over <paste ...>; keep the\n# purpose of access (Chronicle-Purpose: why you are reading this record).\n#   {"Authorization": "Bearer eyJ...", "Chronicle-Purpose": "mash_enquiry"}\n# serve --demo prints a token for each role; otherwise: chronicle token.\n# Headers are kept only while this tab is open.\n\nquery Child {\n  child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) {\n    id\n    names\n    identifiers { scheme value }\n    chronology(first: 20) {\n      totalCount\n      edges { node { occurredAt agency type summary reliability } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n}\n';
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, storage, defaultQuery: example, shouldPersistHeaders: false, isHeadersEditorEnabled: true,
    defaultHeaders: '{\n  "Authorization": "` + placeholderToken + `",\n  "Chronicle-Purpose": "mash_enquiry"\n}' }));
</script>
</body>
</html>
`
