package projections

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// refIdentity is the oracle for Identity: it keeps only the events applied
// and answers every question by recomputing the whole partition from them,
// as plainly as the rules can be written, sharing no code with Identity but
// personalID.
type refIdentity struct {
	log       []Delivered          // applied events other than amendments
	retracted map[string]time.Time // event id -> its first retraction's receipt
	order     []events.Identifier  // identifiers by first mention
	first     map[events.Identifier]Delivered
}

func newRefIdentity() *refIdentity {
	return &refIdentity{retracted: map[string]time.Time{}, first: map[events.Identifier]Delivered{}}
}

func (r *refIdentity) mention(k events.Identifier, d Delivered) {
	if _, ok := r.first[k]; !ok {
		r.first[k] = d
		r.order = append(r.order, k)
	}
}

func (r *refIdentity) apply(d Delivered) {
	switch b := d.Event.Body.(type) {
	case *events.RecordRetracted:
		if _, ok := r.retracted[b.EventID]; !ok {
			r.retracted[b.EventID] = d.Received
		}
		return
	case *events.RecordCorrected:
		return
	}
	for _, k := range pairList(d.Event) {
		r.mention(k, d)
	}
	for _, s := range d.Event.Subjects {
		if s.IsChild() {
			for _, k := range s.Keys() {
				r.mention(k, d)
			}
		}
	}
	r.log = append(r.log, d)
}

// refState is the reference partition as of one time.
type refState struct {
	r        *refIdentity
	asOf     *time.Time
	pos      map[events.Identifier]int
	root     []int          // node -> smallest node of its component
	adj      map[int][]step // active joins, both ways, evidence event on each
	unlinked [][2]int       // pairs whose latest decision is an unlink
	unlinkBy map[[2]int]string
}

func (r *refIdentity) by(t time.Time, asOf *time.Time) bool { return asOf == nil || !t.After(*asOf) }

// at recomputes everything as of asOf (nil: now) from scratch.
func (r *refIdentity) at(asOf *time.Time) *refState {
	st := &refState{r: r, asOf: asOf, pos: map[events.Identifier]int{}, adj: map[int][]step{}, unlinkBy: map[[2]int]string{}}
	for i, k := range r.order {
		st.pos[k] = i
	}
	// The latest decision on each pair received by asOf.
	type verdict struct {
		link    bool
		eventID string
	}
	latest := map[[2]int]verdict{}
	var decided [][2]int
	for _, d := range r.log {
		if !r.by(d.Received, asOf) {
			continue
		}
		if ab := pairList(d.Event); ab != nil {
			a, b := st.pos[ab[0]], st.pos[ab[1]]
			p := [2]int{min(a, b), max(a, b)}
			if _, seen := latest[p]; !seen {
				decided = append(decided, p)
			}
			_, isLink := d.Event.Body.(*events.SubjectsLinked)
			latest[p] = verdict{isLink, d.Event.ID}
		}
	}
	join := func(a, b int, eventID string) {
		st.adj[a] = append(st.adj[a], step{b, eventID})
		st.adj[b] = append(st.adj[b], step{a, eventID})
	}
	for _, d := range r.log {
		if !r.by(d.Received, asOf) {
			continue
		}
		if at, ok := r.retracted[d.Event.ID]; ok && r.by(at, asOf) {
			continue
		}
		for _, s := range d.Event.Subjects {
			if !s.IsChild() {
				continue
			}
			keys := s.Keys()
			for _, k := range keys[1:] {
				a, b := st.pos[keys[0]], st.pos[k]
				if v, ok := latest[[2]int{min(a, b), max(a, b)}]; a != b && (!ok || v.link) {
					join(a, b, d.Event.ID)
				}
			}
		}
	}
	for _, p := range decided {
		if v := latest[p]; v.link {
			join(p[0], p[1], v.eventID)
		} else {
			st.unlinked = append(st.unlinked, p)
			st.unlinkBy[p] = v.eventID
		}
	}
	// Components by flooding from each node in order: the first node
	// reached of a component is its smallest.
	st.root = make([]int, len(r.order))
	for i := range st.root {
		st.root[i] = -1
	}
	for n := range st.root {
		if st.root[n] >= 0 {
			continue
		}
		st.root[n] = n
		for queue := []int{n}; len(queue) > 0; queue = queue[1:] {
			for _, s := range st.adj[queue[0]] {
				if st.root[s.node] < 0 {
					st.root[s.node] = n
					queue = append(queue, s.node)
				}
			}
		}
	}
	return st
}

