package gateway

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
)

// flagView carries the knowledge cut-off so evidence resolves as known
// then, and the evaluation time, at which a deadline is so late.
type flagView struct {
	flags.Flag
	asOf *time.Time
	at   time.Time
}

// redactFlag hides a flag resting on any entry the caller may not see: its
// code, title and reason would say what the hidden entry was. The severity
// and times stay, so the caller knows to ask. A visible flag cleared by a
// hidden entry (a restricted interview, a sealed conference) keeps its clear
// time, which the entry's placeholder shows anyway, but not its clear reason;
// one cleared by a retraction the caller may not read keeps who retracted
// its evidence and when, but not why (as the chronology's retractionReason).
func (b *schemaBuilder) redactFlag(c auth.Caller, f flags.Flag, asOf *time.Time) (flags.Flag, bool) {
	hiddenOf := func(ids []string) []string {
		var hidden []string
		for _, id := range ids {
			if sensitivity, agency, ok := b.src.Marking(id, asOf); ok && !c.Sees(sensitivity, agency) {
				hidden = append(hidden, sensitivity+" from "+agencyName(agency))
			}
		}
		return hidden
	}
	if h := hiddenOf(f.ClearedBy); len(h) > 0 {
		f.ClearReason = fmt.Sprintf("cleared by %s your role may not see (%s): ask the hub", entries(len(h)), strings.Join(uniq(h), "; "))
		f.ClearedBy = nil
	} else if x := f.Retraction; x != nil && !c.Sees(x.Sensitivity, x.Agency) {
		f.ClearReason = x.Text(false) + "; the reason is hidden from your role: ask the hub"
	}
	hidden := hiddenOf(f.Evidence)
	if len(hidden) == 0 {
		return f, false
	}
	f.Code, f.Title = "REDACTED", "Flag based on entries hidden from your role"
	if len(hidden) == 1 {
		f.Title = "Flag based on an entry hidden from your role"
	}
	f.Reason = fmt.Sprintf("Based on %s your role may not see (%s): ask the hub", entries(len(hidden)), strings.Join(uniq(hidden), "; "))
	f.ClearReason, f.Retraction = "", nil
	f.Deadline = flags.Deadline{} // which deadline was missed would say what the entry was
	return f, true
}

// entries counts entries as a sentence does: "an entry", "2 entries".
func entries(n int) string {
	if n == 1 {
		return "an entry"
	}
	return fmt.Sprintf("%d entries", n)
}

func uniq(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// flaggedView is a child on the worklist. The child's details (names,
// identifiers) are gathered only for the children on the page asked for:
// a worklist of thousands checks each child only for visibility.
type flaggedView struct {
	id      string
	read    Reader
	views   []flagView
	latest  time.Time
	purpose purpose
}

// child is the child as the caller may see them.
func (c flaggedView) child() projections.Child {
	ch, _ := c.read.ChildByID(c.id, nil)
	return ch
}

type threshold struct {
	Name  string
	Value int
}

func thresholdsOf(r flags.Rule) []threshold {
	v := reflect.ValueOf(r.Thresholds)
	var out []threshold
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if slices.Contains(r.Uses, name) {
			out = append(out, threshold{Name: name, Value: int(v.Field(i).Int())})
		}
	}
	return out
}

func (b *schemaBuilder) resolveRiskFlags(p graphql.ResolveParams) (any, error) {
	c := p.Source.(childView)
	asOf := c.asOf
	if v, err := timeArg(p.Args, "asKnownAt"); err != nil {
		return nil, fail(p.Context, err)
	} else if v != nil {
		asOf = v
	}
	at, err := timeArg(p.Args, "at")
	if err != nil {
		return nil, fail(p.Context, err)
	}
	when := b.now()
	switch {
	case at != nil:
		when = *at
	case asOf != nil:
		when = *asOf
	}
	// An explicit past `at` with a later knowledge cut-off asks with
	// hindsight: what held then, on everything known by the cut-off.
	cutoff := b.now()
	if asOf != nil {
		cutoff = *asOf
	}
	hindsight := at != nil && at.Before(cutoff)
	// Flags are computed on the whole history, so that a risk is never
	// missed, and then redacted for what the caller may not see.
	fs, ok := flags.ForChild(b.src, c.ID, asOf, when, hindsight, b.rules)
	if !ok {
		return nil, fail(p.Context, events.Errorf("riskFlags", events.KindNotFound, "no such child%s", asOfText(asOf)))
	}
	withCleared, _ := p.Args["includeCleared"].(bool)
	caller := callerOf(p.Context)
	var out []flagView
	redacted := 0
	for _, f := range fs {
		if f.Active() || withCleared {
			f, hid := b.redactFlag(caller, f, asOf)
			if hid {
				redacted++
			}
			out = append(out, flagView{Flag: f, asOf: asOf, at: when})
		}
	}
	auditFrom(p.Context).note("read", c.ID, "", c.purpose, asOf, "risk_flags", map[string]int{"flags": len(out) - redacted, "redacted_flags": redacted})
	return out, nil
}

