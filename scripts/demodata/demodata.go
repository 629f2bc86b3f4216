// Package demodata generates synthetic multi-agency histories for the demo,
// the benchmarks and scenario tests: households of siblings who share police
// and housing events, children whose histories escalate from contacts to
// early help to missing episodes, exploitation concerns and a child
// protection plan, and the many who only ever have a universal-level
// contact or two. Everything is seeded and deterministic, and every name and
// identifier is synthetic (NHS numbers in the 999 range reserved for
// testing).
package demodata

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Config sizes and seeds a data set. Zero values take the defaults.
type Config struct {
	// Seed makes the output reproducible: the same seed gives the same
	// events, byte for byte.
	Seed int64
	// Children is how many children to generate (default 2,000).
	Children int
	// End is the latest occurred or recorded time (default
	// 2026-10-31T17:00:00Z, fixed so that output does not depend on the day
	// it runs).
	End time.Time
	// Years is the length of the history (default 3).
	Years int
	// TempDir is where Stream spills sorted runs (default os.TempDir()).
	TempDir string

	runBytes   int  // spill a run once it holds this many encoded bytes
	keepEvents bool // keep the generated events, for Generate
}

// DefaultEnd is the end of the default history.
var DefaultEnd = time.Date(2026, 10, 31, 17, 0, 0, 0, time.UTC)

func (c Config) withDefaults() Config {
	if c.Children <= 0 {
		c.Children = 2000
	}
	if c.End.IsZero() {
		c.End = DefaultEnd
	}
	if c.Years <= 0 {
		c.Years = 3
	}
	if c.runBytes <= 0 {
		c.runBytes = defaultRunBytes
	}
	return c
}

// Record is one generated event as an agency feed would send it, with what
// only the generator knows about it.
type Record struct {
	// Raw is the event's canonical JSON (events.Encode), without a newline.
	Raw []byte
	// ID and RecordedAt are the event's, which set the order of the stream.
	ID         string
	RecordedAt time.Time
	// Children are the generator's own keys (the children's local
	// authority person ids) for the children the event is about, in subject
	// order. They are the ground truth identity resolution has to reach:
	// police and school events carry other identifiers, and an unborn
	// child's events carry the mother's.
	Children []string

	ev *events.Event // the generated event, when the stream keeps events
}

// Event returns the event: the one generated when the stream holds every
// event in memory (Generate), or Raw decoded. Errors come from
// events.Decode and mean the record was damaged on its way through the
// spill files.
func (r Record) Event() (*events.Event, error) {
	if r.ev != nil {
		return r.ev, nil
	}
	e, err := events.Decode(r.Raw)
	if err != nil {
		return nil, fmt.Errorf("demodata: decode %s: %w", r.ID, err)
	}
	return e, nil
}

// Generate returns the events sorted by RecordedAt, then ID: the order an
// agency feed would publish them. It holds every event in memory and never
// touches the disk; for large data sets use Stream.
func Generate(cfg Config) []*events.Event {
	var out []*events.Event
	cfg.keepEvents, cfg.runBytes = true, math.MaxInt
	// With nothing spilled and a yield that cannot fail, Stream has no
	// error to return: every generated event encodes (see emit).
	_ = Stream(context.Background(), cfg, func(r Record) error {
		out = append(out, r.ev)
		return nil
	})
	return out
}

// Stream generates the data set and calls yield with every event in the
// order Generate returns them, byte for byte the same, in memory that does
// not grow with the size of the data set: events are encoded as they are
// generated, sorted in runs of a few megabytes spilled to files under
// cfg.TempDir, and merged. The files are removed before Stream returns.
// Errors are those of the spill files, of ctx, and yield's own, which stops
// the stream.
func Stream(ctx context.Context, cfg Config, yield func(Record) error) error {
	cfg = cfg.withDefaults()
	s := &sorter{dir: cfg.TempDir, runBytes: cfg.runBytes, keep: cfg.keepEvents}
	defer s.remove()
	g := &gen{
		rng:   rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_c4)),
		start: cfg.End.AddDate(-cfg.Years, 0, 0),
		end:   cfg.End,
		out:   s,
	}
	for made := 0; made < cfg.Children && s.err == nil; {
		if err := ctx.Err(); err != nil {
			return err
		}
		h := g.household(min(cfg.Children-made, g.pick(sizes)))
		made += len(h.children)
		g.story(h)
	}
	if s.err != nil {
		return s.err
	}
	if err := g.amendments(ctx); err != nil {
		return err
	}
	return s.merge(ctx, yield)
}

