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
	"github.com/chronicle-hub/chronicle/projections/flags"
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

// apply applies one event, received when it happened, and returns its id.
func apply(t *testing.T, m *projections.Model, seq uint64, typ events.Type, agency string, at time.Time, ids events.Identifiers, body events.Payload) string {
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
	return e.ID
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

// After the first sweep, a deadline coming due re-evaluates only the
// children it concerns, and a new event only the children it touches; both
// alert.
func TestIncrementalSweeps(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	a1 := events.Identifiers{NHSNumber: "9990000018"}
	a2 := events.Identifiers{NHSNumber: "9990000026"}
	returnedAtT0(t, m, 1, a1)
	apply(t, m, 2, "health.concern", "health", t0, a2, &events.HealthConcern{Concern: "x"})
	c := &clock{t: t0.Add(time.Hour)}
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: 5 * time.Millisecond})
	defer al.Stop()
	if err := al.Sweep(context.Background()); err != nil { // every child; the rest are incremental
		t.Fatal(err)
	}
	select {
	case <-al.Looked():
	default:
		t.Fatal("Looked is not closed after the first sweep")
	}
	if n := count(t, srv, "RHI_OVERDUE", "raised"); n != 0 {
		t.Fatalf("%d alerts before the deadline", n)
	}

	c.Set(t0.Add(73 * time.Hour)) // the deadline comes due: no event
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

// byCode returns the alerts about one rule's flags, oldest first.
func byCode(t *testing.T, srv *jstest.Server, code string) []alerts.Alert {
	t.Helper()
	list, err := alerts.List(context.Background(), srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	var out []alerts.Alert
	for _, a := range list {
		if a.Code == code {
			out = append(out, a)
		}
	}
	return out
}

// An initial conference held at 15:00 on its last permitted day was in
// time (Working Together 2023: within 15 working days is a date), so the
// alerter says nothing, whenever it sweeps that day: not a raise at the
// strategy discussion's hour and then a clear.
func TestConferenceOnItsLastDayIsNeverAlerted(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	ids := events.Identifiers{NHSNumber: "9990000018"}
	london, _ := time.LoadLocation("Europe/London")
	at := func(d, h, min int) time.Time { return time.Date(2025, 2, d, h, min, 0, 0, london) }
	apply(t, m, 1, "strategy_discussion.held", "social_care", at(3, 14, 0), ids, &events.StrategyDiscussion{Decision: "section47_enquiry"})
	apply(t, m, 2, "conference.held", "social_care", at(24, 15, 0), ids, &events.Conference{Kind: "initial", Outcome: "plan_started", Category: "NEG"})
	c := &clock{t: at(24, 14, 30)}
	var ready atomic.Bool // only the sweeps below
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: time.Hour, Ready: ready.Load})
	defer al.Stop()
	for _, now := range []time.Time{at(24, 14, 30), at(24, 16, 0), at(25, 0, 1), at(28, 12, 0)} {
		c.Set(now)
		sweep(t, al)
	}
	if got := byCode(t, srv, "ICPC_OVERDUE"); len(got) != 0 {
		t.Fatalf("alerts for a conference held in time: %+v", got)
	}
	// The other side of the boundary: with no conference, the alert comes
	// at 00:00 on the next working day, and not before.
	m2 := projections.NewModel()
	apply(t, m2, 1, "strategy_discussion.held", "social_care", at(3, 14, 0), events.Identifiers{NHSNumber: "9990000026"}, &events.StrategyDiscussion{Decision: "section47_enquiry"})
	srv2 := jstest.Run(t)
	c.Set(at(24, 23, 59))
	al2 := start(t, srv2, m2, alerts.Config{Now: c.Now, Interval: time.Hour, Ready: ready.Load})
	defer al2.Stop()
	sweep(t, al2)
	if got := byCode(t, srv2, "ICPC_OVERDUE"); len(got) != 0 {
		t.Fatalf("alerted before the deadline was missed: %+v", got)
	}
	c.Set(at(25, 0, 0))
	sweep(t, al2)
	if got := byCode(t, srv2, "ICPC_OVERDUE"); len(got) != 1 || got[0].Kind != "raised" || !got[0].RaisedAt.Equal(at(25, 0, 0)) {
		t.Fatalf("alerts once the deadline was missed: %+v", got)
	}
}

