package app_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// With agency users configured, the embedded server itself refuses an
// agency publishing under another agency's subject, and accepts its own.
func TestNATSRefusesCrossAgencyPublish(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "nats-users.json")
	os.WriteFile(users, []byte(`{"users": [
	  {"user": "police-niche", "password": "synthetic-police-pw", "agency": "police"},
	  {"user": "health-systmone", "password": "synthetic-health-pw", "agency": "health"}]}`), 0o600)
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true, NATSUsersFile: users})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	if _, err := nats.Connect(a.NATSClientURL(), nats.Timeout(2*time.Second)); err == nil {
		t.Fatal("connected without credentials")
	}
	nc, err := nats.Connect(a.NATSClientURL(), nats.UserInfo("police-niche", "synthetic-police-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	refused, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	spec, _ := events.Lookup("health.concern")
	foreign := spec.ExampleEvent() // a health event
	data, _ := events.Encode(foreign)
	if _, err := js.PublishMsg(refused, eventlog.Message(foreign, data)); err == nil {
		t.Fatal("police published under the health subject")
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	own, _ := events.Lookup("police.notification")
	e := own.ExampleEvent()
	data, _ = events.Encode(e)
	ack, err := js.PublishMsg(ctx, eventlog.Message(e, data))
	if err != nil {
		t.Fatalf("own-agency publish: %v", err)
	}
	s, _ := a.JetStream().Stream(ctx, eventlog.EventsStream)
	info, _ := s.Info(ctx)
	if info.State.Msgs != 1 || ack.Sequence != 1 {
		t.Fatalf("stream holds %d events, want only the police one", info.State.Msgs)
	}
}

func TestNATSUsersFileProblemsAreNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.json")
	os.WriteFile(path, []byte(`{"users": [{"user": "x", "password": "short", "agency": "mi5"}, {"user": "x", "password": "long-enough-pw", "agency": "police"},
	  {"user": "police.rms", "password": "long-enough-pw", "agency": "police"}]}`), 0o600)
	_, err := embedded.LoadUsers(path)
	for _, want := range []string{"users[0].password", "users[0].agency", `users[1].user: "x" repeats`, `users[2].user: "police.rms" may hold only letters, digits, - and _`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
