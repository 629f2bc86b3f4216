package ingest

import (
	"strings"
	"testing"
	"time"
)

// The ETA comes from the recent rate: an import whose first minute went on
// connecting and warming up, and which now reads 40 bytes a second, has
// 500 bytes to go in about 13 s, not in the minute its average would say.
func TestProgressETAFromTheRecentRate(t *testing.T) {
	now := time.Now()
	im := &importer{start: now.Add(-70 * time.Second), size: 1000, read: &countingReader{}}
	im.read.n.Store(500)
	im.sum.Rows = 500
	im.samples = []progressSample{{at: now.Add(-10 * time.Second), rows: 100, read: 100}}
	line := im.progressLine()
	if !strings.Contains(line, "  39/s") && !strings.Contains(line, "  40/s") || !strings.Contains(line, "ETA 12s") && !strings.Contains(line, "ETA 13s") {
		t.Fatalf("progress %q: want the recent 40 rows/s and an ETA of about 13 s", line)
	}
	// A stalled import says it has no rate rather than a growing ETA.
	im.samples = []progressSample{{at: time.Now().Add(-5 * time.Second), rows: 500, read: 500}}
	if line := im.progressLine(); !strings.Contains(line, "ETA unknown (no progress)") {
		t.Fatalf("stalled: %q", line)
	}
}
