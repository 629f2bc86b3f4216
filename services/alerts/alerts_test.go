package alerts_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func apply(t *testing.T, m *projections.Model, seq uint64, typ events.Type, agency string, at time.Time, ids events.Identifiers, body events.Payload) {
	t.Helper()
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	e.Agency, e.Subjects, e.OccurredAt, e.RecordedAt = agency, []events.Subject{{Identifiers: ids}}, at, at
	e.SourceRef = string(typ) + at.String()
	raw, _ := json.Marshal(body)
	e.Payload, e.Body = raw, body
	e.ID = events.DeriveID(e)
	if err := m.Apply(projections.Delivered{Event: e, Seq: seq, Received: at}); err != nil {
		t.Fatal(err)
	}
}

// t0 is when every scenario begins: a Monday morning.
var t0 = time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)

// returnedAtT0 applies a child's return from missing episode E1 at t0, with
// no interview to follow: RHI_OVERDUE is raised at t0+72h.
func returnedAtT0(t *testing.T, m *projections.Model, seq uint64, ids events.Identifiers) {
	t.Helper()
	apply(t, m, seq, "missing.returned", "police", t0, ids, &events.MissingReturned{EpisodeRef: "E1"})
}

// start starts an alerter on the server's stream over m.
func start(t *testing.T, srv *jstest.Server, m *projections.Model, cfg alerts.Config) *alerts.Alerter {
	t.Helper()
	al, err := alerts.Start(context.Background(), srv.JS, m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return al
}

func count(t *testing.T, srv *jstest.Server, code, kind string) int {
	t.Helper()
	list, err := alerts.List(context.Background(), srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range list {
		if a.Code == code && a.Kind == kind {
			n++
		}
	}
	return n
}

// Between full sweeps, a deadline coming due re-evaluates only the children
// it concerns, and a new event only the children it touches; both alert.
func TestIncrementalSweeps(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	a1 := events.Identifiers{NHSNumber: "9990000018"}
	a2 := events.Identifiers{NHSNumber: "9990000026"}
	returnedAtT0(t, m, 1, a1)
	apply(t, m, 2, "health.concern", "health", t0, a2, &events.HealthConcern{Concern: "x"})
	c := &clock{t: t0.Add(time.Hour)}
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: 5 * time.Millisecond, FullSweepEvery: 1000 * time.Hour})
	defer al.Stop()
	if err := al.Sweep(context.Background()); err != nil { // the full sweep; the rest are incremental
		t.Fatal(err)
	}
	if n := count(t, srv, "RHI_OVERDUE", "raised"); n != 0 {
		t.Fatalf("%d alerts before the deadline", n)
	}

	c.Set(t0.Add(73 * time.Hour)) // the deadline comes due: no event, no full sweep
	jstest.Eventually(t, 5*time.Second, "deadline alert", func() bool { return count(t, srv, "RHI_OVERDUE", "raised") == 1 })

	// A new event about the child clears it, through ChangedSince.
	apply(t, m, 3, "return_interview.completed", "early_help", t0.Add(74*time.Hour), a1, &events.ReturnInterview{EpisodeRef: "E1", Accepted: new(true)})
	c.Set(t0.Add(75 * time.Hour))
	jstest.Eventually(t, 5*time.Second, "clearing alert", func() bool { return count(t, srv, "RHI_OVERDUE", "cleared") == 1 })
	if got := m.ChangedSince(2); len(got) != 1 {
		t.Fatalf("ChangedSince(2) = %v, want the one child", got)
	}
}

// minDuplicateWindow is the shortest duplicate window the server accepts.
const minDuplicateWindow = 100 * time.Millisecond

// shortDuplicateWindow shrinks the alerts stream's duplicate window to the
// server's minimum, so that a test can outlast it: past it, JetStream no
// longer hides an alert sent twice.
func shortDuplicateWindow(tb testing.TB, srv *jstest.Server) {
	tb.Helper()
	ctx := context.Background()
	s, err := srv.JS.Stream(ctx, eventlog.AlertsStream)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.Duplicates = minDuplicateWindow
	if _, err := srv.JS.UpdateStream(ctx, cfg); err != nil {
		tb.Fatal(err)
	}
}

