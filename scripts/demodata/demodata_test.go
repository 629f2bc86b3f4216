package demodata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

func TestEveryEventIsValidAndRoundTrips(t *testing.T) {
	cfg := Config{Seed: 7, Children: 300}
	evs := Generate(cfg)
	ids := map[string]bool{}
	for i, e := range evs {
		if err := events.Validate(e, DefaultEnd.Add(time.Hour)); err != nil {
			t.Fatalf("event %d (%s): %v", i, e.Type, err)
		}
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := events.Check(data, DefaultEnd.Add(time.Hour)); err != nil {
			t.Fatalf("event %d (%s) does not decode: %v", i, e.Type, err)
		}
		if ids[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		ids[e.ID] = true
		if spec, _ := events.Lookup(e.Type); !spec.Allows(e.Agency) {
			t.Fatalf("%s may not publish %s", e.Agency, e.Type)
		}
		if e.RecordedAt.After(DefaultEnd) || e.OccurredAt.Before(DefaultEnd.AddDate(-3, 0, -2)) {
			t.Fatalf("event %d outside the history: %v %v", i, e.OccurredAt, e.RecordedAt)
		}
		if i > 0 && e.RecordedAt.Before(evs[i-1].RecordedAt) {
			t.Fatal("not sorted by recorded_at")
		}
	}
}

func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	WriteNDJSON(&a, Generate(Config{Seed: 3, Children: 200}))
	WriteNDJSON(&b, Generate(Config{Seed: 3, Children: 200}))
	WriteNDJSON(&c, Generate(Config{Seed: 4, Children: 200}))
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("same seed, different output")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seed, same output")
	}
}

// The default data set has the scale and shape the demo promises.
func TestDefaultScaleAndShape(t *testing.T) {
	evs := Generate(Config{Seed: 1})
	perChild := map[string]int{}
	byType := map[events.Type]int{}
	siblingsShare, unborn := 0, 0
	for _, e := range evs {
		byType[e.Type]++
		kids := 0
		for _, s := range e.Subjects {
			if s.Kind == "unborn" {
				unborn++
			}
			if s.IsChild() {
				kids++
			}
		}
		if kids > 1 && (e.Type == "police.notification" || e.Type == "housing.concern") {
			siblingsShare++
		}
	}
	// Count per child through the NHS number the hub knows them by: MASH
	// decisions and social care events always carry it.
	nhsOf := map[string]string{} // LA id -> NHS number
	for _, e := range evs {
		for _, s := range e.Subjects {
			if s.Identifiers.LAPersonID != "" && s.Identifiers.NHSNumber != "" {
				nhsOf[s.Identifiers.LAPersonID] = s.Identifiers.NHSNumber
			}
		}
	}
	for _, e := range evs {
		seen := map[string]bool{}
		for _, s := range e.Subjects {
			n := s.Identifiers.NHSNumber
			if n == "" {
				n = nhsOf[s.Identifiers.LAPersonID]
			}
			if s.IsChild() && n != "" && !seen[n] {
				seen[n] = true
				perChild[n]++
			}
		}
	}
	t.Logf("%d events, %d children; by type: %v", len(evs), len(perChild), byType)
	if len(evs) < 40000 || len(evs) > 60000 {
		t.Errorf("%d events, want about 50,000", len(evs))
	}
	if len(perChild) < 1800 || len(perChild) > 2200 {
		t.Errorf("%d children, want about 2,000", len(perChild))
	}
	few := 0
	for _, n := range perChild {
		if n <= 3 {
			few++
		}
	}
	if few*2 < len(perChild) {
		t.Errorf("only %d of %d children have 3 or fewer events", few, len(perChild))
	}
	for _, typ := range []events.Type{"missing.reported", "plan.started", "strategy_discussion.held", "record.corrected", "record.retracted", "subjects.linked", "looked_after.started", "exploitation.screening"} {
		if byType[typ] == 0 {
			t.Errorf("no %s events", typ)
		}
	}
	if siblingsShare == 0 || unborn == 0 {
		t.Errorf("siblings sharing events: %d, unborn subjects: %d", siblingsShare, unborn)
	}
}