func (st *refState) known(n int) bool {
	return st.r.by(st.r.first[st.r.order[n]].Received, st.asOf)
}

func (st *refState) childID(n int) string {
	root := st.root[n]
	return personalID(st.r.first[st.r.order[root]].Event.ID, st.r.order[root])
}

// members lists the known identifiers of n's component, first mentioned
// first.
func (st *refState) members(n int) []KnownIdentifier {
	var out []KnownIdentifier
	for m, k := range st.r.order {
		if st.root[m] == st.root[n] && st.known(m) {
			d := st.r.first[k]
			out = append(out, KnownIdentifier{Identifier: k, EventID: d.Event.ID, Seq: d.Seq, Received: d.Received})
		}
	}
	return out
}

// chronology lists the ids of the events received by asOf that mention
// anyone in n's component, by occurred time then sequence.
func (st *refState) chronology(n int) []string {
	var recs []Delivered
	for _, d := range st.r.log {
		if !st.r.by(d.Received, st.asOf) {
			continue
		}
		ks := pairList(d.Event)
		for _, s := range d.Event.Subjects {
			if s.IsChild() {
				ks = append(ks, s.Keys()...)
			}
		}
		if slices.ContainsFunc(ks, func(k events.Identifier) bool { return st.root[st.pos[k]] == st.root[n] }) {
			recs = append(recs, d)
		}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if !recs[i].Event.OccurredAt.Equal(recs[j].Event.OccurredAt) {
			return recs[i].Event.OccurredAt.Before(recs[j].Event.OccurredAt)
		}
		return recs[i].Seq < recs[j].Seq
	})
	var out []string
	for _, d := range recs {
		out = append(out, d.Event.ID)
	}
	return out
}

// concerns lists the children an event names, in the order it names
// them: its children's identifiers, then, withPair, the pair a link or
// unlink names (Entries counts the pair; Event only the subjects).
func (st *refState) concerns(d Delivered, withPair bool) []string {
	var ks []events.Identifier
	for _, s := range d.Event.Subjects {
		if s.IsChild() {
			ks = append(ks, s.Keys()...)
		}
	}
	if withPair {
		ks = append(ks, pairList(d.Event)...)
	}
	var out []string
	for _, k := range ks {
		if id := st.childID(st.pos[k]); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// path is the evidence joining from to each of to: the events on shortest
// chains found breadth first, neighbours by node and then event id.
func (st *refState) path(from int, to []int) []string {
	prev := map[int]step{from: {node: -1}}
	for queue := []int{from}; len(queue) > 0; queue = queue[1:] {
		steps := slices.Clone(st.adj[queue[0]])
		sort.Slice(steps, func(i, j int) bool {
			if steps[i].node != steps[j].node {
				return steps[i].node < steps[j].node
			}
			return steps[i].eventID < steps[j].eventID
		})
		for _, s := range steps {
			if _, seen := prev[s.node]; !seen {
				prev[s.node] = step{queue[0], s.eventID}
				queue = append(queue, s.node)
			}
		}
	}
	var out []string
	for _, n := range to {
		for n != from {
			s := prev[n]
			if !slices.Contains(out, s.eventID) {
				out = append(out, s.eventID)
			}
			n = s.node
		}
	}
	return out
}

// conflicts are the identity conflicts the partition shows (the generator
// gives no dates of birth, so there are no date conflicts to expect).
func (st *refState) conflicts() []Conflict {
	var out []Conflict
	for n := range st.r.order {
		if st.root[n] != n || !st.known(n) {
			continue
		}
		var nhs []int
		for m, k := range st.r.order {
			if st.root[m] == n && st.known(m) && k.Scheme == events.SchemeNHSNumber {
				nhs = append(nhs, m)
			}
		}
		if len(nhs) > 1 {
			c := Conflict{Kind: "different_nhs_numbers", ChildID: st.childID(n), Events: st.path(nhs[0], nhs[1:])}
			for _, m := range nhs {
				c.Identifiers = append(c.Identifiers, st.r.order[m])
			}
			out = append(out, c)
		}
	}
	for _, p := range st.unlinked {
		if st.root[p[0]] == st.root[p[1]] {
			out = append(out, Conflict{
				Kind: "unlink_incomplete", ChildID: st.childID(p[0]),
				Identifiers: []events.Identifier{st.r.order[p[0]], st.r.order[p[1]]},
				Events:      append([]string{st.unlinkBy[p]}, st.path(p[0], []int{p[1]})...),
			})
		}
	}
	return out
}

// conflictKey orders conflicts and leaves out the reason, which is prose.
func conflictKeys(cs []Conflict) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s %s %v %v", c.ChildID, c.Kind, c.Identifiers, c.Events))
	}
	sort.Strings(out)
	return out
}

