package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// The CLI verbs reach the embedded server only with credentials: serve's
// own key found through --data or given with --nats-creds, or an agency's
// user. Without any, or with a key the server does not know, the server
// refuses and the message says what was tried and what to give.
func TestCLIConnectsWithCredentials(t *testing.T) {
	a := startApp(t)
	empty := t.TempDir()
	stranger, _ := nkeys.CreateUser()
	seed, _ := stranger.Seed()
	strangerPath := filepath.Join(empty, "stranger.nk")
	os.WriteFile(strangerPath, seed, 0o600)
	garbage := filepath.Join(empty, "garbage")
	os.WriteFile(garbage, []byte("synthetic-password"), 0o600)
	key := app.NATSKeyPath(a.dir)
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"serve's key through --data", []string{"--data", a.dir}, exitOK, ""},
		{"serve's key through --nats-creds", []string{"--data", empty, "--nats-creds", key}, exitOK, ""},
		{"no credentials", []string{"--data", empty}, exitFailure, "without credentials (no " + app.NATSKeyPath(empty) + "; give --data or --nats-creds): nats: Authorization Violation"},
		{"a key the server does not know", []string{"--data", a.dir, "--nats-creds", strangerPath}, exitFailure, "with --nats-creds " + strangerPath + ": nats: Authorization Violation"},
		{"not a credentials file", []string{"--nats-creds", garbage}, exitUsage, "--nats-creds: nats credentials " + garbage + ": neither a .creds file nor an nkey user seed"},
		{"a user and credentials", []string{"--nats-creds", key, "--nats-user", "police-rms"}, exitUsage, "give --nats-creds or --nats-user, not both"},
		{"a user the server does not know", []string{"--data", a.dir, "--nats-user", "police-rms", "--nats-password", "synthetic-pw"}, exitFailure, "as --nats-user police-rms: nats: Authorization Violation"},
	}
	spec, _ := events.Lookup("health.concern")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := spec.ExampleEvent()
			e.SourceRef = fmt.Sprintf("CLI-%d", i)
			e.ID = events.DeriveID(e)
			body, _ := events.Encode(e)
			for _, verb := range [][]string{{"publish"}, {"replay", "--json"}} {
				args := append(append(verb, "--nats-url", a.NATSClientURL()), tt.args...)
				code, out, errOut := runCLI(t, string(body), args...)
				if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
					t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s\nwant %q", verb[0], code, tt.code, out, errOut, tt.wantErr)
				}
			}
		})
	}
}

// An agency's system publishes its own events with its NATS account and
// gets them acknowledged from the hub's stream; another agency's events
// are refused by the server and not stored.
func TestCLIPublishesAsAnAgency(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	os.WriteFile(users, []byte(`{"users": [{"user": "police-rms", "password": "synthetic-police-pw", "agency": "police"}]}`), 0o600)
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true, NATSUsersFile: users})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	agency := []string{"--nats-url", a.NATSClientURL(), "--nats-user", "police-rms", "--nats-password", "synthetic-police-pw", "--data", t.TempDir()}

	police, _ := events.Lookup("police.notification")
	own, _ := events.Encode(police.ExampleEvent())
	code, out, errOut := runCLI(t, string(own), append([]string{"publish"}, agency...)...)
	if code != exitOK || !strings.Contains(out, "accepted") || !strings.Contains(out, "seq=1") {
		t.Fatalf("own event: exit %d\n%s\n%s", code, out, errOut)
	}
	health, _ := events.Lookup("health.concern")
	foreign, _ := events.Encode(health.ExampleEvent())
	code, out, errOut = runCLI(t, string(foreign), append([]string{"publish"}, agency...)...)
	if code != exitFailure || strings.Contains(out, "accepted") || !strings.Contains(out, "may publish only under its own agency") {
		t.Fatalf("another agency's event: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", append([]string{"replay"}, agency...)...); code != exitFailure || !strings.Contains(errOut, "refused these credentials the log") {
		t.Fatalf("an agency replaying the log: exit %d %s", code, errOut)
	}
	if n := streamLen(t, a); n != 1 {
		t.Fatalf("the log holds %d events, want the police one", n)
	}

	// A file of the agency's events goes through its account as one
	// JetStream atomic batch (the batch's messages cross the account
	// import like any others), and every event is stored.
	var file strings.Builder
	for i := range 30 {
		e := police.ExampleEvent()
		e.SourceRef = fmt.Sprintf("RMS-BATCH-%02d", i)
		e.ID = events.DeriveID(e)
		line, _ := events.Encode(e)
		file.Write(line)
		file.WriteByte('\n')
	}
	path := filepath.Join(dir, "police.ndjson")
	os.WriteFile(path, []byte(file.String()), 0o600)
	if code, out, errOut := runCLI(t, "", append([]string{"import", path}, agency...)...); code != exitOK || !strings.Contains(out, "30 accepted") {
		t.Fatalf("an agency's import: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := streamLen(t, a); n != 31 {
		t.Fatalf("the log holds %d events after the import, want 31", n)
	}
	st, _ := a.JetStream().Stream(context.Background(), eventlog.EventsStream)
	m, err := st.GetMsg(context.Background(), 31)
	if err != nil || m.Header.Get("Nats-Batch-Id") == "" {
		t.Fatalf("the imported events were not stored as an atomic batch: %v %v", err, m)
	}
}

func streamLen(t *testing.T, a *app.App) uint64 {
	t.Helper()
	s, err := a.JetStream().Stream(context.Background(), eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.Msgs
}
