package projections

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// What the arena gave stays as it was given while it goes on giving,
// across chunks and for parts larger than a chunk's share, and growing a
// slice it gave copies instead of writing over the next one.
func TestArenaKeepsWhatItGave(t *testing.T) {
	var a arena
	var strs []string
	var ints [][]int32
	for i := range 20000 {
		s := fmt.Sprintf("ref-%d|%s", i, strings.Repeat("x", i%97))
		if i%5000 == 0 {
			s = strings.Repeat("y", byteChunk/4) // on its own
		}
		strs = append(strs, s)
		v := make([]int32, i%13)
		for j := range v {
			v[j] = int32(i*100 + j)
		}
		ints = append(ints, v)
	}
	gotS := make([]string, len(strs))
	gotI := make([][]int32, len(ints))
	for i := range strs {
		half := len(strs[i]) / 2
		gotS[i] = a.str(strs[i][:half], strs[i][half:])
		gotI[i] = a.int32s(ints[i])
		if i > 0 && len(gotI[i-1]) > 0 {
			_ = append(gotI[i-1], -1) // must not land in gotI[i]
		}
	}
	for i := range strs {
		if gotS[i] != strs[i] {
			t.Fatalf("string %d changed: %.40q, want %.40q", i, gotS[i], strs[i])
		}
		if !slices.Equal(gotI[i], ints[i]) {
			t.Fatalf("slice %d changed: %v, want %v", i, gotI[i], ints[i])
		}
	}
	if r := a.record(); r.seq != 0 || r.text != "" || r.groups != nil || r.amends != nil {
		t.Fatal("a new record is not zero")
	}
}