// randomSubjects gives one or two children, each with one to three
// identifiers of different schemes drawn from ids.
func randomSubjects(r *rand.Rand, ids []events.Identifier) []events.Subject {
	var out []events.Subject
	for range 1 + r.IntN(4)/3 {
		var held []events.Identifier
		for range 1 + r.IntN(3) {
			k := ids[r.IntN(len(ids))]
			if !slices.ContainsFunc(held, func(h events.Identifier) bool { return h.Scheme == k.Scheme }) {
				held = append(held, k)
			}
		}
		out = append(out, subjectOf(held...)...)
	}
	return out
}

// compareIdentity checks everything the model says about identity as of
// asOf against the reference.
func compareIdentity(t *testing.T, m *Model, st *refState, where string) {
	t.Helper()
	r := st.r
	// Every child, with its identifiers in order.
	want := map[string][]KnownIdentifier{}
	for n := range r.order {
		if st.root[n] == n && st.known(n) {
			want[st.childID(n)] = st.members(n)
		}
	}
	got := m.Children(ChildFilter{}, st.asOf)
	if len(got) != len(want) {
		t.Fatalf("%s: %d children, want %d", where, len(got), len(want))
	}
	for _, c := range got {
		if !slices.Equal(c.Identifiers, want[c.ID]) {
			t.Fatalf("%s: child %s holds %v, want %v", where, c.ID, c.Identifiers, want[c.ID])
		}
	}
	if st.asOf == nil && m.Stats().Children != len(want) {
		t.Fatalf("%s: stats count %d children, want %d", where, m.Stats().Children, len(want))
	}
	// Each identifier finds its child, by identifier and by the id it
	// founded; one not yet known finds no one.
	for n, k := range r.order {
		c, ok := m.FindChild(k, st.asOf)
		if ok != st.known(n) {
			t.Fatalf("%s: %v found %t, known %t", where, k, ok, st.known(n))
		}
		byFilter := m.Children(ChildFilter{Identifier: &k}, st.asOf)
		if !ok {
			if len(byFilter) != 0 {
				t.Fatalf("%s: filter on unknown %v found %+v", where, k, byFilter)
			}
			continue
		}
		id := st.childID(n)
		if c.ID != id || !slices.Equal(c.Identifiers, want[id]) {
			t.Fatalf("%s: %v finds %s %v, want %s %v", where, k, c.ID, c.Identifiers, id, want[id])
		}
		if len(byFilter) != 1 || byFilter[0].ID != id {
			t.Fatalf("%s: filter on %v finds %+v, want %s", where, k, byFilter, id)
		}
		founded := personalID(r.first[k].Event.ID, k)
		c, ok = m.ChildByID(founded, st.asOf)
		if !ok || c.ID != id || c.AskedID != founded {
			t.Fatalf("%s: id %s answers %s (%t), want %s", where, founded, c.ID, ok, id)
		}
		if st.root[n] != n {
			continue // one chronology per child is enough
		}
		entries, ok := m.Chronology(founded, st.asOf, true)
		var ids []string
		for _, e := range entries {
			ids = append(ids, e.EventID)
		}
		if wantIDs := st.chronology(n); !ok || !slices.Equal(ids, wantIDs) {
			t.Fatalf("%s: chronology of %v is %v, want %v", where, k, ids, wantIDs)
		}
	}
	// Each event names the children it concerns as they stood, alone and
	// in the list of every entry.
	entries, children := m.Entries(st.asOf)
	var listed []Delivered
	for _, d := range r.log {
		if !r.by(d.Received, st.asOf) {
			continue
		}
		want := st.concerns(d, false)
		if _, got, ok := m.Event(d.Event.ID, st.asOf); !ok || !slices.Equal(got, want) {
			t.Fatalf("%s: event %s concerns %v (%t), want %v", where, d.Event.ID, got, ok, want)
		}
		if at, ok := r.retracted[d.Event.ID]; !ok || !r.by(at, st.asOf) {
			listed = append(listed, d)
		}
	}
	if len(entries) != len(listed) {
		t.Fatalf("%s: %d entries, want %d", where, len(entries), len(listed))
	}
	for i, d := range listed {
		if want := st.concerns(d, true); entries[i].EventID != d.Event.ID || !slices.Equal(children[i], want) {
			t.Fatalf("%s: entry %d is %s of %v, want %s of %v", where, i, entries[i].EventID, children[i], d.Event.ID, want)
		}
	}
	if g, w := conflictKeys(m.Conflicts(st.asOf)), conflictKeys(st.conflicts()); !slices.Equal(g, w) {
		t.Fatalf("%s: conflicts\n got %q\nwant %q", where, g, w)
	}
}