func sweep(tb testing.TB, al *alerts.Alerter) {
	tb.Helper()
	if err := al.Sweep(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// An alerter restarted after JetStream has forgotten its alert's id does
// not say it again: it rebuilds what it said from the stream. The server is
// restarted past the window too, so its duplicate index, rebuilt only from
// messages inside the window, holds nothing that could hide a repeat.
func TestRestartPastDuplicateWindowDoesNotRepeat(t *testing.T) {
	srv := jstest.Run(t)
	shortDuplicateWindow(t, srv)
	m := projections.NewModel()
	ids := events.Identifiers{NHSNumber: "9990000018"}
	returnedAtT0(t, m, 1, ids)
	c := &clock{t: t0.Add(73 * time.Hour)}
	cfg := alerts.Config{Now: c.Now, Interval: time.Hour}

	al := start(t, srv, m, cfg)
	sweep(t, al)
	al.Stop()
	if n := count(t, srv, "RHI_OVERDUE", "raised"); n != 1 {
		t.Fatalf("%d raised alerts, want 1", n)
	}

	// The alert was stored before now: once the window has passed since,
	// JetStream would store the same alert again.
	stored := time.Now()
	jstest.Eventually(t, 5*time.Second, "the duplicate window to pass", func() bool { return time.Since(stored) > minDuplicateWindow })
	srv = srv.Restart(t)
	shortDuplicateWindow(t, srv) // starting ensured the default again

	c.Set(t0.Add(80 * time.Hour))
	b := start(t, srv, m, cfg)
	defer b.Stop()
	sweep(t, b)
	if n := count(t, srv, "RHI_OVERDUE", "raised"); n != 1 {
		t.Fatalf("after a restart past the duplicate window: %d raised alerts, want 1", n)
	}

	// The next change is still said, once.
	apply(t, m, 2, "return_interview.completed", "early_help", t0.Add(81*time.Hour), ids, &events.ReturnInterview{EpisodeRef: "E1", Accepted: new(true)})
	c.Set(t0.Add(82 * time.Hour))
	sweep(t, b)
	sweep(t, b)
	if r, cl := count(t, srv, "RHI_OVERDUE", "raised"), count(t, srv, "RHI_OVERDUE", "cleared"); r != 1 || cl != 1 {
		t.Fatalf("%d raised, %d cleared; want 1 and 1", r, cl)
	}
}

// A flag that goes away when its child's record is merged into another,
// and comes back unchanged (same raise time) when the records are unlinked,
// is raised again: a new change, with a new alert id, that JetStream must
// not drop as a duplicate of the first raise.
func TestFlagBackAfterUnmergeIsAlertedAgain(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	a := events.Identifiers{NHSNumber: "9990000018"} // founded first: survives the merge
	b := events.Identifiers{PolicePersonID: "PP-7"}  // merged into a, then back
	nhs := events.Identifier{Scheme: events.SchemeNHSNumber, Value: a.NHSNumber}
	police := events.Identifier{Scheme: events.SchemePolicePersonID, Value: b.PolicePersonID}
	apply(t, m, 1, "health.concern", "health", t0, a, &events.HealthConcern{Concern: "x"})
	returnedAtT0(t, m, 2, b)
	childB, _ := m.FindChild(police, nil)

	c := &clock{t: t0.Add(80 * time.Hour)}
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: time.Hour})
	defer al.Stop()
	sweep(t, al) // b's interview is overdue

	apply(t, m, 3, "subjects.linked", "hub", t0.Add(73*time.Hour), a, &events.SubjectsLinked{A: nhs, B: police, Reason: "same child"})
	sweep(t, al) // b's flag is now a's: cleared on b, raised on a

	apply(t, m, 4, "subjects.unlinked", "hub", t0.Add(74*time.Hour), a, &events.SubjectsUnlinked{A: nhs, B: police, Reason: "not the same child"})
	sweep(t, al) // back on b, raised at the same time as before; cleared on a

	list, err := alerts.List(context.Background(), srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	var onB []string
	ids := map[string]bool{}
	for _, al := range list {
		if al.ChildID == childB.ID {
			onB = append(onB, al.Kind)
		}
		if ids[al.ID] {
			t.Errorf("two alerts share the id %s", al.ID)
		}
		ids[al.ID] = true
	}
	if want := []string{"raised", "cleared", "raised"}; !slices.Equal(onB, want) {
		t.Fatalf("alerts on the unmerged child: %v, want %v", onB, want)
	}
	if r, cl := count(t, srv, "RHI_OVERDUE", "raised"), count(t, srv, "RHI_OVERDUE", "cleared"); r != 3 || cl != 2 {
		t.Fatalf("%d raised, %d cleared; want 3 raised (b, a, b again) and 2 cleared (b, a)", r, cl)
	}
}

// The same change said twice, as after a crash between publishing an alert
// and remembering it, or by two alerters, has the same id and is stored once.
func TestSameChangeIsStoredOnce(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	returnedAtT0(t, m, 1, events.Identifiers{NHSNumber: "9990000018"})
	c := &clock{t: t0.Add(73 * time.Hour)}
	var ready atomic.Bool // never: only the explicit sweeps below run
	cfg := alerts.Config{Now: c.Now, Interval: time.Hour, Ready: ready.Load}
	var both []*alerts.Alerter
	for range 2 { // both start before either has said anything
		al := start(t, srv, m, cfg)
		defer al.Stop()
		both = append(both, al)
	}
	for _, al := range both {
		sweep(t, al)
	}
	if n := count(t, srv, "RHI_OVERDUE", "raised"); n != 1 {
		t.Fatalf("%d raised alerts, want the one change stored once", n)
	}
}
