package audit_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/services/audit"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// One request's access records are stored together or not at all: a
// worklist page's fifty-one records go as one atomic batch and are read
// back at the sequences the stream gave them; a request one of whose
// records cannot be sent leaves none of its records on the log, and its
// read is refused (Record errs).
func TestOneRequestsRecordsAreStoredTogetherOrNotAtAll(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	log, err := audit.Open(ctx, srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	records := func(rid string, n int) []access.Record {
		at := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
		out := make([]access.Record, n)
		for i := range out {
			out[i] = access.Record{At: at, RequestID: rid, Subject: "u-synthetic", Name: "Synthetic Worker", Role: "manager",
				Purpose: "mash_enquiry", Action: "read_flags", ChildID: fmt.Sprintf("child-%03d", i)}
		}
		return out
	}
	st, err := srv.JS.Stream(ctx, eventlog.AuditStream)
	if err != nil {
		t.Fatal(err)
	}

	page := records("req-page", 51)
	if err := log.Record(ctx, page); err != nil {
		t.Fatal(err)
	}
	got := log.Query(access.Filter{Subject: "u-synthetic"})
	if len(got) != 51 {
		t.Fatalf("read back %d records, want 51", len(got))
	}
	batches := map[string]int{}
	for seq := uint64(1); seq <= 51; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(m.Data), fmt.Sprintf(`"child_id":"child-%03d"`, seq-1)) {
			t.Fatalf("sequence %d holds %s", seq, m.Data)
		}
		batches[m.Header.Get("Nats-Batch-Id")]++
	}
	if len(batches) != 1 || batches[""] != 0 {
		t.Fatalf("the page's records were stored in batches %v, want one atomic batch", batches)
	}

	// The 31st record is larger than the server takes: the request's
	// other records must not be stored either.
	failing := records("req-fails", 40)
	failing[30].PurposeDetail = strings.Repeat("x", 9<<20) // the embedded server takes 8 MiB
	if err := log.Record(ctx, failing); err == nil {
		t.Fatal("a request whose records could not all be stored was let through")
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 51 {
		t.Fatalf("the access log holds %d records after a failed request, want the page's 51", info.State.Msgs)
	}
	// The log goes on: the next request's records are stored.
	if err := log.Record(ctx, records("req-next", 2)); err != nil {
		t.Fatal(err)
	}
	if info, _ = st.Info(ctx); info.State.Msgs != 53 {
		t.Fatalf("after the next request the access log holds %d records, want 53", info.State.Msgs)
	}
}