// An escalating child: repeat missing within 90 days, then a strategy
// discussion and a child protection plan.
func TestSomeHistoriesEscalate(t *testing.T) {
	evs := Generate(Config{Seed: 1, Children: 400})
	type hist struct {
		missing []time.Time
		sd, cp  time.Time
	}
	by := map[string]*hist{}
	get := func(id string) *hist {
		if by[id] == nil {
			by[id] = &hist{}
		}
		return by[id]
	}
	// Police know the child by police id, social care by LA id: join them
	// through the hub's decisions, which carry both.
	la := map[string]string{}
	for _, e := range evs {
		for _, s := range e.Subjects {
			if s.Identifiers.PolicePersonID != "" && s.Identifiers.LAPersonID != "" {
				la[s.Identifiers.PolicePersonID] = s.Identifiers.LAPersonID
			}
		}
	}
	for _, e := range evs {
		s := e.Subjects[0]
		switch e.Type {
		case "missing.reported":
			if id := la[s.Identifiers.PolicePersonID]; id != "" {
				get(id).missing = append(get(id).missing, e.OccurredAt)
			}
		case "strategy_discussion.held":
			get(s.Identifiers.LAPersonID).sd = e.OccurredAt
		case "plan.started":
			if e.Body.(*events.PlanStarted).Kind == "child_protection" {
				get(s.Identifiers.LAPersonID).cp = e.OccurredAt
			}
		}
	}
	for _, h := range by {
		for i := 0; i+2 < len(h.missing); i++ {
			if h.missing[i+2].Sub(h.missing[i]) <= 90*24*time.Hour && !h.sd.IsZero() && h.sd.After(h.missing[i+2]) && h.cp.After(h.sd) {
				return
			}
		}
	}
	t.Fatal("no child has 3 missing episodes in 90 days followed by a strategy discussion and a plan")
}

