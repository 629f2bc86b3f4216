package projections

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// lightFeed makes bare events for graphs too large for the catalogue's
// validated examples: Apply needs only ids, subjects and bodies.
type lightFeed struct {
	seq  uint64
	base time.Time
}

func newLightFeed() *lightFeed {
	return &lightFeed{base: time.Date(2024, 6, 1, 9, 0, 0, 0, time.UTC)}
}

// next delivers an event from the hub about one child holding ids; body nil
// makes an information.shared event.
func (f *lightFeed) next(body events.Payload, ids ...events.Identifier) Delivered {
	f.seq++
	typ := events.Type("information.shared")
	switch body.(type) {
	case *events.RecordRetracted:
		typ = "record.retracted"
	case *events.SubjectsLinked:
		typ = "subjects.linked"
	case *events.SubjectsUnlinked:
		typ = "subjects.unlinked"
	}
	e := &events.Event{ID: fmt.Sprintf("ev-%d", f.seq), Type: typ, Agency: "hub", Subjects: subjectOf(ids...), Body: body}
	return Delivered{Event: e, Seq: f.seq, Received: f.base.Add(time.Duration(f.seq) * time.Second)}
}

// family is one child known to three agencies: health's NHS number and
// the council's id arrive together, then police's id with the NHS number.
type family struct {
	nhs, la, police events.Identifier
	policeJoin      string // id of the event that joins the police id now
}

// familyGraph applies families of three identifiers until the graph holds
// at least identifiers of them.
func familyGraph(tb testing.TB, identifiers int) (*Model, *lightFeed, []family) {
	tb.Helper()
	m, f := NewModel(), newLightFeed()
	var fams []family
	for i := 0; 3*len(fams) < identifiers; i++ {
		fam := family{
			nhs:    events.Identifier{Scheme: events.SchemeNHSNumber, Value: fmt.Sprintf("9%09d", i)},
			la:     events.Identifier{Scheme: events.SchemeLAPersonID, Value: fmt.Sprintf("LA-%d", i)},
			police: events.Identifier{Scheme: events.SchemePolicePersonID, Value: fmt.Sprintf("PP-%d", i)},
		}
		mustApply(tb, m, f.next(nil, fam.nhs, fam.la))
		join := f.next(nil, fam.nhs, fam.police)
		mustApply(tb, m, join)
		fam.policeJoin = join.Event.ID
		fams = append(fams, fam)
	}
	return m, f, fams
}

// allocated is the number of bytes fn allocates: a measure of the work it
// does that, unlike time, another process on the machine cannot disturb.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// identityOps are the identity operations that must cost one family, not
// the hub. Each does one operation on family fam, measured, then anything
// needed to do it again, not measured.
var identityOps = []struct {
	name string
	run  func(tb testing.TB, m *Model, f *lightFeed, fam *family, measure func(func()))
}{
	{"retraction", func(tb testing.TB, m *Model, f *lightFeed, fam *family, measure func(func())) {
		retract := f.next(&events.RecordRetracted{EventID: fam.policeJoin, Reason: "wrong child"}, fam.nhs, fam.police)
		measure(func() { mustApply(tb, m, retract) })
		join := f.next(nil, fam.nhs, fam.police)
		mustApply(tb, m, join)
		fam.policeJoin = join.Event.ID
	}},
	{"unlink", func(tb testing.TB, m *Model, f *lightFeed, fam *family, measure func(func())) {
		unlink := f.next(&events.SubjectsUnlinked{A: fam.nhs, B: fam.police, Reason: "not the same child"}, fam.nhs)
		measure(func() { mustApply(tb, m, unlink) })
		mustApply(tb, m, f.next(&events.SubjectsLinked{A: fam.nhs, B: fam.police, Reason: "confirmed"}, fam.nhs))
	}},
	{"as known at", func(tb testing.TB, m *Model, f *lightFeed, fam *family, measure func(func())) {
		past := f.base.Add(time.Duration(f.seq/2) * time.Second)
		measure(func() { m.FindChild(fam.la, &past) })
	}},
	{"read after a new identifier", func(tb testing.TB, m *Model, f *lightFeed, fam *family, measure func(func())) {
		upn := events.Identifier{Scheme: events.SchemeUPN, Value: fmt.Sprintf("U%012d", f.seq)}
		mustApply(tb, m, f.next(nil, fam.la, upn))
		measure(func() { m.FindChild(upn, nil) })
	}},
}

// Retractions, unlinks, past views of one child and reads between events
// cost the same in a hub of 30,000 identifiers as in one of 600: they touch
// one family, not the county. The work is measured as bytes allocated (the
// median over many operations, so that the occasional growth of a slice
// the model keeps does not count) and allowed to grow by half where the
// hub grows fifty times; rebuilding the whole partition, as these
// operations used to, grows with it.
func TestIdentityCostDoesNotGrowWithTheHub(t *testing.T) {
	const rounds = 41
	cost := func(size int) map[string]uint64 {
		m, f, fams := familyGraph(t, size)
		out := map[string]uint64{}
		for _, op := range identityOps {
			var bytes []uint64
			for i := range rounds {
				op.run(t, m, f, &fams[i*len(fams)/rounds], func(fn func()) { bytes = append(bytes, allocated(fn)) })
			}
			slices.Sort(bytes)
			out[op.name] = bytes[rounds/2]
		}
		return out
	}
	small, big := cost(600), cost(30_000)
	for _, op := range identityOps {
		s, b := small[op.name], big[op.name]
		t.Logf("%s: %d bytes with 600 identifiers, %d with 30,000", op.name, s, b)
		if b > s+s/2+1024 {
			t.Errorf("%s allocates %d bytes with 30,000 identifiers, %d with 600: it grows with the hub", op.name, b, s)
		}
	}
}

