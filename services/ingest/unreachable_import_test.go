package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// An import whose server goes away mid-file stops with a clear error
// instead of failing row by row with a growing ETA; every event it reported
// stored is in the log; what it reported was a question ("not confirmed"),
// not a claim that the event is missing; and importing the file again once
// the server is back stores everything exactly once.
func TestImportStopsWhenTheServerIsGone(t *testing.T) {
	dir := t.TempDir()
	srv := jstest.RunIn(t, dir)
	auth, err := embedded.KeyAuth(srv.Hub)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), auth, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub, err := eventlog.NewPublisher(nc, nil, eventlog.WithAckTimeout(2*time.Second), eventlog.WithUnreachableAfter(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	const n = 6000
	var lines []string
	for i := range n {
		lines = append(lines, string(encode(t, event(t, "education.concern", fmt.Sprintf("GONE-%d", i)))))
	}
	path := filepath.Join(t.TempDir(), "history.ndjson")
	writeFile(t, path, strings.Join(lines, "\n")+"\n")

	type outcome struct {
		sum ingest.Summary
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		sum, err := ingest.ImportFile(context.Background(), pub, path, ingest.ImportOptions{MaxInFlight: 64})
		done <- outcome{sum, err}
	}()
	h := &hub{srv: srv, pub: pub}
	jstest.Eventually(t, 20*time.Second, "the import to be under way", func() bool { return h.count(t) >= 300 })
	srv.Shutdown()
	srv.WaitForShutdown()

	var got outcome
	select {
	case got = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the import did not stop after its server went away")
	}
	if !errors.Is(got.err, eventlog.ErrUnreachable) || !strings.Contains(got.err.Error(), "stopped at line") || !strings.Contains(got.err.Error(), "import the file again") {
		t.Fatalf("import ended with %v, want a clear stop", got.err)
	}
	if got.sum.Accepted == 0 || got.sum.Rejected != 0 {
		t.Fatalf("summary %+v", got.sum)
	}
	for _, r := range readRejects(t, ingest.RejectsPath(path)) {
		if !strings.Contains(r.Reasons, "not confirmed") {
			t.Errorf("line %d reported %q: only 'not confirmed' is known when the server is gone", r.Line, r.Reasons)
		}
	}

	// The server comes back: everything reported stored is there, and the
	// file imported again completes the log without storing anything twice.
	back := jstest.RunIn(t, dir)
	h = &hub{srv: back, pub: mustPublisher(t, back)}
	if stored := h.count(t); stored < uint64(got.sum.Accepted) {
		t.Fatalf("the log holds %d events; the import reported %d stored", stored, got.sum.Accepted)
	}
	again := importFile(t, h, path, ingest.ImportOptions{})
	if again.Accepted+again.Duplicates != n || again.NotStored() != 0 {
		t.Fatalf("second import: %+v", again)
	}
	h.wantCount(t, n)
}

func mustPublisher(t *testing.T, srv *jstest.Server) *eventlog.Publisher {
	t.Helper()
	pub, err := eventlog.NewPublisher(srv.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
