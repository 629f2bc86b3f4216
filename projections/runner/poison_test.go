package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
	"github.com/chronicle-hub/chronicle/services/quarantine"
)

// faulty is the read model with a bug: applying the event with source_ref
// ref changes the model and then panics, the first times applies of it
// (every time when times is negative). Changing the model first is the
// worst case: only a rebuild can undo it.
type faulty struct {
	*projections.Model
	ref    string
	times  int64
	failed atomic.Int64
	refuse bool // return an error instead of panicking (the reference run)
}

func (f *faulty) Apply(d projections.Delivered) error {
	if d.Event.SourceRef != f.ref {
		return f.Model.Apply(d)
	}
	if f.refuse { // as the model refuses what it cannot apply: passed over
		f.Model.Advance(d.Seq)
		return errors.New("refused")
	}
	if f.times >= 0 && f.failed.Load() >= f.times {
		return f.Model.Apply(d)
	}
	f.failed.Add(1)
	_ = f.Model.Apply(d)
	panic("a projection bug met " + f.ref)
}

// An event that makes the projection fail (a panic) never takes the
// process down. The projector rebuilds its model from the last snapshot
// (or from nothing) and tries again; an event that fails every time is
// quarantined after maxApplyAttempts tries, with the reason, and the
// projector goes on to a model equal to one that never applied it. One
// that fails once is applied on the next try. The log and the metric
// callback say each time.
func TestPoisonEventIsQuarantinedAfterBoundedRetries(t *testing.T) {
	for _, tc := range []struct {
		name        string
		times       int64 // how many applies of r-25 fail; -1 every one
		snapshot    bool  // a snapshot exists from before the poison
		failures    int64
		quarantined bool
	}{
		{"fails every time, no snapshot", -1, false, 3, true},
		{"fails every time, rebuilt from a snapshot", -1, true, 3, true},
		{"fails once", 1, true, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := jstest.Run(t)
			ctx := context.Background()
			snap := ""
			if tc.snapshot {
				snap = filepath.Join(t.TempDir(), "model.snap")
				publish(t, srv.JS, 0, 20)
				snapshotOf(t, srv.JS, "p", snap)
				publish(t, srv.JS, 20, 20) // r-25 is among these
			} else {
				publish(t, srv.JS, 0, 40)
			}

			var logs jstest.Buffer
			var counted atomic.Int64
			bug := &faulty{Model: projections.NewModel(), ref: "r-25", times: tc.times}
			r, err := runner.Start(ctx, srv.JS, runner.Config{
				Stream: eventlog.EventsStream, Name: "p", SnapshotPath: snap, Projection: bug,
				Retry:       20 * time.Millisecond,
				Reject:      quarantineInto(srv.JS),
				ApplyFailed: func() { counted.Add(1) },
				Log:         slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Stop()
			// Three rebuilds, each a consumer recreated: longer than a
			// plain catch-up on a loaded machine.
			wctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := r.WaitForLatest(wctx); err != nil {
				t.Fatal(err)
			}
			if err := r.Ready(); err != nil {
				t.Fatalf("not ready after the poison: %v", err)
			}
			if got := bug.failed.Load(); got != tc.failures {
				t.Errorf("the event failed %d times, want %d", got, tc.failures)
			}
			if got := counted.Load(); got != tc.failures {
				t.Errorf("ApplyFailed told %d times, want %d", got, tc.failures)
			}
			if got := strings.Count(logs.String(), "rebuilding the read model and trying again"); int64(got) != tc.failures {
				t.Errorf("the log says %d failures, want %d:\n%s", got, tc.failures, logs.String())
			}

			recs, err := quarantine.List(ctx, srv.JS, 1, 10)
			if err != nil {
				t.Fatal(err)
			}
			var poison []quarantine.Record
			for _, rec := range recs {
				if strings.Contains(rec.Reason, "panic") {
					poison = append(poison, rec)
				}
			}
			switch {
			case tc.quarantined && (len(poison) != 1 || !strings.Contains(poison[0].Reason, "failed 3 times (panic: a projection bug met r-25)")):
				t.Errorf("quarantine holds %+v, want the poison event with the panic", poison)
			case !tc.quarantined && len(poison) != 0:
				t.Errorf("quarantined %+v, but the second try applied it", poison)
			}

			// The same log through a model that refuses the poison event
			// cleanly (or applies it, when it fails only once) is the model
			// the rebuilt one must equal: nothing half-applied is left.
			ref := &faulty{Model: projections.NewModel(), ref: "r-25", refuse: tc.quarantined, times: 0}
			want, err := runner.Start(ctx, srv.JS, runner.Config{Stream: eventlog.EventsStream, Name: "ref", Projection: ref})
			if err != nil {
				t.Fatal(err)
			}
			defer want.Stop()
			wait(t, want)
			if bug.Digest() != ref.Digest() {
				t.Errorf("the rebuilt model differs from one that never half-applied the event (events %d, want %d)",
					bug.Stats().Events, ref.Stats().Events)
			}
		})
	}
}

// quarantineInto is serve's Reject: the quarantine stream.
func quarantineInto(js jetstream.JetStream) runner.RejectFunc {
	return func(ctx context.Context, subject string, seq uint64, at time.Time, data []byte, reason error) error {
		return quarantine.Put(ctx, js, subject, seq, at, data, reason)
	}
}
