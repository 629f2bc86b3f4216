package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// The whole bench on a tiny data set, through the command line, with the
// three-node stage: every row of the table is there with a positive figure, in the table and in the
// JSON, and the run leaves nothing behind. This is what keeps the harness
// from rotting while nobody runs it at a million events.
func TestWholeBenchOnATinyDataSet(t *testing.T) {
	dir, jsonPath := t.TempDir(), filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	code := cli(context.Background(), []string{"--events", "2000", "--samples", "8", "--dir", dir, "--json", jsonPath, "--cluster3", "--cluster3-rounds", "1"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout.String(), stderr.String())
	}
	var rep Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Data.Events < 1800 || rep.Data.Events > 2200 || rep.Data.ChildEvents < 20 || rep.Data.Children < 50 {
		t.Errorf("data set: %+v", rep.Data)
	}
	if rep.Machine.Cores == 0 || rep.Machine.Go == "" || rep.Machine.NATSServer == "" || rep.Machine.Date == "" {
		t.Errorf("machine: %+v", rep.Machine)
	}
	var want []string
	for _, s := range specs {
		if !s.peer {
			want = append(want, s.key)
		}
	}
	var got []string
	table := stdout.String()
	for _, row := range rep.Rows {
		got = append(got, row.Key)
		if !row.Measured || row.Value <= 0 || (row.Unit == unitMS && row.P50 <= 0) {
			t.Errorf("%s: measured %v, value %v, p50 %v, note %q", row.Key, row.Measured, row.Value, row.P50, row.Note)
		}
		if !strings.Contains(table, "| "+row.Name+" | "+amountOrLatency(row)) {
			t.Errorf("%s is not in the table as %q", row.Key, amountOrLatency(row))
		}
		for _, v := range row.Targets {
			if v.Met == nil && !strings.Contains(v.Detail, "--peer postgres") {
				t.Errorf("%s: target %s not judged: %s", row.Key, v.Target, v.Detail)
			}
		}
		if strings.HasPrefix(row.Key, "chronicle.") && len(specOf(row.Key).bases) > 0 && !strings.HasSuffix(row.Key, "vs-pg") &&
			(row.Baseline == nil || row.Ratio <= 0 || !strings.HasPrefix(row.Baseline.Key, "raw.")) {
			t.Errorf("%s: baseline %+v, ratio %v", row.Key, row.Baseline, row.Ratio)
		}
		// The three-node figures are against one node's.
		if strings.HasPrefix(row.Key, "r3.") && len(specOf(row.Key).bases) > 0 &&
			(row.Baseline == nil || row.Ratio <= 0 || !strings.HasPrefix(row.Baseline.Key, "r1.")) {
			t.Errorf("%s: baseline %+v, ratio %v", row.Key, row.Baseline, row.Ratio)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if left, _ := os.ReadDir(dir); len(left) > 0 {
		t.Errorf("left behind in %s: %v", dir, left)
	}
}

func amountOrLatency(row Row) string {
	if row.Unit == unitMS {
		return "p99 " + amount(row.Value, row.Unit)
	}
	return amount(row.Value, row.Unit)
}

func specOf(key string) rowSpec {
	for _, s := range specs {
		if s.key == key {
			return s
		}
	}
	return rowSpec{}
}

// The PostgreSQL peer: started as an ordinary user on a loopback port,
// loaded three ways, paged, and stopped with its directory gone. Skipped
// where the server binaries are not installed.
func TestPostgresPeer(t *testing.T) {
	bin, err := findPostgres("")
	if errors.Is(err, errNoPostgres) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ds, err := generate(ctx, t.TempDir(), 600, 3)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := startPostgres(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			pg.stop()
		}
	})
	if !strings.Contains(pg.Version, "PostgreSQL") {
		t.Errorf("version %q", pg.Version)
	}
	b := &bench{o: options{Samples: 8}, s: options{Samples: 8}.samples(), ds: ds, res: results{}}
	if err := b.peer(ctx, pg); err != nil {
		t.Fatal(err)
	}
	rowsWritten := ""
	for _, k := range []string{"pg.copy", "pg.insert.sync", "pg.insert.async", "pg.page100", "pg.page100x8", "pg.page1000", "pg.page1000x8"} {
		f := b.res[k]
		if !f.ok || f.value <= 0 {
			t.Errorf("%s: %+v", k, f)
		}
		if strings.HasPrefix(k, "pg.copy") || strings.HasPrefix(k, "pg.insert") {
			if rowsWritten == "" {
				rowsWritten = f.note
			} else if f.note != rowsWritten {
				t.Errorf("%s wrote %s, COPY wrote %s", k, f.note, rowsWritten)
			}
		}
	}
	if want := fmt.Sprintf("%d entries", min(100, ds.ChildEvents)); !strings.HasPrefix(b.res["pg.page100"].note, want) {
		t.Errorf("page of 100: %s, want %s", b.res["pg.page100"].note, want)
	}
	c, err := pg.connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The same events again change nothing: the key is (child, id).
	var before, after int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, pgInsertSQL, []string{ds.Child}, []string{"00000000-0000-7000-8000-000000000000"}, []time.Time{time.Now()}, []string{"x"}, []string{"y"}, []string{"{}"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, pgInsertSQL, []string{ds.Child}, []string{"00000000-0000-7000-8000-000000000000"}, []time.Time{time.Now()}, []string{"x"}, []string{"y"}, []string{"{}"}); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&after); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if after != before+1 {
		t.Errorf("%d rows, then %d after inserting one row twice", before, after)
	}
	stopped = true
	if err := pg.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pg.dir); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", pg.dir, err)
	}
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(pg.port)); err == nil {
		conn.Close()
		t.Errorf("port %d still open after stop", pg.port)
	}
}

