package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/csvcell"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Statutory returns (the Children in Need census, SSDA903) arrive as units
// that belong together: a census child, an SSDA903 row. A unit is stored
// whole or not at all: every event it maps to is validated before any is
// published, and a unit with any problem is listed in the rejects file with
// where it is in the input and every reason. The publishing, progress
// display and rejects file are the NDJSON and CSV import's own.

// Unit is one piece of a statutory return on its way to the log.
type Unit struct {
	// File and Line say where it is: the XML line a census child starts
	// on, or an SSDA903 table's file and row.
	File string
	Line int
	// Child is the LA child id, when the input gives one.
	Child string
	// Episodes counts the episodes the unit holds (CIN episodes, or
	// looked-after episodes), for the summary.
	Episodes int
	// Events are published in this order.
	Events []*events.Event
	// Err, when set, rejects the unit; its problems are the reasons.
	Err error
}

// UnitReader returns the next unit, or io.EOF after the last. Any other
// error stops the import (after the unit returned with it is handled).
type UnitReader func() (Unit, error)

// StatutorySummary is the outcome of a statutory import: children and
// episodes, and the events by type. The embedded Summary counts events.
type StatutorySummary struct {
	Summary
	// Format names what was read ("CIN census 2023 (2022-23 collection)").
	Format string `json:"format"`
	// Children is the number of distinct children read; ChildrenRejected
	// those with anything not stored.
	Children         int `json:"children"`
	ChildrenRejected int `json:"children_rejected"`
	// UnitsRejected counts rejected units (children or rows).
	UnitsRejected int `json:"units_rejected"`
	// Episodes counts the episodes of units that were imported.
	Episodes int `json:"episodes"`
	// ByType counts events stored and already held, per type.
	ByType map[events.Type]*TypeCount `json:"by_type"`
	// Notes are things the reader should know (a schema year read as
	// another, a file skipped).
	Notes []string `json:"notes,omitempty"`
}

// TypeCount is one event type's share of an import.
type TypeCount struct {
	Stored     int `json:"stored"`
	Duplicates int `json:"duplicates"`
}

// NotStored is the number of units and events that were not stored.
func (s StatutorySummary) NotStored() int { return s.UnitsRejected + s.Summary.NotStored() }

// String renders the summary for people.
func (s StatutorySummary) String() string {
	var b strings.Builder
	if s.Format != "" {
		fmt.Fprintf(&b, "%s\n", s.Format)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "children: %s read, %s imported, %s with something not stored; episodes: %s\n",
		group(s.Children), group(s.Children-s.ChildrenRejected), group(s.ChildrenRejected), group(s.Episodes))
	fmt.Fprintf(&b, "events: %s in %s: %s stored, %s already held, %s failed\n",
		group(s.Rows), s.Elapsed.Round(time.Millisecond), group(s.Accepted), group(s.Duplicates), group(s.Failed))
	types := make([]string, 0, len(s.ByType))
	for t := range s.ByType {
		types = append(types, string(t))
	}
	sort.Strings(types)
	for _, t := range types {
		c := s.ByType[events.Type(t)]
		fmt.Fprintf(&b, "  %-28s %6s stored %6s already held\n", t, group(c.Stored), group(c.Duplicates))
	}
	if s.RejectsPath != "" {
		fmt.Fprintf(&b, "not stored, with reasons and where: %s\n", s.RejectsPath)
	}
	return strings.TrimRight(b.String(), "\n")
}

