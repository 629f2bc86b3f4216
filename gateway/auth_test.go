package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// raw sends a request and returns status and body, with exactly the
// headers given.
func (h *hub) raw(method, path, contentType, body string, headers map[string]string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(method, "http://"+h.app.HTTPAddr()+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sendMode is how a refused request is sent and what it must not cost.
type sendMode int

const (
	// plain sends the request and waits for the answer.
	plain sendMode = iota
	// timed must be answered within a bounded multiple of a trivial
	// request's time, measured in the same run; the request is abandoned
	// (and the case fails) once that has passed.
	timed
	// trickled sends the headers and half the body, then nothing more:
	// the answer must come without the rest, within a bounded multiple of
	// a trivial request's time.
	trickled
	// isolated runs the case in a child process (see runIsolated), for a
	// request that killed the server's process before the fix: a stack
	// overflow cannot be recovered, and would take the test binary with
	// it.
	isolated
)

// isolatedEnv names the one case a child process started by runIsolated
// runs.
const isolatedEnv = "CHRONICLE_ISOLATED_CASE"

// runIsolated runs the case name of test (the whole of test when name is
// "") in a child process (this test binary, running test with isolatedEnv
// set), and fails unless the child ran it and passed. The child's stack
// is capped at 64 MiB (Go's default is 1 GiB), so that code which
// recurses without bound dies in a moment instead of after eating a
// gigabyte.
func runIsolated(t testing.TB, test, name string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	passed := "--- PASS: " + test + "/" + strings.ReplaceAll(name, " ", "_")
	if name == "" {
		name, passed = test, "--- PASS: "+test+" ("
	}
	cmd.Env = append(os.Environ(), isolatedEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), passed) {
		tail := string(out)
		if i := strings.Index(tail, "fatal error"); i >= 0 {
			tail = tail[i:min(len(tail), i+600)]
		} else {
			tail = tail[max(0, len(tail)-2000):]
		}
		t.Fatalf("in a child process the case did not pass (%v): the request killed the server or was not refused:\n%s", err, tail)
	}
}

func init() {
	if os.Getenv(isolatedEnv) != "" {
		debug.SetMaxStack(64 << 20)
	}
}

// healthy fails the test unless the server answers a trivial query
// without a token.
func (h *hub) healthy(t testing.TB) {
	t.Helper()
	x := exchangeWith(t, "http://"+h.app.HTTPAddr()+"/graphql", `{"query":"{ __typename }"}`, nil)
	if x.status != 200 || !strings.Contains(x.body, `"__typename":"Query"`) {
		t.Fatalf("the server is not answering a trivial query: %d %s", x.status, x.body)
	}
}

// within sends a request as raw does, and fails the test unless one of
// three tries is answered within bound (the best of three, so that a
// moment's load on a shared machine does not fail it).
func (h *hub) within(t *testing.T, bound time.Duration, method, path, contentType, body string, headers map[string]string) (int, string) {
	t.Helper()
	var errs []error
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+h.app.HTTPAddr()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = rerr
			if err == nil {
				cancel()
				return resp.StatusCode, string(b)
			}
		}
		cancel()
		errs = append(errs, err)
	}
	t.Fatalf("not answered within %v (50 trivial requests' time, at least 5 s) in three tries: %v", bound, errs)
	return 0, ""
}

// trickle sends the request's headers and the first half of its body,
// then waits for an answer with the rest unsent, failing the test unless
// one of three tries is answered within bound.
func (h *hub) trickle(t *testing.T, bound time.Duration, path, contentType, body string, headers map[string]string) (int, string) {
	t.Helper()
	var errs []error
	for range 3 {
		status, answer, err := trickleTo(h.app.HTTPAddr(), bound, path, contentType, body, headers)
		if err == nil {
			return status, answer
		}
		errs = append(errs, err)
	}
	t.Fatalf("no answer within %v (50 trivial requests' time, at least 5 s) in three tries while the body was incomplete: %v", bound, errs)
	return 0, ""
}

