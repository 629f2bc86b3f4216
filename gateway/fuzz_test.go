package gateway_test

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// FuzzGraphQL sends arbitrary documents, and arbitrary bodies, to
// /graphql of a running app (real JetStream, one child's records), without
// a token, with a manager's, or with one that does not verify, and asks of
// every answer what a client and an operator rely on: it comes (nothing
// hangs or kills the process: a stack overflow would end the fuzzing
// worker), its status is one the handler gives on purpose (never 500, the
// status of a recovered panic), its body is a GraphQL response in JSON,
// and the server still answers a trivial query afterwards.
//
// Seeds: testdata/fuzz/FuzzGraphQL holds the documents of issue 10 (a
// cyclic pair of fragments, 8,000 and 20,000 nested brackets, 6,000
// nested selections, fragments doubling thirty times, a storm of
// errors, a garbage token on introspection, bodies that are not requests),
// and the seeds added below are real queries from the tests and the
// README. `task fuzz` runs it; CI runs it for 20 s.
//
// Run as a plain test, the seeds go through a child process (runIsolated),
// so that a document that crashes the server fails this test instead of
// killing the test binary; fuzzing isolates its workers itself.
func FuzzGraphQL(f *testing.F) {
	if os.Getenv(isolatedEnv) == "" && flag.Lookup("test.fuzz").Value.String() == "" {
		runIsolated(f, "FuzzGraphQL", "")
		f.Skip("the seed corpus passed in a child process")
	}
	// The server's errors (a recovered panic's stack among them) are kept,
	// so that a failing input says where it failed, not only that it did.
	var errLog jstest.Buffer
	h := startHubLogging(f, f.TempDir(), slog.New(slog.NewTextHandler(&errLog, &slog.HandlerOptions{Level: slog.LevelError})))
	oneChildFromThreeAgencies(h)
	manager := h.tokenFor(auth.Manager, "hub")

	for _, q := range []string{
		graphiqlIntrospection(),
		`{ __schema { queryType { name } } }`,
		`{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { id names identifiers { scheme value }
		   chronology(first: 5, agencies: ["police", "health", "education"]) { totalCount edges { cursor node { occurredAt agency type summary reliability sensitivity redacted details { name value meaning } history { summary } } } pageInfo { hasNextPage endCursor } }
		   riskFlags { code title reason severity evidence { id type summary redacted } } } }`,
		`query($id: ID!) { event(id: $id) { id type summary } }`,
		`{ children(filter: {name: "Sam"}, first: 10) { totalCount nodes { id names } } }`,
		`{ flaggedChildren(codes: ["REPEAT_MISSING"]) { totalCount nodes { child { names } flags { code reason } } } }`,
		`{ accessLog(first: 100) { nodes { action subject role purpose childId } } myAccessLog { totalCount } }`,
		`{ statistics(period: MONTH) { period agency type count } agencies { code name } eventTypes { type title } riskRules { code } }`,
		`mutation($a: IdentifierInput!, $b: IdentifierInput!) { linkChildren(a: $a, b: $b, reason: "same child") { id } }`,
		`query A { agencies { code } } query B { __typename }`,
		`{ child(id: "x") { chronology { edges { node { history { history { id } } } } } } }`,
	} {
		for tok := range uint8(3) {
			f.Add(tok, q, []byte(nil))
		}
	}
	f.Add(uint8(1), "", []byte(`{"query":"query($s: IdentifierScheme!, $v: String!) { child(identifier: {scheme: $s, value: $v}) { id } }","variables":{"s":"NHS_NUMBER","v":"9990000018"}}`))
	f.Add(uint8(4), "", []byte(`{"query":"{ children(first: 0) { totalCount } }"}`))

	f.Fuzz(func(t *testing.T, who uint8, query string, body []byte) {
		if len(body) == 0 {
			body, _ = json.Marshal(map[string]string{"query": query})
		}
		req, err := http.NewRequest(http.MethodPost, "http://"+h.app.HTTPAddr()+"/graphql", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		switch who % 3 {
		case 1:
			req.Header.Set("Authorization", "Bearer "+manager)
			req.Header.Set("Chronicle-Purpose", "mash_enquiry")
		case 2: // a token that does not verify, made of the document's characters a token may hold
			garbage := strings.Map(func(r rune) rune {
				if r < 128 && (r == '.' || r == '-' || r == '_' || isAlnum(byte(r))) {
					return r
				}
				return -1
			}, query[:min(len(query), 60)])
			req.Header.Set("Authorization", "Bearer x"+garbage)
		}
		if who&4 != 0 {
			req.Header.Set("Accept", "application/json")
		}
		// Not a bound on time, which a loaded machine cannot promise: a
		// guard against a request that never ends. The request timeout is
		// 30 s.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		resp, err := http.DefaultClient.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("answer cut short: %v", err)
		}
		switch resp.StatusCode {
		case 200, 400, 401, 403, 405, 408, 413, 415:
		default:
			t.Fatalf("status %d: %.400s\nserver errors:\n%s", resp.StatusCode, raw, errLog.String())
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") && !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("content type %q", ct)
		}
		var answer map[string]json.RawMessage
		if err := json.Unmarshal(raw, &answer); err != nil {
			t.Fatalf("answer is not a JSON object: %v: %.400s", err, raw)
		}
		_, data := answer["data"]
		_, errs := answer["errors"]
		if !data && !errs {
			t.Fatalf("answer has neither data nor errors: %.400s", raw)
		}
		if resp.StatusCode != 200 && data {
			t.Fatalf("status %d with data: %.400s", resp.StatusCode, raw)
		}
		h.healthy(t)
	})
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
