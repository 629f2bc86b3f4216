package flags

import (
	"slices"
	"sort"
	"sync"
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
		cf, n := evaluateChild(m, c, asOf, at, cfg)
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
		if len(cf.Flags) > 0 {
			out = append(out, cf)
		}
	}
	sortWorklist(out)
	return out, next
}

// evaluateChild returns a child's active flags at time at, and when they
// could next change without a new event.
func evaluateChild(m Source, c projections.Child, asOf *time.Time, at time.Time, cfg Config) (ChildFlags, time.Time) {
	entries, _ := m.Chronology(c.ID, asOf, true)
	fs, n := Evaluate(historyOf(c, entries), at, cfg)
	cf := ChildFlags{Child: c}
	for _, f := range fs {
		if f.Active() {
			cf.Flags = append(cf.Flags, f)
		}
	}
	return cf, n
}

// sortWorklist orders the worklist: most severe first, then most recently
// raised, then by child id.
func sortWorklist(out []ChildFlags) {
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
}

// Changes is what a worklist kept up to date needs from the read model
// besides Source: where it is, which children changed since a position,
// and whether an id still names a child (not one merged into another).
type Changes interface {
	Source
	LastSeq() uint64
	ChangedSince(seq uint64) []string
	IsChild(id string) bool
}

var _ Changes = (*projections.Model)(nil)

// Worklist is the present worklist kept up to date as the log grows: each
// call re-evaluates only the children whose chronology or identity changed
// since the last, and those with a deadline come due, so the cost follows
// what happened, not the size of the hub. It is safe for concurrent use.
type Worklist struct {
	src   Changes
	rules Config

	mu      sync.Mutex
	built   bool
	seq     uint64    // the model's position last folded in
	at      time.Time // the evaluation time last used
	byChild map[string]ChildFlags
	next    map[string]time.Time // when each child's flags could change by themselves
	sorted  []ChildFlags         // nil once stale
}

// NewWorklist returns a worklist over src with the rules in force.
func NewWorklist(src Changes, rules Config) *Worklist {
	return &Worklist{src: src, rules: rules}
}

// At returns the children with active flags at time now, in worklist order
// (see Sweep). The slice is shared: callers must not change it. A time
// earlier than the last asked for evaluates everyone again (flags are a
// function of time, and only later times are kept up incrementally).
func (w *Worklist) At(now time.Time) []ChildFlags {
	w.mu.Lock()
	defer w.mu.Unlock()
	seq := w.src.LastSeq()
	if !w.built || now.Before(w.at) {
		w.byChild, w.next, w.sorted = map[string]ChildFlags{}, map[string]time.Time{}, nil
		for _, c := range w.src.Children(projections.ChildFilter{}, nil) {
			w.put(c, now)
		}
		w.built, w.seq, w.at = true, seq, now
		return w.list()
	}
	changed := w.src.ChangedSince(w.seq)
	for id, n := range w.next {
		if !now.Before(n) && !slices.Contains(changed, id) {
			changed = append(changed, id)
		}
	}
	for _, id := range changed {
		delete(w.byChild, id)
		delete(w.next, id)
		w.sorted = nil
		if c, ok := w.src.ChildByID(id, nil); ok && c.ID == id {
			w.put(c, now)
		}
	}
	if len(changed) > 0 {
		// A child merged into another no longer answers to its own id.
		for id := range w.byChild {
			if !w.src.IsChild(id) {
				delete(w.byChild, id)
				delete(w.next, id)
				w.sorted = nil
			}
		}
	}
	w.seq, w.at = seq, now
	return w.list()
}

func (w *Worklist) put(c projections.Child, now time.Time) {
	cf, n := evaluateChild(w.src, c, nil, now, w.rules)
	if len(cf.Flags) > 0 {
		w.byChild[c.ID] = cf
	}
	if !n.IsZero() {
		w.next[c.ID] = n
	}
}

func (w *Worklist) list() []ChildFlags {
	if w.sorted == nil {
		w.sorted = make([]ChildFlags, 0, len(w.byChild))
		for _, cf := range w.byChild {
			w.sorted = append(w.sorted, cf)
		}
		sortWorklist(w.sorted)
	}
	return w.sorted
}