// checkComponents checks the present partition's own bookkeeping: every
// node is in the group it points at, once, and the root is the smallest.
func checkComponents(t *testing.T, id *Identity, where string) {
	t.Helper()
	c := &id.now
	seen, live := 0, 0
	for g, grp := range c.groups {
		if grp.members == nil {
			continue
		}
		live++
		if grp.root != slices.Min(grp.members) {
			t.Fatalf("%s: group %d root %d, smallest member %d", where, g, grp.root, slices.Min(grp.members))
		}
		for _, n := range grp.members {
			if c.of[n] != g {
				t.Fatalf("%s: node %d listed in group %d points at %d", where, n, g, c.of[n])
			}
			seen++
		}
	}
	if seen != len(id.nodes) || live != c.count {
		t.Fatalf("%s: %d members in %d groups for %d nodes, count %d", where, seen, live, len(id.nodes), c.count)
	}
}

// After every step of random histories of co-occurring identifiers, links,
// unlinks, retractions and re-sent events, the identity kept incrementally
// answers exactly as a recomputation from scratch does, now and as known
// at random earlier times; and a model built again from the same events
// has the same digest.
func TestIdentityIncrementalMatchesReference(t *testing.T) {
	const seeds, steps = 60, 70
	for seed := uint64(1); seed <= seeds; seed++ {
		r := rand.New(rand.NewPCG(seed, 0x1d))
		f := newFeed(t)
		ids := pool(6 + r.IntN(14))
		m, ref := NewModel(), newRefIdentity()
		var all, retractable []Delivered
		for step := range steps {
			var d Delivered
			switch k := r.IntN(10); {
			case k < 2:
				a, b := ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]
				if a == b {
					continue
				}
				d = linkEvent(f, a, b, k == 0)
			case k == 2 && len(retractable) > 0:
				target := retractable[r.IntN(len(retractable))]
				d = f.event("record.retracted", "hub", day(28), target.Event.Subjects,
					&events.RecordRetracted{EventID: target.Event.ID, Reason: "recorded against the wrong child"})
			case k == 3 && len(all) > 0:
				d = all[r.IntN(len(all))] // re-sent later: changes nothing
				f.seq++
				d.Seq = f.seq
			default:
				d = f.event("information.shared", "voluntary", day(1+r.IntN(27)), randomSubjects(r, ids), nil)
				retractable = append(retractable, d)
			}
			// Receipt times in pairs, so that "as known at" falls exactly on
			// some of them.
			d.Received = f.base.Add(time.Duration(d.Seq/2) * time.Minute)
			mustApply(t, m, d)
			if !slices.ContainsFunc(all, func(o Delivered) bool { return o.Event.ID == d.Event.ID }) {
				ref.apply(d)
			}
			all = append(all, d)
			where := fmt.Sprintf("seed %d step %d (%s)", seed, step, d.Event.Type)
			checkComponents(t, m.ident, where)
			compareIdentity(t, m, ref.at(nil), where+" now")
			for range 2 {
				asOf := f.base.Add(time.Duration(r.IntN(int(f.seq)/2+2))*time.Minute - time.Duration(r.IntN(2))*30*time.Second)
				compareIdentity(t, m, ref.at(&asOf), where+" as of "+asOf.Format(time.TimeOnly))
			}
		}
		again := NewModel()
		for _, d := range all {
			if err := again.Apply(d); err != nil {
				t.Fatal(err)
			}
		}
		if again.Digest() != m.Digest() {
			t.Fatalf("seed %d: a second build differs", seed)
		}
		// And a snapshot of it restores the same identity, now and as
		// known at every step's time.
		restored := NewModel()
		if err := restored.Restore(bytes.NewReader(snapshotOf(t, m))); err != nil {
			t.Fatal(err)
		}
		if restored.Digest() != m.Digest() {
			t.Fatalf("seed %d: the restored snapshot differs", seed)
		}
		for _, d := range all {
			compareIdentity(t, restored, ref.at(&d.Received), fmt.Sprintf("seed %d restored, as of %s", seed, d.Received.Format(time.TimeOnly)))
		}
	}
}

