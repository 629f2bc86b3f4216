package gateway_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// BenchmarkChronologyPage asks over HTTP, as a health practitioner, for
// the first 100 and the first 1,000 entries of a child with 1,200 from
// three agencies, a fifth of them restricted (so some are hidden from the
// caller and counted as redactions), with every field the chronology view
// shows: token, purpose and access record included. It reports the
// allocation per request, which at a large hub is what a request costs
// in garbage collection.
func BenchmarkChronologyPage(b *testing.B) {
	h := startHub(b, b.TempDir())
	ids := events.Identifiers{NHSNumber: "9990000018"}
	kinds := []struct {
		typ    events.Type
		agency string
	}{{"health.concern", "health"}, {"education.concern", "education"}, {"police.incident", "police"}}
	start := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	var evs []*events.Event
	for i := range 1200 {
		k := kinds[i%len(kinds)]
		e := ev(k.typ, k.agency, fmt.Sprintf("page-%d", i), start.Add(time.Duration(i)*25*time.Hour), ids)
		if i%5 == 0 {
			e.Sensitivity = "restricted"
			e.ID = events.DeriveID(e)
		}
		evs = append(evs, e)
	}
	for i := 0; i < len(evs); i += 300 {
		h.publish(evs[i : i+300]...)
	}
	h.token = h.tokenFor(auth.Practitioner, "health")
	for _, first := range []int{100, 1000} {
		b.Run(fmt.Sprintf("first=%d", first), func(b *testing.B) {
			q := fmt.Sprintf(`{ child(identifier:{scheme:NHS_NUMBER,value:"9990000018"}) { chronology(first: %d) { totalCount redactions { agency count } edges { cursor node { id type agency summary reliability sensitivity occurredAt recordedAt receivedAt details { name value meaning } } } } } }`, first)
			b.ReportAllocs()
			for b.Loop() {
				resp := h.query(q, nil)
				if len(resp.Errors) > 0 {
					b.Fatalf("errors: %+v", resp.Errors)
				}
			}
		})
	}
}