var graphSizes = []int{10_000, 100_000, 1_000_000}

// batched runs b.N operations on families in turn, a batch at a time: do
// makes each operation's event, timed when applied, and undo the event
// that puts the family back, applied untimed after the batch. (Stopping the
// timer around each operation would cost more than the operation.)
func batched(b *testing.B, size int, do, undo func(f *lightFeed, fam *family) Delivered) {
	m, f, fams := familyGraph(b, size)
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		batch := make([]*family, min(1000, len(fams), b.N-done))
		var dos, undos []Delivered
		for i := range batch {
			batch[i] = &fams[(done+i)%len(fams)]
			dos = append(dos, do(f, batch[i]))
		}
		for _, fam := range batch {
			undos = append(undos, undo(f, fam))
		}
		done += len(batch)
		b.StartTimer()
		mustApply(b, m, dos...)
		b.StopTimer()
		mustApply(b, m, undos...)
		b.StartTimer()
	}
}

// BenchmarkIdentityRetraction: retracting the event that joined a family's
// police record splits that family. The cost must not grow with the number
// of identifiers in the hub.
func BenchmarkIdentityRetraction(b *testing.B) {
	for _, size := range graphSizes {
		b.Run(fmt.Sprintf("identifiers=%d", size), func(b *testing.B) {
			batched(b, size, func(f *lightFeed, fam *family) Delivered {
				return f.next(&events.RecordRetracted{EventID: fam.policeJoin, Reason: "wrong child"}, fam.nhs, fam.police)
			}, func(f *lightFeed, fam *family) Delivered {
				join := f.next(nil, fam.nhs, fam.police)
				fam.policeJoin = join.Event.ID
				return join
			})
		})
	}
}

// BenchmarkIdentityUnlink: a practitioner unlinking a family's police
// record from its NHS number.
func BenchmarkIdentityUnlink(b *testing.B) {
	for _, size := range graphSizes {
		b.Run(fmt.Sprintf("identifiers=%d", size), func(b *testing.B) {
			batched(b, size, func(f *lightFeed, fam *family) Delivered {
				return f.next(&events.SubjectsUnlinked{A: fam.nhs, B: fam.police, Reason: "not the same child"}, fam.nhs)
			}, func(f *lightFeed, fam *family) Delivered {
				return f.next(&events.SubjectsLinked{A: fam.nhs, B: fam.police, Reason: "confirmed"}, fam.nhs)
			})
		})
	}
}

// BenchmarkIdentityAsKnownAt: one child as the hub knew them at a past
// time, the read behind every "as known at" page.
func BenchmarkIdentityAsKnownAt(b *testing.B) {
	for _, size := range graphSizes {
		b.Run(fmt.Sprintf("identifiers=%d", size), func(b *testing.B) {
			m, f, fams := familyGraph(b, size)
			past := f.base.Add(time.Duration(f.seq/2) * time.Second)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				fam := fams[i%(len(fams)/2)]
				if c, ok := m.FindChild(fam.la, &past); !ok || len(c.Identifiers) != 3 {
					b.Fatalf("as known at: %+v %t", c, ok)
				}
			}
		})
	}
}

// BenchmarkApplyDemoData: Model.Apply over the demo generator's log at
// three sizes (about 50,000, 500,000 and 1,000,000 events). The cost per
// event must not grow with the log.
func BenchmarkApplyDemoData(b *testing.B) {
	for _, children := range []int{2_000, 20_000, 40_000} {
		b.Run(fmt.Sprintf("children=%d", children), func(b *testing.B) {
			evs := demodata.Generate(demodata.Config{Seed: 1, Children: children})
			// Decoded in log order, as a replay decodes them, rather than
			// strewn through memory in the order the generator made them:
			// otherwise reading the input is what grows with the log.
			log := make([]Delivered, len(evs))
			for i, e := range evs {
				raw, err := events.Encode(e)
				if err != nil {
					b.Fatal(err)
				}
				if e, err = events.Decode(raw); err != nil {
					b.Fatal(err)
				}
				log[i] = Delivered{Event: e, Seq: uint64(i + 1), Received: e.RecordedAt}
				evs[i] = nil
			}
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before, mallocs, bytes := ms.HeapAlloc, ms.Mallocs, ms.TotalAlloc
			var m *Model
			applied := 0
			for b.Loop() {
				m = NewModel()
				for _, d := range log {
					if err := m.Apply(d); err != nil {
						b.Fatalf("apply %d: %v", d.Seq, err)
					}
				}
				applied += len(log)
			}
			b.ReportMetric(float64(applied)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(applied), "ns/event")
			runtime.ReadMemStats(&ms)
			// What each event allocates: work that, unlike time, other
			// processes on the machine do not disturb.
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(applied), "allocs/event")
			b.ReportMetric(float64(ms.TotalAlloc-bytes)/float64(applied), "alloc_B/event")
			runtime.GC()
			runtime.ReadMemStats(&ms)
			// The model's own heap, beyond the events it was given.
			b.ReportMetric(float64(ms.HeapAlloc-before)/float64(len(log)), "model_B/event")
			// The log was live when before was read: so it must be now,
			// or the difference is negative.
			runtime.KeepAlive(log)
			runtime.KeepAlive(m)
		})
	}
}
