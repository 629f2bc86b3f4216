package runner_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
	"github.com/chronicle-hub/chronicle/services/quarantine"
)

// publish sends n valid events about two children, from three agencies,
// plus one invalid message straight to NATS.
func publish(t *testing.T, js jetstream.JetStream, from, n int) {
	t.Helper()
	ctx := context.Background()
	types := []events.Type{"health.concern", "education.concern", "police.notification"}
	agencies := []string{"health", "education", "police"}
	for i := from; i < from+n; i++ {
		spec, _ := events.Lookup(types[i%3])
		e := spec.ExampleEvent()
		e.Agency = agencies[i%3]
		e.SourceRef = fmt.Sprintf("r-%d", i)
		e.OccurredAt = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration((i*7919)%500) * time.Hour)
		e.RecordedAt = e.OccurredAt.Add(time.Hour)
		if i%2 == 1 {
			e.Subjects[0].Identifiers = events.Identifiers{NHSNumber: "9990000026"}
		}
		e.ID = events.DeriveID(e)
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsg(ctx, eventlog.Message(e, data)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "chronicle.events.health.health.concern", []byte("not json")); err != nil {
		t.Fatal(err)
	}
}

func replayDigest(t *testing.T, js jetstream.JetStream) string {
	t.Helper()
	res, err := runner.Replay(context.Background(), js, eventlog.EventsStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model.Digest()
}

// A stopped and restarted projector resumes where it was (from its
// snapshot, consuming only what came after) and its model is identical to
// one built by a fresh full replay.
func TestRestartResumesAndMatchesFullReplay(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	snap := filepath.Join(t.TempDir(), "model.gob")
	publish(t, srv.JS, 0, 60)
	cfg := runner.Config{Stream: eventlog.EventsStream, Name: "test", SnapshotPath: snap, SnapshotEvery: 25}
	r1, err := runner.Start(ctx, srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r1)
	if !r1.CaughtUp() {
		t.Fatal("not caught up after waiting")
	}
	if got, want := modelOf(r1).Digest(), replayDigest(t, srv.JS); got != want {
		t.Fatal("live model differs from a full replay")
	}
	if err := r1.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := modelOf(r1).LastSeq()

	publish(t, srv.JS, 60, 30) // arrives while the projector is down
	srv = srv.Restart(t)
	r2, err := runner.Start(ctx, srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Stop()
	wait(t, r2)
	c, err := srv.JS.Consumer(ctx, eventlog.EventsStream, runner.ConsumerName("test"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.OptStartSeq != stopped+1 {
		t.Fatalf("consumer started at %d, want %d (resume, not replay)", info.Config.OptStartSeq, stopped+1)
	}
	if got, want := modelOf(r2).Digest(), replayDigest(t, srv.JS); got != want {
		t.Fatal("resumed model differs from a full replay")
	}
	if modelOf(r2).Stats().Events != 90 {
		t.Fatalf("events %d, want 90", modelOf(r2).Stats().Events)
	}
}

func wait(t *testing.T, r *runner.Runner) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
}

// A correction of an event the hub never received, published straight to
// NATS, is quarantined with the reason, and so is an invalid message; the
// projector keeps going.
func TestUnknownCorrectionIsQuarantined(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	spec, _ := events.Lookup("record.corrected")
	e := spec.ExampleEvent() // corrects an id that was never published
	data, _ := events.Encode(e)
	if _, err := srv.JS.PublishMsg(ctx, eventlog.Message(e, data)); err != nil {
		t.Fatal(err)
	}
	publish(t, srv.JS, 0, 3)
	r, err := runner.Start(ctx, srv.JS, runner.Config{
		Stream: eventlog.EventsStream, Name: "q",
		Reject: func(ctx context.Context, subject string, seq uint64, at time.Time, data []byte, reason error) error {
			return quarantine.Put(ctx, srv.JS, subject, seq, at, data, reason)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	wait(t, r)
	recs, err := quarantine.List(ctx, srv.JS, 1, 10)
	// The correction, and the invalid message publish adds at the end.
	if err != nil || len(recs) != 2 {
		t.Fatalf("quarantine: %v %v", recs, err)
	}
	if !strings.Contains(recs[1].Reason, "malformed JSON") || recs[1].OriginalSequence != 5 {
		t.Fatalf("record of the invalid message: %+v", recs[1])
	}
	if !strings.Contains(recs[0].Reason, "payload.event_id") || recs[0].OriginalSequence != 1 {
		t.Fatalf("record: %+v", recs[0])
	}
	if modelOf(r).Stats().Events != 3 {
		t.Fatalf("projector stopped: %+v", modelOf(r).Stats())
	}
}

// modelOf is the model a runner feeds (the default projection).
func modelOf(r *runner.Runner) *projections.Model { return r.Projection().(*projections.Model) }

// A snapshot file that cannot be trusted (damaged, cut short, of another
// version, the old gob format) is passed over with a warning that says so,
// and the projector replays the whole stream to the same model.
func TestUnusableSnapshotMeansAFullReplay(t *testing.T) {
	ctx := context.Background()
	srv := jstest.Run(t)
	publish(t, srv.JS, 0, 40)
	snap := filepath.Join(t.TempDir(), "model.snap")
	cfg := runner.Config{Stream: eventlog.EventsStream, Name: "u", SnapshotPath: snap}
	r1, err := runner.Start(ctx, srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r1)
	if err := r1.Stop(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	want := replayDigest(t, srv.JS)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/3] ^= 0xff
	tests := []struct {
		name string
		data []byte
	}{
		{"damaged", flipped},
		{"cut short", good[:len(good)/2]},
		{"the old format", []byte("\x3f\xff\x81\x03\x01\x01\x08snapshot")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(snap, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c := cfg
			c.Log = slog.New(slog.NewTextHandler(&logs, nil))
			r, err := runner.Start(ctx, srv.JS, c)
			if err != nil {
				t.Fatal(err)
			}
			wait(t, r)
			if got := modelOf(r).Digest(); got != want {
				t.Error("the replayed model differs from a full replay")
			}
			if err := r.Stop(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(logs.String(), "snapshot not used; replaying the whole stream") {
				t.Errorf("no warning: %s", logs.String())
			}
		})
	}
}

// A snapshot is used whether Start reads it or it was preloaded while NATS
// started: a matching one resumes after its position, and one the stream
// no longer matches (a recreated stream) is passed over, the model left
// empty to be replayed, never mixed with the new stream's events.
func TestSnapshotAgainstTheStream(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		sameStream bool
		preload    bool
		events     int // in the model at the end
	}{
		{"matches the stream", true, false, 14},
		{"matches the stream, preloaded", true, true, 14},
		{"stream recreated", false, false, 4},
		{"stream recreated, preloaded", false, true, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snap := filepath.Join(t.TempDir(), "model.snap")
			srv := jstest.Run(t)
			publish(t, srv.JS, 0, 10)
			stopped := snapshotOf(t, srv.JS, "pre", snap)
			if !tc.sameStream {
				srv = jstest.Run(t) // a different store: same sequences, different events
			}
			publish(t, srv.JS, 100, 4)

			cfg := runner.Config{Stream: eventlog.EventsStream, Name: "pre", SnapshotPath: snap}
			if tc.preload {
				pl, err := runner.Preload(snap, projections.NewModel())
				if err != nil {
					t.Fatal(err)
				}
				cfg.Preloaded, cfg.SnapshotPath = pl, ""
			}
			r2, err := runner.Start(ctx, srv.JS, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Stop()
			wait(t, r2)
			if n := modelOf(r2).Stats().Events; n != tc.events {
				t.Fatalf("model holds %d events, want %d", n, tc.events)
			}
			if got, want := modelOf(r2).Digest(), replayDigest(t, srv.JS); got != want {
				t.Fatal("model differs from a full replay")
			}
			c, err := srv.JS.Consumer(ctx, eventlog.EventsStream, runner.ConsumerName("pre"))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CachedInfo().Config.OptStartSeq; tc.sameStream && got != stopped+1 {
				t.Fatalf("consumer starts at %d, want %d (after the snapshot)", got, stopped+1)
			}
		})
	}
}

// snapshotOf runs a projector over what the stream holds, stops it (which
// writes its snapshot to path) and returns where it stood.
func snapshotOf(t *testing.T, js jetstream.JetStream, name, path string) uint64 {
	t.Helper()
	r, err := runner.Start(context.Background(), js, runner.Config{Stream: eventlog.EventsStream, Name: name, SnapshotPath: path})
	if err != nil {
		t.Fatal(err)
	}
	wait(t, r)
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	return modelOf(r).LastSeq()
}
