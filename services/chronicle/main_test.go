package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// testApp is a running Chronicle and its data directory, where the CLI
// verbs find the key that lets them connect to its embedded server.
type testApp struct {
	*app.App
	dir string
}

func startApp(t *testing.T) testApp {
	t.Helper()
	dir := t.TempDir()
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return testApp{App: a, dir: dir}
}

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPublishVerbExitCodes(t *testing.T) {
	a := startApp(t)
	spec, _ := events.Lookup("health.concern")
	good, _ := events.Encode(spec.ExampleEvent())
	bad := strings.Replace(string(good), "9990000018", "9990000017", 1)
	tests := []struct {
		name     string
		stdin    string
		wantCode int
		wantOut  string
	}{
		{"one valid event", string(good), exitOK, "accepted"},
		{"same again", string(good), exitOK, "duplicate"},
		{"ndjson with a bad line", string(good) + "\n" + bad + "\n", exitFailure, "subjects[0].identifiers.nhs_number: check digit does not match"},
		{"not json at all", "hello", exitFailure, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.stdin, "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
		})
	}
	if code, _, errOut := runCLI(t, string(good), "publish", "--nats-url", "nats://127.0.0.1:1"); code != exitFailure || !strings.Contains(errOut, "is chronicle serve running?") {
		t.Fatalf("unreachable NATS: exit %d, %s", code, errOut)
	}
}

func TestImportVerbCSV(t *testing.T) {
	a := startApp(t)
	dir := t.TempDir()
	csv := "type,agency,source_ref,occurred_at,recorded_at,sensitivity,reliability,summary,NHS,payload.concern\n" +
		"education.concern,education,EDU-1,2024-01-10 09:00,2024-01-10 12:00,standard,direct,Disclosure in class,9990000018,Says dad hits mum\n" +
		"education.concern,education,EDU-2,2024-01-11 09:00,2024-01-11 12:00,standard,direct,Bad NHS number,9990000017,Second concern\n"
	path := filepath.Join(dir, "history.csv")
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "import", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--map", "NHS=subject.nhs_number", path)
	if code != exitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", code, exitFailure, out, errOut)
	}
	if !strings.Contains(out, "1 accepted") || !strings.Contains(out, "1 rejected") || !strings.Contains(out, "history.rejects.csv") {
		t.Fatalf("summary: %s", out)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "history.rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rejects), "EDU-2") || strings.Contains(string(rejects), "EDU-1") || !strings.Contains(string(rejects), "check digit") {
		t.Fatalf("rejects file:\n%s", rejects)
	}
	// Importing the same file again stores nothing twice.
	code, out, _ = runCLI(t, "", "import", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--map", "NHS=subject.nhs_number", "--quiet", path)
	if code != exitFailure || !strings.Contains(out, "1 duplicates") {
		t.Fatalf("re-import: exit %d: %s", code, out)
	}
}

