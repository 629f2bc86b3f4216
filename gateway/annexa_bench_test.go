package gateway

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/annexa"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// BenchmarkAnnexALists builds the Annex A lists for the last whole
// April-to-March year of the demo data over the read model alone (no HTTP,
// no access record), as a manager's export does: children=40000 is about
// a million events, one large authority.
//
//	go test ./gateway -run '^$' -bench AnnexALists -benchtime 3x
func BenchmarkAnnexALists(b *testing.B) {
	for _, children := range []int{8_000, 40_000} {
		b.Run(fmt.Sprintf("children=%d", children), func(b *testing.B) {
			m := projections.NewModel()
			evs := demodata.Generate(demodata.Config{Seed: 1, Children: children})
			for i, e := range evs {
				if err := m.Apply(projections.Delivered{Event: e, Seq: uint64(i + 1), Received: e.RecordedAt}); err != nil {
					b.Fatalf("event %d: %v", i, err)
				}
				evs[i] = nil
			}
			period, err := annexa.ParsePeriod("2025-04-01", "2026-03-31")
			if err != nil {
				b.Fatal(err)
			}
			x := NewExporter(m, []byte("bench-key"), nil, nil, time.Now)
			rows, cpu0 := 0, cpuTime(b)
			for b.Loop() {
				rows = 0
				for _, l := range x.annexALists(m, false, period) {
					rows += len(l.Rows)
				}
			}
			// CPU time as well as wall time: on a shared machine the wall
			// time says more about the neighbours.
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
			b.ReportMetric(float64(m.Stats().Events), "events")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
