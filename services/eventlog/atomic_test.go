package eventlog_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// A batch sends its events in atomic batches and reports every one in the
// order added, rejections in their places, with the sequence the log gave
// it; an event already stored, inside a batch that holds new ones too, is
// reported as a duplicate of the original and the new ones are stored; a
// stream that does not allow atomic batches still gets every event.
func TestAtomicBatchesReportEveryEventInOrder(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	pub, err := eventlog.NewPublisher(srv.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := srv.JS.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*events.Event
	var datas [][]byte
	for i := range 2600 {
		e, d := prepared(t, pub, "education.concern", fmt.Sprintf("atomic-%04d", i))
		evs, datas = append(evs, e), append(datas, d)
	}
	send := func(from, to int, rejectEvery int) []eventlog.Result {
		var results []eventlog.Result
		b := pub.NewBatch(0, func(r eventlog.Result) { results = append(results, r) })
		for i := from; i < to; i++ {
			if rejectEvery > 0 && i%rejectEvery == 0 {
				if err := b.Reject(ctx, i, evs[i], fmt.Errorf("synthetic problem")); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := b.Add(ctx, i, evs[i], datas[i]); err != nil {
				t.Fatal(err)
			}
		}
		b.Close()
		if len(results) != to-from {
			t.Fatalf("%d results for %d events", len(results), to-from)
		}
		for i, r := range results {
			if r.Key != from+i {
				t.Fatalf("result %d has key %d: out of order", from+i, r.Key)
			}
		}
		return results
	}
	stored := func(r eventlog.Result, i int) nats.Header {
		t.Helper()
		m, err := st.GetMsg(ctx, r.Sequence)
		if err != nil {
			t.Fatalf("event %d at %d: %v", i, r.Sequence, err)
		}
		if string(m.Data) != string(datas[i]) || m.Header.Get(jetstream.MsgIDHeader) != evs[i].ID {
			t.Fatalf("event %d: sequence %d holds another event", i, r.Sequence)
		}
		return m.Header
	}

	first := send(0, 2000, 97)
	batches := map[string]bool{}
	for i, r := range first {
		switch {
		case i%97 == 0:
			if r.Status != eventlog.Rejected || r.Problems[0].Problem != "synthetic problem" {
				t.Fatalf("event %d: %+v, want rejected", i, r)
			}
		case r.Status != eventlog.Accepted:
			t.Fatalf("event %d: %+v", i, r)
		default:
			batches[stored(r, i).Get("Nats-Batch-Id")] = true
		}
	}
	if delete(batches, ""); len(batches) < 2 || len(batches) > 8 {
		t.Fatalf("2,000 events went in %d atomic batches; want a few of up to %d", len(batches), eventlog.MaxAtomicBatch)
	}

	// Again, with 600 new ones after them: the stored ones are duplicates
	// of themselves, the rejected ones stored now, the new ones stored.
	again := send(1400, 2600, 0)
	for j, r := range again {
		i := 1400 + j
		switch {
		case i < 2000 && i%97 != 0:
			if r.Status != eventlog.Duplicate || r.Sequence != first[i].Sequence {
				t.Fatalf("event %d sent again: %+v, first %+v", i, r, first[i])
			}
		case r.Status != eventlog.Accepted:
			t.Fatalf("event %d: %+v", i, r)
		default:
			stored(r, i)
		}
	}

	// A stream that does not allow atomic batches (one made before they
	// were used) takes every event, one by one.
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.AllowAtomicPublish = false
	if _, err := srv.JS.UpdateStream(ctx, cfg); err != nil {
		t.Skipf("the server will not turn atomic batches off on a stream: %v", err)
	}
	for i := range 300 {
		e, d := prepared(t, pub, "education.concern", fmt.Sprintf("plain-%04d", i))
		evs, datas = append(evs, e), append(datas, d)
	}
	plain := send(2600, 2900, 0)
	for j, r := range plain {
		if r.Status != eventlog.Accepted {
			t.Fatalf("event %d on a stream without atomic batches: %+v", 2600+j, r)
		}
		stored(r, 2600+j)
	}
	neverStored := 0 // rejected the first time and not sent again
	for i := 0; i < 1400; i += 97 {
		neverStored++
	}
	if info, _ = st.Info(ctx); info.State.Msgs != uint64(2900-neverStored) {
		t.Fatalf("stream holds %d events, want %d", info.State.Msgs, 2900-neverStored)
	}
}