func TestFindPostgresNamesWhatIsMissing(t *testing.T) {
	_, err := findPostgres(t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--pg-bin") {
		t.Fatalf("got %v", err)
	}
}

func TestPercentile(t *testing.T) {
	var hundred latencies
	for i := 100; i >= 1; i-- {
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		name string
		l    latencies
		p    float64
		want time.Duration
	}{
		{"median of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the largest", hundred, 100, 100 * time.Millisecond},
		{"one sample", latencies{7}, 99, 7},
		{"no samples", nil, 99, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.l.percentile(tc.p); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConcurrentStopsAtTheFirstError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	l, err := concurrent(context.Background(), 1, 10, func(context.Context, int) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || len(l) != 2 {
		t.Fatalf("%d latencies, %v", len(l), err)
	}
	l, err = concurrent(context.Background(), 4, 3, func(_ context.Context, c int) error {
		if c < 0 || c >= 4 {
			return fmt.Errorf("client %d", c)
		}
		return nil
	})
	if err != nil || len(l) != 12 {
		t.Fatalf("%d latencies, %v", len(l), err)
	}
}

func TestJudge(t *testing.T) {
	measured := func(v, ratio float64, base string) Row {
		r := Row{Measured: true, Value: v, Unit: unitMS, Ratio: ratio}
		if base != "" {
			r.Baseline = &Baseline{Key: base, Value: 1}
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		t      target
		row    Row
		met    string // "yes", "no" or "" for not judged
		detail string
	}{
		{"under a limit", target{atMost: 10}, measured(9.5, 0, ""), "yes", "met"},
		{"over a limit, by how much", target{atMost: 10}, measured(59, 0, ""), "no", "missed: 59.0 ms, 5.90× the limit"},
		{"ratio reached", target{minRatio: 0.6, base: "raw.x"}, measured(1, 0.75, "raw.x"), "yes", "met"},
		{"ratio short, by how much", target{minRatio: 0.6, base: "raw.x"}, measured(1, 0.03, "raw.x"), "no", "missed: 0.030×, needs 20.0× more"},
		{"within a multiple", target{maxRatio: 5, base: "pg.y"}, measured(1, 4, "pg.y"), "yes", "met"},
		{"beyond a multiple", target{maxRatio: 5, base: "pg.y"}, measured(1, 50, "pg.y"), "no", "missed: 50.0×, 10.0× the limit"},
		{"against another baseline", target{maxRatio: 5, base: "pg.y"}, measured(1, 2, "raw.z"), "", "no baseline: run with --peer postgres"},
		{"no figure", target{atMost: 10}, Row{}, "", "not measured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := judge(tc.t, tc.row)
			met := ""
			if v.Met != nil {
				met = map[bool]string{true: "yes", false: "no"}[*v.Met]
			}
			if met != tc.met || v.Detail != tc.detail {
				t.Fatalf("met %q %q, want %q %q", met, v.Detail, tc.met, tc.detail)
			}
		})
	}
}

func TestBuildRows(t *testing.T) {
	res := results{}
	res.rate("raw.publish.always", 1000, time.Second, "", nil)
	res.rate("chronicle.import.durable", 500, time.Second, "", nil)
	res.latency("raw.get100", latencies{time.Millisecond}, "", nil)
	res.latency("chronicle.page100", latencies{20 * time.Millisecond}, "", nil)
	res.missing("chronicle.replay", "timed out after 1s")
	rows := map[string]Row{}
	for _, r := range buildRows(res, false, false) {
		rows[r.Key] = r
	}
	if _, ok := rows["pg.copy"]; ok {
		t.Error("PostgreSQL rows without --peer")
	}
	if r := rows["chronicle.import.durable"]; r.Ratio != 0.5 || r.Baseline.Key != "raw.publish.always" {
		t.Errorf("durable import: %+v", r)
	}
	if r := rows["chronicle.import.durable.vs-pg"]; r.Value != 500 || r.Baseline != nil || r.Targets[0].Met != nil {
		t.Errorf("durable import against PostgreSQL without a peer: %+v", r)
	}
	if r := rows["chronicle.page100"]; r.Baseline.Key != "raw.get100" || r.Ratio != 20 || *r.Targets[0].Met || r.Targets[1].Met != nil {
		t.Errorf("page falls back to the raw baseline, and the PostgreSQL target is not judged: %+v", r)
	}
	if r := rows["chronicle.replay"]; r.Measured || r.Note != "timed out after 1s" {
		t.Errorf("timed out row: %+v", r)
	}
	if r := rows["chronicle.flagged"]; r.Measured || r.Note != "not measured" {
		t.Errorf("missing row: %+v", r)
	}
	res.rate("pg.insert.sync", 250, time.Second, "", nil)
	for _, r := range buildRows(res, true, false) {
		if r.Key == "chronicle.import.durable.vs-pg" && (r.Ratio != 2 || !*r.Targets[0].Met) {
			t.Errorf("durable import against PostgreSQL: %+v", r)
		}
	}
}

// A stage that runs out of time is a result in the table, not a hang or a
// failure; one that fails is a failure; either way what it measured stays.
func TestStageTimeoutsAndFailures(t *testing.T) {
	b := &bench{o: options{StageTimeout: 20 * time.Millisecond}, res: results{}, out: io.Discard}
	b.stage(context.Background(), "slow", []string{"whole", "a", "b"}, func(ctx context.Context) error {
		b.res.latency("whole", latencies{time.Millisecond}, "", nil)
		<-ctx.Done()
		b.res.latency("a", latencies{time.Millisecond}, "", ctx.Err())
		return fmt.Errorf("waiting: %w", ctx.Err())
	})
	if f := b.res["whole"]; !f.ok || f.note != "1 samples" {
		t.Errorf("a figure measured in full before the time ran out: %+v", f)
	}
	if f := b.res["a"]; !f.ok || f.note != "timed out after 20ms; 1 samples" {
		t.Errorf("partial figure: %+v", f)
	}
	if f := b.res["b"]; f.ok || f.note != "timed out after 20ms" {
		t.Errorf("missing figure: %+v", f)
	}
	if len(b.failed) != 0 {
		t.Errorf("a timeout counted as a failure: %v", b.failed)
	}
	b.stage(context.Background(), "broken", []string{"c"}, func(context.Context) error { return errors.New("no server") })
	if f := b.res["c"]; f.ok || f.note != "failed: no server" || len(b.failed) != 1 {
		t.Errorf("failed stage: %+v %v", f, b.failed)
	}
}

// --skip-durable leaves out the stages that fsync every event, saying so
// in their rows, and runs the rest.
func TestSkipDurable(t *testing.T) {
	b := &bench{o: options{StageTimeout: time.Minute, SkipDurable: true}, res: results{}, out: io.Discard}
	ran := 0
	for _, name := range []string{"raw JetStream, sync always: publish", "Chronicle: import, sync always, serve projecting", "Chronicle: import, --no-sync-always, serve projecting"} {
		b.stage(context.Background(), name, []string{name}, func(context.Context) error { ran++; return nil })
	}
	if ran != 1 {
		t.Errorf("%d stages ran, want the relaxed one only", ran)
	}
	if f := b.res["raw JetStream, sync always: publish"]; f.ok || f.note != "skipped (--skip-durable)" {
		t.Errorf("skipped stage: %+v", f)
	}
}

func TestPartialRates(t *testing.T) {
	res := results{}
	res.rate("whole", 1000, time.Second, partly(1000, 1000), nil)
	res.rate("part", 250, time.Second, partly(250, 1000), nil)
	res.rate("none", 0, time.Second, partly(0, 1000), nil)
	if f := res["whole"]; !f.ok || f.value != 1000 || f.note != "" {
		t.Errorf("whole: %+v", f)
	}
	if f := res["part"]; !f.ok || f.value != 250 || f.note != "over the first 250 of 1,000 events" {
		t.Errorf("part: %+v", f)
	}
	if f := res["none"]; f.ok {
		t.Errorf("nothing published is not a rate: %+v", f)
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"too few events", []string{"--events", "10"}, "--events 10: at least 100"},
		{"unknown peer", []string{"--peer", "mysql"}, `--peer "mysql": the only peer is postgres`},
		{"no time", []string{"--stage-timeout", "0s"}, "--stage-timeout 0s: must be positive"},
		{"too few samples", []string{"--samples", "2"}, "--samples 2: at least 8"},
		{"not a flag", []string{"--fast"}, "flag provided but not defined: -fast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cli(context.Background(), tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() > 0 {
				t.Fatalf("exit %d, stderr %q, stdout %q", code, stderr.String(), stdout.String())
			}
		})
	}
}

