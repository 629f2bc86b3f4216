package flags

import (
	"sort"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// Source is the read model the flags are computed from.
type Source interface {
	ChildByID(id string, asOf *time.Time) (projections.Child, bool)
	Chronology(id string, asOf *time.Time, withRetracted bool) ([]projections.Entry, bool)
	Children(f projections.ChildFilter, asOf *time.Time) []projections.Child
}

var _ Source = (*projections.Model)(nil)

// ForChild evaluates a child's flags at time at, from the history the hub
// had received by asOf (nil: everything). When at is before asOf (or asOf
// is nil and hindsight is asked for), entries count from when they
// happened: see History.Hindsight. ok is false for an unknown child.
func ForChild(m Source, childID string, asOf *time.Time, at time.Time, hindsight bool, cfg Config) ([]Flag, bool) {
	h, ok := HistoryOf(m, childID, asOf)
	if !ok {
		return nil, false
	}
	h.Hindsight = hindsight
	fs, _ := Evaluate(h, at, cfg)
	return fs, true
}

// HistoryOf is a child's history as the hub knew it at asOf (nil: now), the
// one way every reader (GraphQL, the worklist, the alerter, a replay) builds
// what the rules read, so that they tell the same story of each flag.
// Retracted entries are in it, marked with when the retraction was known:
// a flag resting on one is shown cleared by it, not forgotten. ok is false
// for an unknown child.
func HistoryOf(m Source, childID string, asOf *time.Time) (History, bool) {
	c, ok := m.ChildByID(childID, asOf)
	if !ok {
		return History{}, false
	}
	entries, _ := m.Chronology(c.ID, asOf, true)
	return historyOf(c, entries), true
}

func historyOf(c projections.Child, entries []projections.Entry) History {
	h := History{Entries: entries}
	// With conflicting dates of birth (itself a listed identity conflict),
	// the earliest is used: it errs towards the child being older, so the
	// age-based rule is the one that can miss, and the conflict is visible.
	for _, d := range c.DatesOfBirth {
		if t, ok := events.Date(d).Time(); ok {
			h.DateOfBirth = &t
			break
		}
	}
	return h
}

// ChildFlags is one child's active flags, for the worklist.
type ChildFlags struct {
	Child projections.Child
	Flags []Flag
}

// Highest is the most severe active flag's severity.
func (c ChildFlags) Highest() string { return c.Flags[0].Severity }

// Latest is when the most recent active flag was raised.
func (c ChildFlags) Latest() time.Time {
	var t time.Time
	for _, f := range c.Flags {
		if f.RaisedAt.After(t) {
			t = f.RaisedAt
		}
	}
	return t
}

// Sweep evaluates every child at time at (history as known at asOf, nil for
// everything) and returns the children with active flags, most severe first
// and then most recently raised, and the earliest time any flag could change
// without a new event.
func Sweep(m Source, asOf *time.Time, at time.Time, cfg Config) ([]ChildFlags, time.Time) {
	var out []ChildFlags
	var next time.Time
	for _, c := range m.Children(projections.ChildFilter{}, asOf) {
		entries, _ := m.Chronology(c.ID, asOf, true)
		fs, n := Evaluate(historyOf(c, entries), at, cfg)
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
		var active []Flag
		for _, f := range fs {
			if f.Active() {
				active = append(active, f)
			}
		}
		if len(active) > 0 {
			out = append(out, ChildFlags{Child: c, Flags: active})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if ra, rb := SeverityRank(a.Highest()), SeverityRank(b.Highest()); ra != rb {
			return ra < rb
		}
		if la, lb := a.Latest(), b.Latest(); !la.Equal(lb) {
			return la.After(lb)
		}
		return a.Child.ID < b.Child.ID
	})
	return out, next
}
