package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

func importFile(tb testing.TB, h *hub, path string, opts ingest.ImportOptions) ingest.Summary {
	tb.Helper()
	sum, err := ingest.ImportFile(context.Background(), h.pub, path, opts)
	if err != nil {
		tb.Fatalf("import %s: %v", filepath.Base(path), err)
	}
	return sum
}

// wantSummary compares the counts (not the elapsed time) of an import.
func wantSummary(tb testing.TB, got, want ingest.Summary) {
	tb.Helper()
	got.Elapsed = 0
	if got != want {
		tb.Fatalf("summary %+v\nwant    %+v", got, want)
	}
}

var csvHeader = []string{"type", "agency", "source_system", "source_ref", "occurred_at", "recorded_at",
	"sensitivity", "reliability", "summary", "subject.nhs_number", "subject.name", "subject.date_of_birth",
	"payload.concern", "payload.kind", "payload.days"}

// csvRow fills csvHeader's columns for a contact.received (concern set) or
// education.exclusion (kind and days set) row; change sets further cells.
func csvRow(typ, ref, nhs string, change map[string]string) []string {
	agency, concern, kind, days := "social_care", "Child arriving hungry at school", "", ""
	if typ == "education.exclusion" {
		agency, concern, kind, days = "education", "", "suspension", "3"
	}
	row := []string{typ, agency, "legacy-csv", ref, "2024-03-04T10:15:00Z", "2024-03-04T11:00:00Z",
		"standard", "direct", "Imported " + ref, nhs, "Alex Example", "2012-04-17", concern, kind, days}
	for col, v := range change {
		i := slices.Index(csvHeader, col)
		if i < 0 {
			panic("no column " + col)
		}
		row[i] = v
	}
	return row
}

func TestImportCSVGoodAndBadRows(t *testing.T) {
	h := newHub(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "people.csv")
	rows := [][]string{
		csvHeader,
		csvRow("contact.received", "C-1", "9990000018", nil),
		csvRow("contact.received", "C-2", "9990000017", nil),
		csvRow("education.exclusion", "E-1", "9990000026", nil),
		csvRow("contact.recieved", "C-3", "9990000018", nil),
		csvRow("contact.received", "C-4", "9990000018", map[string]string{"occurred_at": "yesterday teatime"}),
		csvRow("education.exclusion", "E-2", "9990000026", map[string]string{"payload.days": "three"}),
		csvRow("contact.received", "C-5", "9990000018", map[string]string{"payload.concern": ""}),
		csvRow("contact.received", "C-6", "9990000034", nil),
	}
	writeCSV(t, path, rows)
	// Each bad row's CSV line (the header is line 1) and the field its
	// reasons must name.
	bad := []struct {
		row   int
		field string
	}{
		{2, "subjects[0].identifiers.nhs_number"},
		{4, "type"},
		{5, "occurred_at"},
		{6, "payload.days"},
		{7, "payload.concern"},
	}

	sum := importFile(t, h, path, ingest.ImportOptions{})
	rejects := ingest.RejectsPath(path)
	wantSummary(t, sum, ingest.Summary{Rows: 8, Accepted: 3, Rejected: 5, RejectsPath: rejects})
	if rejects != filepath.Join(dir, "people.rejects.csv") {
		t.Fatalf("rejects path %s", rejects)
	}
	h.wantCount(t, 3)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "C-1,E-1,C-6" {
		t.Fatalf("stored %v", refs)
	}

	// checkRejects checks that a rejects file holds exactly the bad rows,
	// in order, with their original cells and reasons naming the field.
	checkRejects := func(t *testing.T, path string, lineOf func(i int) int) {
		t.Helper()
		got := readCSV(t, path)
		if len(got) != len(bad)+1 {
			t.Fatalf("%s has %d rows, want a header and %d: %q", filepath.Base(path), len(got), len(bad), got)
		}
		if want := append(slices.Clone(csvHeader), "_line", "_reasons"); !slices.Equal(got[0][:len(want)], want) {
			t.Fatalf("header %q, want %q", got[0], want)
		}
		for i, b := range bad {
			r := got[i+1]
			if !slices.Equal(r[:len(csvHeader)], rows[b.row]) {
				t.Errorf("reject %d: cells %q, want %q", i, r[:len(csvHeader)], rows[b.row])
			}
			line, reasons := r[len(r)-2], r[len(r)-1]
			if line != strconv.Itoa(lineOf(i)) {
				t.Errorf("reject %d: _line %s, want %d", i, line, lineOf(i))
			}
			if !strings.HasPrefix(reasons, b.field+": ") && !strings.Contains(reasons, "; "+b.field+": ") {
				t.Errorf("reject %d: reasons %q do not name %s", i, reasons, b.field)
			}
		}
	}
	checkRejects(t, rejects, func(i int) int { return bad[i].row + 1 })

	t.Run("rejects file imported again", func(t *testing.T) {
		// The _line and _reasons columns are ignored, so the same rows are
		// rejected for the same reasons.
		sum := importFile(t, h, rejects, ingest.ImportOptions{})
		again := ingest.RejectsPath(rejects)
		wantSummary(t, sum, ingest.Summary{Rows: 5, Rejected: 5, RejectsPath: again})
		checkRejects(t, again, func(i int) int { return i + 2 })
		h.wantCount(t, 3)
	})

	t.Run("original imported again", func(t *testing.T) {
		sum := importFile(t, h, path, ingest.ImportOptions{})
		wantSummary(t, sum, ingest.Summary{Rows: 8, Duplicates: 3, Rejected: 5, RejectsPath: rejects})
		checkRejects(t, rejects, func(i int) int { return bad[i].row + 1 })
		h.wantCount(t, 3)
	})
}

