package ingest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/chronicle-hub/chronicle/events"
)

// CSV import maps a header row to envelope fields, for bulk history from
// legacy systems that cannot produce JSON. The columns are:
//
//	id, type, schema_version, agency, source_system, source_ref,
//	occurred_at, recorded_at, sensitivity, reliability, summary
//	subject.<field>      the first subject: kind, nhs_number, upn, la_person_id,
//	                     police_person_id, name, date_of_birth,
//	                     expected_delivery_date, role, mother.<identifier>
//	subject2.<field> ... further subjects, up to subject20
//	payload              the whole payload as a JSON object, or
//	payload.<field>      one payload field; numbers, true/false (or yes/no),
//	                     dates and lists separated by ";" are converted by the
//	                     type's payload struct
//
// Columns whose name starts with "_" are ignored (the rejects file adds
// _line and _reasons, so it can be fixed and imported again). Times without
// a zone ("2024-03-04 10:15") are read in the import's time zone, and dates
// may be YYYY-MM-DD or the UK's DD/MM/YYYY. Empty cells are absent fields.

// csvMapper converts rows under one header.
type csvMapper struct {
	columns []column
	zone    *time.Location
}

// column is where one CSV column goes: an envelope field (subject -1), a
// subject's field, or a payload field.
type column struct {
	skip    bool
	subject int    // -1 for envelope and payload columns
	path    string // envelope or subject field, or payload field after "payload."
	payload bool
}

// field names the column's field as event validation names it.
func (c column) field() string {
	switch {
	case c.payload:
		return "payload." + c.path
	case c.subject >= 0:
		return fmt.Sprintf("subjects[%d].%s", c.subject, c.path)
	}
	return c.path
}

var envelopeColumns = map[string]bool{
	"id": true, "type": true, "schema_version": true, "agency": true, "source_system": true, "source_ref": true,
	"occurred_at": true, "recorded_at": true, "sensitivity": true, "reliability": true, "summary": true, "payload": true,
}

var subjectColumns = map[string]bool{
	"kind": true, "nhs_number": true, "upn": true, "la_person_id": true, "police_person_id": true, "name": true,
	"date_of_birth": true, "expected_delivery_date": true, "role": true,
	"mother.nhs_number": true, "mother.upn": true, "mother.la_person_id": true, "mother.police_person_id": true,
}

// newCSVMapper checks the header (after renaming by rename) and fails on the
// first column it cannot place, naming it: a header mistake would otherwise
// reject every row.
func newCSVMapper(header []string, rename map[string]string, zone *time.Location) (*csvMapper, error) {
	m := &csvMapper{zone: zone}
	seen := map[string]bool{}
	for i, h := range header {
		name := strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if to, ok := rename[name]; ok {
			name = to
		}
		if seen[name] && !strings.HasPrefix(name, "_") {
			return nil, fmt.Errorf("column %d (%q) repeats %q", i+1, h, name)
		}
		seen[name] = true
		c, err := placeColumn(name)
		if err != nil {
			return nil, fmt.Errorf("column %d (%q): %w", i+1, h, err)
		}
		m.columns = append(m.columns, c)
	}
	return m, nil
}

func placeColumn(name string) (column, error) {
	switch {
	case strings.HasPrefix(name, "_"):
		return column{skip: true}, nil
	case envelopeColumns[name]:
		return column{subject: -1, path: name}, nil
	case strings.HasPrefix(name, "payload."):
		return column{subject: -1, path: strings.TrimPrefix(name, "payload."), payload: true}, nil
	case strings.HasPrefix(name, "subject"):
		prefix, field, ok := strings.Cut(name, ".")
		n := 1
		if num := strings.TrimPrefix(prefix, "subject"); num != "" {
			var err error
			if n, err = strconv.Atoi(num); err != nil || n < 1 || n > events.MaxSubjects {
				return column{}, fmt.Errorf("%q is not subject, subject2 ... subject%d", prefix, events.MaxSubjects)
			}
		}
		if !ok || !subjectColumns[field] {
			return column{}, fmt.Errorf("%q is not a subject field (want subject.nhs_number, subject.name, ...)", name)
		}
		return column{subject: n - 1, path: field}, nil
	}
	return column{}, fmt.Errorf("%q is not an envelope field, subject.<field> or payload.<field>: rename it with --map or prefix it with _ to ignore it", name)
}

