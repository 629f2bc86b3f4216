package gateway_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/projections"
)

// graphqlServer serves a GraphQL handler over an empty model on a real
// HTTP server, and returns its address and a manager's token for it.
func graphqlServer(t *testing.T, opts ...gateway.GraphQLOption) (addr, token string) {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	token, err = auth.Issue(key, "mgr-1", "Morgan Manager (synthetic)", auth.Manager, "hub", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := gateway.NewSchema(projections.NewModel(), nil, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gateway.NewGraphQL(schema, gateway.DefaultLimits, auth.NewLocalVerifier(pub, time.Now), nil, slog.New(slog.DiscardHandler), opts...))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), token
}

// timeTrivial is the median time of a trivial query to addr, the
// yardstick for what a refusal may cost.
func timeTrivial(t *testing.T, addr string) time.Duration {
	t.Helper()
	var times []time.Duration
	for range 7 {
		start := time.Now()
		exchangeWith(t, "http://"+addr+"/graphql", `{"query":"{ __typename }"}`, nil).check(t, 200, "application/graphql-response+json", true, "", "")
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// A body that does not arrive within the body timeout is answered 408 and
// its connection closed, with a token or without, and the server goes on
// answering. (Before, a trickled body held its connection for the server's
// whole read timeout; an httptest server has none, so the answer is
// awaited, generously, for ten body timeouts plus 50 trivial requests'
// time.)
func TestSlowBodyIsCutOff(t *testing.T) {
	const bodyTimeout = 200 * time.Millisecond
	addr, token := graphqlServer(t, gateway.WithBodyTimeout(bodyTimeout))
	bound := 10*bodyTimeout + 50*timeTrivial(t, addr)
	for _, tt := range []struct {
		name    string
		headers map[string]string
	}{
		{"without a token", nil},
		{"with a token", map[string]string{"Authorization": "Bearer " + token}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body, err := trickleTo(addr, bound, "/graphql", "application/json", `{"query":"{ __schema { types { name } } }"}`, tt.headers)
			if err != nil {
				t.Fatalf("no answer within %v while the body was incomplete: %v", bound, err)
			}
			if status != http.StatusRequestTimeout || !strings.Contains(body, "did not arrive within 200ms") {
				t.Fatalf("%d %s", status, body)
			}
			exchangeWith(t, "http://"+addr+"/graphql", `{"query":"{ __typename }"}`, nil).check(t, 200, "application/graphql-response+json", true, "", "")
		})
	}
}

// httpapi.BodyWithin (on /v1/events, after the token is verified) cuts off a body
// that is still arriving when its time is up, and lifts the deadline once
// the body is read: net/http takes a read deadline passing while the
// handler works for the client going away, and would cancel the request's
// context (and so an ingest half published).
func TestBodyWithin(t *testing.T) {
	const d = 200 * time.Millisecond
	srv := httptest.NewServer(httpapi.BodyWithin(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "read: %v (deadline: %v)", err, errors.Is(err, os.ErrDeadlineExceeded))
			return
		}
		// Work on past the deadline; the context must stay alive.
		select {
		case <-r.Context().Done():
			fmt.Fprint(w, "context ended while the handler worked")
		case <-time.After(3 * d):
			fmt.Fprint(w, "context alive")
		}
	})))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	status, body, err := trickleTo(addr, 10*d, "/", "application/json", `{"events":[1,2,3,4]}`, nil)
	if err != nil {
		t.Fatalf("trickled body: no answer within %v: %v", 10*d, err)
	}
	if status != http.StatusBadRequest || !strings.Contains(body, "deadline: true") {
		t.Fatalf("trickled body: %d %s", status, body)
	}
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"events":[1,2,3,4]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "context alive" {
		t.Fatalf("whole body: %d %s", resp.StatusCode, b)
	}
}

// The GraphiQL page keeps nothing of the headers in the browser: it tells
// GraphiQL not to persist them, gives it a storage that writes every
// "headers" member as null and never the headers editor, and scrubs what
// an earlier page left; and it does not send its placeholder as a token.
// The page's script is run in Node with a stand-in for the browser, when
// Node is installed.
func TestGraphiQLKeepsNoHeaders(t *testing.T) {
	h := startHub(t, t.TempDir())
	page, _ := h.graphiqlPage()
	for _, want := range []string{"shouldPersistHeaders: false", "fetcher, storage,", `key === prefix + 'headers'`} {
		if !strings.Contains(page, want) {
			t.Fatalf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "shouldPersistHeaders: true") {
		t.Fatal("page persists headers")
	}

	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the page's script was checked by its text only")
	}
	i, j := strings.LastIndex(page, "<script>"), strings.LastIndex(page, "</script>")
	script := filepath.Join(t.TempDir(), "page.js")
	if err := os.WriteFile(script, []byte(browser+page[i+len("<script>"):j]+checks), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(node, script).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("page script: %v\n%s", err, out)
	}
}

