package projections

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Identity resolves the identifiers agencies use into children.
//
// The rules, which practitioners can predict:
//   - identifiers that appear together on one child subject of one event are
//     the same child (an edge between them);
//   - a practitioner's subjects.linked joins two identifiers; subjects.unlinked
//     separates them again. For each pair the latest decision stands, and an
//     unlink also severs every edge where an event put that pair together;
//   - a retracted event's edges no longer count;
//   - name and date of birth never join records; they only suggest possible
//     matches.
//
// A child's id is derived from the earliest identifier in its component
// (first seen at the lowest stream sequence), so it does not change when
// later identifiers join; when two children merge the later one's id keeps
// answering and points at the survivor; and when they are unlinked each side
// gets its own id back. Every state is a function of the edges and decisions
// received by a time, so "as known at T" is the same computation with a
// cut-off.
//
// Every operation costs what it touches, never the size of the hub: edges
// and decisions are kept per pair of identifiers and each identifier knows
// its pairs, so an unlink or a retraction regroups only the one component
// (a family) it can split, and "as known at T" for one child walks only
// that child's pairs. Only what lists every child as of a past time
// (viewAll) walks the whole graph.
type Identity struct {
	nodes    []*node
	index    map[events.Identifier]int
	personal map[string]int // child id -> node
	links    []link         // every pair an event or a practitioner put together or apart
	pairs    map[pair]int   // pair -> its index in links
	decided  []int          // links with a practitioner's decision, in order of the first

	now components // the present, maintained as events arrive

	// observe's buffers: what it returns is read before the next call.
	mentioned []int
	keys      []events.Identifier

	// noJoin keys children by their identifiers as given, joining nothing:
	// the pre-identity behaviour, kept only so benchmarks can measure what
	// identity resolution costs.
	noJoin bool
}

// node is one identifier.
type node struct {
	id            events.Identifier
	firstSeq      uint64
	firstReceived time.Time
	firstEvent    string
	personal      string // the child id this identifier founds
	links         []int  // the pairs it is part of: its adjacency
}

type pair struct{ a, b int } // a < b

func pairOf(a, b int) pair {
	if a > b {
		a, b = b, a
	}
	return pair{a, b}
}

// link is everything said about one pair of identifiers: the events that
// put them together and the practitioners' decisions, each in stream order.
type link struct {
	pair
	edges     []edge
	decisions []decision
	live      int // edges not retracted
}

// edge is one event putting a pair together.
type edge struct {
	rec      *Record
	received time.Time
	// retracted is when the event's retraction was received, nil until
	// then; the edges of one event share it.
	retracted *time.Time
}

// decision is a practitioner's link or unlink of a pair.
type decision struct {
	link     bool
	eventID  string
	seq      uint64
	received time.Time
	reason   string
}

// NewIdentity returns an empty identity projection.
func NewIdentity() *Identity {
	return &Identity{
		index:    map[events.Identifier]int{},
		personal: map[string]int{},
		pairs:    map[pair]int{},
	}
}

// observe adds the identifiers of every child subject of an event and the
// edges between identifiers on the same subject, and records them on rec
// (Record.groups) with each subject's name and date of birth (hint, an
// index in the model's table: names are read back through the chronology
// index, so a name is shown only where an entry the caller may see gives
// it). It returns the nodes the event mentions, for the chronology index
// (overwritten by the next call).
func (id *Identity) observe(d Delivered, rec *Record, hint func(name, dob string) uint32) []int {
	mentioned := id.mentioned[:0]
	defer func() { id.mentioned = mentioned[:0] }()
	for _, s := range d.Event.Subjects {
		if !s.IsChild() {
			continue
		}
		id.keys = s.AppendKeys(id.keys[:0])
		keys := id.keys
		first := -1
		for _, k := range keys {
			n := id.node(k, d)
			rec.groups = append(rec.groups, int32(n))
			if !slices.Contains(mentioned, n) {
				mentioned = append(mentioned, n)
			}
			if first < 0 {
				first = n
				continue
			}
			if first == n {
				continue
			}
			if id.noJoin {
				continue
			}
			l := id.link(first, n)
			l.edges = append(l.edges, edge{rec: rec, received: d.Received})
			l.live++
			if l.joined(nil) {
				id.now.union(first, n)
			}
		}
		mark := childMark
		if s.Kind == "unborn" {
			mark = unbornMark
		}
		rec.groups = append(rec.groups, mark, int32(hint(s.Name, string(s.DateOfBirth))))
	}
	return mentioned
}