// Readers under the read lock see a consistent identity while events,
// unlinks and retractions are applied (and, under -race, write nothing
// shared): a child found by an identifier holds it, now and as known at
// earlier times, and as known at a past time answers to its own id.
func TestIdentityReadersDuringApply(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 0x1d))
	f := newFeed(t)
	ids := pool(30)
	var log []Delivered
	for len(log) < 400 {
		switch k := r.IntN(10); {
		case k < 2:
			if a, b := ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]; a != b {
				log = append(log, linkEvent(f, a, b, k == 0))
			}
		case k == 2 && len(log) > 0:
			if target := log[r.IntN(len(log))]; target.Event.Type == "information.shared" {
				log = append(log, f.event("record.retracted", "hub", day(28), target.Event.Subjects,
					&events.RecordRetracted{EventID: target.Event.ID, Reason: "recorded against the wrong child"}))
			}
		default:
			log = append(log, f.event("information.shared", "voluntary", day(1+r.IntN(27)), randomSubjects(r, ids), nil))
		}
	}
	m := NewModel()
	done := make(chan struct{})
	errs := make(chan error, 2)
	for reader := range 2 {
		go func() {
			rr := rand.New(rand.NewPCG(uint64(reader), 3))
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				k := ids[rr.IntN(len(ids))]
				// A time already past, so that what was known then
				// cannot change between two reads.
				asOf := f.at(uint64(rr.IntN(int(m.LastSeq()) + 1)))
				for _, at := range []*time.Time{nil, &asOf} {
					c, ok := m.FindChild(k, at)
					if !ok {
						continue
					}
					if !slices.ContainsFunc(c.Identifiers, func(h KnownIdentifier) bool { return h.Identifier == k }) {
						errs <- fmt.Errorf("%v found %s, which does not hold it: %v", k, c.ID, c.Identifiers)
						return
					}
					if again, ok := m.ChildByID(c.ID, at); at != nil && (!ok || again.ID != c.ID) {
						errs <- fmt.Errorf("%s as of %v answers %s (%t)", c.ID, at, again.ID, ok)
						return
					}
				}
				m.Conflicts(&asOf)
			}
		}()
	}
	mustApply(t, m, log...)
	close(done)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// pairList is a link's or unlink's pair, or nil.
func pairList(e *events.Event) []events.Identifier {
	if a, b, ok := pairOfEvent(e); ok {
		return []events.Identifier{a, b}
	}
	return nil
}
