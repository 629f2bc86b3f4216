package runner_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

func startRunner(t *testing.T, srv *jstest.Server, cfg runner.Config) *runner.Runner {
	t.Helper()
	cfg.Stream = eventlog.EventsStream
	r, err := runner.Start(context.Background(), srv.JS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Stop() })
	return r
}

// waitConsuming waits until the server holds a pull request from the
// replica's consumer: from then on another process could tell it is in use.
func waitConsuming(t *testing.T, srv *jstest.Server, replica string) {
	t.Helper()
	jstest.Eventually(t, 10*time.Second, "a waiting pull request on "+replica, func() bool {
		c, err := srv.JS.Consumer(context.Background(), eventlog.EventsStream, runner.ConsumerName(replica))
		return err == nil && c.CachedInfo().NumWaiting > 0
	})
}

// Two processes on one NATS server, each with its own replica name, both
// keep projecting; a third that reuses a name in use is refused instead of
// deleting the first one's consumer, and the first one keeps going.
func TestReplicasProjectSideBySide(t *testing.T) {
	srv := jstest.Run(t)
	publish(t, srv.JS, 0, 20)
	a := startRunner(t, srv, runner.Config{Name: "replica-a"})
	b := startRunner(t, srv, runner.Config{Name: "replica-b"})
	wait(t, a)
	wait(t, b)
	waitConsuming(t, srv, "replica-a")

	_, err := runner.Start(context.Background(), srv.JS, runner.Config{Stream: eventlog.EventsStream, Name: "replica-a"})
	if !errors.Is(err, runner.ErrReplicaInUse) || !strings.Contains(err.Error(), "--replica") {
		t.Fatalf("second process with replica-a: %v, want ErrReplicaInUse naming --replica", err)
	}

	publish(t, srv.JS, 20, 10)
	wait(t, a)
	wait(t, b)
	for name, r := range map[string]*runner.Runner{"replica-a": a, "replica-b": b} {
		if n := modelOf(r).Stats().Events; n != 30 {
			t.Errorf("%s applied %d events, want 30", name, n)
		}
		if err := r.Ready(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A consumer deleted under a running runner is reported by Ready until the runner has recreated it from the model's position; then
// new events are applied again.
func TestDeletedConsumerIsReportedAndRecreated(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	publish(t, srv.JS, 0, 10)
	r := startRunner(t, srv, runner.Config{Name: "d"})
	wait(t, r)
	waitConsuming(t, srv, "d")
	applied := modelOf(r).LastSeq()

	if err := srv.JS.DeleteConsumer(ctx, eventlog.EventsStream, runner.ConsumerName("d")); err != nil {
		t.Fatal(err)
	}
	// The runner waits Retry (2s) before repairing: ample time to see it.
	jstest.Eventually(t, 10*time.Second, "Ready to report the lost consumer", func() bool {
		return errors.Is(r.Ready(), runner.ErrConsumerLost)
	})
	jstest.Eventually(t, 20*time.Second, "the consumer to be recreated", func() bool { return r.Ready() == nil })

	c, err := srv.JS.Consumer(ctx, eventlog.EventsStream, runner.ConsumerName("d"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.OptStartSeq; got != applied+1 {
		t.Fatalf("recreated consumer starts at %d, want %d", got, applied+1)
	}
	publish(t, srv.JS, 10, 5)
	wait(t, r)
	if n := modelOf(r).Stats().Events; n != 15 {
		t.Fatalf("applied %d events, want 15", n)
	}
}

// Ready reports ErrCatchingUp while the model is behind the stream as it
// was at start. The first event is a correction of an unknown event, so
// the runner hands it to Reject, which holds it until the test has looked.
func TestReadyWhileCatchingUp(t *testing.T) {
	srv := jstest.Run(t)
	spec, _ := events.Lookup("record.corrected")
	e := spec.ExampleEvent()
	data, _ := events.Encode(e)
	if _, err := srv.JS.PublishMsg(context.Background(), eventlog.Message(e, data)); err != nil {
		t.Fatal(err)
	}
	publish(t, srv.JS, 0, 5)
	held, release := make(chan struct{}), make(chan struct{})
	var first sync.Once // the invalid message publish adds comes to Reject too
	r := startRunner(t, srv, runner.Config{Name: "slow",
		Reject: func(context.Context, string, uint64, time.Time, []byte, error) error {
			first.Do(func() { close(held) })
			<-release
			return nil
		}})
	<-held
	if err := r.Ready(); !errors.Is(err, runner.ErrCatchingUp) || r.CaughtUp() {
		close(release)
		t.Fatalf("Ready while the first event is held: %v", err)
	}
	close(release)
	wait(t, r)
	if err := r.Ready(); err != nil {
		t.Fatalf("Ready after catching up: %v", err)
	}
}

func TestReplicaNames(t *testing.T) {
	tests := []struct {
		name, in, sanitised string
		valid               bool
	}{
		{"host name", "web-1", "web-1", true},
		{"domain", "Chronicle01.mash.example.gov.uk", "chronicle01-mash-example-gov-uk", false},
		{"spaces and wildcards", " my box *>", "my-box", false},
		{"nothing usable", "...", "local", false},
		{"empty", "", "local", false},
		{"too long", strings.Repeat("a", 70), strings.Repeat("a", 64), false},
		{"underscore", "node_2", "node_2", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runner.SanitiseName(tt.in)
			if got != tt.sanitised {
				t.Errorf("SanitiseName(%q) = %q, want %q", tt.in, got, tt.sanitised)
			}
			if err := runner.CheckName(got); err != nil {
				t.Errorf("sanitised name %q is not valid: %v", got, err)
			}
			if err := runner.CheckName(tt.in); (err == nil) != tt.valid {
				t.Errorf("CheckName(%q) = %v, want valid %v", tt.in, err, tt.valid)
			}
		})
	}
}
