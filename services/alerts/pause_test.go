package alerts

import (
	"testing"
	"time"
)

// A long sweep is followed by a rest of three times its length, so that
// during a bulk import looking takes at most about a quarter of a core;
// the rest is never shorter than the interval nor longer than 10 s.
func TestPauseAfterSweep(t *testing.T) {
	for _, tc := range []struct {
		interval, took, want time.Duration
	}{
		{2 * time.Second, time.Millisecond, 2 * time.Second},
		{2 * time.Second, time.Second, 3 * time.Second},
		{2 * time.Second, 2 * time.Second, 6 * time.Second},
		{2 * time.Second, 25 * time.Second, 10 * time.Second},
		{30 * time.Second, 25 * time.Second, 30 * time.Second},
	} {
		if got := pause(tc.interval, tc.took); got != tc.want {
			t.Errorf("pause(%v, %v) = %v, want %v", tc.interval, tc.took, got, tc.want)
		}
	}
}
