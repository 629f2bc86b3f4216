package flags

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// counting is the model, counting the chronologies read (one per child
// evaluated).
type counting struct {
	*projections.Model
	reads int
}

func (c *counting) Chronology(id string, asOf *time.Time, withRetracted bool) ([]projections.Entry, bool) {
	c.reads++
	return c.Model.Chronology(id, asOf, withRetracted)
}

// A worklist saved and restored (a restart) holds exactly what was saved,
// times in their own locations; from there it re-evaluates only what
// changed in the log after it was saved and what came due, and ends where
// a full evaluation does. A follower of the restored worklist (the
// alerter after a restart, knowing what it had said) learns the flags as
// they are, including changes the old follower had not read.
func TestSavedWorklistEndsWhereAFullEvaluationDoes(t *testing.T) {
	evs := demodata.Generate(demodata.Config{Seed: 5, Children: 150})
	cfg := DefaultConfig()
	m := projections.NewModel()
	apply := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if err := m.Apply(projections.Delivered{Event: evs[i], Seq: uint64(i + 1), Received: evs[i].RecordedAt}); err != nil {
				t.Fatalf("apply %d: %v", i, err)
			}
		}
	}
	savedAt, tail := len(evs)-120, len(evs)-60
	apply(0, savedAt)
	w := NewWorklist(m, cfg)
	f := w.Follow()
	said := map[string][]Flag{} // what the follower has read and dealt with
	at := evs[savedAt-1].RecordedAt
	changed, mark, _ := f.Changed(context.Background(), at)
	for id, fs := range changed {
		said[id] = fs
	}
	f.Done(mark)
	// More events, looked at but not read by the follower: saved unread.
	apply(savedAt, tail)
	at = evs[tail-1].RecordedAt
	w.At(at)
	if len(w.changed) == 0 {
		t.Fatal("no unread change to save: the test would not cover them")
	}
	var file bytes.Buffer
	seq, err := w.Save(&file, "build+rules+stream", func(seq uint64) (string, error) { return evs[seq-1].ID, nil })
	if err != nil || seq != uint64(tail) {
		t.Fatalf("save: position %d, %v; want %d", seq, err, tail)
	}

	s, err := ReadSaved(bytes.NewReader(file.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if s.Key != "build+rules+stream" || s.Seq != uint64(tail) || s.LastID != evs[tail-1].ID {
		t.Fatalf("read back key %q, position %d at %s", s.Key, s.Seq, s.LastID)
	}
	src := &counting{Model: m}
	w2 := NewWorklist(src, cfg)
	if err := w2.Restore(s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(w2.byChild, w.byChild) || !reflect.DeepEqual(w2.next, w.next) || !w2.at.Equal(w.at) {
		t.Fatal("the restored worklist is not the one saved")
	}
	deadlines := 0
	for _, cf := range w2.byChild {
		for _, fl := range cf.Flags {
			if !fl.Deadline.IsZero() {
				deadlines++
				if fl.Deadline.Missed.Location() != london {
					t.Fatalf("a deadline came back in %v, not England's time", fl.Deadline.Missed.Location())
				}
			}
		}
	}
	if deadlines == 0 {
		t.Fatal("no deadline flag saved: the locations of times are not covered")
	}

	// The restart: the rest of the log arrives, the follower starts anew.
	apply(tail, len(evs))
	f2 := w2.Follow()
	for i, at := range []time.Time{evs[len(evs)-1].RecordedAt, evs[len(evs)-1].RecordedAt.Add(2000 * time.Hour)} {
		got := w2.At(at)
		if i == 0 {
			if src.reads == 0 || src.reads >= len(m.Children(projections.ChildFilter{}, nil)) {
				t.Errorf("the restored worklist evaluated %d children; want some, fewer than all", src.reads)
			}
		}
		want, _ := Sweep(m, nil, at, cfg)
		if a, b := render(got), render(want); a != b {
			t.Fatalf("look %d: restored worklist\n%s\nfull sweep\n%s", i, a, b)
		}
		changed, mark, _ := f2.Changed(context.Background(), at)
		for id, fs := range changed {
			if fs == nil {
				delete(said, id)
			} else {
				said[id] = fs
			}
		}
		f2.Done(mark)
		if a, b := renderActive(said), render(want); a != b {
			t.Fatalf("look %d: the new follower was told\n%s\nthe active flags are\n%s", i, a, b)
		}
	}
}

// A saved worklist that is not whole, was changed, or is another format
// is refused, never half restored; a worklist never evaluated is not
// saved; one in use cannot be restored over.
func TestSavedWorklistRefusesDamage(t *testing.T) {
	m := buildModel(t, missingFrom("9990000026", 0))
	w := NewWorklist(m, DefaultConfig())
	id := func(uint64) (string, error) { return "e", nil }
	if _, err := w.Save(&bytes.Buffer{}, "k", id); err != ErrNotEvaluated {
		t.Fatalf("saving a worklist never evaluated: %v", err)
	}
	w.At(days(30))
	var file bytes.Buffer
	if _, err := w.Save(&file, "k", id); err != nil {
		t.Fatal(err)
	}
	good := file.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x20
	for name, data := range map[string][]byte{
		"truncated":      good[:len(good)-10],
		"a byte changed": flipped,
		"another format": append([]byte("chronicle-worklist 0\n"), good[len(savedMagic):]...),
		"empty":          nil,
	} {
		if _, err := ReadSaved(bytes.NewReader(data)); err == nil || !strings.Contains(err.Error(), "saved worklist") {
			t.Errorf("%s: read back, err %v", name, err)
		}
	}
	s, err := ReadSaved(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Restore(s); err == nil {
		t.Error("restored over a worklist in use")
	}
}
