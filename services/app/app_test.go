package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// start runs the whole app on free ports over dir, with whatever changes to
// its configuration are given, and stops it when the test ends.
func start(t *testing.T, dir string, change ...func(*app.Config)) *app.App {
	t.Helper()
	cfg := app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true}
	for _, c := range change {
		c(&cfg)
	}
	a := app.New(cfg)
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func storedCount(t *testing.T, a *app.App) uint64 {
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

// The one-machine deployment: health endpoints, ingest over HTTP, and a
// restart on the same data directory keeps every accepted event.
func TestServeIngestRestart(t *testing.T) {
	dir := t.TempDir()
	a := start(t, dir)
	base := "http://" + a.HTTPAddr()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, base+path); code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	// The front page is the web app's: without a session, it sends a
	// browser to sign in.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if resp, err := noFollow.Get(base + "/"); err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/signin" {
		t.Fatalf("/: %v %+v", err, resp)
	} else {
		resp.Body.Close()
	}
	var batch []*events.Event
	for _, spec := range events.Catalogue() {
		batch = append(batch, spec.ExampleEvent())
	}
	body, _ := json.Marshal(batch)
	// One token per agency is the rule on HTTP (see the auth tests); a hub
	// token carrying every agency's events is refused, so this batch goes
	// through the publisher the HTTP handler uses, from a trusted process.
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	tok, err := a.IssueToken("hub-1", "Synthetic hub", auth.Hub, "hub", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Fatalf("a hub token publishing other agencies' events: %v %v", err, resp.Status)
	}
	r, err := ingest.PublishBody(context.Background(), a.Publisher(), body)
	if err != nil {
		t.Fatal(err)
	}
	var resp = struct{ StatusCode int }{r.Status()}
	var out struct {
		Accepted int `json:"accepted"`
		Results  []struct {
			Status   string `json:"status"`
			Problems []struct {
				Field string `json:"field"`
			} `json:"problems"`
		} `json:"results"`
	}
	raw, _ := json.Marshal(r)
	json.Unmarshal(raw, &out)
	// The catalogue's examples of record.corrected and record.retracted
	// amend an event the hub never received: ingest refuses them.
	if resp.StatusCode != 207 || out.Accepted != len(batch)-2 {
		t.Fatalf("status %d, accepted %d of %d", resp.StatusCode, out.Accepted, len(batch))
	}
	for i, r := range out.Results {
		amend := batch[i].Type == "record.corrected" || batch[i].Type == "record.retracted"
		if amend != (r.Status == "rejected") || (amend && r.Problems[0].Field != "payload.event_id") {
			t.Fatalf("%s: %+v", batch[i].Type, r)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(base + "/readyz"); err == nil {
		t.Fatal("closed app still answers")
	}
	b := start(t, dir)
	if n := storedCount(t, b); n != uint64(len(batch)-2) {
		t.Fatalf("after restart the log holds %d events, want %d", n, len(batch))
	}
}
