package web

import (
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
)

// The child page's data, as the child query returns it.
type (
	childResult struct {
		Child      *childRecord `json:"child"`
		Agencies   []codeName   `json:"agencies"`
		EventTypes []eventType  `json:"eventTypes"`
	}
	codeName struct {
		Code string `json:"code"`
		Name string `json:"name"`
	}
	eventType struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		Area  string `json:"area"`
	}
	childRecord struct {
		ID           string       `json:"id"`
		RequestedID  string       `json:"requestedId"`
		Names        []string     `json:"names"`
		DatesOfBirth []string     `json:"datesOfBirth"`
		Unborn       bool         `json:"unborn"`
		Identifiers  []identifier `json:"identifiers"`
		RiskFlags    []riskFlag   `json:"riskFlags"`
		Timeline     struct {
			TotalCount int             `json:"totalCount"`
			Nodes      []timelineEntry `json:"nodes"`
		} `json:"timeline"`
		Chronology struct {
			TotalCount int `json:"totalCount"`
			Redactions []struct {
				Description string `json:"description"`
			} `json:"redactions"`
			Edges []struct {
				Cursor string `json:"cursor"`
				Node   entry  `json:"node"`
			} `json:"edges"`
			PageInfo struct {
				HasNextPage     bool   `json:"hasNextPage"`
				HasPreviousPage bool   `json:"hasPreviousPage"`
				EndCursor       string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"chronology"`
	}
	riskFlag struct {
		Code        string     `json:"code"`
		Title       string     `json:"title"`
		Severity    string     `json:"severity"`
		Reason      string     `json:"reason"`
		Active      bool       `json:"active"`
		RaisedAt    time.Time  `json:"raisedAt"`
		ClearedAt   *time.Time `json:"clearedAt"`
		ClearReason string     `json:"clearReason"`
		OverdueBy   string     `json:"overdueBy"`
		Evidence    []entry    `json:"evidence"`
	}
	timelineEntry struct {
		ID          string    `json:"id"`
		Type        string    `json:"type"`
		OccurredAt  time.Time `json:"occurredAt"`
		Agency      string    `json:"agency"`
		Title       string    `json:"title"`
		Reliability string    `json:"reliability"`
		Redacted    bool      `json:"redacted"`
		Retracted   bool      `json:"retracted"`
	}
	entry struct {
		ID               string    `json:"id"`
		Type             string    `json:"type"`
		Title            string    `json:"title"`
		Agency           string    `json:"agency"`
		Summary          string    `json:"summary"`
		Reliability      string    `json:"reliability"`
		Sensitivity      string    `json:"sensitivity"`
		OccurredAt       time.Time `json:"occurredAt"`
		RecordedAt       time.Time `json:"recordedAt"`
		ReceivedAt       time.Time `json:"receivedAt"`
		SourceSystem     string    `json:"sourceSystem"`
		SourceRef        string    `json:"sourceRef"`
		Version          int       `json:"version"`
		Corrected        bool      `json:"corrected"`
		CorrectionReason string    `json:"correctionReason"`
		Retracted        bool      `json:"retracted"`
		RetractionReason string    `json:"retractionReason"`
		Redacted         bool      `json:"redacted"`
		Details          []struct {
			Name    string `json:"name"`
			Value   string `json:"value"`
			Meaning string `json:"meaning"`
		} `json:"details"`
		History []struct {
			Version          int       `json:"version"`
			Summary          string    `json:"summary"`
			OccurredAt       time.Time `json:"occurredAt"`
			Redacted         bool      `json:"redacted"`
			CorrectionReason string    `json:"correctionReason"`
		} `json:"history"`
	}
)

// status badges: the CP-IS style flags, shown at the top of the page.
var badgeCodes = map[string]string{
	"CP_PLAN_ACTIVE": "Child protection plan",
	"UNBORN_CP_PLAN": "Unborn child protection plan",
	"LOOKED_AFTER":   "Looked after",
}

// childFilters are the chronology's filters as the page's form holds them.
type childFilters struct {
	AsOf, From, To string
	Agencies       []string
	Types          []string
	Retracted      bool
	After          string
}

// Query renders the filters as a query string, with after replaced.
func (f childFilters) Query(after string) template.URL {
	q := url.Values{}
	for k, v := range map[string]string{"asof": f.AsOf, "from": f.From, "to": f.To, "after": after} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, v := range map[string][]string{"agency": f.Agencies, "type": f.Types} {
		if len(v) > 0 {
			q[k] = v
		}
	}
	if f.Retracted {
		q.Set("retracted", "1")
	}
	if len(q) == 0 {
		return ""
	}
	return template.URL("?" + q.Encode())
}

// Zoom renders the filters with the period set to the last months months
// before end (0: all time).
func (f childFilters) Zoom(months int, end time.Time) template.URL {
	g := f
	g.After, g.From, g.To = "", "", ""
	if months > 0 {
		g.From = end.In(london).AddDate(0, -months, 0).Format("2006-01-02")
	}
	return g.Query("")
}

// childData is the child page's.
type childData struct {
	Child      childRecord
	Purpose    string
	Filters    childFilters
	AsOf       *time.Time
	Agencies   []codeName
	EventTypes []eventType
	Badges     []string
	Active     []riskFlag
	Cleared    []riskFlag
	Timeline   template.HTML
	Legend     []legendItem
	End        time.Time
	Problems   []string // field errors beside the data
}

// AgencyChosen and TypeChosen tick the filter form.
func (d childData) AgencyChosen(code string) bool { return slices.Contains(d.Filters.Agencies, code) }
func (d childData) TypeChosen(t string) bool      { return slices.Contains(d.Filters.Types, t) }

// child serves a child's page once a purpose of access is known for them
// in this session; until then, the purpose form.
func (a *App) child(w http.ResponseWriter, r *http.Request, v viewer) {
	a.record(w, r, v, gateway.ActionRead, "child", chronologyPage)
}

// print serves the print view for conference: the child's page with the
// whole chronology (as far as the schema's largest page), the protective
// marking, who printed it, when and why, read through the schema with its
// reads recorded as action print, so the access log says a copy was made
// and not only that the record was seen. The screen page's own print
// stylesheet prints only a pointer here.
func (a *App) print(w http.ResponseWriter, r *http.Request, v viewer) {
	a.record(w, r, v, gateway.ActionPrint, "print", timelineMax)
}

// record reads a child's record with the filters in the query string, as
// action (read or print), first chronology rows at a time, and renders it
// with template name.
func (a *App) record(w http.ResponseWriter, r *http.Request, v viewer, action, name string, first int) {
	id := r.PathValue("id")
	p, ok := v.purposes[id]
	if !ok {
		a.askPurpose(w, r, v, id)
		return
	}
	q := r.URL.Query()
	f := childFilters{Agencies: q["agency"], Types: q["type"], Retracted: q.Get("retracted") == "1", After: q.Get("after")}
	asOf, as, err := dayBound(q, "asof", true)
	f.AsOf = as
	if err != nil {
		a.failed(w, r, &v, err)
		return
	}
	from, fs, err := dayBound(q, "from", false)
	f.From = fs
	if err != nil {
		a.failed(w, r, &v, err)
		return
	}
	to, ts, err := dayBound(q, "to", true)
	f.To = ts
	if err != nil {
		a.failed(w, r, &v, err)
		return
	}
	vars := map[string]any{"id": id, "asOf": rfc3339(asOf), "first": first, "from": rfc3339(from), "to": rfc3339(to),
		"agencies": listParam(q, "agency"), "types": listParam(q, "type"), "retracted": f.Retracted, "timeline": timelineMax}
	if f.After != "" && action == gateway.ActionRead {
		vars["after"] = f.After
	}
	var res childResult
	errs, err := a.readAs(r.Context(), action, v, p, a.docs.child, vars, &res)
	if err == nil && res.Child == nil {
		err = queryError(errs)
	}
	if err != nil {
		a.failed(w, r, &v, err)
		return
	}
	d := childData{Child: *res.Child, Purpose: purposeText(p), Filters: f, AsOf: asOf, Agencies: res.Agencies, EventTypes: res.EventTypes}
	for _, e := range errs {
		d.Problems = append(d.Problems, e.Message)
	}
	for _, fl := range d.Child.RiskFlags {
		if !fl.Active {
			d.Cleared = append(d.Cleared, fl)
			continue
		}
		d.Active = append(d.Active, fl)
		if b, ok := badgeCodes[fl.Code]; ok && !slices.Contains(d.Badges, b) {
			d.Badges = append(d.Badges, b)
		}
	}
	d.End = a.cfg.Now()
	if asOf != nil {
		d.End = *asOf
	}
	d.Timeline, d.Legend = drawTimeline(timelineInput{Entries: d.Child.Timeline.Nodes, Flags: d.Child.RiskFlags, Agencies: res.Agencies,
		Types: res.EventTypes, From: from, To: to, End: d.End})
	title := "Child record"
	if len(d.Child.Names) > 0 {
		title = d.Child.Names[0]
	}
	if action == gateway.ActionPrint {
		title = "Print for conference: " + title
	}
	a.render(w, r, &v, http.StatusOK, name, title, d)
}

// worklistData is the worklist page's.
type worklistData struct {
	Purpose string
	Total   int
	Rows    []worklistRow
	Rules   []struct{ Code, Title, Severity string }
	Codes   []string
	Sev     []string
	// Severities are the filter's choices, most severe first.
	Severities []string
	Next       string
	Filters    template.URL
	Problems   []string
}

type worklistRow struct {
	HighestSeverity string    `json:"highestSeverity"`
	LatestRaisedAt  time.Time `json:"latestRaisedAt"`
	Child           struct {
		ID           string   `json:"id"`
		Names        []string `json:"names"`
		DatesOfBirth []string `json:"datesOfBirth"`
	} `json:"child"`
	Flags []riskFlag `json:"flags"`
}

// CodeChosen and SevChosen tick the filter form.
func (d worklistData) CodeChosen(c string) bool { return slices.Contains(d.Codes, c) }
func (d worklistData) SevChosen(s string) bool  { return slices.Contains(d.Sev, s) }

// NextQuery is the next page's query string.
func (d worklistData) NextQuery() template.URL {
	q := url.Values{"code": d.Codes, "severity": d.Sev}
	q.Set("after", d.Next)
	return template.URL("?" + q.Encode())
}

// worklist serves flaggedChildren: most severe first, then most recently
// raised, filtered by rule and severity.
func (a *App) worklist(w http.ResponseWriter, r *http.Request, v viewer) {
	if v.general == nil {
		a.askPurpose(w, r, v, "")
		return
	}
	q := r.URL.Query()
	d := worklistData{Purpose: purposeText(*v.general), Codes: q["code"], Sev: q["severity"], Severities: []string{"high", "medium", "low"}}
	vars := map[string]any{"codes": listParam(q, "code"), "severities": listParam(q, "severity"), "first": worklistPage}
	if after := q.Get("after"); after != "" {
		vars["after"] = after
	}
	var res struct {
		Flagged *struct {
			TotalCount int `json:"totalCount"`
			Edges      []struct {
				Node worklistRow `json:"node"`
			} `json:"edges"`
			PageInfo struct {
				HasNextPage bool   `json:"hasNextPage"`
				EndCursor   string `json:"endCursor"`
			} `json:"pageInfo"`
		} `json:"flaggedChildren"`
		Rules []struct{ Code, Title, Severity string } `json:"riskRules"`
	}
	errs, err := a.read(r.Context(), v, *v.general, a.docs.worklist, vars, &res)
	if err == nil && res.Flagged == nil {
		err = queryError(errs)
	}
	if err != nil {
		a.failed(w, r, &v, err)
		return
	}
	d.Total, d.Rules = res.Flagged.TotalCount, res.Rules
	for _, e := range res.Flagged.Edges {
		d.Rows = append(d.Rows, e.Node)
	}
	if res.Flagged.PageInfo.HasNextPage {
		d.Next = res.Flagged.PageInfo.EndCursor
	}
	for _, e := range errs {
		d.Problems = append(d.Problems, e.Message)
	}
	a.render(w, r, &v, http.StatusOK, "worklist", "Worklist", d)
}
