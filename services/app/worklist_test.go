package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// The present flags are saved at shutdown and restored at start, so a
// restarted gateway does not evaluate every child again; its alerter
// then says nothing new (the flags are as they were). A saved worklist
// is not used with other rules, nor when it is damaged: every child is
// evaluated again, and the log says why.
func TestWorklistIsRestoredAfterARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var logs jstest.Buffer
	withLog := func(c *app.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }
	settle := func(a *app.App) []alerts.Alert {
		t.Helper()
		if err := a.Projector().WaitForLatest(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Alerter().Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := alerts.List(ctx, a.JetStream())
		if err != nil {
			t.Fatal(err)
		}
		return list
	}
	a := start(t, dir, withLog)
	if _, err := a.LoadDemo(ctx, demodata.Config{Seed: 7, Children: 40}, io.Discard); err != nil {
		t.Fatal(err)
	}
	before := settle(a)
	if len(before) == 0 {
		t.Fatal("the demo raised no alert: nothing to compare")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	saved, _ := filepath.Glob(filepath.Join(dir, "snapshots", "worklist-*.saved"))
	if len(saved) != 1 {
		t.Fatalf("saved worklists after shutdown: %v", saved)
	}

	b := start(t, dir, withLog)
	if !strings.Contains(logs.String(), "worklist restored") {
		t.Fatalf("the worklist was not restored:\n%s", logs.String())
	}
	if after := settle(b); len(after) != len(before) {
		t.Fatalf("after a restart the alerter stored %d alerts more", len(after)-len(before))
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	stricter, err := flags.LoadConfig(strings.NewReader(`{"rules": {"REPEAT_MISSING": {"count": 9}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c := start(t, dir, withLog, func(c *app.Config) { c.Rules = stricter })
	if n := strings.Count(logs.String(), "saved worklist not used"); n != 1 {
		t.Fatalf("a worklist saved under other rules: %d warnings\n%s", n, logs.String())
	}
	settle(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	data, err := os.ReadFile(saved[0])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(saved[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	d := start(t, dir, withLog)
	if n := strings.Count(logs.String(), "saved worklist not used"); n != 2 || !strings.Contains(logs.String(), "checksum") {
		t.Fatalf("a damaged worklist: %d warnings\n%s", n, logs.String())
	}
	settle(d)
}

// The worklist is saved at the log's end, not where the alerter last
// looked: what changed after that look (up to ten seconds of a bulk
// import) is evaluated at shutdown, beside the final snapshot, so the
// next start has nothing to catch up on but deadlines.
func TestWorklistIsSavedAtTheLogsEnd(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	a := start(t, dir, func(c *app.Config) { c.AlertInterval = time.Hour })
	if _, err := a.LoadDemo(ctx, demodata.Config{Seed: 7, Children: 20}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	// More events that only the projector sees before the shutdown.
	a.Alerter().Stop()
	more := slices.DeleteFunc(demodata.Generate(demodata.Config{Seed: 8, Children: 5}), func(e *events.Event) bool {
		return e.Type == "record.corrected" || e.Type == "record.retracted" // they name events of this set
	})
	if err := a.PublishAndApply(ctx, more...); err != nil {
		t.Fatal(err)
	}
	last := storedCount(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "snapshots", "worklist-*.saved"))
	if len(paths) != 1 {
		t.Fatalf("saved worklists after shutdown: %v", paths)
	}
	f, err := os.Open(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := flags.ReadSaved(f)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Seq != last {
		t.Fatalf("worklist saved at sequence %d, the log ends at %d", saved.Seq, last)
	}
}
