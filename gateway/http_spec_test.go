package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
)

// graphiqlIntrospection is the query the embedded GraphiQL (3.8.3) sends
// for its documentation pane: graphql-js's getIntrospectionQuery with
// GraphiQL's options (descriptions on; schema description and input value
// deprecation off). Its TypeRef fragment, `kind name ofType { kind name
// ofType { ... } }` nine levels down, is built rather than written out.
func graphiqlIntrospection() string {
	return `
    query IntrospectionQuery {
      __schema {
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types {
          ...FullType
        }
        directives {
          name
          description
          locations
          args {
            ...InputValue
          }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      fields(includeDeprecated: true) {
        name
        description
        args {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
    }

    fragment TypeRef on __Type {
      kind
      name` +
		strings.Repeat(" ofType { kind name", 9) + strings.Repeat(" }", 9) + "\n    }\n"
}

// exchange is one answer as it was sent: status, content type, and the
// body's top-level entries, so a test can tell an absent "data" from a
// null one.
type exchange struct {
	status      int
	contentType string
	body        string
	top         map[string]json.RawMessage
	errors      []struct {
		Message    string          `json:"message"`
		Locations  json.RawMessage `json:"locations"`
		Extensions map[string]any  `json:"extensions"`
	}
}

// exchangeWith POSTs body to url with the given headers and fails the test
// unless the answer is a JSON object.
func exchangeWith(t testing.TB, url, body string, headers map[string]string) exchange {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	x := exchange{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: string(raw)}
	if err := json.Unmarshal(raw, &x.top); err != nil {
		t.Fatalf("answer is not a JSON object (%d): %.300s", resp.StatusCode, raw)
	}
	if e, ok := x.top["errors"]; ok {
		if err := json.Unmarshal(e, &x.errors); err != nil {
			t.Fatalf("errors: %v", err)
		}
	}
	return x
}

// check fails the test unless x has the status, the media type, an "errors"
// entry whose first error has the code and contains the text (when code is
// not empty), a "data" entry exactly when data is true, and no error with
// null or empty locations.
func (x exchange) check(t testing.TB, status int, media string, data bool, code, contains string) {
	t.Helper()
	if x.status != status || !strings.HasPrefix(x.contentType, media) {
		t.Fatalf("%d %s, want %d %s: %.400s", x.status, x.contentType, status, media, x.body)
	}
	if _, ok := x.top["data"]; ok != data {
		t.Fatalf("data entry present: %v, want %v: %.400s", ok, data, x.body)
	}
	if code != "" && (len(x.errors) == 0 || x.errors[0].Extensions["code"] != code || !strings.Contains(x.errors[0].Message, contains)) {
		t.Fatalf("want error %s containing %q: %.400s", code, contains, x.body)
	}
	for _, e := range x.errors {
		if e.Locations != nil && (string(e.Locations) == "null" || string(e.Locations) == "[]") {
			t.Fatalf("error with locations %s: %.400s", e.Locations, x.body)
		}
	}
}

func body(query string, vars any) string {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return string(b)
}

// Introspection needs no token, so GraphiQL's documentation loads before
// one is pasted, but it is bounded: aliases count, depth has its own
// limit that GraphiQL's own query fits, a request may ask for the schema
// only twice, and lists may not nest deeper than GraphiQL's query does.
func TestIntrospectionIsPublicButBounded(t *testing.T) {
	h := startHub(t, t.TempDir())
	url := "http://" + h.app.HTTPAddr() + "/graphql"
	// What GraphiQL sends before a token is pasted: no Authorization, as the
	// page leaves its placeholder out (sent, it would be refused: see
	// TestRefusedRequests).
	graphiql := map[string]string{"Accept": "*/*", "Chronicle-Purpose": "mash_enquiry"}

	std, _ := json.Marshal(map[string]any{"query": graphiqlIntrospection(), "operationName": "IntrospectionQuery"})
	x := exchangeWith(t, url, string(std), graphiql)
	x.check(t, 200, "application/graphql-response+json", true, "", "")
	var got struct {
		Data struct {
			Schema struct {
				QueryType struct{ Name string }
				Types     []struct{ Name string }
			} `json:"__schema"`
		}
	}
	if err := json.Unmarshal([]byte(x.body), &got); err != nil || got.Data.Schema.QueryType.Name != "Query" || len(got.Data.Schema.Types) < 10 || len(x.errors) > 0 {
		t.Fatalf("GraphiQL's introspection: %v %.400s", err, x.body)
	}

	var aliased strings.Builder
	for i := range 40 {
		fmt.Fprintf(&aliased, " s%d: __schema { types { name description fields { name description } } }", i)
	}
	// A caller with a token may mix introspection into other queries (and
	// spread it from fragments), and is held to the same bounds.
	token := map[string]string{"Authorization": "Bearer " + h.token, "Chronicle-Purpose": "mash_enquiry"}
	tests := []struct {
		name     string
		query    string
		headers  map[string]string
		contains string
	}{
		{"aliased __schema", "{" + aliased.String() + " }", graphiql, "aliases"},
		{"__schema and __type three times", "{ a: __schema { types { name } } b: __schema { types { name } } c: __type(name: \"Query\") { name } }", graphiql, "__schema or __type 3 times"},
		{"__schema spread from a fragment", "query { ...S ...S agencies { code } a: __type(name: \"Child\") { name } } fragment S on Query { __schema { types { name } } }", token, "__schema or __type 3 times"},
		{"deep ofType", "{ __type(name: \"Query\") {" + strings.Repeat(" ofType {", 15) + " name" + strings.Repeat(" }", 15) + " } }", graphiql, "introspection is 17 levels deep"},
		{"walking the schema's graph", "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }", graphiql, "nests 4 lists"},
		{"walking the graph from __type", "{ agencies { code } __type(name: \"Child\") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }", token, "nests 4 lists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchangeWith(t, url, body(tt.query, nil), tt.headers)
			x.check(t, 400, "application/graphql-response+json", false, "TOO_LARGE", tt.contains)
		})
	}
}

