package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/annexa"
)

// Histories is the read model the statutory exports read: every child and
// their chronology, whole or of some types only.
type Histories interface {
	Children(f projections.ChildFilter, asOf *time.Time) []projections.Child
	Chronology(id string, asOf *time.Time, withRetracted bool) ([]projections.Entry, bool)
	ChronologyOfTypes(id string, asOf *time.Time, types []events.Type) ([]projections.Entry, bool)
}

var _ Histories = (*projections.Model)(nil)

// AnnexAResponse is the body of GET /v1/export/annex-a.
type AnnexAResponse struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Pseudonymised is set when Child Unique ID is a pseudonym and dates
	// of birth are left out (an analyst's export).
	Pseudonymised bool          `json:"pseudonymised"`
	Lists         []annexa.List `json:"lists"`
}

// AnnexA serves GET /v1/export/annex-a?from=YYYY-MM-DD&to=YYYY-MM-DD: Ofsted's
// Annex A lists for that period (London dates, inclusive) as JSON, for roles
// that may export, with a purpose of access, on the access log before a byte
// is sent. An analyst gets the child's pseudonym (the one /v1/export uses)
// for Child Unique ID and no dates of birth (ages only); a manager the LA's
// own child id. Sealed entries are never exported.
func (x *Exporter) AnnexA(src Histories) http.Handler {
	return x.Rendered("annex_a", "application/json", func(r *http.Request) ([]byte, int, error) {
		period, err := periodArgs(r)
		if err != nil {
			return nil, 0, err
		}
		c, _ := auth.CallerFrom(r.Context())
		pseudo := c.Role == auth.Analyst
		lists := x.annexALists(src, pseudo, period)
		rows := 0
		for _, l := range lists {
			rows += len(l.Rows)
		}
		body, err := json.Marshal(AnnexAResponse{From: r.URL.Query().Get("from"), To: r.URL.Query().Get("to"), Pseudonymised: pseudo, Lists: lists})
		if err != nil {
			return nil, 0, events.E("export", events.KindInternal, err)
		}
		return body, rows, nil
	})
}

// annexALists builds the lists child by child, in Child Unique ID order,
// reading only the types of entry the lists use and holding one child's at
// a time: at a million events, collecting every child's whole chronology
// first cost most of the export in allocation and garbage collection.
// Sealed entries are left out.
func (x *Exporter) annexALists(src Histories, pseudo bool, period annexa.Period) []annexa.List {
	type head struct {
		child projections.Child
		id    string
	}
	children := src.Children(projections.ChildFilter{}, nil)
	heads := make([]head, len(children)) // by pointer below: sorting copies less
	order := make([]*head, len(children))
	for i, c := range children {
		heads[i] = head{child: c, id: localID(c)}
		if pseudo {
			heads[i].id = x.pseudonym(c.ID)
		}
		order[i] = &heads[i]
	}
	slices.SortStableFunc(order, func(a, b *head) int { return strings.Compare(a.id, b.id) })
	b := annexa.NewBuilder(period)
	for _, h := range order {
		entries, _ := src.ChronologyOfTypes(h.child.ID, nil, annexa.Types)
		kept := entries[:0]
		for _, e := range entries {
			if e.Sensitivity != "sealed" {
				kept = append(kept, e)
			}
		}
		if len(kept) == 0 {
			continue
		}
		ac := annexa.Child{ID: h.id, Entries: kept}
		for _, d := range h.child.DatesOfBirth {
			if t, ok := events.Date(d).Time(); ok && (ac.BirthForAge == nil || t.Before(*ac.BirthForAge)) {
				ac.BirthForAge = &t
				if !pseudo {
					ac.DateOfBirth = t.Format("02/01/2006")
				}
			}
		}
		b.Add(ac)
	}
	return b.Lists()
}

// localID is the child's id as the council knows it: the LA person id,
// else the first identifier the hub holds.
func localID(c projections.Child) string {
	for _, k := range c.Identifiers {
		if k.Scheme == events.SchemeLAPersonID {
			return k.Value
		}
	}
	if len(c.Identifiers) > 0 {
		return c.Identifiers[0].String()
	}
	return c.ID
}

// periodArgs reads from and to, both required.
func periodArgs(r *http.Request) (annexa.Period, error) {
	p, err := annexa.ParsePeriod(r.URL.Query().Get("from"), r.URL.Query().Get("to"))
	if err != nil {
		return p, events.E("export", events.KindInvalid, err)
	}
	return p, nil
}
