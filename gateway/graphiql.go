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

// The page sends a token pasted into GraphiQL's Headers tab
// ({"Authorization": "Bearer ..."}), which persists in the browser.
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
const fetcher = GraphiQL.createFetcher({ url: window.location.origin + '/graphql' });
const example = '# Chronicle: one child, every agency, in time order.\n# Paste a token into Headers below: {"Authorization": "Bearer <token>"}\n\nquery Child {\n  child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) {\n    id\n    names\n    identifiers { scheme value }\n    chronology(first: 20) {\n      totalCount\n      edges { node { occurredAt agency type summary reliability } }\n      pageInfo { hasNextPage endCursor }\n    }\n  }\n}\n';
ReactDOM.createRoot(document.getElementById('graphiql')).render(
  React.createElement(GraphiQL, { fetcher, defaultQuery: example, shouldPersistHeaders: true, isHeadersEditorEnabled: true,
    defaultHeaders: '{\n  "Authorization": "Bearer <paste a token from chronicle serve --demo or chronicle token>",\n  "Chronicle-Purpose": "mash_enquiry"\n}' }));
</script>
</body>
</html>
`
