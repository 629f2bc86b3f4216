package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/location"
	"github.com/graphql-go/graphql/language/parser"
	"github.com/graphql-go/graphql/language/source"

	"github.com/chronicle-hub/chronicle/projections"
)

// checkDocument runs the checks the handler runs before graphql-go's
// validation rules (scan, parse, precheck) and returns the first problem,
// or "" when the document may go on to validation.
func checkDocument(t *testing.T, l Limits, query string) (msg, code string) {
	t.Helper()
	src := source.NewSource(&source.Source{Body: []byte(query)})
	if errs := l.scan(src); len(errs) > 0 {
		return errs[0].Message, errs[0].Extensions["code"].(string)
	}
	doc, err := parser.Parse(parser.ParseParams{Source: src, Options: parser.ParseOptions{NoSource: true}})
	if err != nil {
		t.Fatalf("%q does not parse: %v", query, err)
	}
	if errs := l.precheck(src, doc); len(errs) > 0 {
		return errs[0].Message, errs[0].Extensions["code"].(string)
	}
	return "", ""
}

// The documents that crashed the server (a stack overflow in graphql-go's
// OverlappingFieldsCanBeMerged) or made it spin are refused by the checks
// that run before any validation rule; the handler calls them first, so
// these documents never reach graphql-go's rules. Legitimate documents at
// the edges pass.
func TestPrechecksRefuseBeforeValidation(t *testing.T) {
	l := DefaultLimits.withDefaults()
	rep := strings.Repeat
	chain := func(n int, body string) string { // F0 spreads F1 twice, ..., F(n-1) spreads Fn twice
		var b strings.Builder
		b.WriteString("{ ...F0 }")
		for i := range n {
			fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}
		fmt.Fprintf(&b, " fragment F%d on Query { %s }", n, body)
		return b.String()
	}
	tests := []struct {
		name, query, code, contains string
	}{
		{"the reported crash", "{ __schema { ...A } } fragment A on __Schema { ...B } fragment B on __Schema { ...A }", codeInvalid, "fragment A spreads itself: A → B → A"},
		{"a fragment spreading itself", "{ ...A } fragment A on Query { __typename ...A }", codeInvalid, "fragment A spreads itself: A → A"},
		{"a cycle reached through an inline fragment and a field", "{ ...A } fragment A on Query { ... on Query { agencies { ...B } } } fragment B on Agency { ...C } fragment C on Agency { code ...B }", codeInvalid, "fragment B spreads itself: B → C → B"},
		{"a cycle in a fragment no operation uses", "{ __typename } fragment A on Query { ...B } fragment B on Query { ...A }", codeInvalid, "fragment A spreads itself: A → B → A"},
		{"a cycle hidden behind a second definition of the same name", "{ ...A } fragment A on Query { __typename } fragment A on Query { ...A }", codeInvalid, "fragment A is defined more than once"},
		{"unknown fragment", "{ ...Nowhere }", codeInvalid, "unknown fragment Nowhere"},
		// graphql-go parses these with no type, and its validation panics on them.
		{"a variable with no type", `query($A:){ __typename }`, codeInvalid, "a variable definition needs a name and a type"},
		{"a variable with no type after a good one", `query($a: ID, $b:){ __typename }`, codeInvalid, "a variable definition needs a name and a type"},
		{"brackets", "{ __typename(x:" + rep("[", 33) + rep("]", 33) + ") }", codeTooLarge, "nests brackets, braces or parentheses more than 32 deep"},
		{"input objects", "{ __typename(x:" + rep("{a:", 32) + "1" + rep("}", 32) + ") }", codeTooLarge, "more than 32 deep"},
		{"selections", rep("{ a ", 33) + rep("}", 33), codeTooLarge, "more than 32 deep"},
		{"selections nested through fragments", "{ ...C0 } fragment C0 on Query { a { b { ...C1 } } } fragment C1 on Query { a { b { ...C2 } } }" +
			" fragment C2 on Query {" + rep(" x {", 29) + " y" + rep(" }", 29) + " }", codeTooLarge, "selections nest 34 deep once fragments are followed; the limit is 32"},
		{"fragments doubling to 2^30 fields", chain(30, "__typename"), codeTooLarge, "more than 1000 fields once fragments are expanded"},
		{"fragments doubling to 2^62 fields do not overflow the count", chain(38, "__typename"), codeTooLarge, "more than 1000 fields"},
		{"one field a thousand and one times", "{" + rep(" __typename", 1001) + " }", codeTooLarge, "more than 1000 fields"},
		{"tokens", "{ __typename(" + rep("a:1 ", 1334) + ") }", codeTooLarge, "more than 4000 tokens"},
		{"bytes", "#" + rep(" ", 32<<10) + "\n{ __typename }", codeTooLarge, "bytes; the limit is 32768"},
		{"definitions", "{ __typename }" + rep(" fragment F on Query { __typename }", 40), codeTooLarge, "41 definitions"},
		{"depth, as before", "{ child { chronology { edges { node {" + rep(" history {", 10) + " id" + rep(" }", 10) + " } } } } }", codeTooLarge, "15 levels deep; the limit is 12"},
		{"introspection depth through a fragment", "{ __type(name: \"Query\") { ...T } } fragment T on __Type {" + rep(" ofType {", 15) + " name" + rep(" }", 15) + " }", codeTooLarge, "introspection is 17 levels deep"},

		{"brackets inside strings, block strings and comments are not nesting", "{ children(filter: {name: \"" + rep("[{(", 40) + "\\\"\"}) { totalCount } } # " + rep("[", 40) + "\n" +
			"query Q { agencies(x: \"\"\"" + rep("{[", 40) + " \\\"\"\" still in the block string \"\"\") { code } }", "", ""},
		{"30 brackets: 32 deep with the brace and the parenthesis", "{ __typename(x:" + rep("[", 30) + rep("]", 30) + ") }", "", ""},
		{"a fragment used many times is measured once", "{ a: agencies { ...A } b: agencies { ...A } c: agencies { ...A } } fragment A on Agency { code name }", "", ""},
		{"one field a thousand times", "{" + rep(" __typename", 1000) + " }", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, code := checkDocument(t, l, tt.query)
			if code != tt.code || !strings.Contains(msg, tt.contains) {
				t.Fatalf("got %s %q, want %s containing %q", code, msg, tt.code, tt.contains)
			}
		})
	}
}

