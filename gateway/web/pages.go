package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
)

// london is the zone every date on the pages is read and written in: the
// hub's, as the rules' deadlines are.
var london = func() *time.Location {
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return l
}()

// chronologyPage is how many chronology rows a page shows; timelineMax how
// many entries the timeline draws (the largest page the schema gives).
const (
	chronologyPage = 50
	timelineMax    = 1000
	searchMax      = 50
	worklistPage   = 50
)

// purposeChoice is one reason on a purpose form.
type purposeChoice struct {
	Code, Meaning string
	Chosen        bool
}

func purposeChoices(chosen string) []purposeChoice {
	out := make([]purposeChoice, 0, len(access.Purposes.Codes))
	for _, c := range access.Purposes.Codes {
		out = append(out, purposeChoice{Code: c.Code, Meaning: c.Meaning, Chosen: c.Code == chosen})
	}
	return out
}

// purposeText is a purpose as a page shows it: the reason's meaning and
// the person's own words.
func purposeText(p access.Purpose) string {
	s := p.Reason
	for _, c := range access.Purposes.Codes {
		if c.Code == p.Reason {
			s = c.Meaning
		}
	}
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// Identifier schemes as the search form offers them, with whose numbering
// each is.
var schemes = []struct{ Code, Label string }{
	{"NHS_NUMBER", "NHS number (health)"},
	{"UPN", "Unique Pupil Number (schools)"},
	{"LA_PERSON_ID", "Local authority person id (social care)"},
	{"POLICE_PERSON_ID", "Police person id"},
}

func schemeLabel(code string) string {
	for _, s := range schemes {
		if s.Code == code {
			return s.Label
		}
	}
	return code
}

// homeData is the search page's.
type homeData struct {
	Purposes []purposeChoice
	Schemes  []struct{ Code, Label string }
	Form     searchForm
	Problem  string
	Searched bool
	Results  []childSummary
	Total    int
}

type searchForm struct {
	Scheme, Value, Name, DOB, Reason, Detail string
}

// PurposeDetail fills the purpose form's own words.
func (d homeData) PurposeDetail() string { return d.Form.Detail }

type childSummary struct {
	ID           string       `json:"id"`
	Names        []string     `json:"names"`
	DatesOfBirth []string     `json:"datesOfBirth"`
	Unborn       bool         `json:"unborn"`
	Identifiers  []identifier `json:"identifiers"`
}

type identifier struct {
	Scheme        string     `json:"scheme"`
	Value         string     `json:"value"`
	EstablishedAt *time.Time `json:"establishedAt"`
}

// SchemeLabel says whose numbering the identifier is.
func (i identifier) SchemeLabel() string { return schemeLabel(i.Scheme) }

func (a *App) home(w http.ResponseWriter, r *http.Request, v viewer) {
	d := homeData{Schemes: schemes}
	if v.general != nil {
		d.Form.Reason, d.Form.Detail = v.general.Reason, v.general.Detail
	}
	d.Purposes = purposeChoices(d.Form.Reason)
	a.render(w, r, &v, http.StatusOK, "home", "Find a child", d)
}

// search finds children by an identifier, or by name and date of birth,
// through the schema's children query (the same rules as GraphQL). It is a
// POST and answers in place, so no identifier or name is ever in a URL.
func (a *App) search(w http.ResponseWriter, r *http.Request, v viewer) {
	f := searchForm{Scheme: r.PostForm.Get("scheme"), Value: strings.TrimSpace(r.PostForm.Get("value")), Name: strings.TrimSpace(r.PostForm.Get("name")),
		DOB: strings.TrimSpace(r.PostForm.Get("dob")), Reason: r.PostForm.Get("reason"), Detail: r.PostForm.Get("detail")}
	d := homeData{Schemes: schemes, Form: f, Purposes: purposeChoices(f.Reason)}
	filter := map[string]any{}
	switch {
	case f.Value != "":
		filter["identifier"] = map[string]any{"scheme": f.Scheme, "value": strings.ReplaceAll(f.Value, " ", "")}
	case f.Name != "" && f.DOB != "":
		filter["name"], filter["dateOfBirth"] = f.Name, f.DOB
	case f.Name != "":
		d.Problem = "dob: give the date of birth with the name (or search by an identifier)"
	case f.DOB != "":
		d.Problem = "name: give a name with the date of birth (or search by an identifier)"
	default:
		d.Problem = "value: give an identifier, or a name and date of birth"
	}
	p, err := purposeFrom(r.PostForm)
	if err != nil && d.Problem == "" {
		d.Problem = err.Error()
	}
	if d.Problem != "" {
		a.retry(w, r, &v, "home", "Find a child", d)
		return
	}
	a.sessions.setPurpose(v.id, "", p)
	var out struct {
		Children *struct {
			TotalCount int            `json:"totalCount"`
			Nodes      []childSummary `json:"nodes"`
		} `json:"children"`
	}
	if _, err := a.read(r.Context(), v, p, a.docs.search, map[string]any{"filter": filter, "first": searchMax}, &out); err != nil {
		if events.KindOf(err) == events.KindInvalid {
			d.Problem = httpapi.PublicMessage(r.Context(), a.log, err)
			a.retry(w, r, &v, "home", "Find a child", d)
			return
		}
		a.failed(w, r, &v, err)
		return
	}
	d.Searched = true
	if out.Children != nil {
		d.Results, d.Total = out.Children.Nodes, out.Children.TotalCount
	}
	a.render(w, r, &v, http.StatusOK, "home", "Find a child", d)
}

// purposeData is the purpose-of-access form's.
type purposeData struct {
	ChildID  string // empty for the worklist
	Purposes []purposeChoice
	Detail   string
	Problem  string
}

// PurposeDetail fills the purpose form's own words.
func (d purposeData) PurposeDetail() string { return d.Detail }

// setPurpose remembers a purpose of access for one child (or for the
// worklist) for the rest of the session, then opens it.
func (a *App) setPurpose(w http.ResponseWriter, r *http.Request, v viewer) {
	childID := r.PostForm.Get("child")
	p, err := purposeFrom(r.PostForm)
	if err != nil {
		a.retry(w, r, &v, "purpose", "Why are you opening this record?",
			purposeData{ChildID: childID, Purposes: purposeChoices(p.Reason), Detail: p.Detail, Problem: err.Error()})
		return
	}
	a.sessions.setPurpose(v.id, childID, p)
	if childID == "" {
		http.Redirect(w, r, "/worklist", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/children/"+url.PathEscape(childID), http.StatusSeeOther)
}

// askPurpose shows the purpose form in place of a record not yet opened
// for a purpose; the last purpose given in the session is offered first.
func (a *App) askPurpose(w http.ResponseWriter, r *http.Request, v viewer, childID string) {
	d := purposeData{ChildID: childID}
	chosen := ""
	if v.general != nil {
		chosen, d.Detail = v.general.Reason, v.general.Detail
	}
	d.Purposes = purposeChoices(chosen)
	a.render(w, r, &v, http.StatusOK, "purpose", "Why are you opening this record?", d)
}

// dayStart and dayEnd read a YYYY-MM-DD field as the start or the last
// instant of that London day.
func dayBound(q url.Values, field string, end bool) (*time.Time, string, error) {
	s := strings.TrimSpace(q.Get(field))
	if s == "" {
		return nil, "", nil
	}
	d, err := time.ParseInLocation("2006-01-02", s, london)
	if err != nil {
		return nil, s, events.Errorf(field, events.KindInvalid, "%q is not a date like 2024-03-02", s)
	}
	if end {
		d = d.AddDate(0, 0, 1).Add(-time.Nanosecond)
	}
	return &d, s, nil
}

// rfc3339 renders an optional time as a GraphQL DateTime variable.
func rfc3339(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// strings of a repeated query parameter, or nil (no filter).
func listParam(q url.Values, name string) any {
	vals := q[name]
	if len(vals) == 0 {
		return nil
	}
	out := make([]any, 0, len(vals))
	for _, v := range vals {
		out = append(out, v)
	}
	return out
}

func fmtTime(t time.Time) string { return t.In(london).Format("2 Jan 2006 15:04") }
func fmtDate(t time.Time) string { return t.In(london).Format("2 Jan 2006") }

// fmtDOB writes a YYYY-MM-DD date of birth in words.
func fmtDOB(s string) string {
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return s
	}
	return d.Format("2 January 2006")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
