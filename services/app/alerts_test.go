package app_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// clock is a test clock that only moves when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// duplicateWindow is the shortest the server accepts, so that a test can
// outlast it: past it, only the alerter's rebuild of what it said from the
// stream keeps it from repeating an alert.
const duplicateWindow = 100 * time.Millisecond

func startWithClock(t *testing.T, dir string, c *clock) *app.App {
	t.Helper()
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true,
		Now: c.Now, AlertInterval: 10 * time.Millisecond, Streams: eventlog.StreamConfig{DuplicateWindow: duplicateWindow}})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func rhiAlerts(t *testing.T, a *app.App) (raised, cleared int) {
	t.Helper()
	list, err := alerts.List(context.Background(), a.JetStream())
	if err != nil {
		t.Fatal(err)
	}
	for _, al := range list {
		if al.Code == "RHI_OVERDUE" {
			if al.Kind == "raised" {
				raised++
			} else {
				cleared++
			}
		}
	}
	return raised, cleared
}

// A child returns from a missing episode and no return home interview is
// recorded. With no new event, the alert is raised once the 72 hours pass,
// exactly once, and a restart neither repeats nor loses it, even after the
// duplicate window has passed; the interview, when it comes, clears it.
func TestOverdueInterviewAlertsOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	// Events happen in the recent real past (ingest refuses future events)
	// and are received now; only the alerter's clock then moves forward.
	returnedAt := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	c := &clock{t: time.Now().UTC()}
	a := startWithClock(t, dir, c)

	ids := events.Identifiers{NHSNumber: "9990000018", PolicePersonID: "PP-7"}
	post := func(a *app.App, typ events.Type, agency, ref string, at time.Time, body events.Payload) {
		spec, _ := events.Lookup(typ)
		e := spec.ExampleEvent()
		e.Agency, e.SourceRef, e.Subjects = agency, ref, []events.Subject{{Identifiers: ids}}
		e.OccurredAt, e.RecordedAt = at, at
		raw, _ := json.Marshal(body)
		e.Payload, e.Body = raw, body
		e.ID = events.DeriveID(e)
		data, _ := json.Marshal([]*events.Event{e})
		resp, err := ingest.PublishBody(context.Background(), a.Publisher(), data)
		if err != nil || resp.Accepted != 1 {
			t.Fatalf("ingest %s: %v %+v", typ, err, resp)
		}
	}
	post(a, "missing.reported", "police", "r1", returnedAt.Add(-20*time.Hour), &events.MissingReported{EpisodeRef: "MP/1", Category: "missing"})
	post(a, "missing.returned", "police", "r2", returnedAt, &events.MissingReturned{EpisodeRef: "MP/1"})
	ctx := context.Background()
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := rhiAlerts(t, a); r != 0 {
		t.Fatalf("alerted before the deadline: %d", r)
	}

	// Time passes; no event arrives.
	c.Set(returnedAt.Add(72*time.Hour + time.Minute))
	jstest.Eventually(t, 5*time.Second, "the overdue interview alert", func() bool {
		r, _ := rhiAlerts(t, a)
		return r == 1
	})
	if err := a.Alerter().Sweep(ctx); err != nil { // sweeping again changes nothing
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// The alert was stored before now. Once the window has passed since,
	// the restarted server's duplicate index (rebuilt from the messages
	// inside the window) no longer holds its id: a repeat would be stored.
	stored := time.Now()
	jstest.Eventually(t, 5*time.Second, "the duplicate window to pass", func() bool { return time.Since(stored) > duplicateWindow })

	c.Set(returnedAt.Add(80 * time.Hour))
	b := startWithClock(t, dir, c)
	if err := b.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 5*time.Second, "the restarted alerter to sweep", func() bool { return b.Projector().CaughtUp() })
	if err := b.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if r, cl := rhiAlerts(t, b); r != 1 || cl != 0 {
		t.Fatalf("after restart: %d raised, %d cleared; want exactly 1 raised", r, cl)
	}

	// The interview record arrives and clears it: one cleared alert.
	post(b, "return_interview.completed", "early_help", "r3", time.Now().UTC(), &events.ReturnInterview{EpisodeRef: "MP/1", Accepted: new(true)})
	jstest.Eventually(t, 5*time.Second, "the clearing alert", func() bool {
		_, cl := rhiAlerts(t, b)
		return cl == 1
	})
	list, _ := alerts.List(ctx, b.JetStream())
	last := list[len(list)-1]
	if last.Kind != "cleared" || last.ClearedAt == nil || last.ClearReason == "" {
		t.Fatalf("clearing alert: %+v", last)
	}
}

// A deadline that passes while Chronicle is stopped is alerted when it comes
// back: none missed.
func TestDeadlinePassedWhileDownIsAlertedOnStart(t *testing.T) {
	dir := t.TempDir()
	returnedAt := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	c := &clock{t: time.Now().UTC()}
	a := startWithClock(t, dir, c)
	spec, _ := events.Lookup("missing.returned")
	e := spec.ExampleEvent()
	e.Agency, e.SourceRef = "police", "down-1"
	e.OccurredAt, e.RecordedAt = returnedAt, returnedAt
	e.ID = events.DeriveID(e)
	data, _ := json.Marshal(e)
	if r, err := ingest.PublishBody(context.Background(), a.Publisher(), data); err != nil || r.Accepted != 1 {
		t.Fatalf("ingest: %v %+v", err, r)
	}
	ctx := context.Background()
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	a.Close()

	c.Set(returnedAt.Add(73 * time.Hour)) // the deadline passes while down
	b := startWithClock(t, dir, c)
	jstest.Eventually(t, 5*time.Second, "the alert after restart", func() bool {
		r, _ := rhiAlerts(t, b)
		return r == 1
	})
	if err := b.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := rhiAlerts(t, b); r != 1 {
		t.Fatalf("%d raised alerts, want 1", r)
	}
}
