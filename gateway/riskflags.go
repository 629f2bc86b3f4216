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
	"github.com/chronicle-hub/chronicle/gateway/access"
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
	purpose access.Purpose
	flags   []flags.Flag // before redaction, until the page's are redacted
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

func (b *schemaBuilder) resolveRiskFlags(p *call) (any, error) {
	c := p.Source.(childView)
	asOf := c.asOf
	if v := p.time("asKnownAt"); v != nil {
		asOf = v
	}
	at := p.time("at")
	if p.err != nil {
		return nil, p.err
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
		return nil, events.Errorf("riskFlags", events.KindNotFound, "no such child%s", asOfText(asOf))
	}
	withCleared, _ := p.Args["includeCleared"].(bool)
	var out []flagView
	redacted := 0
	for _, f := range fs {
		if f.Active() || withCleared {
			f, hid := b.redactFlag(p.caller, f, asOf)
			if hid {
				redacted++
			}
			out = append(out, flagView{Flag: f, asOf: asOf, at: when})
		}
	}
	auditFrom(p.Context).note("read", c.ID, "", c.purpose, asOf, "risk_flags", map[string]int{"flags": len(out) - redacted, "redacted_flags": redacted})
	return out, nil
}

func (b *schemaBuilder) resolveEvidence(p *call) (any, error) {
	f := p.Source.(flagView)
	var out []entryView
	for _, id := range f.Evidence {
		if e, _, ok := b.src.Event(id, f.asOf); ok {
			out = append(out, shown(p.caller, e, f.asOf, nil))
		}
	}
	return out, nil
}