// Request errors (no "data" entry, 400 with application/graphql-response+json
// and 200 with application/json for well-formed requests) are told apart
// from executed requests ("data" always present, null when a non-null root
// field failed), as the GraphQL over HTTP specification asks.
func TestGraphQLOverHTTPResponses(t *testing.T) {
	h := startHub(t, t.TempDir())
	oneChildFromThreeAgencies(h)
	url := "http://" + h.app.HTTPAddr() + "/graphql"
	const (
		modern = "application/graphql-response+json"
		legacy = "application/json"
	)
	byChild := `query($s: IdentifierScheme!, $v: String!) { child(identifier: {scheme: $s, value: $v}) { id } }`
	tests := []struct {
		name     string
		body     string
		accept   string
		status   int
		data     bool
		code     string
		contains string
	}{
		{"variable of the wrong type", body(`query($first: Int) { children(first: $first) { totalCount } }`, map[string]any{"first": "ten"}), modern, 400, false, "INVALID", `"$first" got invalid value`},
		{"variable of the wrong type, legacy", body(`query($first: Int) { children(first: $first) { totalCount } }`, map[string]any{"first": "ten"}), legacy, 200, false, "INVALID", `"$first" got invalid value`},
		{"required variable missing", body(`query($id: ID!) { child(id: $id) { id } }`, nil), modern, 400, false, "INVALID", "was not provided"},
		{"required variable null", body(`query($id: ID!) { child(id: $id) { id } }`, map[string]any{"id": nil}), modern, 400, false, "INVALID", "was not provided"},
		{"unknown enum value", body(byChild, map[string]any{"s": "PASSPORT", "v": "x"}), modern, 400, false, "INVALID", `"$s" got invalid value`},
		{"variables not an object", `{"query":"{ agencies { code } }","variables":[7]}`, modern, 400, false, "INVALID", "variables: must be a JSON object"},
		{"variables not an object, legacy", `{"query":"{ agencies { code } }","variables":"{}"}`, legacy, 400, false, "INVALID", "variables: must be a JSON object"},
		{"no query: no locations", `{"variables":{}}`, modern, 400, false, "INVALID", "required"},
		{"operation not determined, legacy", `{"query":"query A { agencies { code } } query B { agencies { code } }"}`, legacy, 200, false, "INVALID", "operationName"},
		{"good variables execute", body(byChild, map[string]any{"s": "NHS_NUMBER", "v": "9990000018"}), modern, 200, true, "", ""},
		{"non-null root field failed: data null", body(`{ children(first: 0) { totalCount } }`, nil), modern, 200, true, "INVALID", "at least 1"},
		{"non-null root field failed, legacy", body(`{ children(first: 0) { totalCount } }`, nil), legacy, 200, true, "INVALID", "at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchangeWith(t, url, tt.body, map[string]string{"Accept": tt.accept, "Authorization": "Bearer " + h.token, "Chronicle-Purpose": "mash_enquiry"})
			x.check(t, tt.status, tt.accept, tt.data, tt.code, tt.contains)
			if tt.name == "good variables execute" && !strings.Contains(x.body, `"child":{"id":`) {
				t.Fatalf("no child: %s", x.body)
			}
			if strings.HasPrefix(tt.name, "non-null root field failed") && string(x.top["data"]) != "null" {
				t.Fatalf("data %s, want null", x.top["data"])
			}
		})
	}
}

// A request still going when the handler's timeout passes is answered 503
// TIMEOUT, with no data. The timeout is a nanosecond, so the deadline has
// passed before the body is read and the test does not depend on how fast
// anything is.
func TestRequestOverTimeoutIsRefused(t *testing.T) {
	query := body(`{ agencies { code } }`, nil)
	for _, tt := range []struct {
		name   string
		opts   []gateway.GraphQLOption
		status int
		code   string
	}{
		{"default timeout", nil, 200, ""},
		{"a nanosecond", []gateway.GraphQLOption{gateway.WithTimeout(time.Nanosecond)}, 503, "TIMEOUT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, token := graphqlServer(t, tt.opts...)
			x := exchangeWith(t, "http://"+addr+"/graphql", query, map[string]string{"Authorization": "Bearer " + token, "Chronicle-Purpose": "mash_enquiry"})
			x.check(t, tt.status, "application/graphql-response+json", tt.status == 200, tt.code, "took longer than 1ns")
		})
	}
}
