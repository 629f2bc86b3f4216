package eventlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

func TestEnsureStreamsIsIdempotentAndConfigured(t *testing.T) {
	srv := jstest.Run(t) // already ensured once
	ctx := context.Background()
	cfg := eventlog.StreamConfig{DuplicateWindow: time.Hour}
	for range 2 {
		if _, err := eventlog.EnsureStreams(ctx, srv.JS, cfg); err != nil {
			t.Fatal(err)
		}
	}
	s, err := srv.JS.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Config
	if c.Storage != jetstream.FileStorage || c.Duplicates != time.Hour || c.MaxMsgSize != eventlog.MaxMessageSize ||
		c.Replicas != 1 || len(c.Subjects) != 1 || c.Subjects[0] != "chronicle.events.>" || !c.DenyDelete || !c.DenyPurge {
		t.Fatalf("events stream config %+v", c)
	}
	if _, err := srv.JS.Stream(ctx, eventlog.QuarantineStream); err != nil {
		t.Fatal(err)
	}
}

func prepared(t *testing.T, pub *eventlog.Publisher, typ events.Type, ref string) (*events.Event, []byte) {
	t.Helper()
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	e.ID, e.SourceRef = "", ref
	raw, _ := events.Encode(e)
	pe, data, err := pub.Prepare(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return pe, data
}

func publishAll(t *testing.T, pub *eventlog.Publisher, evs []*events.Event, datas [][]byte) []eventlog.Result {
	t.Helper()
	var results []eventlog.Result
	b := pub.NewBatch(4, func(r eventlog.Result) { results = append(results, r) })
	for i := range evs {
		if err := b.Add(context.Background(), i, evs[i], datas[i]); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	return results
}

// A re-send is reported as a duplicate and stored once; results come back in
// order with a bounded number in flight; a restarted server keeps every
// accepted event.
func TestDuplicatesStoredOnceAndRestartKeepsEverything(t *testing.T) {
	srv := jstest.Run(t)
	pub, err := eventlog.NewPublisher(srv.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*events.Event
	var datas [][]byte
	for i := range 50 {
		e, d := prepared(t, pub, "education.concern", "ref-"+string(rune('A'+i%26))+string(rune('a'+i/26)))
		evs, datas = append(evs, e), append(datas, d)
	}
	evs, datas = append(evs, evs[3]), append(datas, datas[3]) // a re-send inside the batch
	results := publishAll(t, pub, evs, datas)
	if len(results) != 51 {
		t.Fatalf("%d results", len(results))
	}
	for i, r := range results {
		if r.Key != i {
			t.Fatalf("result %d has key %d: out of order", i, r.Key)
		}
	}
	if results[50].Status != eventlog.Duplicate || results[50].Sequence != results[3].Sequence {
		t.Fatalf("re-send: %+v, original %+v", results[50], results[3])
	}
	again := publishAll(t, pub, evs[:5], datas[:5])
	for _, r := range again {
		if r.Status != eventlog.Duplicate {
			t.Fatalf("second batch: %+v", r)
		}
	}
	count := func(s *jstest.Server) uint64 {
		st, err := s.JS.Stream(context.Background(), eventlog.EventsStream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if n := count(srv); n != 50 {
		t.Fatalf("stream holds %d, want 50", n)
	}
	srv = srv.Restart(t)
	if n := count(srv); n != 50 {
		t.Fatalf("after restart the stream holds %d, want 50", n)
	}
	st, _ := srv.JS.Stream(context.Background(), eventlog.EventsStream)
	for i, r := range results[:50] {
		m, err := st.GetMsg(context.Background(), r.Sequence)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != string(datas[i]) || m.Header.Get(jetstream.MsgIDHeader) != evs[i].ID {
			t.Fatalf("seq %d: stored bytes or msg id differ", r.Sequence)
		}
	}
}

// When the log is unreachable the outcome is "failed" (not stored, safe to
// retry), never a silent success.
func TestUnreachableLogReportsFailed(t *testing.T) {
	srv := jstest.Run(t)
	pub, err := eventlog.NewPublisher(srv.NC, nil, eventlog.WithAckTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	e, d := prepared(t, pub, "education.concern", "ref-down")
	srv.Shutdown()
	srv.WaitForShutdown()
	results := publishAll(t, pub, []*events.Event{e}, [][]byte{d})
	if len(results) != 1 || results[0].Status != eventlog.Failed || results[0].Error == "" {
		t.Fatalf("got %+v", results)
	}
}

// Every problem is reported once: a time the decoder found missing or
// malformed is not reported again by validation.
func TestPrepareReportsEachProblemOnce(t *testing.T) {
	srv := jstest.Run(t)
	pub, err := eventlog.NewPublisher(srv.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = pub.Prepare(context.Background(), []byte(`{"type":"health.concern","agency":"health","summary":"x","recorded_at":"yesterday"}`))
	seen := map[string]int{}
	for _, p := range events.Problems(err) {
		seen[p.Field]++
	}
	if seen["occurred_at"] != 1 || seen["recorded_at"] != 1 {
		t.Fatalf("problems %v: each field once", events.Problems(err))
	}
}