func (b *schemaBuilder) resolveFlaggedChildren(p *call) (any, error) {
	caller, why := p.caller, p.why
	codes := p.list("codes", func(s string) bool {
		return slices.ContainsFunc(b.rules.Rules(), func(r flags.Rule) bool { return r.Code == s })
	})
	severities := p.list("severities", func(s string) bool { return s == flags.High || s == flags.Medium || s == flags.Low })
	if p.err != nil {
		return nil, p.err
	}
	var items []any
	r := b.view(p.Context)
	now := b.now()
	// redact is the child's flags as the caller may see them, filtered
	// after redaction, so a caller cannot learn a hidden flag's code by
	// filtering on it: a redacted flag matches only a filter on REDACTED.
	redact := func(fs []flags.Flag) ([]flagView, time.Time) {
		var views []flagView
		var latest time.Time
		for _, f := range fs {
			f, _ := b.redactFlag(caller, f, nil)
			if (codes != nil && !slices.Contains(codes, f.Code)) || (severities != nil && !slices.Contains(severities, f.Severity)) {
				continue
			}
			views = append(views, flagView{Flag: f, at: now})
			if f.RaisedAt.After(latest) {
				latest = f.RaisedAt
			}
		}
		return views, latest
	}
	// Without a filter every visible child is listed, whatever its flags'
	// redaction, in the worklist's order: only the page's children are
	// redacted (below), not the thousands counted.
	filtered := codes != nil || severities != nil
	for _, c := range b.worklist.get(b.src, b.rules, now) {
		if !r.Sees(c.Child.ID, nil) {
			continue // nothing about this child is visible to the caller
		}
		if !filtered {
			items = append(items, flaggedView{id: c.Child.ID, read: r, purpose: why, flags: c.Flags})
			continue
		}
		if views, latest := redact(c.Flags); len(views) > 0 {
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
	page, err := b.page(p, items)
	if conn, ok := page.(connection); ok && !filtered {
		for i, e := range conn.Edges {
			v := e.Node.(flaggedView)
			v.views, v.latest = redact(v.flags)
			conn.Edges[i].Node = v
		}
	}
	return page, err
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

// resolveFlaggedFlags lists a worklist child's flags, on the access log
// under that child.
func (b *schemaBuilder) resolveFlaggedFlags(p *call) (any, error) {
	c := p.Source.(flaggedView)
	auditFrom(p.Context).note("read", c.id, "", c.purpose, nil, "risk_flags", map[string]int{"flags": len(c.views)})
	return c.views, nil
}

// riskFlagTypes builds RiskFlag.
func (b *schemaBuilder) riskFlagTypes(t *types) {
	entryType := t.entry
	riskFlagType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RiskFlag",
		Description: "A pattern the hub's rules found in a child's history, with the events it rests on.",
		Fields: graphql.Fields{
			"code":        {Type: graphql.NewNonNull(graphql.String), Description: "The rule's code (see riskRules); REDACTED when the flag rests on an entry hidden from your role.", Resolve: field(func(f flagView) any { return f.Code })},
			"title":       {Type: graphql.NewNonNull(graphql.String), Description: "The rule's human name, or a note that the flag rests on hidden entries.", Resolve: field(func(f flagView) any { return f.Title })},
			"severity":    {Type: graphql.NewNonNull(graphql.String), Description: "high, medium or low.", Resolve: field(func(f flagView) any { return f.Severity })},
			"reason":      {Type: graphql.NewNonNull(graphql.String), Description: "Why, in plain English, with the numbers; on a redacted flag, only how many hidden entries it rests on and their kind.", Resolve: field(func(f flagView) any { return f.Reason })},
			"active":      {Type: graphql.NewNonNull(graphql.Boolean), Description: "The condition still holds at the evaluation time; false once cleared.", Resolve: field(func(f flagView) any { return f.Active() })},
			"raisedAt":    {Type: graphql.NewNonNull(dateTime), Description: "When the condition held and the hub knew it.", Resolve: field(func(f flagView) any { return f.RaisedAt })},
			"clearedAt":   {Type: dateTime, Description: "When the condition stopped holding; null while active.", Resolve: field(func(f flagView) any { return f.ClearedAt })},
			"clearReason": {Type: graphql.String, Description: "Why it cleared; null while active and on a redacted flag. If an entry hidden from your role cleared it, it says only that.", Resolve: field(func(f flagView) any { return nullable(f.ClearReason) })},
			"deadlineMissedAt": {Type: dateTime, Description: "On a statutory deadline's flag (an assessment, conference, core group, decision or return home interview that is late), when the deadline was first missed; null on other flags and on a redacted flag.",
				Resolve: field(func(f flagView) any {
					if f.Deadline.IsZero() {
						return nil
					}
					return f.Deadline.Missed
				})},
			"overdueBy": {Type: graphql.String, Description: "On an active statutory deadline's flag, how late it is at the evaluation time: \"3 working days\" for deadlines in working days or months (England and Wales bank holidays excluded; the first working day after the last permitted one counts 1), \"5 hours\" or \"2 days\" by the clock for the return home interview's hours; null otherwise and on a redacted flag.",
				Resolve: field(func(f flagView) any {
					if !f.Active() {
						return nil
					}
					return nullable(f.Deadline.OverdueBy(f.at))
				})},
			"evidence": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(entryType))), Description: "The chronology entries the flag rests on; those hidden from your role are redacted placeholders.",
				Resolve: b.resolve(anyone, b.resolveEvidence)},
		},
	})
	t.riskFlag = riskFlagType
}