// When police retract the only exploitation evidence (wrong child), the
// alert that clears the flag tells what riskFlags tells: cleared when the
// retraction was received, "evidence retracted by police on …: why", with
// the raise time it was raised with; not a vanished flag cleared "now".
func TestRetractionClearsWithTheSameStory(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	ids := events.Identifiers{NHSNumber: "9990000018"}
	london, _ := time.LoadLocation("Europe/London")
	at := func(d, h int) time.Time { return time.Date(2025, 3, d, h, 0, 0, 0, london) }
	apply(t, m, 1, "missing.reported", "police", at(1, 20), ids, &events.MissingReported{EpisodeRef: "E1", Category: "missing"})
	notice := apply(t, m, 2, "police.notification", "police", at(3, 10), ids, &events.PoliceReport{Category: "exploitation_concern", ChildRole: "victim"})
	c := &clock{t: at(5, 12)}
	var ready atomic.Bool
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: time.Hour, Ready: ready.Load})
	defer al.Stop()
	sweep(t, al)

	apply(t, m, 3, "record.retracted", "police", at(10, 14), ids, &events.RecordRetracted{EventID: notice, Reason: "Wrong child"})
	c.Set(at(12, 12))
	sweep(t, al)
	got := byCode(t, srv, "MISSING_AND_EXPLOITATION")
	if len(got) != 2 || got[0].Kind != "raised" || got[1].Kind != "cleared" {
		t.Fatalf("want a raise then a clear: %+v", got)
	}
	raised, cleared := got[0], got[1]
	c0, _ := m.FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: ids.NHSNumber}, nil)
	fs, _ := flags.ForChild(m, c0.ID, nil, at(12, 12), false, flags.DefaultConfig())
	var f flags.Flag
	for _, x := range fs {
		if x.Code == "MISSING_AND_EXPLOITATION" {
			f = x
		}
	}
	want := "evidence retracted by police on 10 March 2025: Wrong child"
	switch {
	case f.ClearedAt == nil || f.ClearReason != want:
		t.Fatalf("riskFlags' story: %+v", f)
	case !raised.RaisedAt.Equal(f.RaisedAt) || !cleared.RaisedAt.Equal(f.RaisedAt):
		t.Errorf("raised %v and %v in the alerts, %v in the flags", raised.RaisedAt, cleared.RaisedAt, f.RaisedAt)
	case cleared.ClearedAt == nil || !cleared.ClearedAt.Equal(at(10, 14)) || !cleared.ClearedAt.Equal(*f.ClearedAt):
		t.Errorf("cleared %v in the alert, %v in the flags, want the retraction's receipt %v", cleared.ClearedAt, f.ClearedAt, at(10, 14))
	case cleared.ClearReason != want || cleared.FlagKey != f.Key || raised.FlagKey != f.Key:
		t.Errorf("alert %q (%s), flags %q (%s)", cleared.ClearReason, cleared.FlagKey, f.ClearReason, f.Key)
	}
	sweep(t, al) // nothing more to say
	if n := len(byCode(t, srv, "MISSING_AND_EXPLOITATION")); n != 2 {
		t.Fatalf("%d alerts after another sweep, want 2", n)
	}
}

// The first look follows the read model's catch-up, not the next interval:
// with an interval of an hour, a restarted alerter whose model catches up
// still looks (and alerts) at once.
func TestFirstLookFollowsCatchUp(t *testing.T) {
	srv := jstest.Run(t)
	m := projections.NewModel()
	returnedAtT0(t, m, 1, events.Identifiers{NHSNumber: "9990000018"})
	var ready atomic.Bool
	c := &clock{t: t0.Add(73 * time.Hour)} // the interview is overdue
	al := start(t, srv, m, alerts.Config{Now: c.Now, Interval: time.Hour, Ready: ready.Load})
	defer al.Stop()
	select {
	case <-al.Looked():
		t.Fatal("looked before the model caught up")
	case <-time.After(100 * time.Millisecond):
	}
	ready.Store(true)
	jstest.Eventually(t, 5*time.Second, "the first look after catch-up", func() bool { return count(t, srv, "RHI_OVERDUE", "raised") == 1 })
}
