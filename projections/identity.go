package projections

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
	"strings"
	"sync"
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
type Identity struct {
	nodes    []*node
	index    map[events.Identifier]int
	personal map[string]int // child id -> node
	edges    []edge
	pairs    map[pair][]decision
	retract  map[string]time.Time // event id -> when its retraction was received

	now *partition // the present, maintained as events arrive

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
	hints         []hint
}

// hint is a name and date of birth an event gave with an identifier.
type hint struct {
	name, dob string
	eventID   string
	received  time.Time
}

// edge joins two identifiers because one event put them together.
type edge struct {
	a, b     int
	eventID  string
	seq      uint64
	received time.Time
}

type pair struct{ a, b int } // a < b

func pairOf(a, b int) pair {
	if a > b {
		a, b = b, a
	}
	return pair{a, b}
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
		pairs:    map[pair][]decision{},
		retract:  map[string]time.Time{},
		now:      &partition{},
	}
}

// observe adds the identifiers of every child subject of an entry and the
// edges between identifiers on the same subject. It returns the nodes the
// event mentions, for the chronology index.
func (id *Identity) observe(d Delivered) []int {
	var mentioned []int
	for _, s := range d.Event.Subjects {
		if !s.IsChild() {
			continue
		}
		keys := s.Keys()
		first := -1
		for _, k := range keys {
			n := id.node(k, d)
			if s.Name != "" || s.DateOfBirth != "" {
				id.nodes[n].hints = append(id.nodes[n].hints, hint{name: s.Name, dob: string(s.DateOfBirth), eventID: d.Event.ID, received: d.Received})
			}
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
			e := edge{a: first, b: n, eventID: d.Event.ID, seq: d.Seq, received: d.Received}
			id.edges = append(id.edges, e)
			if id.edgeActive(e, nil) {
				id.now.union(e.a, e.b)
			}
		}
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

// personalID derives a child id from the event that first mentioned an
// identifier and the identifier itself. The event id's random bits keep the
// child id from being reversed into an NHS number by brute force.
func personalID(eventID string, k events.Identifier) string {
	sum := sha256.Sum256([]byte(eventID + "|" + k.String()))
	return "C" + strings.ToUpper(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:8]))[:12]
}

// decide records a link or unlink. A link joins at once; an unlink, like a
// retraction, can split a component, so the present is rebuilt.
func (id *Identity) decide(a, b events.Identifier, link bool, d Delivered, reason string) {
	na, nb := id.node(a, d), id.node(b, d)
	p := pairOf(na, nb)
	id.pairs[p] = append(id.pairs[p], decision{link: link, eventID: d.Event.ID, seq: d.Seq, received: d.Received, reason: reason})
	if link {
		id.now.union(na, nb)
		return
	}
	id.now = id.partitionAt(nil)
}

// retractEvent stops counting an event's edges from the time the retraction
// was received.
func (id *Identity) retractEvent(eventID string, received time.Time) {
	if _, done := id.retract[eventID]; done {
		return
	}
	id.retract[eventID] = received
	for _, e := range id.edges {
		if e.eventID == eventID {
			id.now = id.partitionAt(nil)
			return
		}
	}
}

// latest returns the latest decision on a pair received by asOf (nil for
// the present), and whether there is one.
func (id *Identity) latest(p pair, asOf *time.Time) (decision, bool) {
	ds := id.pairs[p]
	for i := len(ds) - 1; i >= 0; i-- {
		if asOf == nil || !ds[i].received.After(*asOf) {
			return ds[i], true
		}
	}
	return decision{}, false
}

// edgeActive reports whether an edge counts as of asOf (nil: the present).
func (id *Identity) edgeActive(e edge, asOf *time.Time) bool {
	if asOf != nil && e.received.After(*asOf) {
		return false
	}
	if at, ok := id.retract[e.eventID]; ok && (asOf == nil || !at.After(*asOf)) {
		return false
	}
	if d, ok := id.latest(pairOf(e.a, e.b), asOf); ok && !d.link {
		return false
	}
	return true
}

// partitionAt computes the components as of asOf (nil: the present) from
// scratch.
func (id *Identity) partitionAt(asOf *time.Time) *partition {
	p := &partition{}
	for range id.nodes {
		p.add()
	}
	for _, e := range id.edges {
		if id.edgeActive(e, asOf) {
			p.union(e.a, e.b)
		}
	}
	for pr := range id.pairs {
		if d, ok := id.latest(pr, asOf); ok && d.link {
			p.union(pr.a, pr.b)
		}
	}
	return p
}

// view is the identity as of one time: the partition plus which identifiers
// were known then.
type view struct {
	id   *Identity
	p    *partition
	asOf *time.Time
}

// View returns the identity as of asOf (nil for the present).
func (id *Identity) view(asOf *time.Time) view {
	if asOf == nil {
		return view{id: id, p: id.now}
	}
	return view{id: id, p: id.partitionAt(asOf), asOf: asOf}
}

// known reports whether node n had been received by the view's time.
func (v view) known(n int) bool {
	return v.asOf == nil || !v.id.nodes[n].firstReceived.After(*v.asOf)
}

// root is n's component representative: its earliest identifier.
func (v view) root(n int) int { return v.p.find(n) }

// childID is the id of the child n belongs to.
func (v view) childID(n int) string { return v.id.nodes[v.root(n)].personal }

// members lists the known nodes of n's component, earliest first.
func (v view) members(n int) []int {
	r := v.root(n)
	var out []int
	for _, m := range v.p.members(r) {
		if v.known(m) {
			out = append(out, m)
		}
	}
	return out
}

// partition is a union-find whose representative is always the smallest
// node index, that is the identifier seen first. Only the writer (Apply)
// calls add and union; find does not compress paths so that concurrent
// readers under a read lock never write. union compresses instead.
type partition struct {
	parent []int

	mu     sync.Mutex
	groups map[int][]int // root -> members, built on demand by readers
}

func (p *partition) add() {
	p.parent = append(p.parent, len(p.parent))
	p.invalidate()
}

func (p *partition) find(i int) int {
	for p.parent[i] != i {
		i = p.parent[i]
	}
	return i
}

func (p *partition) union(a, b int) {
	ra, rb := p.find(a), p.find(b)
	if ra != rb {
		if rb < ra {
			ra, rb = rb, ra
		}
		p.parent[rb] = ra
		p.invalidate()
	}
	for _, x := range []int{a, b} { // path compression, writer side only
		for p.parent[x] != ra {
			next := p.parent[x]
			p.parent[x] = ra
			x = next
		}
	}
}

func (p *partition) invalidate() {
	p.mu.Lock()
	p.groups = nil
	p.mu.Unlock()
}

func (p *partition) members(root int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.groups == nil {
		p.groups = map[int][]int{}
		for i := range p.parent {
			r := p.find(i)
			p.groups[r] = append(p.groups[r], i)
		}
	}
	return p.groups[root]
}

// roots lists every component's representative in order.
func (p *partition) roots() []int {
	var out []int
	for i := range p.parent {
		if p.parent[i] == i {
			out = append(out, i)
		}
	}
	return out
}