// node returns the index of identifier k, creating it at this event.
func (id *Identity) node(k events.Identifier, d Delivered) int {
	if n, ok := id.index[k]; ok {
		return n
	}
	n := len(id.nodes)
	p := personalID(d.Event.ID, k)
	id.nodes = append(id.nodes, &node{id: k, firstSeq: d.Seq, firstReceived: d.Received, firstEvent: d.Event.ID, personal: p})
	id.index[k] = n
	id.personal[p] = n
	id.now.add()
	return n
}

// link returns the record of pair (a, b), creating it.
func (id *Identity) link(a, b int) *link {
	p := pairOf(a, b)
	i, ok := id.pairs[p]
	if !ok {
		i = len(id.links)
		id.links = append(id.links, link{pair: p})
		id.pairs[p] = i
		id.nodes[a].links = append(id.nodes[a].links, i)
		if b != a {
			id.nodes[b].links = append(id.nodes[b].links, i)
		}
	}
	return &id.links[i]
}

// personalID derives a child id from the event that first mentioned an
// identifier and the identifier itself. The event id's random bits keep the
// child id from being reversed into an NHS number by brute force.
func personalID(eventID string, k events.Identifier) string {
	sum := sha256.Sum256([]byte(eventID + "|" + k.String()))
	return "C" + strings.ToUpper(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:8]))[:12]
}

// decide records a link or unlink. A link joins at once; an unlink, like a
// retraction, can split the one component holding the pair, so only that
// component is regrouped.
func (id *Identity) decide(a, b events.Identifier, link bool, d Delivered, reason string) {
	na, nb := id.node(a, d), id.node(b, d)
	l := id.link(na, nb)
	if len(l.decisions) == 0 {
		id.decided = append(id.decided, id.pairs[l.pair])
	}
	was := l.joined(nil)
	l.decisions = append(l.decisions, decision{link: link, eventID: d.Event.ID, seq: d.Seq, received: d.Received, reason: reason})
	if link {
		id.now.union(na, nb)
		return
	}
	if was && na != nb {
		id.regroup(id.now.of[na])
	}
}

// retractEvent stops counting an event's edges from the time the retraction
// was received (the first retraction, if there are several). The record's
// own subjects name the pairs it joined, so nothing is searched.
func (id *Identity) retractEvent(rec *Record, received time.Time) {
	var split []int // groups that may come apart
	at := &received
	rec.eachSubject(func(nodes []int32, _ bool, _ uint32) {
		for _, n := range nodes[min(1, len(nodes)):] {
			if n == nodes[0] {
				continue
			}
			i, ok := id.pairs[pairOf(int(nodes[0]), int(n))]
			if !ok {
				continue // no joins kept (noJoin)
			}
			l := &id.links[i]
			was := l.joined(nil)
			for j := range l.edges {
				if e := &l.edges[j]; e.rec == rec && e.retracted == nil {
					e.retracted = at
					l.live--
				}
			}
			if g := id.now.of[l.a]; was && !l.joined(nil) && !slices.Contains(split, g) {
				split = append(split, g)
			}
		}
	})
	for _, g := range split {
		id.regroup(g)
	}
}

// regroup recomputes group g of the present from the pairs that still join
// its members, after an unlink or a retraction removed a join inside it.
// Joins only ever leave, so the pieces are within g: the cost is g's
// members and their pairs.
func (id *Identity) regroup(g int) {
	c := &id.now
	old := c.groups[g].members
	for _, n := range old {
		c.of[n] = -1
	}
	c.release(g)
	for _, start := range old {
		if c.of[start] >= 0 {
			continue
		}
		ng := c.newGroup()
		c.of[start] = ng
		members := id.reach(start, nil, func(n int) bool {
			if c.of[n] >= 0 {
				return false
			}
			c.of[n] = ng
			return true
		})
		c.groups[ng] = group{root: slices.Min(members), members: members}
	}
}

