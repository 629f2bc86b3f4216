package flags

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
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
// The keys are worked out once and sorted apart from the entries, which
// are large: sorting six thousand flagged children by swapping them and
// asking each for its latest flag at every comparison was most of a
// worklist request after a change at a million events. Child ids are
// unique, so the order is total and needs no stable sort.
func sortWorklist(out []ChildFlags) {
	type key struct {
		rank   int
		latest int64
		id     string
		at     int
	}
	keys := make([]key, len(out))
	for i, cf := range out {
		keys[i] = key{rank: SeverityRank(cf.Highest()), latest: cf.Latest().UnixNano(), id: cf.Child.ID, at: i}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(b.latest, a.latest); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	sorted := make([]ChildFlags, len(out))
	for i, k := range keys {
		sorted[i] = out[k.at]
	}
	copy(out, sorted)
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
// worklist page, and the alerter through Follow), so each change is
// evaluated once.
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
	// For the followers: gen numbers the updates; changed says in which
	// one each child whose flags the followers must hear of was last
	// re-evaluated, and recent holds those flags (cleared ones too; none
	// for a child whose flags went away), until every follower has read
	// them.
	gen       uint64
	changed   map[string]uint64
	recent    map[string][]Flag
	followers []*Follower
	// restored is set while the flags are a saved worklist's (Restore),
	// until everyone is evaluated again for some other reason.
	restored bool
}

// NewWorklist returns a worklist over src with the rules in force.
func NewWorklist(src Changes, rules Config) *Worklist {
	return &Worklist{src: src, rules: rules, changed: map[string]uint64{}, recent: map[string][]Flag{}}
}

// At returns the children with active flags at time now, in worklist order
// (see Sweep). The slice is shared: callers must not change it.
func (w *Worklist) At(now time.Time) []ChildFlags {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.update(context.Background(), now) // cannot fail without a deadline
	return w.list()
}

// CatchUp brings a worklist already evaluated to time now and the model's
// position, as At would, for Save: the changes since are then evaluated
// before a shutdown rather than after the next start. A worklist never
// evaluated, or last evaluated at a later time, is left as it is (that
// would be every child again). When ctx ends part way, what was evaluated
// is kept and the position is not moved (see update).
func (w *Worklist) CatchUp(ctx context.Context, now time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.built || now.Before(w.at) {
		return nil
	}
	return w.update(ctx, now)
}

// Follower reads the changes to the present flags at its own pace, as the
// alerter does: it diffs what it has said against them.
type Follower struct {
	w    *Worklist
	mark uint64
}

// Follow returns a new follower. Its first Changed tells every child with
// flags (a follower that comes after the first evaluation has everyone
// evaluated again for it; one that comes after Restore hears of every
// child with active flags as saved, and of the changes saved unread,
// then of what changed since, which is what it would hear of from a full
// evaluation that it had not told before).
func (w *Worklist) Follow() *Follower {
	w.mu.Lock()
	defer w.mu.Unlock()
	f := &Follower{w: w}
	w.followers = append(w.followers, f)
	if !w.restored {
		w.built = false
		return f
	}
	w.gen++
	for id, cf := range w.byChild {
		if _, unread := w.changed[id]; !unread {
			w.changed[id], w.recent[id] = w.gen, cf.Flags
		}
	}
	return f
}

// Changed brings the worklist to time now and returns every flag, cleared
// ones too, of each child whose active flags may have changed since the
// follower's last Done (at first: every child with flags), with nil for a
// child whose flags went away (merged into another record, evidence
// corrected), and the mark to pass to Done once they have been dealt with.
func (f *Follower) Changed(ctx context.Context, now time.Time) (map[string][]Flag, uint64, error) {
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.update(ctx, now); err != nil {
		return nil, 0, err
	}
	out := map[string][]Flag{}
	for id, g := range w.changed {
		if g > f.mark {
			out[id] = w.recent[id]
		}
	}
	return out, w.gen, nil
}

// Done says the follower has dealt with the changes up to mark; what
// every follower has dealt with is forgotten.
func (f *Follower) Done(mark uint64) {
	w := f.w
	w.mu.Lock()
	defer w.mu.Unlock()
	f.mark = max(f.mark, mark)
	low := f.mark
	for _, o := range w.followers {
		low = min(low, o.mark)
	}
	for id, g := range w.changed {
		if g <= low {
			delete(w.changed, id)
			delete(w.recent, id)
		}
	}
}

// racing is how far a caller's clock may read behind the last time used
// and still be answered incrementally, at that later time: two readers
// sharing the worklist take the time just before they queue for it. A
// clock further back (a test, an operator's correction) evaluates
// everyone again, since flags are a function of time and only later times
// are kept up incrementally.
const racing = 5 * time.Second

// update folds in what changed since the last call. Call with w.mu held.
// When ctx ends part way (a process shutting down while every child is
// evaluated at start), it stops and the next call starts again: a first
// evaluation from the beginning, an incremental one from the same
// position (re-evaluating a child twice changes nothing).
func (w *Worklist) update(ctx context.Context, now time.Time) error {
	if w.built && now.Before(w.at) && w.at.Sub(now) <= racing {
		now = w.at
	}
	seq := w.src.LastSeq()
	w.gen++
	if !w.built || now.Before(w.at) {
		// Everyone again: the followers hear of every child with flags,
		// and of those that had active ones and now have none.
		for id := range w.byChild {
			w.note(id, nil)
		}
		w.byChild, w.next, w.sorted = map[string]ChildFlags{}, map[string]time.Time{}, nil
		w.built, w.restored = false, false
		for _, c := range w.src.Children(projections.ChildFilter{}, nil) {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("flags: evaluating every child: %w", err)
			}
			if fs := w.put(c, now); len(fs) > 0 {
				w.note(c.ID, fs)
			}
		}
		w.built, w.seq, w.at = true, seq, now
		return nil
	}
	changed := w.src.ChangedSince(w.seq)
	// A set, not slices.Contains: a bulk import changes tens of thousands
	// of children between two looks, and as many have deadlines.
	seen := make(map[string]bool, len(changed))
	for _, id := range changed {
		seen[id] = true
	}
	for id, n := range w.next {
		if !now.Before(n) && !seen[id] {
			changed = append(changed, id)
		}
	}
	for _, id := range changed {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("flags: evaluating what changed: %w", err)
		}
		was := w.drop(id)
		var fs []Flag
		if c, ok := w.src.ChildByID(id, nil); ok && c.ID == id {
			fs = w.put(c, now)
		}
		if _, is := w.byChild[id]; was || is {
			w.note(id, fs)
		}
	}
	if len(changed) > 0 {
		// A child merged into another no longer answers to its own id.
		for id := range w.byChild {
			if !w.src.IsChild(id) {
				w.drop(id)
				w.note(id, nil)
			}
		}
	}
	w.seq, w.at = seq, now
	return nil
}

// note tells the followers, if any, of a child's flags now.
func (w *Worklist) note(id string, fs []Flag) {
	if len(w.followers) == 0 {
		return
	}
	w.changed[id] = w.gen
	if fs == nil {
		delete(w.recent, id)
	} else {
		w.recent[id] = fs
	}
}

// drop forgets a child's flags and says whether it had active ones.
func (w *Worklist) drop(id string) bool {
	_, had := w.byChild[id]
	delete(w.byChild, id)
	delete(w.next, id)
	w.sorted = nil
	return had
}

// put evaluates a child and returns its flags, cleared ones too.
func (w *Worklist) put(c projections.Child, now time.Time) []Flag {
	entries, _ := w.src.Chronology(c.ID, nil, true)
	fs, n := Evaluate(historyOf(c, entries), now, w.rules)
	if cf := activeOf(c, fs); len(cf.Flags) > 0 {
		w.byChild[c.ID] = cf
	}
	if !n.IsZero() {
		w.next[c.ID] = n
	}
	return fs
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
