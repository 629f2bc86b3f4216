package web_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/web"
)

// BenchmarkChildPage renders the page of a child with 1,000 entries from
// three agencies: the whole timeline (1,000 marks), the first 50 rows of
// the chronology, the flags, through the read path with its access record,
// over HTTP on loopback. The baseline, in the same run, is the page's own
// GraphQL document sent to /graphql: the difference is the page's work
// (decoding, the SVG, the template).
func BenchmarkChildPage(b *testing.B) {
	h := startHub(b)
	kinds := []struct {
		typ    events.Type
		agency string
	}{{"health.concern", "health"}, {"education.concern", "education"}, {"police.incident", "police"}}
	start := time.Now().UTC().AddDate(-3, 0, 0).Truncate(time.Minute)
	var evs []*events.Event
	for i := range 1000 {
		k := kinds[i%len(kinds)]
		evs = append(evs, event(k.typ, k.agency, fmt.Sprintf("bench-%d", i), start.Add(time.Duration(i)*25*time.Hour), robin, ""))
	}
	for i := 0; i < len(evs); i += 250 {
		h.publish(evs[i : i+250]...)
	}
	br := h.browser()
	tok := br.signIn(h.token("bench-hub", auth.Hub, "hub"))
	id := br.find(tok, "9990000018")
	if page := br.open(tok, id, "case_review", ""); page.status != http.StatusOK {
		b.Fatalf("child page: %d", page.status)
	}
	body, _ := json.Marshal(map[string]any{"query": web.ChildQuery, "variables": map[string]any{"id": id, "first": 50, "timeline": 1000}})
	hubToken := h.token("bench-hub", auth.Hub, "hub")
	graphql := func() time.Duration {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+hubToken)
		req.Header.Set("Chronicle-Purpose", "case_review")
		began := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("graphql: %v %v", err, resp)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(began)
	}
	var baseline time.Duration
	b.ResetTimer()
	for b.Loop() {
		if a := br.get("/children/" + id); a.status != http.StatusOK {
			b.Fatalf("child page: %d", a.status)
		}
		b.StopTimer()
		baseline += graphql()
		b.StartTimer()
	}
	page := float64(b.Elapsed().Microseconds()) / float64(b.N) / 1000
	base := float64(baseline.Microseconds()) / float64(b.N) / 1000
	b.ReportMetric(page, "ms/page")
	b.ReportMetric(base, "ms/graphql")
	b.ReportMetric(page/base, "page/graphql")
}
