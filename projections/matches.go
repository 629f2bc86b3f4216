package projections

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chronicle-hub/chronicle/events"
)

// Conflict is a possible mismatch in identity for a practitioner to
// resolve: Chronicle surfaces it rather than guessing.
type Conflict struct {
	// Kind is "different_nhs_numbers" (one child holds two NHS numbers),
	// "date_of_birth_mismatch" (one identifier given with different dates of
	// birth) or "unlink_incomplete" (an unlink could not separate two
	// identifiers because other events still join them).
	Kind        string
	ChildID     string
	Identifiers []events.Identifier
	Reason      string
	// Events are the evidence: the events that joined the identifiers, or
	// that gave the differing dates of birth.
	Events []string
}

// PossibleMatch is two children who may be the same person. Name and date
// of birth never merge records; a practitioner decides with linkChildren.
type PossibleMatch struct {
	ChildIDs [2]string
	Reason   string
}

// Conflicts lists identity conflicts as of asOf (nil: now), ordered by
// child id then kind.
func (m *Model) Conflicts(asOf *time.Time) []Conflict {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.ident.viewAll(asOf)
	var out []Conflict
	for _, root := range v.roots() {
		if !v.known(root) {
			continue
		}
		members := v.members(root)
		childID := m.ident.nodes[root].personal
		var nhs []int
		for _, n := range members {
			if m.ident.nodes[n].id.Scheme == events.SchemeNHSNumber {
				nhs = append(nhs, n)
			}
		}
		if len(nhs) > 1 {
			c := Conflict{Kind: "different_nhs_numbers", ChildID: childID}
			for _, n := range nhs {
				c.Identifiers = append(c.Identifiers, m.ident.nodes[n].id)
			}
			c.Events = m.ident.path(v, nhs[0], nhs[1:])
			c.Reason = fmt.Sprintf("one child holds %d NHS numbers, joined by %d event(s)", len(nhs), len(c.Events))
			out = append(out, c)
		}
		for _, n := range members {
			if c, ok := m.dobConflict(v, n); ok {
				c.ChildID = childID
				out = append(out, c)
			}
		}
	}
	for _, i := range m.ident.decided {
		l := &m.ident.links[i]
		d, ok := l.latest(asOf)
		if !ok || d.link || v.root(l.a) != v.root(l.b) {
			continue
		}
		out = append(out, Conflict{
			Kind: "unlink_incomplete", ChildID: v.childID(l.a),
			Identifiers: []events.Identifier{m.ident.nodes[l.a].id, m.ident.nodes[l.b].id},
			Reason:      "unlinked, but other events still join them: retract or correct those events, or unlink the identifiers they join",
			Events:      append([]string{d.eventID}, m.ident.path(v, l.a, []int{l.b})...),
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ChildID != out[j].ChildID {
			return out[i].ChildID < out[j].ChildID
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return fmt.Sprint(out[i].Identifiers) < fmt.Sprint(out[j].Identifiers)
	})
	return out
}

// dobConflict reports an identifier given with more than one date of birth.
func (m *Model) dobConflict(v *view, n int) (Conflict, bool) {
	nd := m.ident.nodes[n]
	dobs := map[string]bool{}
	var evs []string
	m.hintsOf(n, func(_, dob string, rec *Record) {
		if dob == "" || !rec.known(v.asOf) {
			return
		}
		if !dobs[dob] {
			evs = append(evs, rec.ID())
		}
		dobs[dob] = true
	})
	if len(dobs) < 2 {
		return Conflict{}, false
	}
	list := make([]string, 0, len(dobs))
	for d := range dobs {
		list = append(list, d)
	}
	sort.Strings(list)
	return Conflict{
		Kind: "date_of_birth_mismatch", Identifiers: []events.Identifier{nd.id}, Events: evs,
		Reason: fmt.Sprintf("the same %s was given with different dates of birth: %s", nd.id.Scheme, strings.Join(list, ", ")),
	}, true
}

// path returns the events on the shortest chains of active edges and links
// from one node to each of the others (breadth first), in a stable order.
// It walks only the component of from.
func (id *Identity) path(v *view, from int, to []int) []string {
	prev := map[int]step{from: {node: -1}}
	queue := []int{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		var steps []step
		for _, li := range id.nodes[n].links {
			if l := &id.links[li]; l.joined(v.asOf) {
				steps = append(steps, step{l.other(n), l.evidence(v.asOf)})
			}
		}
		// By node: the pairs are in the order they were first seen, and
		// the shortest chain must not depend on it.
		slices.SortFunc(steps, func(a, b step) int { return a.node - b.node })
		for _, s := range steps {
			if _, seen := prev[s.node]; !seen {
				prev[s.node] = step{node: n, eventID: s.eventID}
				queue = append(queue, s.node)
			}
		}
	}
	var out []string
	for _, target := range to {
		for n := target; n != from; {
			s, ok := prev[n]
			if !ok {
				break
			}
			if !slices.Contains(out, s.eventID) {
				out = append(out, s.eventID)
			}
			n = s.node
		}
	}
	return out
}

type step struct {
	node    int
	eventID string
}

// PossibleMatches lists pairs of different children who share a date of
// birth and a name (full name, or surname and first initial), as of asOf.
func (m *Model) PossibleMatches(asOf *time.Time) []PossibleMatch { return m.possibleMatches(asOf, nil) }

func (m *Model) possibleMatches(asOf *time.Time, vis Visibility) []PossibleMatch {
	m.mu.RLock()
	defer m.mu.RUnlock()
	v := m.ident.viewAll(asOf)
	type key struct{ dob, name string }
	byKey := map[key][]string{}
	reasons := map[key]string{}
	for _, root := range v.roots() {
		if !v.known(root) {
			continue
		}
		c := m.child(v, root, vis)
		seen := map[key]bool{}
		for _, dob := range c.DatesOfBirth {
			for _, name := range c.Names {
				full, initial := nameKeys(name)
				for _, k := range []struct {
					key    key
					reason string
				}{
					{key{dob, full}, "same name and date of birth"},
					{key{dob, initial}, "same surname, first initial and date of birth"},
				} {
					if k.key.name == "" || seen[k.key] {
						continue
					}
					seen[k.key] = true
					byKey[k.key] = append(byKey[k.key], c.ID)
					reasons[k.key] = k.reason
				}
			}
		}
	}
	found := map[[2]string]string{}
	for k, ids := range byKey {
		for i := 0; i < len(ids); i++ {
			for j := i + 1; j < len(ids); j++ {
				pr := [2]string{min(ids[i], ids[j]), max(ids[i], ids[j])}
				reason := fmt.Sprintf("%s (%s)", reasons[k], k.dob)
				if old, ok := found[pr]; !ok || strongerMatch(reason, old) {
					found[pr] = reason
				}
			}
		}
	}
	out := make([]PossibleMatch, 0, len(found))
	for pr, reason := range found {
		out = append(out, PossibleMatch{ChildIDs: pr, Reason: reason})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ChildIDs[0] != out[j].ChildIDs[0] {
			return out[i].ChildIDs[0] < out[j].ChildIDs[0]
		}
		return out[i].ChildIDs[1] < out[j].ChildIDs[1]
	})
	return out
}

// strongerMatch orders the reasons for one pair, so that the reason shown
// does not depend on map order: a full name beats an initial, then the
// earlier text wins.
func strongerMatch(reason, old string) bool {
	full, oldFull := strings.HasPrefix(reason, "same name"), strings.HasPrefix(old, "same name")
	if full != oldFull {
		return full
	}
	return reason < old
}

// nameKeys normalises a name to "first surname" and "f surname". The
// initial is the first letter, not the first byte, so Élodie and Émile share
// it and Élodie and Özge do not.
func nameKeys(name string) (full, initial string) {
	parts := strings.Fields(strings.ToLower(name))
	if len(parts) < 2 {
		return "", ""
	}
	first, last := parts[0], parts[len(parts)-1]
	r, _ := utf8.DecodeRuneInString(first)
	return first + " " + last, string(r) + " " + last
}
