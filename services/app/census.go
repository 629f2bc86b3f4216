package app

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/ingest/cin"
)

var laNumber = regexp.MustCompile(`^\d{3}$`)

// censusExport renders GET /v1/export/cin-census?year=YYYY[&la=NNN]: the
// CIN census of that year from the read model (see cin.Write). Sealed
// entries are never exported; analysts, whose exports are pseudonymised,
// may not have it.
func (a *App) censusExport(r *http.Request) ([]byte, int, error) {
	if c, _ := auth.CallerFrom(r.Context()); c.Role == auth.Analyst {
		return nil, 0, events.Errorf("export", events.KindForbidden, "a census file names children (LA child id, UPN, date of birth), and an analyst's exports are pseudonymised: ask a manager")
	}
	var p events.ProblemSet
	q := r.URL.Query()
	year, err := strconv.Atoi(q.Get("year"))
	if err != nil || year < 2000 || year > 2100 {
		p.Add("year", "%q is not a census year like 2024 (the 2023-24 collection)", q.Get("year"))
	}
	la := q.Get("la")
	if la != "" && !laNumber.MatchString(la) {
		p.Add("la", "%q is not a three-digit DfE LA number", la)
	}
	if err := p.Err(); err != nil {
		return nil, 0, events.E("export", events.KindInvalid, err)
	}
	m := a.model
	var children []cin.ChildHistory
	for _, c := range m.Children(projections.ChildFilter{}, nil) {
		entries, _ := m.Chronology(c.ID, nil, false)
		h := cin.ChildHistory{}
		for _, e := range entries {
			if e.Sensitivity != "sealed" {
				h.Entries = append(h.Entries, e)
			}
		}
		for _, k := range c.Identifiers {
			h.Identifiers = append(h.Identifiers, k.Identifier)
		}
		for _, d := range c.DatesOfBirth {
			if h.DateOfBirth == "" || d < h.DateOfBirth {
				h.DateOfBirth = d
			}
		}
		children = append(children, h)
	}
	var buf bytes.Buffer
	w, err := cin.Write(&buf, cin.Export{Year: year, LEA: la, Produced: a.cfg.Now()}, children)
	if err != nil {
		return nil, 0, events.E("export", events.KindInternal, err)
	}
	return buf.Bytes(), w.Children, nil
}
