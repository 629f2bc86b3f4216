package demodata

import (
	"bufio"
	"cmp"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Events are generated household by household, with times spread over the
// whole history, but published in RecordedAt order. Stream sorts them the
// way a database sorts what does not fit in memory: runs of a bounded size
// are sorted and written to files, then merged.
const (
	// defaultRunBytes is the encoded size of one sorted run: about 18,000
	// events, a few tens of megabytes live while it is built.
	defaultRunBytes = 16 << 20
	// maxFanIn bounds the runs merged at once (open files, read buffers);
	// beyond it, runs are first merged into longer runs.
	maxFanIn = 64
)

// record is one encoded event on its way through the sort.
type record struct {
	idx       uint64 // position in generation order, for the amendments
	at        int64  // RecordedAt in Unix nanoseconds
	id        string
	amendable bool // an agency's own record, which an agency may correct
	children  []string
	raw       []byte
	ev        *events.Event // kept only for Generate
}

// byPublication orders records as they are published: by RecordedAt, then ID.
// IDs are unique, so every sort gives the same sequence.
func byPublication(a, b *record) int {
	if c := cmp.Compare(a.at, b.at); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}

func byGeneration(a, b *record) int { return cmp.Compare(a.idx, b.idx) }

func (r *record) public() Record {
	return Record{Raw: r.raw, ID: r.id, RecordedAt: time.Unix(0, r.at).UTC(), Children: r.children, ev: r.ev}
}

func (r *record) event() (*events.Event, error) { return r.public().Event() }

// sorter collects encoded events into sorted runs, spilling each full run
// to a file. Its first error stops it and is reported by err.
type sorter struct {
	dir      string // parent of the spill directory
	runBytes int
	keep     bool

	n        uint64
	cur      []*record
	curBytes int
	tmp      string   // the spill directory, made on the first spill
	runs     []string // spilled runs, the first ones in generation order
	made     int      // run files made, for their names
	err      error
}

// add encodes e and files it.
func (s *sorter) add(e *events.Event, children []string) {
	if s.err != nil {
		return
	}
	raw, err := events.Encode(e)
	if err != nil {
		s.err = fmt.Errorf("demodata: %w", err)
		return
	}
	r := &record{idx: s.n, at: e.RecordedAt.UnixNano(), id: e.ID, amendable: e.Type != "subjects.linked" && e.Agency != "hub", children: children, raw: raw}
	if s.keep {
		r.ev = e
	}
	s.n++
	s.push(r)
}

func (s *sorter) push(r *record) {
	if s.err != nil {
		return
	}
	s.cur = append(s.cur, r)
	s.curBytes += len(r.raw)
	if s.curBytes >= s.runBytes {
		s.err = s.spill()
	}
}

// spill sorts the current run and writes it to a file.
func (s *sorter) spill() error {
	slices.SortFunc(s.cur, byPublication)
	i := 0
	name, err := s.writeRun(func() (*record, error) {
		if i == len(s.cur) {
			return nil, nil
		}
		i++
		return s.cur[i-1], nil
	})
	if err != nil {
		return err
	}
	s.runs = append(s.runs, name)
	s.cur, s.curBytes = nil, 0
	return nil
}

// writeRun writes the records next returns, until it returns nil, to a new
// run file.
func (s *sorter) writeRun(next func() (*record, error)) (string, error) {
	if s.tmp == "" {
		dir, err := os.MkdirTemp(s.dir, "chronicle-demodata-*")
		if err != nil {
			return "", fmt.Errorf("demodata: spill: %w", err)
		}
		s.tmp = dir
	}
	s.made++
	name := filepath.Join(s.tmp, fmt.Sprintf("run-%05d", s.made))
	f, err := os.Create(name)
	if err != nil {
		return "", fmt.Errorf("demodata: spill: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	for {
		r, err := next()
		if err == nil && r != nil {
			err = writeRecord(w, r)
		}
		if err != nil {
			f.Close()
			return "", fmt.Errorf("demodata: spill %s: %w", name, err)
		}
		if r == nil {
			break
		}
	}
	if err := errors.Join(w.Flush(), f.Close()); err != nil {
		return "", fmt.Errorf("demodata: spill %s: %w", name, err)
	}
	return name, nil
}

// remove deletes the spill files.
func (s *sorter) remove() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// generated calls visit with every record added so far, in the order they
// were generated. Records visit adds are filed as usual, and are not
// visited.
func (s *sorter) generated(ctx context.Context, visit func(*record) error) error {
	if s.err != nil {
		return s.err
	}
	spilled := slices.Clone(s.runs)
	pending := s.cur
	s.cur, s.curBytes = nil, 0
	for _, name := range spilled {
		if err := ctx.Err(); err != nil {
			return err
		}
		recs, err := readRun(name)
		if err != nil {
			return err
		}
		slices.SortFunc(recs, byGeneration)
		for _, r := range recs {
			if err := visit(r); err != nil {
				return err
			}
		}
		if s.err != nil {
			return s.err
		}
	}
	for _, r := range pending {
		if err := visit(r); err != nil {
			return err
		}
	}
	for _, r := range pending {
		s.push(r)
	}
	return s.err
}

// merge yields every record in publication order and stops at the first
// error.
func (s *sorter) merge(ctx context.Context, yield func(Record) error) error {
	if s.err != nil {
		return s.err
	}
	if len(s.runs) == 0 {
		slices.SortFunc(s.cur, byPublication)
		for _, r := range s.cur {
			if err := yield(r.public()); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.cur) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	for len(s.runs) > maxFanIn {
		if err := ctx.Err(); err != nil {
			return err
		}
		group := s.runs[:maxFanIn]
		var name string
		err := mergeRuns(group, func(next func() (*record, error)) error {
			var err error
			name, err = s.writeRun(next)
			return err
		})
		if err != nil {
			return err
		}
		for _, g := range group {
			os.Remove(g)
		}
		s.runs = append(s.runs[maxFanIn:], name)
	}
	return mergeRuns(s.runs, func(next func() (*record, error)) error {
		for n := 0; ; n++ {
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			r, err := next()
			if err != nil || r == nil {
				return err
			}
			if err := yield(r.public()); err != nil {
				return err
			}
		}
	})
}

// mergeRuns opens the runs and hands consume a function that returns their
// records in publication order, then nil.
func mergeRuns(names []string, consume func(next func() (*record, error)) error) error {
	h := make(runHeap, 0, len(names))
	defer func() {
		for _, c := range h {
			c.f.Close()
		}
	}()
	for _, name := range names {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("demodata: merge: %w", err)
		}
		c := &cursor{f: f, r: bufio.NewReaderSize(f, 1<<15)}
		if c.head, err = readRecord(c.r); err != nil {
			f.Close()
			return fmt.Errorf("demodata: merge %s: %w", name, err)
		}
		if c.head == nil {
			f.Close()
			continue
		}
		h = append(h, c)
	}
	heap.Init(&h)
	return consume(func() (*record, error) {
		if len(h) == 0 {
			return nil, nil
		}
		c := h[0]
		r := c.head
		var err error
		if c.head, err = readRecord(c.r); err != nil {
			return nil, fmt.Errorf("demodata: merge %s: %w", c.f.Name(), err)
		}
		if c.head == nil {
			c.f.Close()
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
		return r, nil
	})
}

type cursor struct {
	f    *os.File
	r    *bufio.Reader
	head *record
}

type runHeap []*cursor

func (h runHeap) Len() int           { return len(h) }
func (h runHeap) Less(i, j int) bool { return byPublication(h[i].head, h[j].head) < 0 }
func (h runHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)        { *h = append(*h, x.(*cursor)) }
func (h *runHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// A run file is a sequence of records, each a fixed header (generation
// index, RecordedAt, flags, the number of children, the id's and the
// event's lengths) followed by the children's keys (each prefixed by its
// length), the id and the encoded event.
const headerSize = 8 + 8 + 1 + 1 + 1 + 4

func writeRecord(w *bufio.Writer, r *record) error {
	if len(r.children) > 255 || len(r.id) > 255 {
		return fmt.Errorf("event %s: too many children or too long an id to spill", r.id)
	}
	var h [headerSize]byte
	binary.LittleEndian.PutUint64(h[0:], r.idx)
	binary.LittleEndian.PutUint64(h[8:], uint64(r.at))
	if r.amendable {
		h[16] = 1
	}
	h[17] = byte(len(r.children))
	h[18] = byte(len(r.id))
	binary.LittleEndian.PutUint32(h[19:], uint32(len(r.raw)))
	w.Write(h[:])
	for _, c := range r.children {
		if len(c) > 255 {
			return fmt.Errorf("event %s: child key %q too long to spill", r.id, c)
		}
		w.WriteByte(byte(len(c)))
		w.WriteString(c)
	}
	w.WriteString(r.id)
	_, err := w.Write(r.raw)
	return err
}

// readRecord reads the next record, or nil at the end of the run.
func readRecord(br *bufio.Reader) (*record, error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	r := &record{
		idx:       binary.LittleEndian.Uint64(h[0:]),
		at:        int64(binary.LittleEndian.Uint64(h[8:])),
		amendable: h[16] == 1,
		children:  make([]string, h[17]),
	}
	for i := range r.children {
		n, err := br.ReadByte()
		if err != nil {
			return nil, unexpected(err)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, unexpected(err)
		}
		r.children[i] = string(b)
	}
	id := make([]byte, h[18])
	if _, err := io.ReadFull(br, id); err != nil {
		return nil, unexpected(err)
	}
	r.id = string(id)
	r.raw = make([]byte, binary.LittleEndian.Uint32(h[19:]))
	if _, err := io.ReadFull(br, r.raw); err != nil {
		return nil, unexpected(err)
	}
	return r, nil
}

// unexpected turns the end of a file inside a record into the error it is.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readRun reads a whole run file: one run is bounded by runBytes.
func readRun(name string) ([]*record, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("demodata: read back %s: %w", name, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var recs []*record
	for {
		r, err := readRecord(br)
		if err != nil {
			return nil, fmt.Errorf("demodata: read back %s: %w", name, err)
		}
		if r == nil {
			return recs, nil
		}
		recs = append(recs, r)
	}
}