func TestFlagsFromEnvironment(t *testing.T) {
	t.Setenv("CHRONICLE_NATS_URL", "nats://127.0.0.1:1")
	code, _, errOut := runCLI(t, "{}", "publish", "--json")
	if code != exitFailure || !strings.Contains(errOut, "nats://127.0.0.1:1") {
		t.Fatalf("CHRONICLE_NATS_URL not used: %d %s", code, errOut)
	}
	t.Setenv("CHRONICLE_MAX_IN_FLIGHT", "many")
	if code, _, errOut := runCLI(t, "", "import", "x.csv"); code != exitUsage || !strings.Contains(errOut, "CHRONICLE_MAX_IN_FLIGHT") {
		t.Fatalf("a bad environment value must be named: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "frobnicate"); code != exitUsage {
		t.Fatal("unknown verb accepted")
	}
}

func TestPublishJSONOutput(t *testing.T) {
	a := startApp(t)
	spec, _ := events.Lookup("housing.concern")
	good, _ := events.Encode(spec.ExampleEvent())
	code, out, _ := runCLI(t, string(good), "publish", "--json", "--nats-url", a.NATSClientURL(), "--data", a.dir)
	var resp struct {
		Accepted int `json:"accepted"`
	}
	if code != exitOK || json.Unmarshal([]byte(out), &resp) != nil || resp.Accepted != 1 {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// chronicle replay --as-known-at rebuilds what the hub knew then: an event
// received later is not in it, and the digest differs from the present's.
func TestReplayVerbAsKnownAt(t *testing.T) {
	a := startApp(t)
	spec, _ := events.Lookup("health.concern")
	first, _ := events.Encode(spec.ExampleEvent())
	if code, out, _ := runCLI(t, string(first), "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir); code != exitOK {
		t.Fatal(out)
	}
	// The cut-off is the first event's own receipt time.
	stream, err := a.JetStream().Stream(context.Background(), eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	m, err := stream.GetMsg(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	between := m.Time
	e := spec.ExampleEvent()
	e.SourceRef = "later"
	e.ID = events.DeriveID(e)
	second, _ := events.Encode(e)
	if code, out, _ := runCLI(t, string(second), "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir); code != exitOK {
		t.Fatal(out)
	}
	var then, now struct {
		Events int    `json:"events_applied"`
		Digest string `json:"digest"`
	}
	_, out, errOut := runCLI(t, "", "replay", "--json", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--as-known-at", between.Format(time.RFC3339Nano))
	if err := json.Unmarshal([]byte(out), &then); err != nil {
		t.Fatalf("%v: %s %s", err, out, errOut)
	}
	_, out, _ = runCLI(t, "", "replay", "--json", "--nats-url", a.NATSClientURL(), "--data", a.dir)
	if err := json.Unmarshal([]byte(out), &now); err != nil {
		t.Fatal(err)
	}
	if then.Events != 1 || now.Events != 2 || then.Digest == now.Digest {
		t.Fatalf("then %+v, now %+v", then, now)
	}
	if code, _, errOut := runCLI(t, "", "replay", "--as-known-at", "yesterday"); code != exitUsage || !strings.Contains(errOut, "RFC 3339") {
		t.Fatalf("bad time accepted: %s", errOut)
	}
}

// An invalid rules config stops start-up with a message naming the rule and
// the field.
func TestServeRefusesInvalidRulesConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	os.WriteFile(path, []byte(`{"rules": {"REPEAT_MISSING": {"count": 0, "hours": 5}}}`), 0o644)
	code, _, errOut := runCLI(t, "", "serve", "--data", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0", "--rules", path)
	if code != exitUsage || !strings.Contains(errOut, "REPEAT_MISSING.count") || !strings.Contains(errOut, "REPEAT_MISSING.hours") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// chronicle publish FILE writes the events it did not store, with their
// reasons, next to the file; and it judges corrections against the log as
// the HTTP API does: another agency's correction is rejected, not stored.
func TestPublishFileWritesRejectsAndChecksCorrections(t *testing.T) {
	a := startApp(t)
	spec, _ := events.Lookup("health.concern")
	orig := spec.ExampleEvent()
	data, _ := events.Encode(orig)
	if code, out, errOut := runCLI(t, string(data), "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir); code != exitOK {
		t.Fatalf("original: exit %d %s %s", code, out, errOut)
	}
	correction := func(agency, ref string) string {
		cs, _ := events.Lookup("record.corrected")
		e := cs.ExampleEvent()
		body := &events.RecordCorrected{EventID: orig.ID, Reason: "wrong clinic", Summary: "Health concern (corrected)"}
		raw, _ := json.Marshal(body)
		e.Agency, e.SourceRef, e.Payload, e.Body = agency, ref, raw, body
		e.ID = events.DeriveID(e)
		b, _ := events.Encode(e)
		return string(b)
	}
	bad := strings.Replace(string(data), "9990000018", "9990000017", 1)
	bad = strings.Replace(bad, orig.ID, "", 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "batch.json")
	if err := os.WriteFile(path, []byte("["+correction("health", "c-own")+","+correction("police", "c-foreign")+","+bad+"]"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir, path)
	if code != exitFailure || !strings.Contains(errOut, "1 accepted") || !strings.Contains(errOut, "2 rejected") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "batch.rejects.ndjson"))
	if err != nil {
		t.Fatalf("no rejects file: %v (stderr %s)", err, errOut)
	}
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"line":2`) || !strings.Contains(lines[0], "may not amend") ||
		!strings.Contains(lines[1], `"line":3`) || !strings.Contains(lines[1], "check digit does not match") {
		t.Fatalf("rejects:\n%s", rejects)
	}
	// Fixed and published again: the stale rejects file goes.
	if err := os.WriteFile(path, []byte(correction("health", "c-own-2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "publish", "--nats-url", a.NATSClientURL(), "--data", a.dir, path); code != exitOK {
		t.Fatalf("second publish: exit %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "batch.rejects.ndjson")); !os.IsNotExist(err) {
		t.Fatalf("stale rejects file left behind: %v", err)
	}
}

func TestDemoDataVerb(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"small data set to stdout", []string{"--children", "40", "--seed", "9"}, exitOK, "about 40 children"},
		{"spill directory is a file", []string{"--children", "3000", "--temp-dir", notADir}, exitFailure, "demo-data: demodata: spill"},
		{"not a number", []string{"--children", "many"}, exitUsage, "invalid value \"many\" for flag -children"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append([]string{"demo-data"}, tt.args...)...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d (want %d)\nstderr: %s", code, tt.wantCode, errOut)
			}
			if tt.wantCode != exitOK {
				return
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if !strings.Contains(errOut, "wrote "+strconv.Itoa(len(lines))+" events") {
				t.Fatalf("%d lines written, stderr says: %s", len(lines), errOut)
			}
			for i, l := range lines {
				if _, err := events.Check([]byte(l), time.Now()); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
			}
		})
	}
}

// Every verb follows one convention: -h and --help print its usage to
// stdout and exit 0; an unknown flag prints the problem and the usage to
// stderr and exits 2; the usage has one format. The same for chronicle
// itself.
func TestEveryVerbsHelpAndUsage(t *testing.T) {
	for _, v := range verbs() {
		args := []string{v.name}
		if v.name == "export" {
			args = append(args, "annex-a")
		}
		for _, help := range []string{"-h", "--help"} {
			t.Run(v.name+" "+help, func(t *testing.T) {
				code, out, errOut := runCLI(t, "", append(append([]string{}, args...), help)...)
				if code != exitOK || !strings.HasPrefix(out, "usage: chronicle "+v.name+" [flags]") || !strings.Contains(out, "flags (each also CHRONICLE_<FLAG>") || errOut != "" {
					t.Fatalf("exit %d\nstdout: %.300s\nstderr: %.300s", code, out, errOut)
				}
			})
		}
		t.Run(v.name+" --bogus", func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append(append([]string{}, args...), "--bogus")...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, "flag provided but not defined: -bogus") ||
				!strings.Contains(errOut, "usage: chronicle "+v.name) || strings.Count(errOut, "flag provided but not defined") != 1 {
				t.Fatalf("exit %d\nstdout: %.300s\nstderr: %.300s", code, out, errOut)
			}
		})
	}
	for _, tt := range []struct {
		args         []string
		code         int
		stdout, errs bool
	}{
		{[]string{"--help"}, exitOK, true, false},
		{[]string{"-h"}, exitOK, true, false},
		{[]string{"help"}, exitOK, true, false},
		{nil, exitUsage, false, true},
		{[]string{"frobnicate"}, exitUsage, false, true},
	} {
		code, out, errOut := runCLI(t, "", tt.args...)
		if code != tt.code || (out != "") != tt.stdout || (errOut != "") != tt.errs {
			t.Errorf("chronicle %v: exit %d, stdout %q, stderr %q", tt.args, code, out, errOut)
		}
	}
}

// Flags may come after the arguments, as people type them.
func TestFlagsAfterArguments(t *testing.T) {
	code, _, errOut := runCLI(t, "", "import", filepath.Join(t.TempDir(), "missing.ndjson"), "--quiet", "--nats-url", "nats://127.0.0.1:1")
	if code != exitFailure || !strings.Contains(errOut, "missing.ndjson: no such file") || strings.Contains(errOut, "usage:") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