// importUnits publishes every unit next returns. progress counts the bytes
// read, for the ETA; size is the input's total (0 when unknown).
func importUnits(ctx context.Context, pub *eventlog.Publisher, next UnitReader, progress *countingReader, size int64, rejects io.Writer, opts ImportOptions) (StatutorySummary, error) {
	im := &importer{opts: opts, start: time.Now(), size: size, read: progress, pending: map[int]heldRow{}}
	rej := &csvRejects{w: csvcell.NewWriter(rejects)}
	im.rejects = rej
	out := StatutorySummary{ByType: map[events.Type]*TypeCount{}}
	if err := rej.writeHeader([]string{"file", "child"}); err != nil {
		return out, fmt.Errorf("import: rejects file: %w", err)
	}
	type sent struct {
		unit *Unit
		typ  events.Type
	}
	keys := map[int]sent{}
	children, failed := map[string]bool{}, map[string]bool{}
	// rejectLocked records a unit (or one of its events) as not stored;
	// the caller holds im.mu.
	rejectLocked := func(u *Unit, reasons string) {
		im.rejects.write(u.Line, reasons, []string{u.File, u.Child}, nil)
		failed[childKey(u)] = true
	}
	batch := pub.NewBatch(opts.MaxInFlight, func(r eventlog.Result) {
		im.mu.Lock()
		defer im.mu.Unlock()
		s := keys[r.Key]
		delete(keys, r.Key)
		im.sum.Rows++
		c := out.ByType[s.typ]
		if c == nil {
			c = &TypeCount{}
			out.ByType[s.typ] = c
		}
		switch r.Status {
		case eventlog.Accepted:
			im.sum.Accepted++
			c.Stored++
		case eventlog.Duplicate:
			im.sum.Duplicates++
			c.Duplicates++
		default:
			im.sum.Failed++
			why := r.Error
			if len(r.Problems) > 0 {
				why = reasons(r.Problems)
			}
			rejectLocked(s.unit, fmt.Sprintf("%s on %s not stored: %s (safe to import again)", s.typ, r.ID, why))
		}
	})
	stop := im.showProgress()
	key := 0
	var err error
	for {
		u, rerr := next()
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil && u.Line == 0 && u.Child == "" {
			err = rerr
			break
		}
		last := rerr != nil
		if last && u.Err == nil {
			u.Err = rerr // the unit being read when the input broke
		}
		prepared, data, perr := prepareUnit(ctx, pub, &u)
		im.mu.Lock()
		children[childKey(&u)] = true
		if perr != nil {
			out.UnitsRejected++
			rejectLocked(&u, perr.Error())
		} else {
			out.Episodes += u.Episodes
			for i, e := range prepared {
				keys[key+i] = sent{unit: &u, typ: e.Type}
			}
		}
		im.mu.Unlock()
		for i, e := range prepared {
			if aerr := batch.Add(ctx, key, e, data[i]); aerr != nil {
				err = aerr
				break
			}
			key++
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil || last {
			break
		}
	}
	batch.Close()
	stop()
	if ferr := im.rejects.flush(); err == nil {
		err = ferr
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	out.Summary = im.sum
	out.Elapsed = time.Since(im.start)
	out.Children, out.ChildrenRejected = len(children), len(failed)
	return out, err
}

// childKey tells children apart in the counts; a unit with no child id is
// a child of its own.
func childKey(u *Unit) string {
	if u.Child != "" {
		return "id:" + u.Child
	}
	return fmt.Sprintf("at:%s:%d", u.File, u.Line)
}

// prepareUnit validates every event of u, or returns every problem, each
// prefixed with the event it belongs to.
func prepareUnit(ctx context.Context, pub *eventlog.Publisher, u *Unit) ([]*events.Event, [][]byte, error) {
	if u.Err != nil {
		return nil, nil, unitError(u.Err)
	}
	var (
		out  []*events.Event
		data [][]byte
		p    events.ProblemSet
	)
	for _, e := range u.Events {
		raw, err := events.Encode(e)
		if err != nil {
			return nil, nil, err
		}
		ev, b, err := pub.Prepare(ctx, raw)
		if err != nil {
			for _, f := range events.Problems(err) {
				p.Add(fmt.Sprintf("%s on %s: %s", e.Type, e.OccurredAt.Format(time.DateOnly), f.Field), "%s", f.Problem)
			}
			continue
		}
		out = append(out, ev)
		data = append(data, b)
	}
	if err := p.Err(); err != nil {
		return nil, nil, unitError(err)
	}
	return out, data, nil
}

// unitError renders a unit's problems on one line.
func unitError(err error) error {
	probs := events.Problems(err)
	if len(probs) == 0 {
		return err
	}
	return errors.New(reasons(probs))
}

// withRejects creates the rejects file at path, runs fn, and removes the
// file when nothing was rejected.
func withRejects(path string, fn func(w io.Writer) (StatutorySummary, error)) (StatutorySummary, error) {
	rf, err := os.Create(path)
	if err != nil {
		return StatutorySummary{}, fmt.Errorf("import: rejects file: %w", err)
	}
	sum, err := fn(rf)
	if cerr := rf.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("import: rejects file: %w", cerr)
	}
	if sum.NotStored() > 0 {
		sum.RejectsPath = path
	} else {
		_ = os.Remove(path)
	}
	return sum, err
}
