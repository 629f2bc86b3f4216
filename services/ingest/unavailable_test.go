package ingest_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// limitEvents caps the events stream at max messages (-1 lifts the cap).
// The stream discards new messages, so once it is full the server refuses
// each further publish, as a full or failing store would: the events are
// valid, but the log does not confirm them.
func (h *hub) limitEvents(tb testing.TB, max int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := h.stream(tb).Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgs = max
	if _, err := h.srv.JS.UpdateStream(ctx, cfg); err != nil {
		tb.Fatalf("limit the events stream to %d: %v", max, err)
	}
}

// TestHandlerLogRefusesEvents checks the statuses when the log does not
// store valid events: 503 when nothing was stored, 207 when some were, each
// refused event reported as failed with the server's reason, and the same
// request stored once the log takes events again.
func TestHandlerLogRefusesEvents(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	a := encode(t, event(t, "contact.received", "FULL-A"))
	b := encode(t, event(t, "contact.received", "FULL-B"))
	bad := encode(t, invalidNHS(t, "FULL-C"))
	post(t, ts, jsonType, a, http.StatusOK)
	h.limitEvents(t, 1)

	steps := []struct {
		name       string
		body       []byte
		wantStatus int
		want       []eventlog.Status
	}{
		{name: "valid and invalid, none stored", body: array(t, b, bad), wantStatus: http.StatusServiceUnavailable, want: []eventlog.Status{eventlog.Failed, eventlog.Rejected}},
		{name: "a duplicate is still recognised", body: array(t, a, b), wantStatus: http.StatusMultiStatus, want: []eventlog.Status{eventlog.Duplicate, eventlog.Failed}},
		{name: "sent again once the log takes events", body: array(t, a, b), wantStatus: http.StatusOK, want: []eventlog.Status{eventlog.Duplicate, eventlog.Accepted}},
	}
	for i, st := range steps {
		if i == len(steps)-1 {
			h.limitEvents(t, -1)
		}
		resp := post(t, ts, jsonType, st.body, st.wantStatus)
		for j, r := range resp.Results {
			if r.Status != st.want[j] {
				t.Fatalf("%s: result %d %+v, want %s", st.name, j, r, st.want[j])
			}
			if r.Status == eventlog.Failed && (r.Error == "" || r.Sequence != 0 || r.ID == "") {
				t.Fatalf("%s: failed result %+v, want the id and the server's reason, no sequence", st.name, r)
			}
		}
		failed := 0
		for _, s := range st.want {
			if s == eventlog.Failed {
				failed++
			}
		}
		if resp.Failed != failed {
			t.Fatalf("%s: %d failed, want %d", st.name, resp.Failed, failed)
		}
	}
	h.wantCount(t, 2)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "FULL-A,FULL-B" {
		t.Fatalf("stored %v", refs)
	}
}

// TestImportLogRefusesRows checks that rows the log does not confirm are
// counted as failed, written to the rejects file with a reason that says it
// is safe to import them again, and that doing so stores exactly them.
func TestImportLogRefusesRows(t *testing.T) {
	h := newHub(t)
	path := filepath.Join(t.TempDir(), "full.csv")
	rows := [][]string{
		csvHeader,
		csvRow("contact.received", "F-1", "9990000018", nil),
		csvRow("contact.received", "F-2", "9990000026", nil),
		csvRow("education.exclusion", "F-3", "9990000034", nil),
		csvRow("contact.received", "F-4", "9990000018", nil),
	}
	writeCSV(t, path, rows)
	h.limitEvents(t, 2)

	rejects := ingest.RejectsPath(path)
	sum := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, sum, ingest.Summary{Rows: 4, Accepted: 2, Failed: 2, RejectsPath: rejects})
	h.wantCount(t, 2)
	got := readCSV(t, rejects)
	if len(got) != 3 {
		t.Fatalf("rejects %q, want a header and rows F-3 and F-4", got)
	}
	for i, want := range [][]string{rows[3], rows[4]} {
		r := got[i+1]
		if !slices.Equal(r[:len(csvHeader)], want) {
			t.Errorf("reject %d: cells %q, want %q", i, r[:len(csvHeader)], want)
		}
		if reasons := r[len(r)-1]; !strings.HasPrefix(reasons, "not stored: ") || !strings.Contains(reasons, "safe to import again") {
			t.Errorf("reject %d: reasons %q", i, reasons)
		}
	}

	h.limitEvents(t, -1)
	again := importFile(t, h, rejects, ingest.ImportOptions{})
	wantSummary(t, again, ingest.Summary{Rows: 2, Accepted: 2})
	wantNoFile(t, ingest.RejectsPath(rejects))
	all := importFile(t, h, path, ingest.ImportOptions{})
	wantSummary(t, all, ingest.Summary{Rows: 4, Duplicates: 4})
	wantNoFile(t, rejects)
	h.wantCount(t, 4)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "F-1,F-2,F-3,F-4" {
		t.Fatalf("stored %v", refs)
	}
}