// WriteNDJSON writes events one JSON object per line.
func WriteNDJSON(w io.Writer, evs []*events.Event) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, e := range evs {
		b, err := events.Encode(e)
		if err != nil {
			return err
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// StreamNDJSON writes the data set to w one event per line, as WriteNDJSON
// writes Generate's events, in flat memory (see Stream). It returns how many
// events it wrote.
func StreamNDJSON(ctx context.Context, w io.Writer, cfg Config) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<16)
	n := 0
	err := Stream(ctx, cfg, func(r Record) error {
		n++
		bw.Write(r.Raw)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("demodata: write: %w", err)
	}
	return n, nil
}

// Synthetic names: common enough to be unremarkable, and none refers to a
// real person.
var (
	firstNames = []string{"Amelia", "Oliver", "Isla", "George", "Ava", "Noah", "Mia", "Leo", "Ivy", "Arthur", "Freya", "Oscar",
		"Lily", "Harry", "Ella", "Jack", "Grace", "Theo", "Evie", "Finley", "Ruby", "Alfie", "Sophie", "Charlie",
		"Poppy", "Jacob", "Zara", "Mason", "Aisha", "Kai", "Layla", "Ethan", "Maya", "Rory", "Hana", "Jayden"}
	surnames = []string{"Ashdown", "Brierley", "Calloway", "Dunmore", "Elphick", "Fairbank", "Gorringe", "Hatherley", "Ingleby",
		"Jessop", "Kettering", "Lanchester", "Marchbank", "Nettleton", "Orwin", "Pendleton", "Quarry", "Ravenscroft",
		"Stainthorpe", "Thackray", "Umpleby", "Varley", "Wetherell", "Yardley", "Amadi", "Begum", "Chowdhury", "Kowalczyk",
		"Nowak", "Okafor", "Osei", "Rahman", "Silva", "Popescu", "Mensah", "Haddad"}
	sizes = []weighted[int]{{1, 45}, {2, 30}, {3, 17}, {4, 8}}
)

type weighted[T any] struct {
	v T
	w int
}

type person struct {
	name    string
	dob     time.Time
	nhs     string
	upn     string
	la      string
	police  string
	unborn  bool
	edd     time.Time
	mother  *person
	knownBy map[string]bool // agencies that have met the child, so the hub knows their ids
}

type household struct {
	surname  string
	children []*person
	adults   []*person
	profile  int // universal, moderate, escalating
}

const (
	universal = iota
	moderate
	escalating
)

type gen struct {
	rng        *rand.Rand
	start, end time.Time
	out        *sorter
	nhsSeq     int
	idSeq      int
	refSeq     int
	episodeSeq int
}

func (g *gen) pick(ws []weighted[int]) int {
	total := 0
	for _, w := range ws {
		total += w.w
	}
	n := g.rng.IntN(total)
	for _, w := range ws {
		if n < w.w {
			return w.v
		}
		n -= w.w
	}
	return ws[len(ws)-1].v
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }

func (g *gen) between(a, b time.Time) time.Time {
	if !b.After(a) {
		return a
	}
	return a.Add(time.Duration(g.rng.Int64N(int64(b.Sub(a))))).Truncate(time.Minute)
}

// nhsNumber returns the next NHS number in the 999 range with a valid
// check digit.
func (g *gen) nhsNumber() string {
	for {
		g.nhsSeq++
		stem := fmt.Sprintf("999%06d", g.nhsSeq)
		if d := events.NHSCheckDigit(stem); d >= 0 {
			return fmt.Sprintf("%s%d", stem, d)
		}
	}
}

// upn builds a UPN for a school in a synthetic authority (LA 801).
func (g *gen) upn(dob time.Time) string {
	g.idSeq++
	last12 := fmt.Sprintf("801%04d%02d%03d", 2000+g.rng.IntN(200), (dob.Year()+5)%100, g.idSeq%1000)
	return string(events.UPNCheckLetter(last12)) + last12
}

func (g *gen) household(n int) *household {
	h := &household{surname: surnames[g.rng.IntN(len(surnames))]}
	switch r := g.rng.Float64(); {
	case r < 0.60:
		h.profile = universal
	case r < 0.90:
		h.profile = moderate
	default:
		h.profile = escalating
	}
	for range 1 + g.rng.IntN(2) {
		g.idSeq++
		h.adults = append(h.adults, &person{
			name: firstNames[g.rng.IntN(len(firstNames))] + " " + h.surname,
			dob:  g.start.AddDate(-20-g.rng.IntN(20), -g.rng.IntN(12), -g.rng.IntN(28)),
			nhs:  g.nhsNumber(),
		})
	}
	for i := range n {
		g.idSeq++
		age := 1 + g.rng.IntN(15)
		c := &person{
			name:    firstNames[g.rng.IntN(len(firstNames))] + " " + h.surname,
			dob:     g.start.AddDate(-age, -g.rng.IntN(12), -g.rng.IntN(28)).Truncate(24 * time.Hour),
			nhs:     g.nhsNumber(),
			la:      fmt.Sprintf("LA-%06d", g.idSeq),
			knownBy: map[string]bool{},
		}
		// One child in a few hundred is unborn when the story starts: the
		// pre-birth work of an unborn child protection plan.
		if i == 0 && h.profile == escalating && g.chance(0.06) {
			c.unborn, c.mother = true, h.adults[0]
			c.edd = g.between(g.start.AddDate(0, 4, 0), g.start.AddDate(1, 0, 0)).Truncate(24 * time.Hour)
			c.dob = c.edd.AddDate(0, 0, g.rng.IntN(14)-7)
		}
		if c.dob.AddDate(4, 0, 0).Before(g.end) {
			c.upn = g.upn(c.dob)
		}
		h.children = append(h.children, c)
	}
	return h
}

// subject is how an agency identifies a child on its events: each agency
// keys its records by its own number, which is what identity resolution
// has to join.
func (g *gen) subject(c *person, agency string, at time.Time) events.Subject {
	if c.unborn && at.Before(c.dob) {
		return events.Subject{Kind: "unborn", ExpectedDeliveryDate: events.Date(c.edd.Format(time.DateOnly)),
			Mother: &events.Identifiers{NHSNumber: c.mother.nhs}}
	}
	s := events.Subject{Kind: "child", Name: c.name, DateOfBirth: events.Date(c.dob.Format(time.DateOnly))}
	switch agency {
	case "health":
		s.Identifiers.NHSNumber = c.nhs
	case "education":
		s.Identifiers.UPN = c.upn
		if c.upn == "" || g.chance(0.4) {
			s.Identifiers.NHSNumber = c.nhs
		}
	case "police":
		if c.police == "" {
			g.idSeq++
			c.police = fmt.Sprintf("PP-%05d", g.idSeq)
		}
		s.Identifiers.PolicePersonID = c.police
	case "youth_justice":
		s.Identifiers.LAPersonID = c.la
		if c.police != "" {
			s.Identifiers.PolicePersonID = c.police
		}
	case "housing", "voluntary":
		s.Identifiers.LAPersonID = c.la
	case "hub":
		s.Identifiers.NHSNumber, s.Identifiers.LAPersonID = c.nhs, c.la
		if c.knownBy["education"] {
			s.Identifiers.UPN = c.upn
		}
		if c.knownBy["police"] && !c.knownBy["police-unlinked"] {
			s.Identifiers.PolicePersonID = c.police
		}
	default: // social_care, early_help
		s.Identifiers.LAPersonID, s.Identifiers.NHSNumber = c.la, c.nhs
	}
	c.knownBy[agency] = true
	return s
}

func adultSubject(a *person, role string) events.Subject {
	return events.Subject{Kind: "adult", Role: role, Name: a.name, DateOfBirth: events.Date(a.dob.Format(time.DateOnly)),
		Identifiers: events.Identifiers{NHSNumber: a.nhs}}
}

var sourceSystems = map[string]string{
	"police": "niche-rms", "health": "systmone", "education": "sims", "social_care": "mosaic", "early_help": "ehm",
	"housing": "northgate", "youth_justice": "childview", "voluntary": "partner-portal", "hub": "chronicle-mash", "probation": "ndelius",
}

// opts are the envelope choices that vary by event.
type opts struct {
	sensitivity, reliability string
	adults                   []events.Subject
}

// emit records one event about children at time at, unless it falls after
// the end of the history.
func (g *gen) emit(t events.Type, agency string, at time.Time, children []*person, body events.Payload, summary string, o opts) *events.Event {
	if at.After(g.end) || at.Before(g.start.AddDate(0, 0, -1)) {
		return nil
	}
	spec, _ := events.Lookup(t)
	g.refSeq++
	e := &events.Event{
		Type: t, SchemaVersion: spec.Version, Agency: agency,
		SourceSystem: sourceSystems[agency], SourceRef: fmt.Sprintf("%s-%07d", agency[:3], g.refSeq),
		OccurredAt: at, Sensitivity: o.sensitivity, Reliability: o.reliability, Summary: summary, Body: body,
	}
	if e.Sensitivity == "" {
		e.Sensitivity = "standard"
		if (agency == "health" && g.chance(0.15)) || (agency == "police" && g.chance(0.2)) {
			e.Sensitivity = "restricted"
		}
	}
	if e.Reliability == "" {
		e.Reliability = "direct"
		if g.chance(0.12) {
			e.Reliability = "reported"
		}
	}
	delay := time.Duration(g.rng.IntN(72*60)) * time.Minute
	if g.chance(0.1) {
		delay += time.Duration(g.rng.IntN(20)) * 24 * time.Hour // late data entry
	}
	e.RecordedAt = at.Add(delay)
	if e.RecordedAt.After(g.end) {
		e.RecordedAt = g.end
	}
	for _, c := range children {
		e.Subjects = append(e.Subjects, g.subject(c, agency, at))
	}
	e.Subjects = append(e.Subjects, o.adults...)
	// Payload structs hold only strings, numbers and lists, which always
	// encode; the tests validate every event generated.
	e.Payload, _ = json.Marshal(body)
	e.ID = events.DeriveID(e)
	keys := make([]string, len(children))
	for i, c := range children {
		keys[i] = c.la
	}
	g.out.add(e, keys)
	return e
}

// day returns a working-hours time on a random day in [from, to].
func (g *gen) day(from, to time.Time) time.Time {
	t := g.between(from, to)
	return time.Date(t.Year(), t.Month(), t.Day(), 8+g.rng.IntN(10), g.rng.IntN(60), 0, 0, time.UTC)
}