// The token count is a limit, not an approximation: MaxTokens tokens pass
// and one more does not, strings and comments counting once and not at
// all.
func TestScanCountsTokens(t *testing.T) {
	l := DefaultLimits.withDefaults()
	l.MaxTokens = 10
	for _, tt := range []struct {
		query string
		ok    bool
	}{
		{`{ a(x: "many words in one string") }`, true},              // { a ( x : "..." ) } = 8
		{`{ a(x: "s", y: 1) }`, false},                              // 11
		{"{ a # a comment with many words\n b c d e f g h }", true}, // 10
		{"{ a b c d e f g h i }", false},                            // 11
	} {
		msg, _ := checkDocument(t, l, tt.query)
		if (msg == "") != tt.ok {
			t.Errorf("%q: %q, want passing %v", tt.query, msg, tt.ok)
		}
	}
}

// locate gives graphql-go's errors the line and column graphql-go's own
// location.GetLocation would have, at every position, with any line ends.
func TestLocateAgreesWithGraphQLGo(t *testing.T) {
	text := "{\n  a\r\n  b\r  c\n\n}\r"
	src := source.NewSource(&source.Source{Body: []byte(text)})
	l := newLines(src.Body)
	for pos := range len(text) {
		if pos > 0 && text[pos-1:pos+1] == "\r\n" {
			continue // inside one line end, where no token starts (and GetLocation says column 0)
		}
		if got, want := l.at(pos), location.GetLocation(src, pos); got != want {
			t.Errorf("position %d: %+v, want %+v", pos, got, want)
		}
	}
}

// A field resolves to the context's error, without its resolver running,
// once the request's context has ended: execution abandoned by Execute
// (a client gone, a deadline passed, a server shutting down) stops there.
func TestResolversStopWhenTheContextEnds(t *testing.T) {
	schema, err := NewSchema(projections.NewModel(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	agencies := schema.QueryType().Fields()["agencies"]
	live, err := agencies.Resolve(graphql.ResolveParams{Context: context.Background()})
	if err != nil || live == nil {
		t.Fatalf("live context: %v %v", live, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if v, err := agencies.Resolve(graphql.ResolveParams{Context: ctx}); !errors.Is(err, context.Canceled) || v != nil {
		t.Fatalf("cancelled context: %v %v, want context.Canceled", v, err)
	}
	// Fields without a resolver of their own stop too.
	for name, typ := range schema.TypeMap() {
		obj, ok := typ.(*graphql.Object)
		if !ok || strings.HasPrefix(name, "__") {
			continue
		}
		for fname, f := range obj.Fields() {
			if _, err := f.Resolve(graphql.ResolveParams{Context: ctx}); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s.%s ran after its context ended: %v", name, fname, err)
			}
		}
	}
}