// reach lists the nodes joined to start as of asOf (nil: the present),
// breadth first. first marks a node and reports whether it was unmarked;
// start must be marked already.
func (id *Identity) reach(start int, asOf *time.Time, first func(int) bool) []int {
	out := []int{start}
	for i := 0; i < len(out); i++ {
		x := out[i]
		for _, li := range id.nodes[x].links {
			l := &id.links[li]
			if y := l.other(x); l.joined(asOf) && first(y) {
				out = append(out, y)
			}
		}
	}
	return out
}

// other is the node at the far end of the pair from x.
func (l *link) other(x int) int {
	if l.a == x {
		return l.b
	}
	return l.a
}

// latest returns the latest decision on the pair received by asOf (nil for
// the present), and whether there is one.
func (l *link) latest(asOf *time.Time) (decision, bool) {
	for i := len(l.decisions) - 1; i >= 0; i-- {
		if asOf == nil || !l.decisions[i].received.After(*asOf) {
			return l.decisions[i], true
		}
	}
	return decision{}, false
}

// joined reports whether the pair counts as joined as of asOf (nil: the
// present): the latest decision stands; without one, any edge counts.
func (l *link) joined(asOf *time.Time) bool {
	if d, ok := l.latest(asOf); ok {
		return d.link
	}
	if asOf == nil {
		return l.live > 0
	}
	for _, e := range l.edges {
		if e.activeAt(*asOf) {
			return true
		}
	}
	return false
}

// activeAt reports whether the edge had been received and not yet
// retracted at t.
func (e edge) activeAt(t time.Time) bool {
	return !e.received.After(t) && (e.retracted == nil || e.retracted.After(t))
}

// evidence is the event shown for a joined pair as of asOf: the smallest id
// among its active edges and its standing link, so that the choice does not
// depend on arrival order.
func (l *link) evidence(asOf *time.Time) string {
	best := ""
	if d, ok := l.latest(asOf); ok && d.link {
		best = d.eventID
	}
	for _, e := range l.edges {
		active := e.retracted == nil
		if asOf != nil {
			active = e.activeAt(*asOf)
		}
		if active {
			if eid := e.rec.ID(); best == "" || eid < best {
				best = eid
			}
		}
	}
	return best
}

// view is the identity as of one time, for one request: it is never
// shared between goroutines, so it may remember what it has worked out.
type view struct {
	id   *Identity
	asOf *time.Time

	// last is the component asked for most recently, every node in order
	// (known then or not): requests ask for one child's root, then its
	// members.
	last []int
	// comps and compOf hold every component as of asOf, built by roots
	// for the operations that list every child.
	comps  [][]int
	compOf []int
}

// view returns the identity as of asOf (nil for the present), worked out
// one child at a time: a past child costs a walk of that child's pairs.
func (id *Identity) view(asOf *time.Time) *view {
	return &view{id: id, asOf: asOf}
}

// viewAll returns the identity as of asOf with every component worked out
// at once: for operations that list every child, where one walk of the
// whole graph beats one per child.
func (id *Identity) viewAll(asOf *time.Time) *view {
	v := id.view(asOf)
	if asOf != nil {
		v.everyone()
	}
	return v
}

// known reports whether node n had been received by the view's time.
func (v *view) known(n int) bool {
	return v.asOf == nil || !v.id.nodes[n].firstReceived.After(*v.asOf)
}

// root is n's component representative: its earliest identifier.
func (v *view) root(n int) int {
	if v.asOf == nil {
		return v.id.now.find(n)
	}
	return v.component(n)[0]
}

// childID is the id of the child n belongs to.
func (v *view) childID(n int) string { return v.id.nodes[v.root(n)].personal }