func BenchmarkGenerate(b *testing.B) {
	n := 0
	for b.Loop() {
		n += len(Generate(Config{Seed: 1}))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// Digests of the NDJSON the in-memory generator wrote before Stream existed
// (commit 9886ffc), for the default data set and a small one: the stream
// must reproduce them byte for byte, however it sorts.
const (
	defaultDigest  = "32eb99ff0e990fe695c7f8297517ed7d403198c4598ee01d868625a0424889d2"
	seed7of300     = "337f0bf2354663cbe485254fcce7b857652af752b885cca3ac89fdb485903393"
	seed2of5000    = "a6665deed5f39334b7f8d47ff18ce8429357a7c5ceee9ab786a52bcfa8a82294"
	tinyRun        = 1 << 16 // about 70 events: hundreds of runs, merged in two rounds
	oneRun         = 1 << 40 // nothing spilled
	defaultRunSize = 0
)

func TestStreamIsByteIdenticalToTheInMemoryGenerator(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		digest string
	}{
		{"default data set, default runs", Config{Seed: 1, runBytes: defaultRunSize}, defaultDigest},
		{"default data set, tiny runs merged in rounds", Config{Seed: 1, runBytes: tinyRun}, defaultDigest},
		{"default data set, all in one run", Config{Seed: 1, runBytes: oneRun}, defaultDigest},
		{"300 children, tiny runs", Config{Seed: 7, Children: 300, runBytes: tinyRun}, seed7of300},
		{"5,000 children, default runs", Config{Seed: 2, Children: 5000}, seed2of5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.TempDir = t.TempDir()
			h := sha256.New()
			n, err := StreamNDJSON(context.Background(), h, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != tc.digest {
				t.Fatalf("%d events with digest %s, want %s", n, got, tc.digest)
			}
			if left, _ := os.ReadDir(tc.cfg.TempDir); len(left) > 0 {
				t.Fatalf("spill files left behind: %v", left)
			}
		})
	}
	h := sha256.New()
	if err := WriteNDJSON(h, Generate(Config{Seed: 1})); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != defaultDigest {
		t.Fatalf("Generate: digest %s, want %s", got, defaultDigest)
	}
}

// Every record names the children its event is about, in subject order, by
// the key social care knows them by; spilled records decode to the event
// they were.
func TestRecordsNameTheirChildren(t *testing.T) {
	cfg := Config{Seed: 1, runBytes: tinyRun, TempDir: t.TempDir()}
	n, unborn := 0, 0
	err := Stream(context.Background(), cfg, func(r Record) error {
		n++
		e, err := r.Event()
		if err != nil {
			return err
		}
		if e.ID != r.ID || !e.RecordedAt.Equal(r.RecordedAt) {
			return fmt.Errorf("record %s at %v holds event %s at %v", r.ID, r.RecordedAt, e.ID, e.RecordedAt)
		}
		var kids []events.Subject
		for _, s := range e.Subjects {
			if s.IsChild() {
				kids = append(kids, s)
			}
		}
		if len(kids) != len(r.Children) || len(kids) == 0 {
			return fmt.Errorf("event %s (%s) has %d children, the record names %v", e.ID, e.Type, len(kids), r.Children)
		}
		for i, s := range kids {
			if s.Kind == "unborn" {
				unborn++
			}
			if la := s.Identifiers.LAPersonID; la != "" && la != r.Children[i] {
				return fmt.Errorf("event %s: child %d is %s, the record says %s", e.ID, i, la, r.Children[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || unborn == 0 {
		t.Fatalf("%d events, %d about an unborn child", n, unborn)
	}
}

func TestStreamStopsOnErrors(t *testing.T) {
	stop := errors.New("enough")
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		cfg   Config
		yield func(Record) error
		want  func(error) bool
	}{
		{"yield's error ends the stream", context.Background(), Config{Seed: 1, Children: 50},
			func(Record) error { return stop }, func(err error) bool { return errors.Is(err, stop) }},
		{"yield's error ends a spilled stream", context.Background(), Config{Seed: 1, Children: 300, runBytes: tinyRun},
			func(Record) error { return stop }, func(err error) bool { return errors.Is(err, stop) }},
		{"cancelled", cancelled, Config{Seed: 1, Children: 300},
			func(Record) error { return nil }, func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"spill directory unusable", context.Background(), Config{Seed: 1, Children: 300, runBytes: tinyRun, TempDir: notADir},
			func(Record) error { return nil }, func(err error) bool { return err != nil && strings.Contains(err.Error(), "spill") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := Stream(tc.ctx, tc.cfg, func(r Record) error { calls++; return tc.yield(r) })
			if !tc.want(err) {
				t.Fatalf("got %v", err)
			}
			if calls > 1 {
				t.Fatalf("yield called %d times after the stream should have stopped", calls)
			}
		})
	}
}

// The stream's memory does not grow with the data set: the peak heap while
// writing 20,000 children is less than twice the peak for 2,000 (holding
// the events, as the generator did, makes it about ten times).
func TestStreamMemoryIsFlat(t *testing.T) {
	peak := func(children int) uint64 {
		runtime.GC()
		var (
			top  atomic.Uint64
			done = make(chan struct{})
			wg   sync.WaitGroup
		)
		sample := func() {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > top.Load() {
				top.Store(ms.HeapInuse)
			}
		}
		wg.Go(func() {
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					sample()
				}
			}
		})
		n, err := StreamNDJSON(context.Background(), io.Discard, Config{Seed: 1, Children: children, TempDir: t.TempDir()})
		close(done)
		wg.Wait()
		sample()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d children, %d events: peak heap in use %d MB", children, n, top.Load()>>20)
		return top.Load()
	}
	// Collect garbage early, so that the heap in use follows what is live
	// rather than when the collector last ran.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	small, large := peak(2000), peak(20000)
	if float64(large) > 2*float64(small) {
		t.Fatalf("peak heap %d MB for 20,000 children against %d MB for 2,000: it grows with the data set", large>>20, small>>20)
	}
}
