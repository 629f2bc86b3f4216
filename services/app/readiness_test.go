package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// startWith runs the app with cfg over a fresh data directory (unless cfg
// names one), on free ports, and stops it when the test ends.
func startWith(t *testing.T, cfg app.Config) *app.App {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.HTTPAddr, cfg.NATSListen, cfg.NoSyncAlways = "127.0.0.1:0", "127.0.0.1:0", true
	a := app.New(cfg)
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// readyz returns /readyz's status code and JSON body.
func readyz(t *testing.T, a *app.App) (int, map[string]any) {
	t.Helper()
	code, body := get(t, "http://"+a.HTTPAddr()+"/readyz")
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("/readyz: %v: %s", err, body)
	}
	return code, out
}

func waitReadyz(t *testing.T, a *app.App, code int, status string) {
	t.Helper()
	jstest.Eventually(t, 20*time.Second, fmt.Sprintf("/readyz %d %q", code, status), func() bool {
		c, body := readyz(t, a)
		return c == code && body["status"] == status
	})
}

// waitConsuming waits until the server holds a pull request from the
// replica's consumer, so the consumer is visibly in use.
func waitConsuming(t *testing.T, a *app.App, replica string) {
	t.Helper()
	jstest.Eventually(t, 10*time.Second, "a waiting pull request on "+replica, func() bool {
		c, err := a.JetStream().Consumer(context.Background(), eventlog.EventsStream, runner.ConsumerName(replica))
		return err == nil && c.CachedInfo().NumWaiting > 0
	})
}

func publishExample(t *testing.T, a *app.App, ref string) {
	t.Helper()
	spec, _ := events.Lookup("health.concern")
	e := spec.ExampleEvent()
	e.SourceRef = ref
	e.ID = events.DeriveID(e)
	body, _ := json.Marshal(e)
	r, err := ingest.PublishBody(context.Background(), a.Publisher(), body)
	if err != nil || r.Status() >= 300 {
		t.Fatalf("publish %s: %v %+v", ref, err, r)
	}
}

// /readyz is 503 "catching up" while the projector has not applied the
// stream as it was at start. The process's NATS user may do everything but
// pull from this replica's consumer, so it can never catch up: no timing
// is involved.
func TestReadyzIs503UntilCaughtUp(t *testing.T) {
	const replica = "stalled"
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
		Users: []*server.User{{Username: "chronicle", Password: "synthetic-password", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Deny: []string{"$JS.API.CONSUMER.MSG.NEXT." + eventlog.EventsStream + "." + runner.ConsumerName(replica)}},
		}}}}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	natsURL := "nats://" + url.UserPassword("chronicle", "synthetic-password").String() + "@" + s.Addr().String()
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := eventlog.EnsureStreams(ctx, js, eventlog.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	spec, _ := events.Lookup("health.concern")
	data, _ := events.Encode(spec.ExampleEvent())
	if _, err := js.PublishMsg(ctx, eventlog.Message(spec.ExampleEvent(), data)); err != nil {
		t.Fatal(err)
	}

	a := startWith(t, app.Config{NATSURL: natsURL, Replica: replica})
	code, body := readyz(t, a)
	if code != 503 || body["status"] != "catching up" || body["applied_seq"] != 0.0 {
		t.Fatalf("/readyz with nothing applied: %d %v", code, body)
	}
	if err := a.Ready(context.Background()); !errors.Is(err, runner.ErrCatchingUp) {
		t.Fatalf("Ready: %v", err)
	}
	if code, _ := get(t, "http://"+a.HTTPAddr()+"/healthz"); code != 200 {
		t.Fatalf("/healthz %d: the process is alive, only not ready", code)
	}
}

// A projector consumer deleted from outside makes /readyz 503 "consumer not
// working" until the runner has recreated it (it waits 2s before trying).
func TestReadyzReportsLostConsumer(t *testing.T) {
	a := startWith(t, app.Config{Replica: "lost"})
	waitReadyz(t, a, 200, "ready")
	waitConsuming(t, a, "lost")
	if err := a.JetStream().DeleteConsumer(context.Background(), eventlog.EventsStream, runner.ConsumerName("lost")); err != nil {
		t.Fatal(err)
	}
	waitReadyz(t, a, 503, "consumer not working")
	waitReadyz(t, a, 200, "ready")
	publishExample(t, a, "after-recreation")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
}

// Two processes with their own replica names share one NATS server and
// both keep projecting; a third reusing a name in use is refused at start
// and the first is unharmed.
func TestProcessesShareOneNATS(t *testing.T) {
	dir := t.TempDir()
	one := startWith(t, app.Config{Replica: "one", DataDir: dir})
	creds := app.NATSKeyPath(dir) // the first process's own key: the hub account
	two := startWith(t, app.Config{Replica: "two", NATSURL: one.NATSClientURL(), NATSCreds: creds})
	publishExample(t, one, "first")
	waitConsuming(t, one, "one")

	clash := app.New(app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSURL: one.NATSClientURL(), NATSCreds: creds, Replica: "one"})
	if err := clash.Run(context.Background()); !errors.Is(err, runner.ErrReplicaInUse) {
		clash.Close()
		t.Fatalf("a second process named one: %v, want ErrReplicaInUse", err)
	}

	publishExample(t, two, "second")
	for name, a := range map[string]*app.App{"one": one, "two": two} {
		jstest.Eventually(t, 10*time.Second, name+" to apply both events", func() bool {
			return a.Model().Stats().Events == 2
		})
		waitReadyz(t, a, 200, "ready")
	}
}
