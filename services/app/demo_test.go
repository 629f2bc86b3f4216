package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// With the demo loaded, GraphiQL opens on the example child, so that a
// newcomer who pastes a token and presses run sees a chronology; a store
// loaded again keeps it; without the demo the public page names nobody.
func TestGraphiQLOpensOnTheDemoChild(t *testing.T) {
	page := func(addr string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/graphql", nil)
		req.Header.Set("Accept", "text/html")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	dir := t.TempDir()
	a := start(t, dir)
	if p := page(a.HTTPAddr()); !strings.Contains(p, `value: "9990000018"`) {
		t.Fatalf("without the demo the page should hold the placeholder: %.300s", p)
	}
	loaded, err := a.LoadDemo(context.Background(), demodata.Config{Seed: 1, Children: 30}, io.Discard)
	if err != nil || !loaded {
		t.Fatalf("demo: %v %v", loaded, err)
	}
	nhs, ok := a.ExampleChild()
	if !ok || nhs == "9990000018" {
		t.Fatalf("example child %q %v", nhs, ok)
	}
	if p := page(a.HTTPAddr()); !strings.Contains(p, `value: "`+nhs+`"`) {
		t.Fatalf("page does not open on the example child %s", nhs)
	}
	// A second serve --demo over the same data loads nothing and still
	// opens on the example child.
	a.Close()
	b := start(t, dir)
	if loaded, err := b.LoadDemo(context.Background(), demodata.Config{Seed: 1, Children: 30}, io.Discard); err != nil || loaded {
		t.Fatalf("second load: %v %v", loaded, err)
	}
	if p := page(b.HTTPAddr()); !strings.Contains(p, `value: "`+nhs+`"`) {
		t.Fatalf("after a restart the page does not open on %s", nhs)
	}
}
