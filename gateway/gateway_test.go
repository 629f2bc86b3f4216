package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

type hub struct {
	t     testing.TB
	app   *app.App
	dir   string
	token string // sent with every request unless a test says otherwise
}

func startHub(t testing.TB, dir string) *hub {
	t.Helper()
	return startHubLogging(t, dir, nil)
}

// startHubLogging is startHub with the app's logs sent to log (nil
// discards them).
func startHubLogging(t testing.TB, dir string, log *slog.Logger) *hub {
	t.Helper()
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true, Logger: log})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	tok, err := a.IssueToken("mgr-1", "Morgan Manager (synthetic)", auth.Manager, "hub", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &hub{t: t, app: a, dir: dir, token: tok}
}

// tokenFor issues a token for a role and agency.
func (h *hub) tokenFor(role auth.Role, agency string) string {
	h.t.Helper()
	tok, err := h.app.IssueToken("u-"+string(role)+"-"+agency, "Synthetic "+string(role), role, agency, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// publish validates and publishes events from any agencies through the
// app's publisher (the HTTP ingest API takes one agency per token; its own
// tests are in services/ingest and auth_test.go) and waits until the
// projector has applied them.
func (h *hub) publish(evs ...*events.Event) {
	h.t.Helper()
	body, _ := json.Marshal(evs)
	resp, err := ingest.PublishBody(context.Background(), h.app.Publisher(), body)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.Accepted+resp.Duplicates != len(evs) {
		h.t.Fatalf("ingest: %+v", resp)
	}
	h.settle()
}

func (h *hub) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.app.Projector().WaitForLatest(ctx); err != nil {
		h.t.Fatal(err)
	}
}

type gqlResponse struct {
	status      int
	contentType string
	Data        map[string]any `json:"data"`
	Errors      []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (h *hub) query(q string, vars map[string]any) gqlResponse {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return h.post("application/json", string(body), "")
}

func (h *hub) post(contentType, body, accept string) gqlResponse {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.app.HTTPAddr()+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return h.do(req)
}

// authorise adds the hub's token and a purpose of access to a request
// that has none.
func (h *hub) authorise(req *http.Request) {
	if req.Header.Get("Authorization") == "" && h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	if req.Header.Get("Chronicle-Purpose") == "" {
		req.Header.Set("Chronicle-Purpose", "mash_enquiry")
	}
}

func (h *hub) do(req *http.Request) gqlResponse {
	h.t.Helper()
	h.authorise(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := gqlResponse{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if err := json.Unmarshal(raw, &out); err != nil {
		h.t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out
}

// ev builds a valid event about the child with the given identifiers.
func ev(typ events.Type, agency, ref string, occurred time.Time, ids events.Identifiers) *events.Event {
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	e.Agency, e.SourceRef = agency, ref
	e.Subjects = []events.Subject{{Identifiers: ids, Name: "Sam Synthetic", DateOfBirth: "2013-05-02"}}
	e.OccurredAt, e.RecordedAt = occurred, occurred.Add(2*time.Hour)
	e.ID = events.DeriveID(e)
	return e
}

func at(month, d int) time.Time { return time.Date(2024, time.Month(month), d, 9, 30, 0, 0, time.UTC) }

// oneChildFromThreeAgencies publishes, out of order, events about one
// child from health (NHS number), education (UPN with NHS number) and police
// (police id with NHS number).
func oneChildFromThreeAgencies(h *hub) []*events.Event {
	nhs := events.Identifiers{NHSNumber: "9990000018"}
	school := events.Identifiers{NHSNumber: "9990000018", UPN: "B801200005001"}
	police := events.Identifiers{NHSNumber: "9990000018", PolicePersonID: "PP-1"}
	evs := []*events.Event{
		ev("police.notification", "police", "p1", at(5, 2), police),
		ev("health.concern", "health", "h1", at(1, 15), nhs),
		ev("education.concern", "education", "e1", at(3, 9), school),
		ev("health.ed_attendance", "health", "h2", at(3, 9), nhs), // same time as e1, published later
		ev("police.incident", "police", "p2", at(2, 1), police),
		ev("education.exclusion", "education", "e2", at(6, 20), school),
		ev("missing.reported", "police", "p3", at(4, 4), police),
	}
	h.publish(evs[:4]...)
	h.publish(evs[4:]...)
	return evs
}

const chronologyQuery = `query($scheme: IdentifierScheme!, $value: String!, $first: Int, $after: String) {
  child(identifier: {scheme: $scheme, value: $value}) {
    id
    identifiers { scheme value establishedBy }
    chronology(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id type agency summary occurredAt receivedAt details { name value meaning } } }
    }
  }
}`

func TestChronologyInOccurredOrderWithPagination(t *testing.T) {
	h := startHub(t, t.TempDir())
	evs := oneChildFromThreeAgencies(h)
	want := []string{evs[1].ID, evs[4].ID, evs[2].ID, evs[3].ID, evs[6].ID, evs[0].ID, evs[5].ID}

	var got []string
	var after any
	childID := ""
	for page := 0; page < 10; page++ {
		r := h.query(chronologyQuery, map[string]any{"scheme": "UPN", "value": "B801200005001", "first": 3, "after": after})
		if r.status != 200 || len(r.Errors) > 0 {
			t.Fatalf("status %d errors %+v", r.status, r.Errors)
		}
		c := r.Data["child"].(map[string]any)
		if childID == "" {
			childID = c["id"].(string)
			if n := len(c["identifiers"].([]any)); n != 3 {
				t.Fatalf("child has %d identifiers, want NHS, UPN and police id", n)
			}
		}
		chron := c["chronology"].(map[string]any)
		if int(chron["totalCount"].(float64)) != 7 {
			t.Fatalf("totalCount %v", chron["totalCount"])
		}
		for _, e := range chron["edges"].([]any) {
			got = append(got, e.(map[string]any)["node"].(map[string]any)["id"].(string))
		}
		pi := chron["pageInfo"].(map[string]any)
		if pi["hasPreviousPage"].(bool) != (page > 0) {
			t.Fatalf("page %d hasPreviousPage %v", page, pi["hasPreviousPage"])
		}
		if !pi["hasNextPage"].(bool) {
			break
		}
		after = pi["endCursor"]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order\n got %v\nwant %v", got, want)
	}
	// Every identifier scheme finds the same child.
	for _, k := range [][2]string{{"NHS_NUMBER", "9990000018"}, {"POLICE_PERSON_ID", "PP-1"}} {
		r := h.query(chronologyQuery, map[string]any{"scheme": k[0], "value": k[1], "first": 1})
		if id := r.Data["child"].(map[string]any)["id"]; id != childID {
			t.Fatalf("%s finds %v, want %s", k[0], id, childID)
		}
	}
}

// A stopped and restarted hub resumes from its snapshot and its read model
// is identical to one built by a fresh full replay of the stream.
func TestRestartResumesWithIdenticalModel(t *testing.T) {
	dir := t.TempDir()
	h := startHub(t, dir)
	oneChildFromThreeAgencies(h)
	before := h.app.Model().Digest()
	if err := h.app.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := startHub(t, dir)
	h2.settle()
	h2.publish(ev("housing.concern", "housing", "x1", at(7, 1), events.Identifiers{NHSNumber: "9990000018"}))
	res, err := runner.Replay(context.Background(), h2.app.JetStream(), eventlog.EventsStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h2.app.Model().Digest(), res.Model.Digest(); got != want {
		t.Fatal("resumed model differs from a fresh replay")
	}
	if h2.app.Model().Digest() == before {
		t.Fatal("the event published after the restart changed nothing")
	}
}

func TestGraphQLErrorPaths(t *testing.T) {
	h := startHub(t, t.TempDir())
	oneChildFromThreeAgencies(h)
	deep := "{ child(id: \"x\") { chronology { edges { node {" + strings.Repeat(" history {", 10) + " id" + strings.Repeat(" }", 10) + " } } } } }"
	tests := []struct {
		name     string
		body     string
		ctype    string
		accept   string
		status   int
		code     string
		contains string
	}{
		{"bad cursor", `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000018\"}) { chronology(after:\"bm9wZQ\") { totalCount } } }"}`, "application/json", "", 200, "INVALID", "is not a cursor"},
		{"unknown child", `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000026\"}) { id } }"}`, "application/json", "", 200, "NOT_FOUND", "no child"},
		{"bad identifier", `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000017\"}) { id } }"}`, "application/json", "", 200, "INVALID", "check digit does not match"},
		{"neither id nor identifier", `{"query":"{ child { id } }"}`, "application/json", "", 200, "INVALID", "exactly one"},
		{"page too large", `{"query":"{ children(first: 5000) { totalCount } }"}`, "application/json", "", 200, "TOO_LARGE", "largest page"},
		{"page too small", `{"query":"{ children(first: 0) { totalCount } }"}`, "application/json", "", 200, "INVALID", "at least 1"},
		{"unknown agency filter", `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000018\"}) { chronology(agencies:[\"mi5\"]) { totalCount } } }"}`, "application/json", "", 200, "INVALID", "mi5"},
		{"too deep", `{"query":` + jsonString(deep) + `}`, "application/json", "", 400, "TOO_LARGE", "levels deep"},
		{"too complex", `{"query":"{ children(first: 1000) { nodes { chronology(first: 1000) { totalCount } } } }"}`, "application/json", "", 400, "TOO_LARGE", "could resolve"},
		{"syntax error", `{"query":"{ child( }"}`, "application/json", "", 400, "GRAPHQL_VALIDATION_FAILED", "Syntax Error"},
		{"unknown field", `{"query":"{ nope }"}`, "application/json", "", 400, "GRAPHQL_VALIDATION_FAILED", "Cannot query field"},
		{"unknown field, legacy json", `{"query":"{ nope }"}`, "application/json", "application/json", 200, "GRAPHQL_VALIDATION_FAILED", "Cannot query field"},
		{"malformed body", `{"query": `, "application/json", "", 400, "INVALID", "malformed JSON"},
		{"no query", `{"variables":{}}`, "application/json", "", 400, "INVALID", "required"},
		{"batch", `[{"query":"{ agencies { code } }"}]`, "application/json", "", 400, "INVALID", "batched"},
		{"wrong content type", `query { agencies { code } }`, "text/plain", "", 415, "UNSUPPORTED_MEDIA_TYPE", "application/json"},
		{"not acceptable", `{"query":"{ agencies { code } }"}`, "application/json", "text/csv", 406, "NOT_ACCEPTABLE", "accept"},
		{"two operations unnamed", `{"query":"query A { agencies { code } } query B { agencies { code } }"}`, "application/json", "", 400, "INVALID", "operationName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(tt.ctype, tt.body, tt.accept)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%+v)", r.status, tt.status, r.Errors)
			}
			if len(r.Errors) == 0 {
				t.Fatal("no errors")
			}
			if r.Errors[0].Extensions["code"] != tt.code || !strings.Contains(r.Errors[0].Message, tt.contains) {
				t.Fatalf("error %+v, want code %s containing %q", r.Errors[0], tt.code, tt.contains)
			}
			wantType := "application/graphql-response+json"
			if tt.accept == "application/json" {
				wantType = "application/json"
			}
			if tt.status != 406 && !strings.HasPrefix(r.contentType, wantType) {
				t.Fatalf("content type %q", r.contentType)
			}
		})
	}
}

func TestGETQueriesGraphiQLAndNoMutationsOverGET(t *testing.T) {
	h := startHub(t, t.TempDir())
	base := "http://" + h.app.HTTPAddr() + "/graphql"
	req, _ := http.NewRequest(http.MethodGet, base+"?query="+url.QueryEscape("{ eventTypes { type title } agencies { code } }"), nil)
	r := h.do(req)
	if r.status != 200 || len(r.Data["eventTypes"].([]any)) != len(events.Catalogue()) {
		t.Fatalf("GET query: %d %+v", r.status, r.Errors)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"?query="+url.QueryEscape("mutation { x }"), nil)
	if r := h.do(req); r.status != 405 {
		t.Fatalf("mutation over GET: %d", r.status)
	}
	if page, ctype := h.graphiqlPage(); !strings.Contains(page, "graphiql.min.js") || !strings.HasPrefix(ctype, "text/html") {
		t.Fatal("no GraphiQL page for a browser")
	}
	resp, err := http.Get("http://" + h.app.HTTPAddr() + "/graphiql/graphiql.min.js")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GraphiQL asset: %v %v", err, resp.Status)
	}
	resp.Body.Close()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Every chronology filter and every children filter selects what it says,
// checked against the exact entries and children expected (a filter that
// matched nothing would fail here, not pass).
func TestFiltersSelectWhatTheySay(t *testing.T) {
	h := startHub(t, t.TempDir())
	evs := oneChildFromThreeAgencies(h)
	other := ev("education.concern", "education", "o1", at(2, 2), events.Identifiers{NHSNumber: "9990000026"})
	other.Subjects[0].Name, other.Subjects[0].DateOfBirth = "Alex Otherchild", "2012-01-09"
	other.ID = events.DeriveID(other)
	h.publish(other)
	// idsOf lists the events of the given types, in the order given (each
	// type occurs once in the scenario).
	idsOf := func(types ...events.Type) []string {
		var out []string
		for _, typ := range types {
			for _, e := range evs {
				if e.Type == typ {
					out = append(out, e.ID)
				}
			}
		}
		return out
	}
	chron := `query($from: DateTime, $to: DateTime, $agencies: [String!], $types: [String!]) {
	  child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) {
	    chronology(from: $from, to: $to, agencies: $agencies, types: $types) { totalCount nodes { id } } } }`
	for _, tt := range []struct {
		name string
		vars map[string]any
		want []string // event ids, in chronology order
	}{
		{"from", map[string]any{"from": at(4, 4).Format(time.RFC3339)}, idsOf("missing.reported", "police.notification", "education.exclusion")},
		{"to", map[string]any{"to": at(2, 1).Format(time.RFC3339)}, idsOf("health.concern", "police.incident")},
		{"from and to", map[string]any{"from": at(3, 1).Format(time.RFC3339), "to": at(3, 31).Format(time.RFC3339)}, idsOf("education.concern", "health.ed_attendance")},
		{"agencies", map[string]any{"agencies": []string{"health"}}, idsOf("health.concern", "health.ed_attendance")},
		{"types", map[string]any{"types": []string{"police.incident", "education.exclusion"}}, idsOf("police.incident", "education.exclusion")},
		{"agencies and types", map[string]any{"agencies": []string{"police"}, "types": []string{"missing.reported", "health.concern"}}, idsOf("missing.reported")},
	} {
		t.Run("chronology "+tt.name, func(t *testing.T) {
			data := h.ok(chron, tt.vars)
			var got []string
			for _, n := range get(data, "child", "chronology", "nodes").([]any) {
				got = append(got, n.(map[string]any)["id"].(string))
			}
			if !slices.Equal(got, tt.want) || get(data, "child", "chronology", "totalCount") != float64(len(tt.want)) {
				t.Fatalf("got %v (total %v), want %v", got, get(data, "child", "chronology", "totalCount"), tt.want)
			}
		})
	}

	sam := get(h.ok(`{ child(identifier: {scheme: UPN, value: "B801200005001"}) { id } }`, nil), "child", "id")
	alex := get(h.ok(`{ child(identifier: {scheme: NHS_NUMBER, value: "9990000026"}) { id } }`, nil), "child", "id")
	for _, tt := range []struct {
		name, filter string
		want         []any
	}{
		{"name, any case, part of it", `{name: "sYNTH"}`, []any{sam}},
		{"other name", `{name: "otherchild"}`, []any{alex}},
		{"date of birth", `{dateOfBirth: "2012-01-09"}`, []any{alex}},
		{"identifier of another scheme than looked up", `{identifier: {scheme: POLICE_PERSON_ID, value: "PP-1"}}`, []any{sam}},
		{"name and date of birth must both hold", `{name: "Sam", dateOfBirth: "2012-01-09"}`, nil},
	} {
		t.Run("children "+tt.name, func(t *testing.T) {
			data := h.ok(`{ children(filter: `+tt.filter+`) { totalCount nodes { id } } }`, nil)
			var got []any
			for _, n := range get(data, "children", "nodes").([]any) {
				got = append(got, n.(map[string]any)["id"])
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