// worklistQueries are flaggedChildren and riskRules, with their types.
func (b *schemaBuilder) worklistQueries(t *types) graphql.Fields {
	childType, riskFlagType, pageInfoType, purposeArg := t.child, t.riskFlag, t.pageInfo, t.purposeArg
	flaggedType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "FlaggedChild",
		Description: "A child on the worklist with their active flags.",
		Fields: graphql.Fields{
			"child": {Type: graphql.NewNonNull(childType), Description: "The child, as far as your role may see them.", Resolve: field(func(c flaggedView) any { return childView{Child: c.child(), purpose: c.purpose} })},
			"flags": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(riskFlagType))), Description: "The child's active flags (redacted where they rest on entries hidden from your role).",
				Resolve: b.resolve(anyone, b.resolveFlaggedFlags)},
			"highestSeverity": {Type: graphql.NewNonNull(graphql.String), Description: "The most severe of the flags listed here (after any filter): high, medium or low.", Resolve: field(func(c flaggedView) any { return c.views[0].Severity })},
			"latestRaisedAt":  {Type: graphql.NewNonNull(dateTime), Description: "When the most recent of the flags listed here was raised.", Resolve: field(func(c flaggedView) any { return c.latest })},
		},
	})
	flaggedConnection := b.listConnection("FlaggedChild", "A page of the worklist: most severe first, then most recently raised.", flaggedType, pageInfoType)
	thresholdType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "Threshold",
		Description: "One number a risk rule uses, set per deployment in the rules config.",
		Fields: graphql.Fields{
			"name":  {Type: graphql.NewNonNull(graphql.String), Description: "Which number, its unit in the name: count, window_days, months, hours, working_days, age_months, active_days or expire_days.", Resolve: field(func(t threshold) any { return t.Name })},
			"value": {Type: graphql.NewNonNull(graphql.Int), Description: "The number in force here, in that unit.", Resolve: field(func(t threshold) any { return t.Value })},
		},
	})
	settingType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RuleSetting",
		Description: "One reading of the guidance a risk rule uses, set per deployment in the rules config.",
		Fields: graphql.Fields{
			"name":  {Type: graphql.NewNonNull(graphql.String), Description: "Which setting: count_absences, concerns or deadline.", Resolve: field(func(s flags.Setting) any { return s.Name })},
			"value": {Type: graphql.NewNonNull(graphql.String), Description: "Its value here, as text: true or false; a comma-separated list of event types; date or clock.", Resolve: field(func(s flags.Setting) any { return s.Value })},
		},
	})
	ruleType := graphql.NewObject(graphql.ObjectConfig{
		Name:        "RiskRule",
		Description: "A risk rule: its thresholds (set per deployment in the rules config) and why it exists.",
		Fields: graphql.Fields{
			"code":       {Type: graphql.NewNonNull(graphql.String), Description: "The code its flags carry, for example REPEAT_MISSING.", Resolve: field(func(r flags.Rule) any { return r.Code })},
			"title":      {Type: graphql.NewNonNull(graphql.String), Description: "A short human name, for example Repeat missing episodes.", Resolve: field(func(r flags.Rule) any { return r.Title })},
			"severity":   {Type: graphql.NewNonNull(graphql.String), Description: "The severity of the flags it raises: high, medium or low.", Resolve: field(func(r flags.Rule) any { return r.Severity })},
			"enabled":    {Type: graphql.NewNonNull(graphql.Boolean), Description: "Whether it runs in this deployment; a disabled rule raises no flags.", Resolve: field(func(r flags.Rule) any { return r.Enabled })},
			"thresholds": {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(thresholdType))), Description: "The numbers it uses, as configured here.", Resolve: field(func(r flags.Rule) any { return thresholdsOf(r) })},
			"settings":   {Type: graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(settingType))), Description: settingsDesc, Resolve: field(func(r flags.Rule) any { return r.Settings() })},
			"rationale":  {Type: graphql.NewNonNull(graphql.String), Description: "Why it exists and where its thresholds come from: a statutory timescale or local practice.", Resolve: field(func(r flags.Rule) any { return r.Rationale })},
		},
	})
	return graphql.Fields{
		"flaggedChildren": {
			Type: graphql.NewNonNull(flaggedConnection),
			Description: "The hub's worklist now: children with active risk flags, most severe first, then most recently raised. " +
				"Hub, practitioner and manager roles, with a purpose of access; flags resting on entries hidden from your role show as REDACTED.",
			Args: graphql.FieldConfigArgument{
				"codes":      {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only flags of these rules (see riskRules); REDACTED matches flags redacted for your role."},
				"severities": {Type: graphql.NewList(graphql.NewNonNull(graphql.String)), Description: "Only flags of these severities: high, medium or low."},
				"first":      {Type: graphql.Int, Description: fmt.Sprintf("Page size (default %d, at most %d).", b.limits.DefaultPage, b.limits.MaxPage)},
				"after":      {Type: graphql.String, Description: "Cursor: return children after this one (endCursor of the previous page)."},
				"purpose":    purposeArg,
			},
			Resolve: b.resolve(reading(auth.ReadRecords), b.resolveFlaggedChildren),
		},
		"riskRules": {
			Type:        graphql.NewNonNull(graphql.NewList(graphql.NewNonNull(ruleType))),
			Description: "The risk rules in force, with thresholds and rationale. Any role.",
			Resolve:     func(graphql.ResolveParams) (any, error) { return b.rules.Rules(), nil },
		},
	}
}

// settingsDesc describes a field whose meaning needs more than a line.
const settingsDesc = "The readings of the guidance it uses that are not numbers, as configured here: count_absences (whether absences count as missing), " +
	"concerns (the event types that count as an agency's concern) and deadline (date: met at any hour of the last day; clock: at the same time of day)."