// graphiqlPage is what /graphql gives a browser, and its content type.
func (h *hub) graphiqlPage() (page, contentType string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+h.app.HTTPAddr()+"/graphql", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw), resp.Header.Get("Content-Type")
}

// browser stands in for what the page's script uses: localStorage (holding
// what an earlier page, persisting headers, left), window, document, React
// and GraphiQL, whose props and fetches it records.
const browser = `
const store = {};
const localStorage = {};
Object.defineProperties(localStorage, {
  getItem: { value: (k) => (k in store ? store[k] : null) },
  setItem: { value: (k, v) => { store[k] = String(v); Object.defineProperty(localStorage, k, { value: String(v), enumerable: true, configurable: true }); } },
  removeItem: { value: (k) => { delete store[k]; delete localStorage[k]; } },
});
const secret = 'eyJhbGciOiJFZERTQSJ9.earlier.token';
localStorage.setItem('graphiql:headers', '{"Authorization": "Bearer ' + secret + '"}');
localStorage.setItem('graphiql:tabState', JSON.stringify({ activeTabIndex: 0, tabs: [{ id: 't', title: 'x', query: '{ a }', variables: null, headers: 'Bearer ' + secret, operationName: null, response: null }] }));
localStorage.setItem('graphiql:queries', JSON.stringify({ queries: [{ query: '{ a }', headers: 'Bearer ' + secret }] }));
localStorage.setItem('graphiql:query', '{ agencies { code } }');
localStorage.setItem('unrelated', 'kept');
const window = { location: { origin: 'http://hub' } };
const document = { getElementById: () => ({}) };
let props = null, sent = null;
const React = { createElement: (c, p) => { props = p; return {}; } };
const ReactDOM = { createRoot: () => ({ render: () => {} }) };
const GraphiQL = function () {};
GraphiQL.createFetcher = () => (params, opts) => { sent = opts.headers; return {}; };
`

// checks are run after the page's script.
const checks = `
const fail = (msg) => { console.log('FAIL ' + msg); process.exit(1); };
const all = () => JSON.stringify(store);
if (all().includes(secret)) fail('a token an earlier page stored survives the page load: ' + all());
if (store['graphiql:query'] !== '{ agencies { code } }' || store.unrelated !== 'kept') fail('the scrub lost something that is not a header: ' + all());
if (props.shouldPersistHeaders !== false) fail('shouldPersistHeaders is ' + props.shouldPersistHeaders);
const s = props.storage, token = 'Bearer eyJhbGciOiJFZERTQSJ9.pasted.now';
s.setItem('graphiql:headers', '{"Authorization": "' + token + '"}');
s.setItem('graphiql:tabState', JSON.stringify({ tabs: [{ id: 't', headers: '{"Authorization": "' + token + '"}' }] }));
s.setItem('graphiql:queries', JSON.stringify({ queries: [{ query: '{ a }', headers: '{"Authorization": "' + token + '"}' }] }));
s.setItem('graphiql:favorites', JSON.stringify({ favorites: [{ query: '{ a }', headers: '{"Authorization": "' + token + '"}' }] }));
if (all().includes('pasted.now')) fail('a pasted token was stored: ' + all());
if (s.getItem('graphiql:headers') !== null) fail('the headers editor is read back');
if (JSON.parse(s.getItem('graphiql:tabState')).tabs[0].headers !== null) fail('tab headers are not null');
props.fetcher({ query: '{ __typename }' }, { headers: { Authorization: JSON.parse(props.defaultHeaders).Authorization, 'Chronicle-Purpose': 'mash_enquiry' } });
if ('Authorization' in sent || sent['Chronicle-Purpose'] !== 'mash_enquiry') fail('placeholder sent: ' + JSON.stringify(sent));
props.fetcher({ query: '{ __typename }' }, { headers: { Authorization: token } });
if (sent.Authorization !== token) fail('a real token was not sent: ' + JSON.stringify(sent));
console.log('ok');
`