func (b *schemaBuilder) resolveEvidence(p graphql.ResolveParams) (any, error) {
	f := p.Source.(flagView)
	caller := callerOf(p.Context)
	var out []entryView
	for _, id := range f.Evidence {
		if e, _, ok := b.src.Event(id, f.asOf); ok {
			out = append(out, shown(caller, e, f.asOf, nil))
		}
	}
	return out, nil
}

func (b *schemaBuilder) resolveFlaggedChildren(p graphql.ResolveParams) (any, error) {
	caller, why, err := b.authorize(p, auth.ReadRecords)
	if err != nil {
		return nil, fail(p.Context, err)
	}
	codes, err := listArg(p.Args, "codes", func(s string) bool {
		return slices.ContainsFunc(b.rules.Rules(), func(r flags.Rule) bool { return r.Code == s })
	})
	if err != nil {
		return nil, fail(p.Context, err)
	}
	severities, err := listArg(p.Args, "severities", func(s string) bool { return s == flags.High || s == flags.Medium || s == flags.Low })
	if err != nil {
		return nil, fail(p.Context, err)
	}
	var items []any
	r := b.view(p.Context)
	now := b.now()
	for _, c := range b.worklist.get(b.src, b.rules, now) {
		if !r.Sees(c.Child.ID, nil) {
			continue // nothing about this child is visible to the caller
		}
		var views []flagView
		var latest time.Time
		for _, f := range c.Flags {
			// Filter after redaction, so a caller cannot learn a hidden
			// flag's code by filtering on it: a redacted flag matches only
			// a filter on REDACTED.
			f, _ := b.redactFlag(caller, f, nil)
			if (codes != nil && !slices.Contains(codes, f.Code)) || (severities != nil && !slices.Contains(severities, f.Severity)) {
				continue
			}
			views = append(views, flagView{Flag: f, at: now})
			if f.RaisedAt.After(latest) {
				latest = f.RaisedAt
			}
		}
		if len(views) > 0 {
			items = append(items, flaggedView{id: c.Child.ID, read: r, views: views, latest: latest, purpose: why})
		}
	}
	auditFrom(p.Context).note("worklist", "", "", why, nil, "flagged_children", map[string]int{"children": len(items)})
	if codes != nil || severities != nil {
		// Filtering can change a child's highest severity: sort again.
		slices.SortStableFunc(items, func(a, b any) int {
			x, y := a.(flaggedView), b.(flaggedView)
			if d := flags.SeverityRank(x.views[0].Severity) - flags.SeverityRank(y.views[0].Severity); d != 0 {
				return d
			}
			return y.latest.Compare(x.latest)
		})
	}
	return b.page(p, items)
}

// worklistCache is the present worklist. Over a read model that says what
// changed (flags.Changes, as projections.Model does) it is kept up
// incrementally, re-evaluating only the children touched since the last
// request and those with a deadline come due; over any other source it
// keeps the last sweep until a new event is applied or a deadline passes.
type worklistCache struct {
	mu   sync.Mutex
	inc  *flags.Worklist
	seq  uint64
	at   time.Time
	next time.Time
	list []flags.ChildFlags
}

func (w *worklistCache) get(r Source, rules flags.Config, now time.Time) []flags.ChildFlags {
	w.mu.Lock()
	defer w.mu.Unlock()
	if c, ok := r.(flags.Changes); ok {
		if w.inc == nil {
			w.inc = flags.NewWorklist(c, rules)
		}
		return w.inc.At(now)
	}
	seq := r.LastSeq()
	if w.list != nil && seq == w.seq && !now.Before(w.at) && (w.next.IsZero() || now.Before(w.next)) {
		return w.list
	}
	w.list, w.next = flags.Sweep(r, nil, now, rules)
	if w.list == nil {
		w.list = []flags.ChildFlags{}
	}
	w.seq, w.at = seq, now
	return w.list
}
