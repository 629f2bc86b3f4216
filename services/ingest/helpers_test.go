package ingest_test

import (
	"context"
	"encoding/csv"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// hub is a real embedded JetStream server with Chronicle's streams and a
// publisher on it.
type hub struct {
	srv *jstest.Server
	pub *eventlog.Publisher
}

func newHub(tb testing.TB) *hub {
	tb.Helper()
	srv := jstest.Run(tb)
	pub, err := eventlog.NewPublisher(srv.NC, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &hub{srv: srv, pub: pub}
}

func (h *hub) stream(tb testing.TB) jetstream.Stream {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.srv.JS.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		tb.Fatalf("stream %s: %v", eventlog.EventsStream, err)
	}
	return s
}

// count is the number of messages in the events stream.
func (h *hub) count(tb testing.TB) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := h.stream(tb).Info(ctx)
	if err != nil {
		tb.Fatalf("stream info: %v", err)
	}
	return info.State.Msgs
}

// wantCount waits until the events stream holds want messages. Published
// events are acknowledged before ingest reports them, so this normally
// passes at once; polling keeps the test honest about the log's consistency.
func (h *hub) wantCount(tb testing.TB, want uint64) {
	tb.Helper()
	jstest.Eventually(tb, 5*time.Second, "events stream to hold the expected messages", func() bool {
		return h.count(tb) == want
	})
}

// stored reads the event at seq from the stream, checks it is valid and
// that its Nats-Msg-Id is its id, and returns it.
func (h *hub) stored(tb testing.TB, seq uint64) *events.Event {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := h.stream(tb).GetMsg(ctx, seq)
	if err != nil {
		tb.Fatalf("get message %d: %v", seq, err)
	}
	e, err := events.Check(m.Data, time.Now())
	if err != nil {
		tb.Fatalf("stored message %d is not a valid event: %v\n%s", seq, err, m.Data)
	}
	if got := m.Header.Get(jetstream.MsgIDHeader); got != e.ID {
		tb.Fatalf("message %d: Nats-Msg-Id %q, event id %q", seq, got, e.ID)
	}
	if want := events.SubjectFor(e.Agency, e.Type); m.Subject != want {
		tb.Fatalf("message %d: subject %q, want %q", seq, m.Subject, want)
	}
	return e
}

// all returns every stored event, in stream order.
func (h *hub) all(tb testing.TB) []*events.Event {
	tb.Helper()
	n := h.count(tb)
	out := make([]*events.Event, 0, n)
	for seq := uint64(1); seq <= n; seq++ {
		out = append(out, h.stored(tb, seq))
	}
	return out
}

// sourceRefs returns the source_ref of every stored event, in stream order.
func (h *hub) sourceRefs(tb testing.TB) []string {
	tb.Helper()
	var refs []string
	for _, e := range h.all(tb) {
		refs = append(refs, e.SourceRef)
	}
	return refs
}

// event returns a valid synthetic event of type t, made distinct by ref,
// with the id derived from it.
func event(tb testing.TB, t events.Type, ref string) *events.Event {
	tb.Helper()
	spec, ok := events.Lookup(t)
	if !ok {
		tb.Fatalf("unknown type %s", t)
	}
	e := spec.ExampleEvent()
	e.SourceRef = ref
	e.ID = events.DeriveID(e)
	return e
}

// invalidNHS returns an event whose only problem is an NHS number with the
// wrong check digit.
func invalidNHS(tb testing.TB, ref string) *events.Event {
	tb.Helper()
	e := event(tb, "contact.received", ref)
	e.Subjects[0].Identifiers.NHSNumber = "9990000017"
	e.ID = events.DeriveID(e)
	return e
}

func encode(tb testing.TB, e *events.Event) []byte {
	tb.Helper()
	b, err := events.Encode(e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// hasProblem reports whether probs holds a problem at field.
func hasProblem(probs []events.FieldError, field string) bool {
	for _, p := range probs {
		if p.Field == field {
			return true
		}
	}
	return false
}

func writeCSV(tb testing.TB, path string, rows [][]string) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

func readCSV(tb testing.TB, path string) [][]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return rows
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

func wantNoFile(tb testing.TB, path string) {
	tb.Helper()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		tb.Fatalf("%s: want no file, stat gives %v", path, err)
	}
}

func lines(s ...string) string { return strings.Join(s, "\n") }
