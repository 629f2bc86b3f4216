package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// figure is one measurement: a rate, a time, a size per event, or a
// latency (value is then the p99 and p50 the median, both in ms).
type figure struct {
	value, p50 float64
	// note says what else a reader needs: the entries on a page, how far
	// behind, or why the figure is missing or partial.
	note string
	ok   bool
	// cut: the measurement was stopped part-way (its stage ran out of
	// time or failed), so the figure rests on less than planned.
	cut bool
}

// results are the figures of one run, by key.
type results map[string]figure

// rate records n events in d; err says the measurement stopped part-way.
func (r results) rate(key string, n int, d time.Duration, note string, err error) {
	if d <= 0 || n <= 0 {
		r.missing(key, note)
		return
	}
	r[key] = figure{value: float64(n) / d.Seconds(), note: note, ok: true, cut: err != nil}
}

// latency records the p50 and p99 of l; err says the measurement stopped
// part-way.
func (r results) latency(key string, l latencies, note string, err error) {
	if len(l) == 0 {
		r.missing(key, note)
		return
	}
	r[key] = figure{value: ms(l.percentile(99)), p50: ms(l.percentile(50)), note: strings.TrimPrefix(note+fmt.Sprintf("; %d samples", len(l)), "; "), ok: true, cut: err != nil}
}

// set records a plain value.
func (r results) set(key string, v float64, note string) {
	r[key] = figure{value: v, note: note, ok: true}
}

