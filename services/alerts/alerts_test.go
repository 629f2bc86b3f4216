package alerts_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/alerts"
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
	t0 := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	a1 := events.Identifiers{NHSNumber: "9990000018"}
	a2 := events.Identifiers{NHSNumber: "9990000026"}
	apply(t, m, 1, "missing.returned", "police", t0, a1, &events.MissingReturned{EpisodeRef: "E1"})
	apply(t, m, 2, "health.concern", "health", t0, a2, &events.HealthConcern{Concern: "x"})
	c := &clock{t: t0.Add(time.Hour)}
	al, err := alerts.Start(context.Background(), srv.JS, m, alerts.Config{Now: c.Now, Interval: 5 * time.Millisecond, FullSweepEvery: 1000 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
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
	apply(t, m, 3, "return_interview.completed", "early_help", t0.Add(74*time.Hour), a1, &events.ReturnInterview{EpisodeRef: "E1", Accepted: true})
	c.Set(t0.Add(75 * time.Hour))
	jstest.Eventually(t, 5*time.Second, "clearing alert", func() bool { return count(t, srv, "RHI_OVERDUE", "cleared") == 1 })
	if got := m.ChangedSince(2); len(got) != 1 {
		t.Fatalf("ChangedSince(2) = %v, want the one child", got)
	}
}
