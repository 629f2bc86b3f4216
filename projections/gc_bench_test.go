package projections

import (
	"bytes"
	"runtime"
	"testing"
)

// BenchmarkCollectWithModel is the cost of one garbage collection with a
// model of the demo data live, restored from a snapshot as after a
// restart: marking the model is what every collection pays, so what an
// allocation costs elsewhere (a page, a replay) grows with it. It reports
// the heap objects the model is made of.
func BenchmarkCollectWithModel(b *testing.B) {
	live := NewModel()
	mustApply(b, live, demoLog(b, 3000)...)
	m := NewModel()
	if err := m.Restore(bytes.NewReader(snapshotOf(b, live))); err != nil {
		b.Fatal(err)
	}
	live = nil
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
	b.StopTimer()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapObjects), "objects")
	b.ReportMetric(float64(after.HeapAlloc)/float64(m.Stats().Entries), "heapB/entry")
	runtime.KeepAlive(m)
}
