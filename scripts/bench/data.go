package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// eventsPerChild is the demo generator's yield: 50,478 events for its
// default 2,000 children (1,027,556 for 40,000).
const eventsPerChild = 25.24

// dataset is the generated data on disk, read by every loader in turn so
// that the bench itself holds next to nothing in memory (its RSS is part of
// what it measures).
type dataset struct {
	// NDJSON holds one event per line, as chronicle import reads it.
	NDJSON string
	// Routes holds, line for line, what a raw publisher or a table needs
	// without decoding the event: see route.
	Routes string
	Events int
	Bytes  int64
	// Children counts the distinct children (by the generator's keys).
	Children int
	// Child is the child with the most events, by the generator's key (the
	// LA person id every loader and query uses), and ChildEvents how many.
	Child       string
	ChildEvents int
}

// route is one line of the routes file.
type route struct {
	Subject    string
	ID         string
	Type       string
	Agency     string
	OccurredAt time.Time
	Children   []string
}

func (r route) String() string {
	return fmt.Sprintf("%s %s %d %s", r.Subject, r.ID, r.OccurredAt.UnixNano(), strings.Join(r.Children, ","))
}

func parseRoute(line string) (route, error) {
	f := strings.Fields(line)
	if len(f) != 4 {
		return route{}, fmt.Errorf("routes: %q: want 4 fields", line)
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return route{}, fmt.Errorf("routes: %q: occurred_at: %w", line, err)
	}
	agency, typ, ok := events.SplitSubject(f[0])
	if !ok {
		return route{}, fmt.Errorf("routes: %q: not an event subject", line)
	}
	return route{Subject: f[0], ID: f[1], Type: string(typ), Agency: agency, OccurredAt: time.Unix(0, ns).UTC(), Children: strings.Split(f[3], ",")}, nil
}

// longHistory is how many events the bench adds for one child with a long
// history, so that a page of 1,000 entries is a full page: a child known to
// every agency for years, as some are. Small runs get a smaller one.
func longHistory(total int) int { return max(10, min(1200, total/20)) }

// longChild is the long history's child: an LA person id no generated child
// has, and an NHS number from the top of the 999 test range (the generator
// counts up from the bottom).
var longChild = func() events.Identifiers {
	for stem := 999999999; ; stem-- {
		s := strconv.Itoa(stem)
		if d := events.NHSCheckDigit(s); d >= 0 {
			return events.Identifiers{NHSNumber: s + strconv.Itoa(d), LAPersonID: "LA-BENCH-LONG"}
		}
	}
}()

// longKinds are the event types of the long history, one agency each.
var longKinds = []events.Type{"health.concern", "education.concern", "police.notification", "contact.received", "information.shared"}

// longEvent is the i-th event of the long history: a catalogue example
// about the long child, spread over the demo's three years.
func longEvent(i int) (*events.Event, error) {
	spec, ok := events.Lookup(longKinds[i%len(longKinds)])
	if !ok {
		return nil, fmt.Errorf("long history: no event type %s", longKinds[i%len(longKinds)])
	}
	e := spec.ExampleEvent()
	e.SourceRef = fmt.Sprintf("bench-long-%06d", i)
	e.Subjects = []events.Subject{{Kind: "child", Identifiers: longChild, Name: "Sam Longhistory", DateOfBirth: "2011-06-01"}}
	start := demodata.DefaultEnd.AddDate(-3, 0, 0)
	e.OccurredAt = start.Add(time.Duration(i%1200) * 21 * time.Hour).Add(time.Duration(i/1200) * time.Minute)
	e.RecordedAt = e.OccurredAt.Add(time.Hour)
	e.ID = events.DeriveID(e)
	return e, nil
}

