package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// Requests that wait while a batch is stored go together in the next one
// (one sync for all), and each request's records stay together and in
// order on the stream. The committer starts only once ten requests are
// waiting, so the grouping is certain, not a matter of timing.
func TestWaitingRequestsAreStoredInOneBatch(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	l, err := open(ctx, srv.JS)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const requests, each = 10, 3
	var wg sync.WaitGroup
	errs := make([]error, requests)
	for i := range requests {
		recs := make([]access.Record, each)
		for k := range recs {
			recs[k] = access.Record{At: time.Now().UTC(), Subject: fmt.Sprintf("u%d", i), Action: access.ActionRead,
				ChildID: fmt.Sprintf("c%d-%d", i, k), RequestID: fmt.Sprintf("req-%d", i)}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Record(ctx, recs)
		}()
	}
	jstest.Eventually(t, 5*time.Second, "every request waiting", func() bool { return len(l.queue) == requests })
	go l.commit()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if n := l.flushes.Load(); n != 1 {
		t.Fatalf("%d batches stored, want the ten waiting requests in one", n)
	}
	got := l.Query(access.Filter{})
	if len(got) != requests*each {
		t.Fatalf("%d records on the log, want %d", len(got), requests*each)
	}
	for i := 0; i < len(got); i += each {
		for k := range each {
			if want := fmt.Sprintf("%s-%d", got[i].ChildID[:len(got[i].ChildID)-2], k); got[i+k].ChildID != want {
				t.Fatalf("record %d is %s, want %s: a request's records are not together and in order", i+k, got[i+k].ChildID, want)
			}
		}
	}
}
