package gateway

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/projections"
)

// Entries is the read model's full list, for statistics and exports.
type Entries interface {
	Entries(asOf *time.Time) ([]projections.Entry, [][]string)
}

// ExportRow is one event in a pseudonymised export: no names, no
// identifiers, no free text; children by a keyed pseudonym that is stable
// within one deployment, so an analyst can follow a child without knowing
// who they are; dates to the month; coded fields only.
type ExportRow struct {
	Children    []string       `json:"children"`
	Type        string         `json:"type"`
	Agency      string         `json:"agency"`
	Month       string         `json:"month"`
	Sensitivity string         `json:"sensitivity"`
	Reliability string         `json:"reliability"`
	Coded       []events.Field `json:"coded,omitempty"`
}

// Exporter serves GET /v1/export: the pseudonymised event list as NDJSON,
// for analysts and managers, with a purpose of access, recorded in the
// access log before a byte is sent. Sealed entries are never exported.
type Exporter struct {
	src     Entries
	key     []byte
	auditor access.Auditor
	log     *slog.Logger
	now     func() time.Time
}

// NewExporter returns the export handler; key keys the child pseudonyms.
func NewExporter(src Entries, key []byte, a access.Auditor, log *slog.Logger, now func() time.Time) *Exporter {
	return &Exporter{src: src, key: key, auditor: a, log: log, now: now}
}

func (x *Exporter) pseudonym(childID string) string {
	m := hmac.New(sha256.New, x.key)
	m.Write([]byte(childID))
	return "P" + hex.EncodeToString(m.Sum(nil))[:16]
}

// Rows builds the export.
func (x *Exporter) Rows() []ExportRow {
	entries, children := x.src.Entries(nil)
	var out []ExportRow
	for i, e := range entries {
		if e.Sensitivity == "sealed" {
			continue
		}
		row := ExportRow{Type: string(e.Type), Agency: e.Agency, Month: e.OccurredAt.UTC().Format("2006-01"), Sensitivity: e.Sensitivity, Reliability: e.Reliability}
		for _, c := range children[i] {
			row.Children = append(row.Children, x.pseudonym(c))
		}
		for _, f := range events.Fields(e.Body()) {
			if f.Meaning != "" { // coded values only: free text never leaves
				row.Coded = append(row.Coded, f)
			}
		}
		out = append(out, row)
	}
	return out
}

// ServeHTTP answers GET /v1/export with the pseudonymised rows as NDJSON,
// once the export is on the access log. It needs a purpose of access in the
// Chronicle-Purpose header; without one, or when the log cannot be written,
// nothing is exported.
func (x *Exporter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !x.onlyGet(w, r) {
		return
	}
	why, err := exportPurpose(r)
	if err != nil {
		httpapi.WriteError(w, r, x.log, err)
		return
	}
	rows := x.Rows()
	if !x.logged(w, r, why, "pseudonymised_events", len(rows)) {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, row := range rows {
		_ = enc.Encode(row)
	}
	_ = bw.Flush()
}

// exportPurpose reads an export's purpose of access from its headers; an
// export without one is refused.
func exportPurpose(r *http.Request) (access.Purpose, error) {
	why := access.PurposeFrom(r.Header)
	if !access.Purposes.Has(why.Reason) {
		return why, events.Errorf("export", events.KindForbidden, "an export needs a purpose of access in the %s header (one of %s)", access.HeaderPurpose, strings.Join(access.Purposes.Values(), ", "))
	}
	return why, nil
}

// logged records an export of part (rows rows) on the access log before a
// byte is sent. When the log cannot be written it answers the request with
// the error, exports nothing and returns false.
func (x *Exporter) logged(w http.ResponseWriter, r *http.Request, why access.Purpose, part string, rows int) bool {
	c, _ := auth.CallerFrom(r.Context())
	rec := access.Record{At: x.now(), RequestID: httpapi.RequestID(r.Context()), Subject: c.Subject, Name: c.Name, Role: string(c.Role), Agency: c.Agency,
		Purpose: why.Reason, PurposeDetail: why.Detail, Action: "export", Parts: []string{part}, Returned: map[string]int{"rows": rows}}
	if err := x.auditor.Record(r.Context(), []access.Record{rec}); err != nil {
		httpapi.WriteError(w, r, x.log, events.E("export", events.KindUnavailable, fmt.Errorf("the access log cannot be written, so nothing is exported: %w", err)))
		return false
	}
	return true
}

// Rendered returns a handler for an export that another layer renders (a
// statutory return's file): the same role, purpose of access and access
// log as the other exports. render answers the request's parameters with
// the body and how many rows it holds, or a *events.Error.
func (x *Exporter) Rendered(part, contentType string, render func(r *http.Request) (body []byte, rows int, err error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !x.onlyGet(w, r) {
			return
		}
		why, err := exportPurpose(r)
		if err != nil {
			httpapi.WriteError(w, r, x.log, err)
			return
		}
		body, rows, err := render(r)
		if err != nil {
			httpapi.WriteError(w, r, x.log, err)
			return
		}
		if !x.logged(w, r, why, part, rows) {
			return
		}
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	})
}

// onlyGet answers any method but GET with 405 and the Allow header, and
// reports whether the request may go on: an export only reads.
func (x *Exporter) onlyGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	httpapi.WriteError(w, r, x.log, httpapi.Refuse(httpapi.MethodNotAllowed, "method %s not allowed: an export is read with GET", r.Method))
	return false
}