// members lists the known nodes of n's component, earliest first. The
// slice may be the view's own: callers must not change it.
func (v *view) members(n int) []int {
	c := v.component(n)
	if v.asOf == nil {
		return c
	}
	out := make([]int, 0, len(c))
	for _, m := range c {
		if v.known(m) {
			out = append(out, m)
		}
	}
	return out
}

// component lists every node of n's component in order.
func (v *view) component(n int) []int {
	if v.compOf != nil {
		return v.comps[v.compOf[n]]
	}
	if _, found := slices.BinarySearch(v.last, n); found {
		return v.last
	}
	if v.asOf == nil {
		v.last = slices.Sorted(slices.Values(v.id.now.members(n)))
		return v.last
	}
	seen := map[int]bool{n: true}
	v.last = v.id.reach(n, v.asOf, func(m int) bool {
		if seen[m] {
			return false
		}
		seen[m] = true
		return true
	})
	slices.Sort(v.last)
	return v.last
}

// roots lists every component's representative in order, known then or
// not. As of a past time it works out every component (see viewAll).
func (v *view) roots() []int {
	var out []int
	if v.asOf == nil {
		for n := range v.id.nodes {
			if v.id.now.find(n) == n {
				out = append(out, n)
			}
		}
		return out
	}
	v.everyone()
	for _, c := range v.comps {
		out = append(out, c[0])
	}
	return out
}

// everyone works out every component as of the view's time. Walking the
// nodes in order, the first node of each new component is its root.
func (v *view) everyone() {
	if v.compOf != nil {
		return
	}
	v.compOf = make([]int, len(v.id.nodes))
	for n := range v.compOf {
		v.compOf[n] = -1
	}
	for n := range v.compOf {
		if v.compOf[n] >= 0 {
			continue
		}
		ci := len(v.comps)
		v.compOf[n] = ci
		c := v.id.reach(n, v.asOf, func(m int) bool {
			if v.compOf[m] >= 0 {
				return false
			}
			v.compOf[m] = ci
			return true
		})
		slices.Sort(c)
		v.comps = append(v.comps, c)
	}
}

// components is the present partition of the nodes into children. Each
// group keeps its members, so a child's identifiers are listed without
// looking at anyone else's, and its root, the smallest node index: the
// identifier seen first, whose child id the group answers to. Only the
// writer (Apply) changes it; readers only index into it.
type components struct {
	of     []int // node -> group
	groups []group
	free   []int // released group numbers, for reuse
	count  int   // groups in use: the number of children
}

// group is one child's nodes, in no particular order.
type group struct {
	root    int
	members []int
}

// add makes the next node a group of its own.
func (c *components) add() {
	n := len(c.of)
	g := c.newGroup()
	c.groups[g] = group{root: n, members: []int{n}}
	c.of = append(c.of, g)
}

func (c *components) newGroup() int {
	c.count++
	if k := len(c.free); k > 0 {
		g := c.free[k-1]
		c.free = c.free[:k-1]
		return g
	}
	c.groups = append(c.groups, group{})
	return len(c.groups) - 1
}

func (c *components) release(g int) {
	c.groups[g] = group{}
	c.free = append(c.free, g)
	c.count--
}

func (c *components) find(n int) int { return c.groups[c.of[n]].root }

// members lists n's group, in no particular order; callers must not change
// the slice.
func (c *components) members(n int) []int { return c.groups[c.of[n]].members }

// union joins the groups of a and b, moving the smaller into the larger so
// that a node moves at most log(nodes) times in all.
func (c *components) union(a, b int) {
	ga, gb := c.of[a], c.of[b]
	if ga == gb {
		return
	}
	if len(c.groups[ga].members) < len(c.groups[gb].members) {
		ga, gb = gb, ga
	}
	into, from := &c.groups[ga], c.groups[gb]
	for _, n := range from.members {
		c.of[n] = ga
	}
	into.members = append(into.members, from.members...)
	into.root = min(into.root, from.root)
	c.release(gb)
}