func TestImportCSVConveniences(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "legacy.csv")
	writeCSV(t, path, [][]string{
		{"Type", "Agency", "Ref", "When", "Recorded", "sensitivity", "reliability", "summary",
			"NHS No", "Child", "DOB", "subject2.nhs_number", "subject2.name",
			"payload.kind", "payload.outcome", "payload.factors", "payload.level_of_need",
			"payload.concern", "payload.consent_obtained", "Notes"},
		{"assessment.completed", "social_care", "A-1", "2024-07-01 10:00", "02/07/2024 14:30", "standard", "direct", "Early help assessment completed",
			"999 000 0018", "Alex Example", "17/04/2012", " 999 000 0026 ", "Sam Example",
			"early_help", "early_help_plan", "3B; 4B;", "3",
			"", "", "ignored"},
		{"contact.received", "social_care", "K-1", "15/01/2024 10:00", "2024-01-15 12:30:45", "standard", "direct", "Contact from school",
			"9990000034", "Jo Example", "2014-09-30", "", "",
			"", "", "", "",
			"Concern raised by school", "yes", ""},
		{"contact.received", "social_care", "K-2", "2024-01-16", "16/01/2024", "standard", "direct", "Second contact",
			"9990000034", "", "", "", "",
			"", "", "", "",
			"Second concern", "No", ""},
	})
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	opts := ingest.ImportOptions{Zone: london, Rename: map[string]string{
		"Type": "type", "Agency": "agency", "Ref": "source_ref", "When": "occurred_at", "Recorded": "recorded_at",
		"NHS No": "subject.nhs_number", "Child": "subject.name", "DOB": "subject.date_of_birth", "Notes": "_notes",
	}}
	sum := importFile(t, h, path, opts)
	wantSummary(t, sum, ingest.Summary{Rows: 3, Accepted: 3})
	wantNoFile(t, ingest.RejectsPath(path))
	h.wantCount(t, 3)
	stored := h.all(t)

	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := stored[0]
	if a.SourceRef != "A-1" || a.Type != "assessment.completed" {
		t.Fatalf("first stored %s %s", a.Type, a.SourceRef)
	}
	if !a.OccurredAt.Equal(utc("2024-07-01T09:00:00Z")) || !a.RecordedAt.Equal(utc("2024-07-02T13:30:00Z")) {
		t.Errorf("summer times read as %s, %s; want 09:00Z and 13:30Z (BST)", a.OccurredAt, a.RecordedAt)
	}
	wantSubjects := []events.Subject{
		{Identifiers: events.Identifiers{NHSNumber: "9990000018"}, Name: "Alex Example", DateOfBirth: "2012-04-17"},
		{Identifiers: events.Identifiers{NHSNumber: "9990000026"}, Name: "Sam Example"},
	}
	if !reflect.DeepEqual(a.Subjects, wantSubjects) {
		t.Errorf("subjects %+v\nwant     %+v", a.Subjects, wantSubjects)
	}
	ac, ok := a.Body.(*events.AssessmentCompleted)
	if !ok {
		t.Fatalf("body %T", a.Body)
	}
	if want := (events.AssessmentCompleted{Kind: "early_help", Outcome: "early_help_plan", Factors: []string{"3B", "4B"}, LevelOfNeed: 3}); !reflect.DeepEqual(*ac, want) {
		t.Errorf("payload %+v, want %+v", *ac, want)
	}

	k1, k2 := stored[1], stored[2]
	if !k1.OccurredAt.Equal(utc("2024-01-15T10:00:00Z")) || !k1.RecordedAt.Equal(utc("2024-01-15T12:30:45Z")) {
		t.Errorf("winter times read as %s, %s; want GMT", k1.OccurredAt, k1.RecordedAt)
	}
	if !k2.OccurredAt.Equal(utc("2024-01-16T00:00:00Z")) || !k2.RecordedAt.Equal(k2.OccurredAt) {
		t.Errorf("dates read as %s, %s; want midnight", k2.OccurredAt, k2.RecordedAt)
	}
	for _, c := range []struct {
		e    *events.Event
		want bool
	}{{k1, true}, {k2, false}} {
		body, ok := c.e.Body.(*events.ContactReceived)
		if !ok || body.ConsentObtained == nil || *body.ConsentObtained != c.want {
			t.Errorf("%s: consent_obtained %+v, want %v", c.e.SourceRef, c.e.Body, c.want)
		}
	}
	if k1.Subjects[0].DateOfBirth != "2014-09-30" || len(k1.Subjects) != 1 {
		t.Errorf("K-1 subjects %+v", k1.Subjects)
	}
}

