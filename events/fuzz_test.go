package events

import (
	"testing"
)

// FuzzCheck feeds arbitrary bytes to decoding plus validation. Nothing may
// panic, every rejection must carry at least one field problem, and anything
// accepted must re-encode to an event that is accepted again with the same id.
func FuzzCheck(f *testing.F) {
	for _, spec := range Catalogue() {
		data, err := Encode(spec.ExampleEvent())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Check(data, now)
		if err != nil {
			if len(Problems(err)) == 0 {
				t.Fatalf("rejection without a field problem: %v", err)
			}
			return
		}
		again, err := Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := Check(again, now)
		if err != nil || e2.ID != e.ID {
			t.Fatalf("accepted event does not survive re-encoding: %v", err)
		}
	})
}