// row converts one record to event JSON, or reports every cell it could not
// convert with the field path.
func (m *csvMapper) row(record []string) ([]byte, error) {
	var p events.ProblemSet
	env := map[string]any{}
	payload := map[string]any{}
	var subjects []map[string]any
	// Cells past the header have no column: most often an unquoted comma
	// split a field, and dropping them would store the field cut short.
	if len(record) > len(m.columns) {
		if extra := record[len(m.columns):]; strings.TrimSpace(strings.Join(extra, "")) != "" {
			p.Add("", "the row has %d cells, the header %d: %q has no column (a comma that should have been quoted?)", len(record), len(m.columns), extra)
		}
	}
	for i, c := range m.columns {
		if c.skip || i >= len(record) {
			continue
		}
		v := strings.TrimSpace(record[i])
		if v == "" {
			continue
		}
		// Encoding to JSON would turn bad bytes into U+FFFD silently, so
		// what was stored would not be what the file said.
		if !utf8.ValidString(v) {
			p.Add(c.field(), "is not valid UTF-8 (is the file saved as UTF-8?)")
			continue
		}
		switch {
		case c.payload:
			payload[c.path] = v // converted below, once the type is known
		case c.subject >= 0:
			for len(subjects) <= c.subject {
				subjects = append(subjects, map[string]any{})
			}
			m.setSubject(&p, subjects[c.subject], c.subject, c.path, v)
		default:
			m.setEnvelope(&p, env, c.path, v)
		}
	}
	if len(payload) > 0 {
		if _, whole := env["payload"]; whole {
			p.Add("payload", "give either a payload column or payload.<field> columns, not both")
		}
		env["payload"] = convertPayload(&p, events.Type(fmt.Sprint(env["type"])), payload)
	}
	if _, ok := env["payload"]; !ok {
		env["payload"] = map[string]any{}
	}
	var subs []any
	for _, s := range subjects {
		if len(s) > 0 {
			subs = append(subs, s)
		}
	}
	env["subjects"] = subs
	if err := p.Err(); err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

func (m *csvMapper) setEnvelope(p *events.ProblemSet, env map[string]any, field, v string) {
	switch field {
	case "schema_version":
		n, err := strconv.Atoi(v)
		if err != nil {
			p.Add(field, "%q is not a whole number", v)
			return
		}
		env[field] = n
	case "occurred_at", "recorded_at":
		t, err := parseCSVTime(v, m.zone)
		if err != nil {
			p.Add(field, "%v", err)
			return
		}
		env[field] = t.Format(time.RFC3339Nano)
	case "payload":
		env[field] = json.RawMessage(v)
		if !json.Valid([]byte(v)) {
			p.Add(field, "is not valid JSON")
		}
	default:
		env[field] = v
	}
}

func (m *csvMapper) setSubject(p *events.ProblemSet, s map[string]any, n int, field, v string) {
	path := fmt.Sprintf("subjects[%d].", n)
	switch field {
	case "kind", "name", "role":
		s[field] = v
	case "date_of_birth", "expected_delivery_date":
		d, err := parseCSVDate(v)
		if err != nil {
			p.Add(path+field, "%v", err)
			return
		}
		s[field] = d
	default:
		target := s
		if id, ok := strings.CutPrefix(field, "mother."); ok {
			mother, _ := s["mother"].(map[string]any)
			if mother == nil {
				mother = map[string]any{}
				s["mother"] = mother
			}
			target, field = mother, id
		} else {
			ids, _ := s["identifiers"].(map[string]any)
			if ids == nil {
				ids = map[string]any{}
				s["identifiers"] = ids
			}
			target = ids
		}
		if field == string(events.SchemeNHSNumber) {
			v = strings.ReplaceAll(v, " ", "") // NHS numbers are often written 999 000 0018
		}
		target[field] = v
	}
}

// convertPayload turns payload.<field> cells into JSON values using the Go
// type of the field in the type's payload struct. Unknown types and fields
// are left as text for validation to report.
func convertPayload(p *events.ProblemSet, t events.Type, cells map[string]any) map[string]any {
	spec, ok := events.Lookup(t)
	if !ok {
		return cells
	}
	rt := reflect.TypeOf(spec.New()).Elem()
	kinds := map[string]reflect.Type{}
	for i := 0; i < rt.NumField(); i++ {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		kinds[name] = rt.Field(i).Type
	}
	out := map[string]any{}
	for name, cell := range cells {
		v := cell.(string)
		ft, known := kinds[name]
		if !known {
			out[name] = v
			continue
		}
		cv, err := convertCell(ft, v)
		if err != nil {
			p.Add("payload."+name, "%v", err)
			continue
		}
		out[name] = cv
	}
	return out
}

func convertCell(t reflect.Type, v string) (any, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeOf(json.RawMessage{}):
		if !json.Valid([]byte(v)) {
			return nil, fmt.Errorf("is not valid JSON")
		}
		return json.RawMessage(v), nil
	case t == reflect.TypeOf(events.Date("")):
		return parseCSVDate(v)
	case t == reflect.TypeOf(events.Identifier{}):
		scheme, value, ok := strings.Cut(v, ":")
		if !ok {
			return nil, fmt.Errorf("%q is not scheme:value (for example nhs_number:9990000018)", v)
		}
		return events.Identifier{Scheme: events.Scheme(scheme), Value: value}, nil
	}
	switch t.Kind() {
	case reflect.Int:
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", v)
		}
		return n, nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return f, nil
	case reflect.Bool:
		switch strings.ToLower(v) {
		case "true", "yes", "y", "1":
			return true, nil
		case "false", "no", "n", "0":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true/false or yes/no", v)
	case reflect.Slice:
		var parts []string
		for _, s := range strings.Split(v, ";") {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		return parts, nil
	}
	return v, nil
}

// csvTimeLayouts are accepted for occurred_at and recorded_at; the first
// carries its own zone, the rest are read in the import's zone.
var csvTimeLayouts = []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02T15:04", "02/01/2006 15:04:05", "02/01/2006 15:04", "2006-01-02", "02/01/2006"}

func parseCSVTime(v string, zone *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range csvTimeLayouts {
		if t, err := time.ParseInLocation(layout, v, zone); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339, YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM)", v)
}

func parseCSVDate(v string) (string, error) {
	for _, layout := range []string{time.DateOnly, "02/01/2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.Format(time.DateOnly), nil
		}
	}
	return "", fmt.Errorf("%q is not a date (YYYY-MM-DD or DD/MM/YYYY)", v)
}