func TestVMRSS(t *testing.T) {
	for _, tc := range []struct {
		name, status string
		want         uint64
		err          string
	}{
		{"kilobytes", "Name:\tbench\nVmRSS:\t  123456 kB\nThreads: 9\n", 123456 << 10, ""},
		{"no line", "Name:\tbench\n", 0, "no VmRSS"},
		{"other unit", "VmRSS:\t12 MB\n", 0, `VmRSS line "VmRSS:\t12 MB"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := vmRSS([]byte(tc.status))
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("%d %v", got, err)
			}
		})
	}
	rss, heap, breakdown, err := memory()
	if err != nil || rss == 0 || heap == 0 || heap > rss {
		t.Fatalf("this process: rss %d heap %d %v", rss, heap, err)
	}
	for _, part := range []string{"heap spans in use", "stacks", "runtime metadata", "outside the Go runtime"} {
		if !strings.Contains(breakdown, part) {
			t.Errorf("the breakdown %q does not say %s", breakdown, part)
		}
	}
}

func TestParseRouteRejectsBadLines(t *testing.T) {
	good := route{Subject: events.SubjectFor("police", "missing.reported"), ID: "0190", OccurredAt: time.Unix(0, 42).UTC(), Children: []string{"LA-1", "LA-2"}}
	r, err := parseRoute(good.String())
	if err != nil || r.Agency != "police" || r.Type != "missing.reported" || !r.OccurredAt.Equal(good.OccurredAt) || !slices.Equal(r.Children, good.Children) {
		t.Fatalf("%+v %v", r, err)
	}
	for _, tc := range []struct{ name, line, want string }{
		{"too few fields", "a b c", "want 4 fields"},
		{"bad time", "chronicle.events.police.x id soon LA-1", "occurred_at"},
		{"not an event subject", "other.subject id 1 LA-1", "not an event subject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseRoute(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v", err)
			}
		})
	}
}

// The generated data set: the long history is valid, interleaved in
// recorded order and the biggest child; both files agree line for line,
// and a damaged routes file is reported, not misread.
func TestGenerate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ds, err := generate(ctx, dir, 20000, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ds.Events < 18000 || ds.Events > 22000 || ds.Child != longChild.LAPersonID || ds.ChildEvents != longHistory(20000) {
		t.Fatalf("%+v", ds)
	}
	n, long := 0, 0
	var last time.Time
	err = ds.each(ctx, func(raw []byte, rt route) error {
		n++
		e, err := events.Check(raw, time.Now())
		if err != nil {
			return fmt.Errorf("line %d: %w", n, err)
		}
		if e.ID != rt.ID || events.SubjectFor(e.Agency, e.Type) != rt.Subject || !e.OccurredAt.Equal(rt.OccurredAt) {
			return fmt.Errorf("line %d: route %+v for %s", n, rt, raw)
		}
		if e.RecordedAt.Before(last) {
			return fmt.Errorf("line %d: recorded %v before the line above (%v)", n, e.RecordedAt, last)
		}
		last = e.RecordedAt
		if slices.Contains(rt.Children, ds.Child) {
			long++
		}
		return nil
	})
	if err != nil || n != ds.Events || long != ds.ChildEvents {
		t.Fatalf("%d lines (want %d), %d about the long child (want %d): %v", n, ds.Events, long, ds.ChildEvents, err)
	}
	routes, err := os.ReadFile(ds.Routes)
	if err != nil {
		t.Fatal(err)
	}
	half := bytes.LastIndexByte(routes[:len(routes)/2], '\n') + 1
	if err := os.WriteFile(ds.Routes, routes[:half], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ds.each(ctx, func([]byte, route) error { return nil }); err == nil || !strings.Contains(err.Error(), "ends before") {
		t.Fatalf("truncated routes: %v", err)
	}
}

// benchData publishes the generated data set to a raw server and returns
// its JetStream, for the benchmarks of the read model's parts.
func benchData(b *testing.B) (*rawServer, dataset) {
	b.Helper()
	children := 2000
	if v, err := strconv.Atoi(os.Getenv("CHRONICLE_BENCH_CHILDREN")); err == nil && v > 0 {
		children = v
	}
	ctx := context.Background()
	ds, err := generate(ctx, b.TempDir(), int(float64(children)*eventsPerChild), 1)
	if err != nil {
		b.Fatal(err)
	}
	r, err := startRaw(ctx, b.TempDir(), false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.close)
	if _, _, _, err := r.publish(ctx, ds, 0); err != nil {
		b.Fatal(err)
	}
	return r, ds
}

// BenchmarkReplayIdentity: what identity resolution costs a replay, with
// it on and off. The command measures replay with it on; this isolates it.
// Set CHRONICLE_BENCH_CHILDREN to change the data set (default 2,000
// children, about 50,000 events).
func BenchmarkReplayIdentity(b *testing.B) {
	r, ds := benchData(b)
	ctx := context.Background()
	var on, off time.Duration
	for b.Loop() {
		res, err := runner.Replay(ctx, r.js, eventlog.EventsStream, nil)
		if err != nil || res.Read != ds.Events {
			b.Fatalf("replay: %v, %d read", err, res.Read)
		}
		on += res.Elapsed
		res, err = runner.ReplayInto(ctx, r.js, eventlog.EventsStream, nil, projections.NewModelWithoutIdentity())
		if err != nil {
			b.Fatal(err)
		}
		off += res.Elapsed
	}
	b.ReportMetric(float64(ds.Events*b.N)/on.Seconds(), "replay_events/s")
	b.ReportMetric(float64(ds.Events*b.N)/off.Seconds(), "replay_no_identity_events/s")
	b.ReportMetric(off.Seconds()/on.Seconds(), "identity_on/off_ratio")
}

// BenchmarkRuleEvaluation: every risk rule over every child (a full sweep,
// as the alerter and the worklist do), against draining the same events
// from JetStream.
func BenchmarkRuleEvaluation(b *testing.B) {
	r, ds := benchData(b)
	ctx := context.Background()
	res, err := runner.Replay(ctx, r.js, eventlog.EventsStream, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := res.Model
	at := time.Now() // after the events' receipt, as the server evaluates
	var rawTotal, ourTotal time.Duration
	flagged := 0
	for b.Loop() {
		took, err := drain(ctx, r.js, eventlog.EventsStream, ds.Events)
		if err != nil {
			b.Fatal(err)
		}
		rawTotal += took
		start := time.Now()
		list, _ := flags.Sweep(m, nil, at, flags.DefaultConfig())
		ourTotal += time.Since(start)
		flagged = len(list)
	}
	if flagged == 0 {
		b.Fatal("no child flagged: the sweep evaluated nothing")
	}
	b.ReportMetric(float64(ourTotal.Milliseconds())/float64(b.N), "sweep_ms")
	b.ReportMetric(float64(m.Stats().Children), "children")
	b.ReportMetric(float64(flagged), "children_flagged")
	b.ReportMetric(float64(ds.Events*b.N)/ourTotal.Seconds(), "sweep_events/s")
	b.ReportMetric(float64(ds.Events*b.N)/rawTotal.Seconds(), "raw_events/s")
	b.ReportMetric(rawTotal.Seconds()/ourTotal.Seconds(), "ratio")
}

// A publish given a time budget stops when it is spent and reports the
// events stored by then, without calling the shortfall an error: the
// per-event fsync baseline is a rate, measured on what the budget allows.
func TestPublishWithinABudget(t *testing.T) {
	ctx := context.Background()
	ds, err := generate(ctx, t.TempDir(), 2000, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := startRaw(ctx, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	n, took, _, err := r.publish(ctx, ds, time.Nanosecond)
	if err != nil {
		t.Fatalf("a spent budget is not an error: %v", err)
	}
	if n < 1 || n >= ds.Events || took <= 0 {
		t.Fatalf("published %d of %d in %v: want some, not all", n, ds.Events, took)
	}
	if got := partly(n, ds.Events); !strings.Contains(got, "over the first") {
		t.Fatalf("the figure's note %q does not say it is partial", got)
	}
}
