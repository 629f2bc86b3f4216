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
	return activeOf(c, fs), n
}

// activeOf is the child's active flags among fs.
func activeOf(c projections.Child, fs []Flag) ChildFlags {
	cf := ChildFlags{Child: c}
	for _, f := range fs {
		if f.Active() {
			cf.Flags = append(cf.Flags, f)
		}
	}
	return cf
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
// what happened, not the size of the hub. It is safe for concurrent use,
// and one is shared by every reader of the present flags in a process (the
// worklist page, the alerter), so each change is evaluated once.
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
	// every is each child's flags, cleared ones too, for children that
	// have or had any; gen numbers the updates, and changed says in which
	// one each such child was last re-evaluated (see ChangedSince).
	every   map[string][]Flag
	gen     uint64
	changed map[string]uint64
}

// NewWorklist returns a worklist over src with the rules in force.
func NewWorklist(src Changes, rules Config) *Worklist {
	return &Worklist{src: src, rules: rules, every: map[string][]Flag{}, changed: map[string]uint64{}}
}

// Rules is the rules the worklist evaluates.
func (w *Worklist) Rules() Config { return w.rules }

// At returns the children with active flags at time now, in worklist order
// (see Sweep). The slice is shared: callers must not change it.
func (w *Worklist) At(now time.Time) []ChildFlags {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.update(now)
	return w.list()
}

// ChangedSince brings the worklist to time now and returns every flag,
// cleared ones too, of each child re-evaluated after mark (0: every child
// with flags), with nil for a child whose flags went away (merged into
// another record, or evidence corrected), and the mark to pass next time.
// The alerter diffs what it has said against it.
func (w *Worklist) ChangedSince(now time.Time, mark uint64) (map[string][]Flag, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.update(now)
	out := map[string][]Flag{}
	for id, g := range w.changed {
		if g > mark {
			out[id] = w.every[id]
		}
	}
	return out, w.gen
}

// racing is how far a caller's clock may read behind the last time used
// and still be answered incrementally, at that later time: two readers
// sharing the worklist take the time just before they queue for it. A
// clock further back (a test, an operator's correction) evaluates
// everyone again, since flags are a function of time and only later times
// are kept up incrementally.
const racing = 5 * time.Second

// update folds in what changed since the last call. Call with w.mu held.
func (w *Worklist) update(now time.Time) {
	if w.built && now.Before(w.at) && w.at.Sub(now) <= racing {
		now = w.at
	}
	seq := w.src.LastSeq()
	w.gen++
	if !w.built || now.Before(w.at) {
		for id := range w.every {
			w.changed[id] = w.gen // gone, unless put again below
		}
		w.byChild, w.next, w.every, w.sorted = map[string]ChildFlags{}, map[string]time.Time{}, map[string][]Flag{}, nil
		for _, c := range w.src.Children(projections.ChildFilter{}, nil) {
			w.put(c, now)
		}
		w.built, w.seq, w.at = true, seq, now
		return
	}
	changed := w.src.ChangedSince(w.seq)
	for id, n := range w.next {
		if !now.Before(n) && !slices.Contains(changed, id) {
			changed = append(changed, id)
		}
	}
	for _, id := range changed {
		w.drop(id)
		if c, ok := w.src.ChildByID(id, nil); ok && c.ID == id {
			w.put(c, now)
		}
	}
	if len(changed) > 0 {
		// A child merged into another no longer answers to its own id.
		for id := range w.every {
			if !w.src.IsChild(id) {
				w.drop(id)
			}
		}
	}
	w.seq, w.at = seq, now
}

// drop forgets a child's flags, noting the change when it had any.
func (w *Worklist) drop(id string) {
	if _, had := w.every[id]; had {
		w.changed[id] = w.gen
	}
	delete(w.byChild, id)
	delete(w.next, id)
	delete(w.every, id)
	w.sorted = nil
}

func (w *Worklist) put(c projections.Child, now time.Time) {
	entries, _ := w.src.Chronology(c.ID, nil, true)
	fs, n := Evaluate(historyOf(c, entries), now, w.rules)
	if len(fs) > 0 {
		w.every[c.ID] = fs
		w.changed[c.ID] = w.gen
	}
	if cf := activeOf(c, fs); len(cf.Flags) > 0 {
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
