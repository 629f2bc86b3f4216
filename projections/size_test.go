package projections

import (
	"bytes"
	"runtime"
	"testing"
)

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// Bytes is an honest estimate: within a few tens of percent of the heap a
// model of the demo data takes, growing with what it holds, and about the
// same for the model a snapshot restores. The bounds are wide because the
// estimate leaves out allocator rounding and the test process allocates
// on its own; an estimate that forgot the records, the identity graph or
// the strings would fall outside them.
func TestBytesEstimatesTheModelsHeap(t *testing.T) {
	log := demoLog(t, 400)
	before := liveHeap()
	m := NewModel()
	for _, d := range log {
		if err := m.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	held := liveHeap() - before
	est := m.Bytes()
	runtime.KeepAlive(m)
	per := float64(est) / float64(m.Stats().Entries)
	t.Logf("%d events: estimate %d B (%.0f B/entry), live heap grew %d B; ratio %.2f", len(log), est, per, held, float64(est)/float64(held))
	if r := float64(est) / float64(held); r < 0.6 || r > 1.4 {
		t.Errorf("estimate %d B for a model that took %d B of heap: ratio %.2f, want 0.6 to 1.4", est, held, r)
	}
	if again := m.Bytes(); again != est {
		t.Errorf("asked again with nothing applied: %d, then %d", est, again)
	}

	restored := NewModel()
	if err := restored.Restore(bytes.NewReader(snapshotOf(t, m))); err != nil {
		t.Fatal(err)
	}
	if r := float64(restored.Bytes()) / float64(est); r < 0.8 || r > 1.2 {
		t.Errorf("the restored model is estimated at %d B, the original at %d B", restored.Bytes(), est)
	}

	half := NewModel()
	for _, d := range log[:len(log)/2] {
		if err := half.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	if h := half.Bytes(); h >= est || h < est/4 {
		t.Errorf("half the log is estimated at %d B, the whole at %d B", h, est)
	}
}
