package flags

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"time"
)

// A saved worklist lets a restarted process answer the worklist and
// alert at once: evaluating every child again took 20 to 30 seconds of
// both cores at a million events, during which the worklist page waited.
// What is saved is exact, not an approximation: the flags of the children
// with active ones, when each child's flags could next change by
// themselves, the model position and time they were evaluated at, and
// the changes some follower had not yet read. Loaded, the worklist
// re-evaluates what changed in the log after that position and what came
// due since, as it does between any two looks, so it ends where a full
// evaluation would. A saved worklist of any age is correct; an older one
// only costs more re-evaluation.

// savedMagic starts a saved worklist; the number is the format's version.
const savedMagic = "chronicle-worklist 1\n"

// Saved is a worklist's state read back from Save's output, checked
// against its checksum. Its Key and Seq are for the caller to check before
// Restore (see Save).
type Saved struct {
	// Key is what Save was given: what the saved flags depend on besides
	// the log (the build of the rules, the rules in force, the stream).
	Key string
	// Seq is the model position the flags were evaluated at, and LastID
	// the event id at it (empty at position 0), so the caller can check
	// that the stream still holds the same log.
	Seq    uint64
	LastID string
	state  savedState
}

// savedState is what is encoded. Times are kept with the name of their
// location (the calendar reads England's), since gob keeps only offsets.
type savedState struct {
	At       time.Time
	Children []ChildFlags
	Next     map[string]time.Time
	Pending  []pendingChange
	Zones    []string // every time's location, in walk order (see eachTime)
}

// pendingChange is a change some follower had not read: the child's flags
// then, or none when they went away.
type pendingChange struct {
	ID    string
	Flags []Flag
	Gone  bool
}

// Save writes the worklist's state to out, headed by key and the event id
// at the position it was evaluated at (lastID; the caller looks it up),
// and followed by a checksum. It returns that position. Save does not
// bring the worklist up to date first (CatchUp does, before it): a
// worklist that has never been evaluated is not saved (ErrNotEvaluated).
func (w *Worklist) Save(out io.Writer, key string, lastID func(seq uint64) (string, error)) (uint64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.built {
		return 0, ErrNotEvaluated
	}
	id := ""
	if w.seq > 0 {
		var err error
		if id, err = lastID(w.seq); err != nil {
			return 0, fmt.Errorf("save worklist: event at %d: %w", w.seq, err)
		}
	}
	st := savedState{At: w.at, Next: w.next}
	for _, cf := range w.byChild {
		st.Children = append(st.Children, cf)
	}
	for cid := range w.changed {
		fs, ok := w.recent[cid]
		st.Pending = append(st.Pending, pendingChange{ID: cid, Flags: fs, Gone: !ok})
	}
	st.Zones = zonesOf(&st)
	var body bytes.Buffer
	head, err := json.Marshal(struct {
		Key    string
		Seq    uint64
		LastID string
	}{key, w.seq, id})
	if err != nil {
		return 0, fmt.Errorf("save worklist: %w", err)
	}
	body.Write(head)
	body.WriteByte('\n')
	if err := gob.NewEncoder(&body).Encode(&st); err != nil {
		return 0, fmt.Errorf("save worklist: %w", err)
	}
	sum := sha256.Sum256(body.Bytes())
	for _, part := range [][]byte{[]byte(savedMagic), body.Bytes(), sum[:]} {
		if _, err := out.Write(part); err != nil {
			return 0, fmt.Errorf("save worklist: %w", err)
		}
	}
	return w.seq, nil
}

// ErrNotEvaluated is Save's answer for a worklist never evaluated.
var ErrNotEvaluated = errors.New("save worklist: not evaluated yet")