// trickleTo sends a request's headers and half its body to the server at
// addr, and returns the answer, or an error when none comes within bound.
func trickleTo(addr string, bound time.Duration, path, contentType, body string, headers map[string]string) (int, string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	var req strings.Builder
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: chronicle\r\nContent-Type: %s\r\nContent-Length: %d\r\n", path, contentType, len(body))
	for k, v := range headers {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n" + body[:len(body)/2])
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return 0, "", err
	}
	conn.SetReadDeadline(time.Now().Add(bound))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func signed(t *testing.T, key ed25519.PrivateKey, c auth.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(role auth.Role, agency string, iat, exp time.Time) auth.Claims {
	return auth.Claims{Name: "Synthetic", Role: role, Agency: agency, RegisteredClaims: jwt.RegisteredClaims{
		Subject: "s-1", Issuer: auth.LocalIssuer, Audience: jwt.ClaimStrings{auth.Audience},
		IssuedAt: jwt.NewNumericDate(iat), NotBefore: jwt.NewNumericDate(iat), ExpiresAt: jwt.NewNumericDate(exp)}}
}

func TestRefusedRequests(t *testing.T) {
	h := startHub(t, t.TempDir())
	h.publish(ev("education.concern", "education", "e1", at(1, 5), events.Identifiers{NHSNumber: "9990000018"}))
	key, err := app.LoadSigningKey(h.dir)
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString(mustJSON(claims(auth.Manager, "hub", now, now.Add(time.Hour)))) + "."
	hs256, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(auth.Manager, "hub", now, now.Add(time.Hour))).SignedString([]byte("guessable"))
	manager := h.tokenFor(auth.Manager, "hub")
	query := `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000018\"}) { id names chronology { totalCount } } }"}`
	bearer := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Chronicle-Purpose": "mash_enquiry"}
	}
	healthEvent, _ := events.Encode(ev("health.concern", "health", "x1", at(2, 1), events.Identifiers{NHSNumber: "9990000018"}))
	deep := `{"query":"{ child(id: \"x\") { chronology { edges { node {` + strings.Repeat(" history {", 12) + " id" + strings.Repeat(" }", 12) + ` } } } } }"}`
	aliases := `{"query":"{ ` + strings.Repeat(`a%d: agencies { code } `, 1) + `}"}`
	var al strings.Builder
	for i := range 40 {
		al.WriteString(" a" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + ": agencies { code }")
	}
	aliases = `{"query":"{` + al.String() + ` }"}`
	cyclic := `{"query":"{ __schema { ...A } } fragment A on __Schema { ...B } fragment B on __Schema { ...A }"}`
	brackets := func(n int) string {
		return `{"query":"{ __typename(x:` + strings.Repeat("[", n) + strings.Repeat("]", n) + `) }"}`
	}
	nested := func(n int) string { return `{"query":"` + strings.Repeat("{ a ", n) + strings.Repeat("}", n) + `"}` }
	var frags strings.Builder
	frags.WriteString(`{"query":"{ ...F0 }`)
	for i := range 30 {
		fmt.Fprintf(&frags, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	doubling := frags.String() + ` fragment F30 on Query { agencies { code } }"}`
	frags.Reset()
	frags.WriteString(`{"query":"{ ...C0 }`)
	for i := range 12 {
		fmt.Fprintf(&frags, " fragment C%d on Query { a { b { c { ...C%d } } } }", i, i+1)
	}
	chained := frags.String() + ` fragment C12 on Query { __typename }"}`

	tests := []struct {
		name     string
		method   string
		path     string
		ctype    string
		body     string
		headers  map[string]string
		status   int
		contains string
		mode     sendMode
	}{
		{"no token", "POST", "/graphql", "application/json", query, nil, 401, "no bearer token", plain},
		{"bad signature", "POST", "/graphql", "application/json", query, bearer(signed(t, otherKey, claims(auth.Manager, "hub", now, now.Add(time.Hour)))), 401, "signature", plain},
		{"alg none", "POST", "/graphql", "application/json", query, bearer(none), 401, "token", plain},
		{"HS256 with a guessed secret", "POST", "/graphql", "application/json", query, bearer(hs256), 401, "token", plain},
		{"expired", "POST", "/graphql", "application/json", query, bearer(signed(t, key, claims(auth.Manager, "hub", now.Add(-2*time.Hour), now.Add(-time.Hour)))), 401, "expired", plain},
		{"not yet valid", "POST", "/graphql", "application/json", query, bearer(signed(t, key, claims(auth.Manager, "hub", now.Add(time.Hour), now.Add(2*time.Hour)))), 401, "not valid yet", plain},
		{"unknown role", "POST", "/graphql", "application/json", query, bearer(signed(t, key, claims("janitor", "hub", now, now.Add(time.Hour)))), 403, "unknown role", plain},
		{"garbage token", "POST", "/graphql", "application/json", query, bearer("not.a.token"), 401, "malformed", plain},
		{"wrong role: analyst reads a child", "POST", "/graphql", "application/json", query, bearer(h.tokenFor(auth.Analyst, "")), 200, "FORBIDDEN", plain},
		{"wrong role: auditor reads a child", "POST", "/graphql", "application/json", query, bearer(h.tokenFor(auth.Auditor, "")), 200, "FORBIDDEN", plain},
		{"wrong role: publisher reads a child", "POST", "/graphql", "application/json", query, bearer(h.tokenFor(auth.Publisher, "police")), 200, "FORBIDDEN", plain},
		{"missing purpose", "POST", "/graphql", "application/json", query, map[string]string{"Authorization": "Bearer " + manager}, 200, "purpose of access is required", plain},
		{"unknown purpose", "POST", "/graphql", "application/json", query, map[string]string{"Authorization": "Bearer " + manager, "Chronicle-Purpose": "curiosity"}, 200, "not a purpose of access", plain},
		{"cross-agency publish over HTTP", "POST", "/v1/events", "application/json", string(healthEvent), map[string]string{"Authorization": "Bearer " + h.tokenFor(auth.Publisher, "police")}, 403, `publishes for \"police\" only`, plain},
		{"reader role publishing", "POST", "/v1/events", "application/json", string(healthEvent), map[string]string{"Authorization": "Bearer " + h.tokenFor(auth.Practitioner, "health")}, 403, "may not publish", plain},
		{"ingest without a token", "POST", "/v1/events", "application/json", string(healthEvent), nil, 401, "no bearer token", plain},
		{"depth bomb", "POST", "/graphql", "application/json", deep, bearer(manager), 400, "levels deep", plain},
		{"alias bomb", "POST", "/graphql", "application/json", aliases, bearer(manager), 400, "aliases", plain},
		{"oversized body", "POST", "/graphql", "application/json", `{"query":"` + strings.Repeat("x", 2<<20) + `"}`, bearer(manager), 413, "over", plain},
		{"batch", "POST", "/graphql", "application/json", `[` + query + `,` + query + `]`, bearer(manager), 400, "batched", plain},
		// Every document meets cheap structural checks before graphql-go's
		// validation rules, with a token or without (issue 10). A cyclic
		// pair of fragments overflowed the stack inside
		// OverlappingFieldsCanBeMerged and killed the process, so that
		// case runs in a child process of its own: see sendMode.
		{"cyclic fragments without a token", "POST", "/graphql", "application/json", cyclic, nil, 400, "fragment A spreads itself: A → B → A", isolated},
		{"cyclic fragments with a token", "POST", "/graphql", "application/json", cyclic, bearer(manager), 400, "fragment A spreads itself: A → B → A", isolated},
		{"a fragment spreading itself", "POST", "/graphql", "application/json", `{"query":"{ ...A } fragment A on Query { agencies { code } ...A }"}`, bearer(manager), 400, "fragment A spreads itself: A → A", isolated},
		{"unknown fragment", "POST", "/graphql", "application/json", `{"query":"{ __schema { ...Nowhere } }"}`, nil, 400, "unknown fragment Nowhere", plain},
		{"fragment defined twice", "POST", "/graphql", "application/json", `{"query":"{ ...A } fragment A on Query { __typename } fragment A on Query { ...A }"}`, bearer(manager), 400, "fragment A is defined more than once", isolated},
		{"fragments doubling 30 times", "POST", "/graphql", "application/json", doubling, bearer(manager), 400, "more than 1000 fields", timed},
		// Nesting cost graphql-go time in proportion to nodes × depth
		// (8,000 brackets: 27 s), and the 30 s timeout did not cover
		// validation: these are answered at once, in a bounded multiple of
		// a trivial request's time.
		{"8,000 brackets without a token", "POST", "/graphql", "application/json", brackets(8000), nil, 400, "nests brackets, braces or parentheses more than 32 deep", timed},
		{"20,000 brackets with a token", "POST", "/graphql", "application/json", brackets(20000), bearer(manager), 400, "query is 40018 bytes; the limit is 32768", timed},
		{"20,000 brackets without a token: over the public body cap", "POST", "/graphql", "application/json", brackets(20000), nil, 413, "over 16384 bytes, the limit without a bearer token", timed},
		{"8,000 nested selections", "POST", "/graphql", "application/json", nested(8000), bearer(manager), 400, "query is 40000 bytes; the limit is 32768", timed},
		{"6,000 nested selections", "POST", "/graphql", "application/json", nested(6000), bearer(manager), 400, "nests brackets, braces or parentheses more than 32 deep", timed},
		{"selections nested through fragments", "POST", "/graphql", "application/json", chained, bearer(manager), 400, "selections nest 37 deep once fragments are followed; the limit is 32", plain},
		{"over the token limit", "POST", "/graphql", "application/json", `{"query":"{ __typename(` + strings.Repeat("a:1 ", 1500) + `) }"}`, nil, 400, "more than 4000 tokens", timed},
		// A token that does not verify is refused, whatever the request
		// asks, and before its body is read.
		{"garbage token on introspection", "POST", "/graphql", "application/json", `{"query":"{ __schema { queryType { name } } }"}`, bearer("not.a.token"), 401, "malformed", plain},
		{"expired token on introspection", "GET", "/graphql?query=%7B__typename%7D", "", "", bearer(signed(t, key, claims(auth.Manager, "hub", now.Add(-2*time.Hour), now.Add(-time.Hour)))), 401, "expired", plain},
		{"Authorization that is not a bearer token", "POST", "/graphql", "application/json", `{"query":"{ __typename }"}`, map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}, 401, "no bearer token", plain},
		{"GraphiQL's placeholder sent as a token", "POST", "/graphql", "application/json", `{"query":"{ __typename }"}`, bearer("<paste a token from chronicle serve --demo or chronicle token>"), 401, "malformed", plain},
		{"bad token with a trickled body", "POST", "/graphql", "application/json", `{"query":"{ __schema { types { name } } }"}`, bearer("not.a.token"), 401, "malformed", trickled},
		{"ingest: bad token with a trickled body", "POST", "/v1/events", "application/json", string(healthEvent), bearer("not.a.token"), 401, "malformed", trickled},
		{"no token, a query for data", "POST", "/graphql", "application/json", `{"query":"{ __typename agencies { code } }"}`, nil, 401, "only introspection of the schema is public", plain},
		// Repeated member names: encoding/json keeps the last, so what ran
		// would not be what a proxy, a log or a check saw first (issue 10).
		{"query given twice", "POST", "/graphql", "application/json", `{"query":"{ __typename }","query":"{ agencies { code } }"}`, nil, 400, "query: appears more than once", plain},
		{"variables with a name twice", "POST", "/graphql", "application/json", `{"query":"{ __typename }","variables":{"a":1,"a":2}}`, bearer(manager), 400, "variables.a: appears more than once", plain},
		{"ingest: sensitivity twice", "POST", "/v1/events", "application/json", strings.Replace(string(healthEvent), `"sensitivity":"standard"`, `"sensitivity":"restricted","sensitivity":"standard"`, 1), bearer(h.tokenFor(auth.Publisher, "health")), 422, `"field":"sensitivity","problem":"appears more than once`, plain},
		{"ingest: invalid UTF-8 in the summary", "POST", "/v1/events", "application/json", strings.Replace(string(healthEvent), `"summary":"`, "\"summary\":\"\xff", 1), bearer(h.tokenFor(auth.Publisher, "health")), 422, `"field":"summary","problem":"is not valid UTF-8`, plain},
		{"ingest: a right-to-left override in the summary", "POST", "/v1/events", "application/json", strings.Replace(string(healthEvent), `"summary":"`, `"summary":"\u202e`, 1), bearer(h.tokenFor(auth.Publisher, "health")), 422, `"field":"summary","problem":"contains the bidirectional control character U+202E`, plain},
	}

	isolatedCase := os.Getenv(isolatedEnv)
	// A CPU trap costs seconds to minutes, a refusal a few trivial
	// requests: the bound is 50 trivial requests, but never under 5 s, so
	// a loaded machine's scheduling does not fail a refusal that is fine.
	bound := max(50*timeTrivial(t, h.app.HTTPAddr()), 5*time.Second)
	for _, tt := range tests {
		if isolatedCase != "" && tt.name != isolatedCase {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			if tt.mode == isolated && isolatedCase == "" {
				runIsolated(t, "TestRefusedRequests", tt.name)
				return
			}
			var status int
			var body string
			switch tt.mode {
			case timed:
				status, body = h.within(t, bound, tt.method, tt.path, tt.ctype, tt.body, tt.headers)
			case trickled:
				status, body = h.trickle(t, bound, tt.path, tt.ctype, tt.body, tt.headers)
			default:
				status, body = h.raw(tt.method, tt.path, tt.ctype, tt.body, tt.headers)
			}
			if status != tt.status || !strings.Contains(body, tt.contains) {
				t.Fatalf("status %d (want %d containing %q), body %s", status, tt.status, tt.contains, body[:min(len(body), 400)])
			}
			if strings.Contains(body, "Sam Synthetic") || strings.Contains(body, `"totalCount"`) {
				t.Fatalf("refused request returned data: %s", body)
			}
			h.healthy(t)
		})
	}
	if isolatedCase != "" {
		return
	}
	// And the same request with a good token and purpose works.
	if status, body := h.raw("POST", "/graphql", "application/json", query, bearer(manager)); status != 200 || !strings.Contains(body, "Sam Synthetic") {
		t.Fatalf("accepted request: %d %s", status, body)
	}
	// The purpose may be given as an argument instead of the header, and the
	// header's code in any case; either way it is what the access log keeps.
	argQuery := string(mustJSON(map[string]any{"query": `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}, purpose: {reason: CASE_REVIEW, detail: "rapid review 12"}) { names } }`}))
	if status, body := h.raw("POST", "/graphql", "application/json", argQuery, map[string]string{"Authorization": "Bearer " + manager}); status != 200 || !strings.Contains(body, "Sam Synthetic") {
		t.Fatalf("purpose as an argument: %d %s", status, body)
	}
	if status, body := h.raw("POST", "/graphql", "application/json", query, map[string]string{"Authorization": "Bearer " + manager, "Chronicle-Purpose": "MASH_ENQUIRY"}); status != 200 || !strings.Contains(body, "Sam Synthetic") {
		t.Fatalf("purpose header in capitals: %d %s", status, body)
	}
	r, _ := h.as(h.tokenFor(auth.Auditor, ""), `{ accessLog(first: 1000) { nodes { subject purpose purposeDetail } } }`, nil)
	var purposes []string
	for _, n := range get(r.Data, "accessLog", "nodes").([]any) {
		if n := n.(map[string]any); n["subject"] == "u-manager-hub" {
			purposes = append(purposes, fmt.Sprint(n["purpose"], "/", n["purposeDetail"]))
		}
	}
	if !slices.Contains(purposes, "case_review/rapid review 12") || !slices.Contains(purposes, "mash_enquiry/<nil>") {
		t.Fatalf("purposes on the access log: %v", purposes)
	}
	// A publisher publishing for their own agency is accepted.
	schoolEvent, _ := events.Encode(ev("education.concern", "education", "ok1", at(2, 2), events.Identifiers{NHSNumber: "9990000018"}))
	if status, body := h.raw("POST", "/v1/events", "application/json", string(schoolEvent), map[string]string{"Authorization": "Bearer " + h.tokenFor(auth.Publisher, "education")}); status != 200 {
		t.Fatalf("own-agency publish: %d %s", status, body)
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// The hidden content of this scenario; none of it may appear in any
// response to a caller who may not see it.
var secrets = []string{"femur", "Quixotic", "Sealedname", "LA-SEALED-9", "health.injury", "INJURY_UNDER_ONE", "injury at"}

func leakScenario(h *hub) (restricted, sealed *events.Event) {
	baby := events.Identifiers{NHSNumber: "9990000018", UPN: "B801200005001"}
	school := ev("education.concern", "education", "ed-1", at(3, 1), baby)
	school.Subjects[0].DateOfBirth = "2023-09-01"
	school.ID = events.DeriveID(school)
	restricted = withBody(ev("health.injury", "health", "hl-1", at(3, 4), events.Identifiers{NHSNumber: "9990000018"}),
		&events.Injury{Description: "Spiral fracture of the left femur"})
	restricted.Subjects[0].DateOfBirth = "2023-09-01"
	restricted.Summary, restricted.Sensitivity = "Injury: left femur fracture", "restricted"
	restricted.ID = events.DeriveID(restricted)
	sealed = ev("contact.received", "social_care", "sc-1", at(3, 6), events.Identifiers{NHSNumber: "9990000018", LAPersonID: "LA-SEALED-9"})
	sealed.Subjects[0].Name, sealed.Summary, sealed.Sensitivity = "Jordan Sealedname", "Sealed: adoption placement at Quixotic House", "sealed"
	sealed.Subjects[0].DateOfBirth = "2023-09-01"
	sealed.ID = events.DeriveID(sealed)
	h.publish(school, restricted, sealed)
	return restricted, sealed
}

func (h *hub) as(token string, q string, vars map[string]any) (gqlResponse, string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	status, raw := h.raw("POST", "/graphql", "application/json", string(body), map[string]string{"Authorization": "Bearer " + token, "Chronicle-Purpose": "mash_enquiry"})
	var r gqlResponse
	r.status = status
	json.Unmarshal([]byte(raw), &r)
	return r, raw
}

func noSecrets(t *testing.T, what, body string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(body, s) {
			t.Errorf("%s leaks %q: %s", what, s, body)
		}
	}
}

// Redaction is visible, and nothing hidden leaks through any path: the
// chronology, totalCount and type filters, search, identity listings,
// lookups and their errors, flag reasons and evidence, event by id, and
// cursors.
func TestNothingHiddenLeaks(t *testing.T) {
	h := startHub(t, t.TempDir())
	restricted, _ := leakScenario(h)
	school := h.tokenFor(auth.Practitioner, "education")
	manager := h.tokenFor(auth.Manager, "hub")

	chron := `{ child(identifier: {scheme: UPN, value: "B801200005001"}) { id names datesOfBirth identifiers { scheme value }
	  chronology { totalCount redactedCount redactions { description } edges { cursor node { id type agency summary sensitivity redacted details { value } history { summary } } } }
	  riskFlags { code title reason severity evidence { id type summary redacted } } } }`

	// The manager sees everything: the secrets are really in the data.
	_, all := h.as(manager, chron, nil)
	for _, s := range []string{"femur", "Quixotic", "Sealedname", "LA-SEALED-9", "INJURY_UNDER_ONE"} {
		if !strings.Contains(all, s) {
			t.Fatalf("manager does not see %q: the scenario is wrong: %s", s, all)
		}
	}

	r, body := h.as(school, chron, nil)
	noSecrets(t, "chronology", body)
	if n := get(r.Data, "child", "chronology", "totalCount"); n != 3.0 {
		t.Errorf("totalCount %v: placeholders count, so it matches what is shown", n)
	}
	if n := get(r.Data, "child", "chronology", "redactedCount"); n != 2.0 {
		t.Errorf("redactedCount %v", n)
	}
	if !strings.Contains(body, "1 restricted entry from health") || !strings.Contains(body, "1 sealed entry from social_care") {
		t.Errorf("redaction is not visible: %s", body)
	}
	if get(r.Data, "child", "riskFlags", 0, "code") != "REDACTED" || get(r.Data, "child", "riskFlags", 0, "severity") != "high" {
		t.Errorf("flag on hidden evidence: %v", get(r.Data, "child", "riskFlags"))
	}
	for _, e := range get(r.Data, "child", "chronology", "edges").([]any) {
		raw, _ := base64.RawURLEncoding.DecodeString(e.(map[string]any)["cursor"].(string))
		if parts := strings.Split(string(raw), ":"); len(parts) != 3 || parts[0] != "e" {
			t.Errorf("cursor holds more than a time and a sequence: %q", raw)
		}
	}

	// A type filter does not count hidden entries of that type.
	r, body = h.as(school, `{ child(identifier: {scheme: UPN, value: "B801200005001"}) { chronology(types: ["health.injury"]) { totalCount } } }`, nil)
	noSecrets(t, "type filter", strings.ReplaceAll(body, "health.injury", ""))
	if n := get(r.Data, "child", "chronology", "totalCount"); n != 0.0 {
		t.Errorf("type filter counted %v hidden entries", n)
	}

	// Search by a name or identifier only hidden entries carry finds nothing.
	for _, f := range []string{`{name: "Sealedname"}`, `{identifier: {scheme: LA_PERSON_ID, value: "LA-SEALED-9"}}`} {
		r, body = h.as(school, `{ children(filter: `+f+`) { totalCount nodes { id names } } }`, nil)
		noSecrets(t, "search "+f, strings.ReplaceAll(strings.ReplaceAll(body, "Sealedname", "?"), "LA-SEALED-9", "?"))
		if n := get(r.Data, "children", "totalCount"); n != 0.0 {
			t.Errorf("search %s found %v children", f, n)
		}
	}

	// Looking a child up by a hidden identifier answers exactly as for one
	// that does not exist.
	hiddenLookup, hb := h.as(school, `{ child(identifier: {scheme: LA_PERSON_ID, value: "LA-SEALED-9"}) { id } }`, nil)
	unknownLookup, _ := h.as(school, `{ child(identifier: {scheme: LA_PERSON_ID, value: "LA-NOBODY"}) { id } }`, nil)
	if len(hiddenLookup.Errors) == 0 || hiddenLookup.Errors[0].Message != unknownLookup.Errors[0].Message || hiddenLookup.Errors[0].Extensions["code"] != "NOT_FOUND" {
		t.Errorf("hidden identifier lookup differs from unknown: %+v vs %+v", hiddenLookup.Errors, unknownLookup.Errors)
	}
	noSecrets(t, "lookup error", strings.ReplaceAll(hb, "LA-SEALED-9", "?"))

	// Event by id: a placeholder.
	r, body = h.as(school, `query($id: ID!) { event(id: $id) { id type summary redacted details { value } history { summary } } }`, map[string]any{"id": restricted.ID})
	noSecrets(t, "event by id", body)
	if get(r.Data, "event", "redacted") != true {
		t.Errorf("event: %v", r.Data)
	}

	// The worklist: the child appears, with the flag redacted; filtering on
	// the hidden code finds nothing.
	_, body = h.as(school, `{ flaggedChildren { totalCount nodes { child { names identifiers { value } } flags { code reason } } } }`, nil)
	noSecrets(t, "worklist", body)
	r, _ = h.as(school, `{ flaggedChildren(codes: ["INJURY_UNDER_ONE"]) { totalCount } }`, nil)
	if n := get(r.Data, "flaggedChildren", "totalCount"); n != 0.0 {
		t.Errorf("filtering on a hidden flag's code found %v", n)
	}

	// A health practitioner sees the restricted health entry but not the
	// sealed one.
	_, body = h.as(h.tokenFor(auth.Practitioner, "health"), chron, nil)
	if !strings.Contains(body, "femur") || strings.Contains(body, "Quixotic") || strings.Contains(body, "LA-SEALED-9") {
		t.Errorf("health practitioner: %s", body)
	}
}

// Every kind of read of a child's record, and every link, unlink and
// correction, produces exactly one access record with the right fields.
func TestEveryReadIsAuditedOnce(t *testing.T) {
	h := startHub(t, t.TempDir())
	restricted, _ := leakScenario(h)
	practitioner := h.tokenFor(auth.Practitioner, "health")
	auditor := h.tokenFor(auth.Auditor, "")
	childID := ""
	{
		r, _ := h.as(practitioner, `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { id } }`, nil)
		childID = get(r.Data, "child", "id").(string)
	}
	countLog := func() []map[string]any {
		r, body := h.as(auditor, `{ accessLog(first: 1000) { totalCount nodes { action subject role agency purpose childId eventId parts requestId returned { name count } } } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("access log: %s", body)
		}
		var out []map[string]any
		for _, n := range get(r.Data, "accessLog", "nodes").([]any) {
			out = append(out, n.(map[string]any))
		}
		return out
	}
	reads := []struct {
		name, query string
		vars        map[string]any
		action      string
		part        string
	}{
		{"chronology", `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { chronology { totalCount } } }`, nil, "read", "chronology"},
		{"flags", `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { riskFlags { code } } }`, nil, "read", "risk_flags"},
		{"identities", `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { identifiers { value } } }`, nil, "read", "identifiers"},
		{"event by id", `query($id: ID!) { event(id: $id) { summary } }`, map[string]any{"id": restricted.ID}, "read", "event"},
		{"search", `{ children(filter: {name: "Sam"}) { totalCount } }`, nil, "search", "children"},
		{"worklist", `{ flaggedChildren { totalCount } }`, nil, "worklist", "flagged_children"},
	}
	for _, rd := range reads {
		t.Run(rd.name, func(t *testing.T) {
			before := len(countLog())
			r, body := h.as(practitioner, rd.query, rd.vars)
			if len(r.Errors) > 0 {
				t.Fatalf("read failed: %s", body)
			}
			log := countLog()
			if len(log) != before+1 {
				t.Fatalf("%d access records for one read, want 1", len(log)-before)
			}
			rec := log[len(log)-1]
			if rec["action"] != rd.action || rec["subject"] != "u-practitioner-health" || rec["role"] != "practitioner" || rec["agency"] != "health" ||
				rec["purpose"] != "mash_enquiry" || rec["requestId"] == "" {
				t.Fatalf("record: %v", rec)
			}
			if parts := rec["parts"].([]any); len(parts) == 0 || !strings.Contains(strings.Join(toStrings(parts), ","), rd.part) {
				t.Fatalf("parts %v, want %s", parts, rd.part)
			}
			if rd.action == "read" && !strings.Contains(rec["childId"].(string), childID) {
				t.Fatalf("child id %v, want %s", rec["childId"], childID)
			}
			if strings.Contains(mustString(rec), "femur") {
				t.Fatal("the access log holds content")
			}
		})
	}

	// A search and the worklist are audited as such, and every child whose
	// details they show is on the log under that child too, so that the
	// log answers "who saw this child" whichever way the child was reached.
	for _, q := range []struct{ name, query, action string }{
		{"search", `{ children(filter: {name: "Sam"}) { nodes { id names identifiers { value } } } }`, "search"},
		{"worklist", `{ flaggedChildren { nodes { child { id names } flags { code } } } }`, "worklist"},
	} {
		before := len(countLog())
		r, body := h.as(practitioner, q.query, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %s", q.name, body)
		}
		log := countLog()[before:]
		if len(log) != 2 || log[0]["action"] != q.action || log[1]["action"] != "read" || log[1]["childId"] != childID {
			t.Fatalf("%s: want the %s record and one read of %s: %v", q.name, q.action, childID, log)
		}
		if parts := strings.Join(toStrings(log[1]["parts"].([]any)), ","); !strings.Contains(parts, "names") {
			t.Fatalf("%s: read parts %s", q.name, parts)
		}
	}

	// Link, unlink and a correction each make exactly one record.
	manager := h.tokenFor(auth.Manager, "hub")
	before := len(countLog())
	link := `mutation($a: IdentifierInput!, $b: IdentifierInput!) { linkChildren(a: $a, b: $b, reason: "same child") { id } }`
	h.publish(ev("police.notification", "police", "p-9", at(4, 1), events.Identifiers{PolicePersonID: "PP-77"}))
	vars := map[string]any{"a": map[string]any{"scheme": "POLICE_PERSON_ID", "value": "PP-77"}, "b": map[string]any{"scheme": "NHS_NUMBER", "value": "9990000018"}}
	if r, body := h.as(manager, link, vars); len(r.Errors) > 0 {
		t.Fatal(body)
	}
	if r, body := h.as(manager, strings.Replace(link, "linkChildren", "unlinkChildren", 1), vars); len(r.Errors) > 0 {
		t.Fatal(body)
	}
	corr := withBody(ev("record.corrected", "health", "fix-1", at(5, 1), events.Identifiers{NHSNumber: "9990000018"}),
		&events.RecordCorrected{EventID: restricted.ID, Reason: "wrong side", Summary: "Injury: right femur fracture"})
	data, _ := events.Encode(corr)
	if status, body := h.raw("POST", "/v1/events", "application/json", string(data), map[string]string{"Authorization": "Bearer " + h.tokenFor(auth.Publisher, "health")}); status != 200 {
		t.Fatalf("correction: %d %s", status, body)
	}
	log := countLog()
	var actions []string
	for _, rec := range log[before:] {
		actions = append(actions, rec["action"].(string))
	}
	if strings.Join(actions, ",") != "link,unlink,corrected" {
		t.Fatalf("actions %v, want link, unlink, corrected", actions)
	}
	if log[len(log)-1]["subject"] != "u-publisher-health" || log[len(log)-1]["eventId"] != restricted.ID {
		t.Fatalf("correction record: %v", log[len(log)-1])
	}

	// myAccessLog shows only the caller's own records.
	r, _ := h.as(practitioner, `{ myAccessLog(first: 1000) { nodes { subject } } }`, nil)
	for _, n := range get(r.Data, "myAccessLog", "nodes").([]any) {
		if n.(map[string]any)["subject"] != "u-practitioner-health" {
			t.Fatalf("myAccessLog shows another's record: %v", n)
		}
	}
	// The access log is for auditors only.
	if r, _ := h.as(practitioner, `{ accessLog { totalCount } }`, nil); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Fatalf("a practitioner read the access log: %+v", r)
	}
}

// If the access record cannot be stored, the read fails: fail closed.
func TestReadFailsWhenAuditUnavailable(t *testing.T) {
	h := startHub(t, t.TempDir())
	leakScenario(h)
	if err := h.app.JetStream().DeleteStream(context.Background(), "CHRONICLE_AUDIT"); err != nil {
		t.Fatal(err)
	}
	r, body := h.as(h.tokenFor(auth.Manager, "hub"), `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { names chronology { totalCount } } }`, nil)
	if r.status != 503 || len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "AUDIT_UNAVAILABLE" {
		t.Fatalf("status %d: %s", r.status, body)
	}
	if strings.Contains(body, "Sam Synthetic") || strings.Contains(body, "totalCount") {
		t.Fatalf("data released without an access record: %s", body)
	}
}

// A link is on the access log before it is made: with the log unavailable,
// the mutation fails and the records stay apart.
func TestLinkChangesNothingWhenAuditUnavailable(t *testing.T) {
	h := startHub(t, t.TempDir())
	leakScenario(h)
	h.publish(ev("police.notification", "police", "p-au", at(4, 1), events.Identifiers{PolicePersonID: "PP-AU"}))
	if err := h.app.JetStream().DeleteStream(context.Background(), "CHRONICLE_AUDIT"); err != nil {
		t.Fatal(err)
	}
	log, err := h.app.JetStream().Stream(context.Background(), "CHRONICLE_EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	st, err := log.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	before := st.State.LastSeq
	link := `mutation($a: IdentifierInput!, $b: IdentifierInput!) { linkChildren(a: $a, b: $b, reason: "same child") { id } }`
	vars := map[string]any{"a": map[string]any{"scheme": "POLICE_PERSON_ID", "value": "PP-AU"}, "b": map[string]any{"scheme": "NHS_NUMBER", "value": "9990000018"}}
	r, body := h.as(h.tokenFor(auth.Manager, "hub"), link, vars)
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "UNAVAILABLE" {
		t.Fatalf("link with no access log: %s", body)
	}
	if st, err := log.Info(context.Background()); err != nil || st.State.LastSeq != before {
		t.Fatalf("the link was published anyway: log at %d, was %d (%v)", st.State.LastSeq, before, err)
	}
}

func toStrings(l []any) []string {
	out := make([]string, len(l))
	for i, v := range l {
		out[i], _ = v.(string)
	}
	return out
}

func mustString(v any) string {
	b, _ := json.Marshal(v)
	return string(bytes.TrimSpace(b))
}

// An analyst gets statistics and a pseudonymised export, and nothing that
// names a child; the export is on the access log.
func TestAnalystGetsCountsAndPseudonymsOnly(t *testing.T) {
	h := startHub(t, t.TempDir())
	leakScenario(h)
	analyst := h.tokenFor(auth.Analyst, "")
	r, body := h.as(analyst, `{ statistics(period: MONTH) { period agency type count } }`, nil)
	if len(r.Errors) > 0 || !strings.Contains(body, `"period":"2024-03"`) {
		t.Fatalf("statistics: %s", body)
	}
	status, export := h.raw("GET", "/v1/export", "", "", map[string]string{"Authorization": "Bearer " + analyst, "Chronicle-Purpose": "quality_assurance"})
	if status != 200 || strings.Count(export, "\n") != 2 { // the sealed entry is never exported
		t.Fatalf("export: %d %s", status, export)
	}
	for _, s := range []string{"9990000018", "B801200005001", "Sam Synthetic", "femur", "Quixotic", "LA-SEALED", "Disclosed", "Synthetic"} {
		if strings.Contains(export, s) {
			t.Errorf("export holds %q: %s", s, export)
		}
	}
	if !strings.Contains(export, `"children":["P`) {
		t.Errorf("no pseudonyms: %s", export)
	}
	if status, _ := h.raw("GET", "/v1/export", "", "", map[string]string{"Authorization": "Bearer " + analyst}); status != 403 {
		t.Errorf("export without a purpose: %d", status)
	}
	// An export only reads: another method is 405, not a bad request.
	for _, path := range []string{"/v1/export", "/v1/export/annex-a", "/v1/export/cin-census"} {
		status, body := h.raw("POST", path, "", "", map[string]string{"Authorization": "Bearer " + analyst, "Chronicle-Purpose": "quality_assurance"})
		if status != 405 || !strings.Contains(body, "METHOD_NOT_ALLOWED") {
			t.Errorf("POST %s: %d %s, want 405 METHOD_NOT_ALLOWED", path, status, body)
		}
	}
	if status, _ := h.raw("GET", "/v1/export", "", "", map[string]string{"Authorization": "Bearer " + h.tokenFor(auth.Practitioner, "health"), "Chronicle-Purpose": "quality_assurance"}); status != 403 {
		t.Errorf("practitioner export: %d", status)
	}
	log, body := h.as(h.tokenFor(auth.Auditor, ""), `{ accessLog { nodes { action role returned { name count } } } }`, nil)
	if !strings.Contains(body, `"action":"export"`) || len(log.Errors) > 0 {
		t.Fatalf("export not on the access log: %s", body)
	}
	// And an analyst cannot read a child.
	r, _ = h.as(analyst, `{ children { totalCount } }`, nil)
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Fatalf("analyst listed children: %+v", r)
	}
}

