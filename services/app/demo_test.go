package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
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

// serve --demo is not ready until the demo is loaded, so a script waiting
// on /readyz reads all of it; a load interrupted part way (Ctrl-C) is
// finished by the next serve --demo, storing nothing twice; and a store of
// events that are not the demo's is left alone.
func TestDemoLoadReadinessAndResume(t *testing.T) {
	cfg := demodata.Config{Seed: 1, Children: 120}
	total := len(demodata.Generate(cfg))
	dir := t.TempDir()
	demo := func(c *app.Config) { c.Demo = true }
	a := start(t, dir, demo)
	readyz := func(a *app.App) (int, string) { return get(t, "http://"+a.HTTPAddr()+"/readyz") }
	if code, body := readyz(a); code != http.StatusServiceUnavailable || !strings.Contains(body, "loading the demo data") {
		t.Fatalf("before the load: %d %s", code, body)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // Ctrl-C once part of the demo is stored
		defer cancel()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if s, err := a.JetStream().Stream(ctx, eventlog.EventsStream); err == nil && s.CachedInfo().State.Msgs >= 1500 {
				return
			}
		}
	}()
	if _, err := a.LoadDemo(ctx, cfg, io.Discard); err == nil {
		t.Fatal("an interrupted load reported success")
	}
	part := storedEvents(t, a)
	if part == 0 || part >= uint64(total) {
		t.Fatalf("interrupted at %d of %d", part, total)
	}
	if code, body := readyz(a); code != http.StatusServiceUnavailable || !strings.Contains(body, "loading the demo data") {
		t.Fatalf("after an interrupted load: %d %s", code, body)
	}
	a.Close()

	b := start(t, dir, demo)
	loaded, err := b.LoadDemo(context.Background(), cfg, io.Discard)
	if err != nil || !loaded {
		t.Fatalf("resumed load: %v %v", loaded, err)
	}
	if n := storedEvents(t, b); n != uint64(total) {
		t.Fatalf("the stream holds %d events; the demo has %d", n, total)
	}
	jstest.Eventually(t, 30*time.Second, "ready after the load", func() bool { code, _ := readyz(b); return code == http.StatusOK })
	b.Close()

	// A store of real events gets no demo mixed in.
	c := start(t, t.TempDir(), demo)
	real := demodata.Generate(demodata.Config{Seed: 9, Children: 1})[0]
	data, err := c.Publisher().PrepareEvent(context.Background(), real)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publisher().PublishOne(context.Background(), real, data); err != nil {
		t.Fatal(err)
	}
	var said strings.Builder
	if loaded, err := c.LoadDemo(context.Background(), cfg, &said); err != nil || loaded {
		t.Fatalf("over real events: %v %v", loaded, err)
	}
	if n := storedEvents(t, c); n != 1 || !strings.Contains(said.String(), "not the demo's") {
		t.Fatalf("the store holds %d events; said %q", n, said.String())
	}
}

func storedEvents(t *testing.T, a *app.App) uint64 {
	t.Helper()
	s, err := a.JetStream().Stream(context.Background(), eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}
