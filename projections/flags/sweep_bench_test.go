package flags

import (
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// BenchmarkSweep evaluates every child of the demo data once per
// iteration, as the first look after a bulk import does; it reports the
// cost per child, which at a million events (40,000 children) is what the
// worklist and the alerter pay after an import.
func BenchmarkSweep(b *testing.B) {
	const children = 1000
	m := projections.NewModel()
	for i, e := range demodata.Generate(demodata.Config{Seed: 3, Children: children}) {
		if err := m.Apply(projections.Delivered{Event: e, Seq: uint64(i + 1), Received: e.RecordedAt}); err != nil {
			b.Fatalf("apply %d: %v", i, err)
		}
	}
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := DefaultConfig()
	b.ReportAllocs()
	for b.Loop() {
		if list, _ := Sweep(m, nil, at, cfg); len(list) == 0 {
			b.Fatal("no child flagged")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(m.Children(projections.ChildFilter{}, nil))), "µs/child")
}