// The schema is public so that GraphiQL's documentation works before a
// token is pasted; a query that mixes in data still needs one.
func TestIntrospectionNeedsNoToken(t *testing.T) {
	h := startHub(t, t.TempDir())
	status, body := h.raw("POST", "/graphql", "application/json", `{"query":"{ __schema { queryType { name } } }"}`, nil)
	if status != 200 || !strings.Contains(body, `"Query"`) {
		t.Fatalf("introspection: %d %s", status, body)
	}
	status, _ = h.raw("POST", "/graphql", "application/json", `{"query":"{ __typename agencies { code } }"}`, nil)
	if status != 401 {
		t.Fatalf("mixed query without a token: %d", status)
	}
}

// Statistics now come from the counters kept as events arrive; as known at
// a time after everything they are counted entry by entry: both give the
// same rows, by London dates (an event at 23:30 UTC on 31 March in summer
// time is April's), with a date range inclusive at both ends.
func TestStatisticsCountersAgreeWithACount(t *testing.T) {
	h := startHub(t, t.TempDir())
	leakScenario(h)
	late := time.Date(2024, 3, 31, 23, 30, 0, 0, time.UTC) // 00:30 BST on 1 April
	h.publish(ev("education.concern", "education", "stat-late", late, events.Identifiers{NHSNumber: "9990000018"}))
	analyst := h.tokenFor(auth.Analyst, "")
	query := func(args string) string {
		t.Helper()
		r, body := h.as(analyst, `{ statistics(period: MONTH`+args+`) { period agency type count } }`, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("statistics%s: %s", args, body)
		}
		return body
	}
	future := time.Now().AddDate(1, 0, 0).UTC().Format(time.RFC3339)
	for _, args := range []string{"", `, from: "2024-04-01T00:00:00+01:00"`, `, to: "2024-03-31T12:00:00Z"`} {
		if kept, counted := query(args), query(args+`, asKnownAt: "`+future+`"`); kept != counted {
			t.Errorf("statistics%s\nfrom counters: %s\ncounted:       %s", args, kept, counted)
		}
	}
	if body := query(`, from: "2024-04-01T00:00:00+01:00"`); !strings.Contains(body, `"agency":"education","count":1,"period":"2024-04","type":"education.concern"`) || strings.Contains(body, `"period":"2024-03"`) {
		t.Errorf("the event at 00:30 BST on 1 April is not April's: %s", body)
	}
	if body := query(`, to: "2024-03-31T12:00:00Z"`); strings.Contains(body, `"period":"2024-04"`) {
		t.Errorf("to 31 March counts April: %s", body)
	}
}