// ReadSaved reads what Save wrote, refusing another format, a truncated or
// changed file (its checksum) and anything that does not decode.
func ReadSaved(in io.Reader) (*Saved, error) {
	data, err := io.ReadAll(bufio.NewReader(in))
	if err != nil {
		return nil, fmt.Errorf("read saved worklist: %w", err)
	}
	body, ok := bytes.CutPrefix(data, []byte(savedMagic))
	if !ok {
		return nil, errors.New("read saved worklist: not a saved worklist of this version")
	}
	if len(body) < sha256.Size {
		return nil, errors.New("read saved worklist: truncated")
	}
	body, sum := body[:len(body)-sha256.Size], body[len(body)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return nil, errors.New("read saved worklist: checksum mismatch (truncated or changed)")
	}
	head, rest, ok := bytes.Cut(body, []byte{'\n'})
	if !ok {
		return nil, errors.New("read saved worklist: no header")
	}
	s := &Saved{}
	if err := json.Unmarshal(head, s); err != nil {
		return nil, fmt.Errorf("read saved worklist: header: %w", err)
	}
	if err := gob.NewDecoder(bytes.NewReader(rest)).Decode(&s.state); err != nil {
		return nil, fmt.Errorf("read saved worklist: %w", err)
	}
	if err := placeTimes(&s.state); err != nil {
		return nil, fmt.Errorf("read saved worklist: %w", err)
	}
	return s, nil
}

// Restore makes w, which must not have been evaluated or followed yet,
// what s was. The caller has checked s.Key and s.Seq (see Save). The next
// look re-evaluates the children changed after s.Seq and those come due.
func (w *Worklist) Restore(s *Saved) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.built || len(w.followers) > 0 {
		return errors.New("restore worklist: already in use")
	}
	st := s.state
	w.byChild = make(map[string]ChildFlags, len(st.Children))
	for _, cf := range st.Children {
		w.byChild[cf.Child.ID] = cf
	}
	w.next = st.Next
	if w.next == nil {
		w.next = map[string]time.Time{}
	}
	w.gen++
	for _, p := range st.Pending {
		w.changed[p.ID] = w.gen
		if !p.Gone {
			w.recent[p.ID] = p.Flags
		}
	}
	w.built, w.seq, w.at, w.sorted, w.restored = true, s.Seq, st.At, nil, true
	return nil
}

// zonesOf lists the location of every time in st, in the order eachTime
// visits them.
func zonesOf(st *savedState) []string {
	var out []string
	eachTime(st, func(t *time.Time) { out = append(out, t.Location().String()) })
	return out
}

// placeTimes puts every time in st back in the location it had when
// saved: gob kept its instant and offset, not the location, and the
// calendar and the pages read the location.
func placeTimes(st *savedState) error {
	if st.Zones == nil {
		st.Zones = []string{}
	}
	i := 0
	var err error
	eachTime(st, func(t *time.Time) {
		if err != nil {
			return
		}
		if i >= len(st.Zones) {
			err = errors.New("fewer time zones than times")
			return
		}
		var loc *time.Location
		switch name := st.Zones[i]; name {
		case "UTC":
			loc = time.UTC
		case "Local":
			loc = time.Local
		case london.String():
			loc = london
		default:
			if loc, err = time.LoadLocation(name); err != nil {
				return
			}
		}
		i++
		if !t.IsZero() {
			*t = t.In(loc)
		}
	})
	if err == nil && i != len(st.Zones) {
		err = errors.New("more time zones than times")
	}
	return err
}

// eachTime calls fn with every time.Time in st, zero ones too, in a fixed
// order (map entries by sorted key), walking the values' fields so that a
// field added to Flag or Child later is covered without another list.
func eachTime(st *savedState, fn func(*time.Time)) {
	fn(&st.At)
	for _, id := range sortedKeys(st.Next) {
		t := st.Next[id]
		fn(&t)
		st.Next[id] = t
	}
	walkTimes(reflect.ValueOf(&st.Children).Elem(), fn)
	walkTimes(reflect.ValueOf(&st.Pending).Elem(), fn)
}

var timeType = reflect.TypeFor[time.Time]()

func walkTimes(v reflect.Value, fn func(*time.Time)) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == timeType {
			fn(v.Addr().Interface().(*time.Time))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				walkTimes(v.Field(i), fn)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			walkTimes(v.Elem(), fn)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkTimes(v.Index(i), fn)
		}
	}
}

func sortedKeys(m map[string]time.Time) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