// generate writes about n events (the demo generator's households for
// (n - long history) children, and the long history interleaved by
// recorded time) under dir, in flat memory.
func generate(ctx context.Context, dir string, n int, seed int64) (dataset, error) {
	ds := dataset{NDJSON: filepath.Join(dir, "events.ndjson"), Routes: filepath.Join(dir, "events.routes")}
	long := longHistory(n)
	children := max(1, int(float64(n-long)/eventsPerChild+0.5))
	nf, err := os.Create(ds.NDJSON)
	if err != nil {
		return ds, fmt.Errorf("data: %w", err)
	}
	defer nf.Close()
	rf, err := os.Create(ds.Routes)
	if err != nil {
		return ds, fmt.Errorf("data: %w", err)
	}
	defer rf.Close()
	nw, rw := bufio.NewWriterSize(nf, 1<<20), bufio.NewWriterSize(rf, 1<<18)
	counts := map[string]int{}
	write := func(raw []byte, children []string) error {
		var head struct {
			ID         string      `json:"id"`
			Type       events.Type `json:"type"`
			Agency     string      `json:"agency"`
			OccurredAt time.Time   `json:"occurred_at"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return fmt.Errorf("data: %w", err)
		}
		r := route{Subject: events.SubjectFor(head.Agency, head.Type), ID: head.ID, OccurredAt: head.OccurredAt, Children: children}
		nw.Write(raw)
		nw.WriteByte('\n')
		rw.WriteString(r.String())
		rw.WriteByte('\n')
		for _, c := range children {
			counts[c]++
		}
		ds.Events++
		ds.Bytes += int64(len(raw) + 1)
		return nil
	}
	next, nextAt, err := longAt(0)
	if err != nil {
		return ds, err
	}
	written := 0
	flushLong := func(until time.Time) error {
		for ; written < long && !nextAt.After(until); written++ {
			if err := write(next, []string{longChild.LAPersonID}); err != nil {
				return err
			}
			if next, nextAt, err = longAt(written + 1); err != nil {
				return err
			}
		}
		return nil
	}
	err = demodata.Stream(ctx, demodata.Config{Seed: seed, Children: children, TempDir: dir}, func(r demodata.Record) error {
		if err := flushLong(r.RecordedAt); err != nil {
			return err
		}
		return write(r.Raw, r.Children)
	})
	if err == nil {
		err = flushLong(time.Unix(1<<40, 0))
	}
	if err == nil {
		err = errors.Join(nw.Flush(), rw.Flush())
	}
	if err != nil {
		return ds, fmt.Errorf("data: %w", err)
	}
	ds.Children = len(counts)
	for c, k := range counts {
		if k > ds.ChildEvents || (k == ds.ChildEvents && c < ds.Child) {
			ds.Child, ds.ChildEvents = c, k
		}
	}
	return ds, nil
}

// longAt encodes the i-th event of the long history.
func longAt(i int) ([]byte, time.Time, error) {
	e, err := longEvent(i)
	if err != nil {
		return nil, time.Time{}, err
	}
	raw, err := events.Encode(e)
	return raw, e.RecordedAt, err
}

// reader reads the data set back, event by event.
type reader struct {
	ds     dataset
	nf, rf *os.File
	nr     *bufio.Reader
	rr     *bufio.Scanner
	line   int
}

func (ds dataset) open() (*reader, error) {
	nf, err := os.Open(ds.NDJSON)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	rf, err := os.Open(ds.Routes)
	if err != nil {
		nf.Close()
		return nil, fmt.Errorf("data: %w", err)
	}
	return &reader{ds: ds, nf: nf, rf: rf, nr: bufio.NewReaderSize(nf, 1<<20), rr: bufio.NewScanner(rf)}, nil
}

func (r *reader) close() {
	r.nf.Close()
	r.rf.Close()
}

// next returns the next event's encoded JSON (a fresh slice) and its
// route; ok is false at the end.
func (r *reader) next() (raw []byte, rt route, ok bool, err error) {
	line, err := r.nr.ReadBytes('\n')
	if err == io.EOF && len(line) == 0 {
		if r.rr.Scan() {
			return nil, rt, false, fmt.Errorf("data: %s has more lines than %s", r.ds.Routes, r.ds.NDJSON)
		}
		return nil, rt, false, r.rr.Err()
	}
	if err != nil && err != io.EOF {
		return nil, rt, false, fmt.Errorf("data: %w", err)
	}
	r.line++
	if !r.rr.Scan() {
		return nil, rt, false, fmt.Errorf("data: %s ends before %s (line %d): %v", r.ds.Routes, r.ds.NDJSON, r.line, r.rr.Err())
	}
	if rt, err = parseRoute(r.rr.Text()); err != nil {
		return nil, rt, false, err
	}
	return bytes.TrimSuffix(line, []byte{'\n'}), rt, true, nil
}

// each calls fn with every event of the data set, in file order.
func (ds dataset) each(ctx context.Context, fn func(raw []byte, r route) error) error {
	r, err := ds.open()
	if err != nil {
		return err
	}
	defer r.close()
	for i := 0; ; i++ {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		raw, rt, ok, err := r.next()
		if err != nil || !ok {
			return err
		}
		if err := fn(raw, rt); err != nil {
			return err
		}
	}
}