// missing records why there is no figure for key, unless it has one.
func (r results) missing(key, why string) {
	if f, ok := r[key]; ok && f.ok {
		return
	}
	r[key] = figure{note: why}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Units of the figures.
const (
	unitRate    = "events/s"
	unitMS      = "ms"
	unitSeconds = "s"
	unitPerEv   = "B/event"
)

// target is one of issue 12's targets for a row: a bound on the figure
// itself, or on its ratio to one particular baseline.
type target struct {
	text     string
	atMost   float64 // the figure must be below this
	minRatio float64 // the ratio to base must be at least this
	maxRatio float64 // the ratio to base must be at most this
	base     string  // the baseline a ratio target is against
}

// rowSpec describes one row of the table.
type rowSpec struct {
	key, name, unit string
	fig             string   // the figure shown, when not key's own
	bases           []string // baseline figures, the first measured one is used
	targets         []target
	peer            bool // a PostgreSQL figure: shown only with --peer postgres
	cluster         bool // a three-node figure: shown only with --cluster3
}

// specs are the rows of the table, in order: Chronicle's figures, each with
// its baseline and issue 12's targets, then the baselines themselves.
var specs = []rowSpec{
	{key: "chronicle.import.relaxed", name: "Chronicle import, serve projecting, --no-sync-always", unit: unitRate,
		bases: []string{"raw.publish.interval"}, targets: []target{{text: "≥ 0.60× raw", minRatio: 0.60, base: "raw.publish.interval"}}},
	{key: "chronicle.lag.relaxed", name: "projector behind when that import ends", unit: unitSeconds,
		targets: []target{{text: "≤ 5 s", atMost: 5}}},
	{key: "chronicle.import.durable", name: "Chronicle import, serve projecting, sync always (default)", unit: unitRate,
		bases: []string{"raw.publish.always"}},
	{key: "chronicle.import.durable.vs-pg", fig: "chronicle.import.durable", name: "Chronicle durable import against PostgreSQL's durable batched insert", unit: unitRate,
		bases: []string{"pg.insert.sync"}, targets: []target{{text: "≥ 1.00× PostgreSQL", minRatio: 1, base: "pg.insert.sync"}}},
	{key: "chronicle.lag.durable", name: "projector behind when that import ends", unit: unitSeconds,
		targets: []target{{text: "≤ 5 s", atMost: 5}}},
	{key: "chronicle.replay", name: "full replay, fresh projector over the stream", unit: unitRate,
		bases: []string{"raw.drain"}, targets: []target{{text: "≥ 0.50× raw", minRatio: 0.50, base: "raw.drain"}}},
	{key: "chronicle.shutdown", name: "shutdown (final snapshot)", unit: unitSeconds,
		targets: []target{{text: "≤ 5 s", atMost: 5}}},
	{key: "chronicle.ready", name: "ready after restart with snapshot", unit: unitSeconds,
		targets: []target{{text: "< 3 s", atMost: 3}}},
	{key: "chronicle.looked", name: "every child's flags evaluated after restart (the alerter's first look; reads are timed after it)", unit: unitSeconds},
	{key: "chronicle.rss", name: "resident memory after catch-up (RSS)", unit: unitPerEv,
		targets: []target{{text: "≤ 512 B/event", atMost: 512}}},
	{key: "chronicle.heap", name: "live heap after catch-up and GC", unit: unitPerEv},
	{key: "chronicle.page100", name: "chronology page of 100, biggest child, HTTP", unit: unitMS,
		bases: []string{"pg.page100", "raw.get100"}, targets: []target{{text: "p99 < 10 ms", atMost: 10}, {text: "≤ 5× PostgreSQL", maxRatio: 5, base: "pg.page100"}}},
	{key: "chronicle.page100x8", name: "chronology page of 100, 8 concurrent clients", unit: unitMS,
		bases: []string{"pg.page100x8", "raw.get100x8"}, targets: []target{{text: "p99 < 25 ms", atMost: 25}}},
	{key: "chronicle.page1000", name: "chronology page of 1,000, biggest child, HTTP", unit: unitMS,
		bases: []string{"pg.page1000", "raw.get1000"}, targets: []target{{text: "p99 < 40 ms", atMost: 40}}},
	{key: "chronicle.page1000x8", name: "chronology page of 1,000, 8 concurrent clients", unit: unitMS,
		bases: []string{"pg.page1000x8", "raw.get1000x8"}},
	{key: "chronicle.flagged", name: "flaggedChildren(first: 50), repeated", unit: unitMS,
		targets: []target{{text: "p99 < 50 ms", atMost: 50}}},
	{key: "chronicle.flagged.after", name: "flaggedChildren(first: 50), right after a new event", unit: unitMS,
		targets: []target{{text: "p99 < 50 ms", atMost: 50}}},
	{key: "chronicle.annexa", name: "Annex A lists for a year, GET /v1/export/annex-a", unit: unitMS,
		targets: []target{{text: "p99 < 10 s", atMost: 10000}}},
	{key: "chronicle.statstats", name: "statutoryStatistics(period: QUARTER), whole history", unit: unitMS,
		targets: []target{{text: "p99 < 50 ms", atMost: 50}}},

	{key: "r3.import", name: "Chronicle import on a three-node cluster, R3, serve projecting", unit: unitRate,
		bases: []string{"r1.import"}, cluster: true},
	{key: "r3.lag", name: "projector behind when that import ends", unit: unitSeconds, cluster: true},
	{key: "r3.replay", name: "full replay from a three-node cluster, R3", unit: unitRate,
		bases: []string{"r1.replay"}, cluster: true},
	{key: "r1.import", name: "the same import on one node, --no-sync-always, in turn with R3", unit: unitRate, cluster: true},
	{key: "r1.lag", name: "projector behind when that import ends", unit: unitSeconds, cluster: true},
	{key: "r1.replay", name: "full replay from one node, in turn with R3", unit: unitRate, cluster: true},

	{key: "raw.publish.interval", name: "raw JetStream async publish, sync interval", unit: unitRate},
	{key: "raw.publish.always", name: "raw JetStream async publish, sync always", unit: unitRate},
	{key: "raw.drain", name: "raw JetStream ordered-consumer drain", unit: unitRate},
	{key: "raw.get100", name: "raw JetStream direct get of the child's first 100 messages", unit: unitMS},
	{key: "raw.get100x8", name: "raw JetStream direct get of 100, 8 concurrent clients", unit: unitMS},
	{key: "raw.get1000", name: "raw JetStream direct get of the child's first 1,000 messages", unit: unitMS},
	{key: "raw.get1000x8", name: "raw JetStream direct get of 1,000, 8 concurrent clients", unit: unitMS},

	{key: "pg.copy", name: "PostgreSQL COPY", unit: unitRate, peer: true},
	{key: "pg.insert.sync", name: "PostgreSQL INSERT … ON CONFLICT, 1,000 rows/txn, synchronous_commit on", unit: unitRate, peer: true},
	{key: "pg.insert.async", name: "PostgreSQL INSERT … ON CONFLICT, 1,000 rows/txn, synchronous_commit off", unit: unitRate, peer: true},
	{key: "pg.page100", name: "PostgreSQL page of 100, biggest child", unit: unitMS, peer: true},
	{key: "pg.page100x8", name: "PostgreSQL page of 100, 8 concurrent clients", unit: unitMS, peer: true},
	{key: "pg.page1000", name: "PostgreSQL page of 1,000, biggest child", unit: unitMS, peer: true},
	{key: "pg.page1000x8", name: "PostgreSQL page of 1,000, 8 concurrent clients", unit: unitMS, peer: true},
}

// Row is one line of the table, as written to JSON.
type Row struct {
	Key      string    `json:"key"`
	Name     string    `json:"name"`
	Unit     string    `json:"unit"`
	Measured bool      `json:"measured"`
	Value    float64   `json:"value"`         // for latencies the p99
	P50      float64   `json:"p50,omitempty"` // latencies only
	Baseline *Baseline `json:"baseline,omitempty"`
	// Ratio is the figure divided by the baseline's: a fraction of its
	// rate, or a multiple of its latency.
	Ratio   float64   `json:"ratio,omitempty"`
	Targets []Verdict `json:"targets,omitempty"`
	Note    string    `json:"note,omitempty"`
}

// Baseline is the figure a row is compared with.
type Baseline struct {
	Key   string  `json:"key"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Verdict is a row's standing against one target.
type Verdict struct {
	Target string `json:"target"`
	// Met is nil when the target could not be judged (no figure, or not
	// the baseline it is against).
	Met    *bool  `json:"met"`
	Detail string `json:"detail"`
}

// buildRows turns the figures into the table's rows; peer says whether the
// PostgreSQL rows belong in it, cluster3 whether the three-node ones do.
func buildRows(res results, peer, cluster3 bool) []Row {
	names := map[string]rowSpec{}
	for _, s := range specs {
		names[s.key] = s
	}
	var out []Row
	for _, s := range specs {
		if (s.peer && !peer) || (s.cluster && !cluster3) {
			continue
		}
		fig := s.fig
		if fig == "" {
			fig = s.key
		}
		f := res[fig]
		if _, ok := res[fig]; !ok {
			f.note = "not measured"
		}
		row := Row{Key: s.key, Name: s.name, Unit: s.unit, Measured: f.ok, Value: f.value, P50: f.p50, Note: f.note}
		for _, b := range s.bases {
			if bf := res[b]; bf.ok && bf.value > 0 {
				row.Baseline = &Baseline{Key: b, Name: names[b].name, Value: bf.value, Unit: names[b].unit}
				if f.ok {
					row.Ratio = f.value / bf.value
				}
				break
			}
		}
		for _, t := range s.targets {
			row.Targets = append(row.Targets, judge(t, row))
		}
		out = append(out, row)
	}
	return out
}

// judge says whether row meets t, and by how much it misses.
func judge(t target, row Row) Verdict {
	v := Verdict{Target: t.text}
	verdict := func(met bool, detail string) Verdict {
		v.Met, v.Detail = &met, detail
		return v
	}
	if !row.Measured {
		v.Detail = "not measured"
		return v
	}
	if t.atMost > 0 {
		if row.Value <= t.atMost {
			return verdict(true, "met")
		}
		return verdict(false, fmt.Sprintf("missed: %s, %s the limit", amount(row.Value, row.Unit), times(row.Value/t.atMost)))
	}
	if row.Baseline == nil || row.Baseline.Key != t.base {
		v.Detail = "no baseline"
		if strings.HasPrefix(t.base, "pg.") {
			v.Detail = "no baseline: run with --peer postgres"
		}
		return v
	}
	switch {
	case t.minRatio > 0 && row.Ratio >= t.minRatio, t.maxRatio > 0 && row.Ratio <= t.maxRatio:
		return verdict(true, "met")
	case t.minRatio > 0:
		return verdict(false, fmt.Sprintf("missed: %s, needs %s more", ratio(row.Ratio), times(t.minRatio/row.Ratio)))
	default:
		return verdict(false, fmt.Sprintf("missed: %s, %s the limit", ratio(row.Ratio), times(row.Ratio/t.maxRatio)))
	}
}

// amount formats a figure with its unit.
func amount(v float64, unit string) string {
	switch unit {
	case unitRate, unitPerEv:
		return group(int64(math.Round(v))) + " " + unit
	case unitMS:
		return decimal(v) + " ms"
	case unitSeconds:
		return decimal(v) + " s"
	}
	return decimal(v) + " " + unit
}

// decimal shows three significant figures or so.
func decimal(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return group(int64(math.Round(v)))
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

func ratio(r float64) string { return decimal(r) + "×" }

func times(r float64) string { return decimal(r) + "×" }

// group writes an integer with thousands separators.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Machine describes where the figures were measured.
type Machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	MemoryGiB  float64 `json:"memory_gib"`
	Kernel     string  `json:"kernel"`
	Go         string  `json:"go"`
	NATSServer string  `json:"nats_server"`
	PostgreSQL string  `json:"postgresql,omitempty"`
	Date       string  `json:"date"`
	// LoadBefore and LoadAfter are the load averages when the run started
	// and ended: other work on the machine skews every figure.
	LoadBefore string `json:"load_before"`
	LoadAfter  string `json:"load_after"`
}

func describeMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), NATSServer: server.VERSION, Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = procField(b, "model name")
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField(b, "MemTotal"), " kB"), 64); err == nil {
			m.MemoryGiB = math.Round(kb/(1<<20)*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	}
	return m
}

// procField is the value of the first "name: value" line in a /proc file.
func procField(b []byte, name string) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// Data describes the data set.
type Data struct {
	Seed     int64  `json:"seed"`
	Events   int    `json:"events"`
	Bytes    int64  `json:"bytes"`
	Children int    `json:"children"`
	Child    string `json:"biggest_child"`
	// ChildEvents is how many events are about the biggest child: the
	// pages measured hold up to 100 and 1,000 of them.
	ChildEvents int `json:"biggest_child_events"`
}

// Report is everything one run measured.
type Report struct {
	Machine      Machine `json:"machine"`
	Data         Data    `json:"data"`
	Peer         string  `json:"peer,omitempty"`
	StageTimeout string  `json:"stage_timeout"`
	Rows         []Row   `json:"rows"`
	WallSeconds  float64 `json:"wall_seconds"`
}

// writeTable prints the report as a Markdown table with the machine and the
// data set above it.
func (r *Report) writeTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "Chronicle benchmark: %s events (%s MB) about %s children; biggest child %s events; seed %d\n",
		group(int64(r.Data.Events)), group(r.Data.Bytes>>20), group(int64(r.Data.Children)), group(int64(r.Data.ChildEvents)), r.Data.Seed)
	fmt.Fprintf(w, "Machine: %s, %d cores, %.1f GiB, %s; %s, nats-server %s", m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go, m.NATSServer)
	if m.PostgreSQL != "" {
		fmt.Fprintf(w, ", %s", m.PostgreSQL)
	}
	fmt.Fprintf(w, "; %s; load %s before, %s after\n\n", m.Date, m.LoadBefore, m.LoadAfter)
	fmt.Fprintln(w, "| measure | figure | baseline | ratio | target | verdict | notes |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, row := range r.Rows {
		fig := "—"
		if row.Measured {
			fig = amount(row.Value, row.Unit)
			if row.Unit == unitMS {
				fig = "p99 " + fig + ", p50 " + decimal(row.P50)
			}
		}
		base, rat := "", ""
		if row.Baseline != nil {
			base = row.Baseline.Name + ": " + amount(row.Baseline.Value, row.Baseline.Unit)
			if row.Measured {
				rat = ratio(row.Ratio)
			}
		}
		var targets, verdicts []string
		for _, v := range row.Targets {
			targets = append(targets, v.Target)
			verdicts = append(verdicts, v.Detail)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", row.Name, fig, base, rat, strings.Join(targets, "; "), strings.Join(verdicts, "; "), row.Note)
	}
	fmt.Fprintf(w, "\nWall time %s; each stage limited to %s.\n", (time.Duration(r.WallSeconds * float64(time.Second))).Round(time.Second), r.StageTimeout)
}