func TestImportCSVZone(t *testing.T) {
	load := func(name string) *time.Location {
		t.Helper()
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		return loc
	}
	tests := []struct {
		name string
		zone *time.Location
		in   string
		want string
	}{
		{name: "default is Europe/London in summer", in: "2024-07-01 10:00", want: "2024-07-01T09:00:00Z"},
		{name: "default is Europe/London in winter", in: "2024-01-15 10:00", want: "2024-01-15T10:00:00Z"},
		{name: "UTC", zone: time.UTC, in: "2024-07-01 10:00", want: "2024-07-01T10:00:00Z"},
		{name: "New York", zone: load("America/New_York"), in: "01/07/2024 10:00:30", want: "2024-07-01T14:00:30Z"},
		{name: "explicit zone wins", zone: load("America/New_York"), in: "2024-07-01T10:00:00+02:00", want: "2024-07-01T08:00:00Z"},
	}
	h := newHub(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "Z-" + strconv.Itoa(i)
			var in bytes.Buffer
			in.WriteString(strings.Join(csvHeader, ",") + "\n")
			in.WriteString(strings.Join(csvRow("contact.received", ref, "9990000018", map[string]string{
				"occurred_at": tt.in, "recorded_at": "2024-08-01T00:00:00Z",
			}), ",") + "\n")
			var rejects bytes.Buffer
			sum, err := ingest.Import(context.Background(), h.pub, &in, 0, &rejects, ingest.ImportOptions{Format: "csv", Zone: tt.zone})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Accepted != 1 {
				t.Fatalf("summary %+v, rejects %s", sum, rejects.String())
			}
			h.wantCount(t, uint64(i+1))
			e := h.stored(t, uint64(i+1))
			if e.SourceRef != ref || e.OccurredAt.UTC().Format(time.RFC3339) != tt.want {
				t.Fatalf("%s occurred_at %s, want %s", e.SourceRef, e.OccurredAt.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestImportCSVHeaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		rename  map[string]string
		wantErr []string
	}{
		{name: "unknown column", header: []string{"type", "nhs", "summary"}, wantErr: []string{`"nhs"`, "column 2"}},
		{name: "unknown subject field", header: []string{"type", "subject.shoe_size"}, wantErr: []string{`"subject.shoe_size"`}},
		{name: "subject past the limit", header: []string{"type", "subject21.name"}, wantErr: []string{`"subject21"`}},
		{name: "subject zero", header: []string{"type", "subject0.name"}, wantErr: []string{`"subject0"`}},
		{name: "repeated column", header: []string{"type", "summary", "type"}, wantErr: []string{`"type"`, "column 3"}},
		{name: "rename to a repeat", header: []string{"type", "Kind"}, rename: map[string]string{"Kind": "type"}, wantErr: []string{`"Kind"`}},
		{name: "rename to an unknown field", header: []string{"type", "NHS"}, rename: map[string]string{"NHS": "subject.nhsnumber"}, wantErr: []string{`"NHS"`, `"subject.nhsnumber"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			path := filepath.Join(t.TempDir(), "in.csv")
			row := make([]string, len(tt.header))
			copy(row, csvRow("contact.received", "H-1", "9990000018", nil))
			writeCSV(t, path, [][]string{tt.header, row, row})
			sum, err := ingest.ImportFile(context.Background(), h.pub, path, ingest.ImportOptions{Rename: tt.rename})
			if err == nil {
				t.Fatalf("import succeeded: %+v", sum)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			if sum.Rows != 0 || sum.RejectsPath != "" {
				t.Errorf("summary %+v, want nothing read", sum)
			}
			wantNoFile(t, ingest.RejectsPath(path))
			h.wantCount(t, 0)
		})
	}
}

// TestImportCSVUnparseableRow checks that a row encoding/csv cannot parse
// (a bare quote, here in the first field) is rejected with its line and the
// import goes on.
func TestImportCSVUnparseableRow(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "quotes.csv")
	good := func(ref string) string {
		return strings.Join(csvRow("contact.received", ref, "9990000018", nil), ",")
	}
	bareFirst := strings.Replace(good("Q-2"), "contact.received", `contact"received`, 1)
	bareLater := strings.Replace(good("Q-3"), "Alex Example", `Alex "Al" Example`, 1)
	writeFile(t, path, lines(strings.Join(csvHeader, ","), good("Q-1"), bareFirst, bareLater, good("Q-4"), ""))

	sum := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 4, Accepted: 2, Rejected: 2, RejectsPath: ingest.RejectsPath(path)})
	h.wantCount(t, 2)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "Q-1,Q-4" {
		t.Fatalf("stored %v", refs)
	}
	got := readCSV(t, ingest.RejectsPath(path))
	if len(got) != 3 {
		t.Fatalf("rejects %q", got)
	}
	for i, line := range []string{"3", "4"} {
		r := got[i+1]
		if r[len(r)-2] != line || !strings.Contains(r[len(r)-1], "bare \"") {
			t.Errorf("reject %d: _line %s, _reasons %q; want line %s and a bare quote", i, r[len(r)-2], r[len(r)-1], line)
		}
	}
}

// ndjsonReject is one record of an NDJSON rejects file.
type ndjsonReject struct {
	Line      int             `json:"line"`
	Reasons   string          `json:"reasons"`
	Input     json.RawMessage `json:"input"`
	InputText string          `json:"input_text"`
}

func readRejects(tb testing.TB, path string) []ndjsonReject {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []ndjsonReject
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r ndjsonReject
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			tb.Fatalf("rejects line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestImportNDJSONFile(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "events.ndjson")
	a := encode(t, event(t, "contact.received", "N-A"))
	bad := encode(t, invalidNHS(t, "N-B"))
	big := event(t, "contact.received", "N-BIG")
	big.Payload = json.RawMessage(`{"concern":"` + strings.Repeat("x", events.MaxEventSize) + `"}`)
	c := encode(t, event(t, "education.exclusion", "N-C"))
	huge := `{"summary":"` + strings.Repeat("y", events.MaxEventSize+1024) + `"}`
	writeFile(t, path, lines(
		string(a),              // 1
		string(bad),            // 2
		"",                     // 3
		"{not json",            // 4
		huge,                   // 5
		"  ",                   // 6
		string(encode(t, big)), // 7
		string(c),              // 8, without a newline
	))

	sum := importFile(t, h, path, ingest.ImportOptions{MaxInFlight: 1})
	rejectsPath := ingest.RejectsPath(path)
	wantSummary(t, sum, ingest.Summary{Rows: 6, Accepted: 2, Rejected: 4, RejectsPath: rejectsPath})
	h.wantCount(t, 2)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "N-A,N-C" {
		t.Fatalf("stored %v", refs)
	}

	got := readRejects(t, rejectsPath)
	if len(got) != 4 {
		t.Fatalf("%d rejects, want 4: %+v", len(got), got)
	}
	want := []struct {
		line      int
		reason    string
		input     []byte
		inputText string
	}{
		{line: 2, reason: "subjects[0].identifiers.nhs_number: ", input: bad},
		{line: 4, reason: "malformed JSON", inputText: "{not json"},
		{line: 5, reason: "longer than " + strconv.Itoa(events.MaxEventSize+1024) + " bytes"},
		{line: 7, reason: "the limit is " + strconv.Itoa(events.MaxEventSize)},
	}
	for i, w := range want {
		r := got[i]
		if r.Line != w.line || !strings.Contains(r.Reasons, w.reason) {
			t.Errorf("reject %d: line %d, reasons %q; want line %d and %q", i, r.Line, r.Reasons, w.line, w.reason)
		}
		if w.input != nil && !bytes.Equal(r.Input, w.input) {
			t.Errorf("reject %d: input %s, want the line as sent", i, r.Input)
		}
		if r.InputText != w.inputText {
			t.Errorf("reject %d: input_text %q, want %q", i, r.InputText, w.inputText)
		}
	}
}

func TestImportLeavesNoRejectsFileWhenAllStored(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		stale bool
		body  func(tb testing.TB) string
	}{
		{
			name: "ndjson", file: "ok.ndjson",
			body: func(tb testing.TB) string {
				return lines(string(encode(tb, event(tb, "contact.received", "OK-1"))), string(encode(tb, event(tb, "contact.received", "OK-2"))), "")
			},
		},
		{
			name: "no extension is NDJSON", file: "ok",
			body: func(tb testing.TB) string {
				return lines(string(encode(tb, event(tb, "contact.received", "OK-1"))), string(encode(tb, event(tb, "contact.received", "OK-2"))))
			},
		},
		{
			name: "csv", file: "ok.CSV",
			body: func(tb testing.TB) string {
				return lines(strings.Join(csvHeader, ","),
					strings.Join(csvRow("contact.received", "OK-1", "9990000018", nil), ","),
					strings.Join(csvRow("contact.received", "OK-2", "9990000026", nil), ","), "")
			},
		},
		{
			name: "stale rejects file from an earlier run", file: "again.ndjson", stale: true,
			body: func(tb testing.TB) string {
				return lines(string(encode(tb, event(tb, "contact.received", "OK-1"))), string(encode(tb, event(tb, "contact.received", "OK-2"))))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			writeFile(t, path, tt.body(t))
			if tt.stale {
				writeFile(t, ingest.RejectsPath(path), `{"line":1,"reasons":"old"}`+"\n")
			}
			sum := importFile(t, h, path, ingest.ImportOptions{})
			wantSummary(t, sum, ingest.Summary{Rows: 2, Accepted: 2})
			wantNoFile(t, ingest.RejectsPath(path))
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 {
				t.Errorf("directory holds %d files, want only the input", len(entries))
			}
			h.wantCount(t, 2)
		})
	}
}

// The progress display shows count, rate, share read and ETA while an
// import runs. The input pauses half way until a progress line has been
// drawn, so the test sees one mid-import however fast the machine is.
func TestImportWithProgress(t *testing.T) {
	line := regexp.MustCompile(`[\d,]+ rows  [\d,]+/s  0 not stored  +\d+%  ETA \d+s`)
	for _, interactive := range []bool{false, true} {
		name := "lines"
		if interactive {
			name = "terminal"
		}
		t.Run(name, func(t *testing.T) {
			h := newHub(t)
			var body strings.Builder
			const n = 600 // more than one validation chunk
			for i := range n {
				body.Write(encode(t, event(t, "contact.received", "P-"+strconv.Itoa(i))))
				body.WriteByte('\n')
			}
			body.WriteString(string(encode(t, invalidNHS(t, "P-bad"))) + "\n")
			var progress jstest.Buffer
			var rejects bytes.Buffer
			all := body.String()
			half := strings.Index(all[len(all)/2:], "\n") + len(all)/2 + 1
			in := &pausingReader{t: t, first: strings.NewReader(all[:half]), rest: strings.NewReader(all[half:]),
				until: func() bool { return line.MatchString(progress.String()) }}
			sum, err := ingest.Import(context.Background(), h.pub, in, int64(len(all)), &rejects,
				ingest.ImportOptions{Progress: &progress, Interactive: interactive, MaxInFlight: 64, ProgressEvery: 5 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			wantSummary(t, sum, ingest.Summary{Rows: n + 1, Accepted: n, Rejected: 1})
			if got := readRejectsFrom(t, &rejects); len(got) != 1 || got[0].Line != n+1 {
				t.Fatalf("rejects %+v, want line %d", got, n+1)
			}
			out := progress.String()
			if !line.MatchString(out) {
				t.Errorf("no progress line with count, rate and ETA: %q", out)
			}
			if interactive && (!strings.HasSuffix(out, "\r\033[K") || strings.Contains(out, "\n")) {
				t.Errorf("terminal progress should redraw one line and clear it at the end: %q", out)
			}
			if !interactive && (strings.Contains(out, "\r") || !strings.HasSuffix(out, "\n")) {
				t.Errorf("progress for a log file should be whole lines: %q", out)
			}
			h.wantCount(t, n)
		})
	}
}

// pausingReader reads first, then waits until the condition holds before
// reading rest.
type pausingReader struct {
	t           testing.TB
	first, rest io.Reader
	until       func() bool
	waited      bool
}

func (r *pausingReader) Read(p []byte) (int, error) {
	if n, err := r.first.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	if !r.waited {
		jstest.Eventually(r.t, 10*time.Second, "a progress line mid-import", r.until)
		r.waited = true
	}
	return r.rest.Read(p)
}

func readRejectsFrom(tb testing.TB, r io.Reader) []ndjsonReject {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "rejects.ndjson")
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, path, string(b))
	return readRejects(tb, path)
}

func TestImportUnknownFormat(t *testing.T) {
	h := newHub(t)
	_, err := ingest.Import(context.Background(), h.pub, strings.NewReader("{}"), 0, io.Discard, ingest.ImportOptions{Format: "xml"})
	if err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("err %v, want one naming the format", err)
	}
	h.wantCount(t, 0)
}

func TestRejectsPath(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "csv", in: "people.csv", want: "people.rejects.csv"},
		{name: "ndjson in a directory", in: filepath.Join("in", "x.ndjson"), want: filepath.Join("in", "x.rejects.ndjson")},
		{name: "no extension", in: "data", want: "data.rejects.ndjson"},
		{name: "dot in the directory only", in: filepath.Join("a.b", "c"), want: filepath.Join("a.b", "c.rejects.ndjson")},
		{name: "rejects of rejects", in: "people.rejects.csv", want: "people.rejects.rejects.csv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ingest.RejectsPath(tt.in); got != tt.want {
				t.Fatalf("RejectsPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
