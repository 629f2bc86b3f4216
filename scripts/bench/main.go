// Command bench measures Chronicle at the size of a local authority against
// raw JetStream on the same data in the same process, and, with --peer
// postgres, against PostgreSQL holding the same events; it prints one table
// with the ratios and issue 12's targets beside them, and writes the same
// as JSON.
//
//	go run ./scripts/bench                                   # 50,000 events, a few minutes
//	go run ./scripts/bench --events 1000000 --peer postgres  # one large authority
//	go run ./scripts/bench --events 5000000                  # a regional hub
//	go run ./scripts/bench --events 50000 --cluster3         # and on three nodes, R3
//
// The data is the demo generator's (chronicle demo-data), plus one child
// with a long history so that a page of 1,000 entries is full. Every stage
// has a time limit (--stage-timeout); one that runs out is reported as such
// in the table, and the run goes on.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// options are the command's flags.
type options struct {
	Events       int
	Seed         int64
	Peer         string
	JSON         string
	StageTimeout time.Duration
	Dir          string
	Keep         bool
	PGBin        string
	// Samples is how many requests measure a page of 100 alone; the other
	// latencies take a share of it (see samples).
	Samples int
	// Profile is where each stage's CPU profile goes; "" for none.
	Profile string
	// SkipDurable leaves out the two stages that fsync every event (raw
	// JetStream and Chronicle with sync always): on a busy disk they take
	// longer than all the rest.
	SkipDurable bool
	// Cluster3 adds the stage on a local three-node cluster (cluster3),
	// measuring one node and three in turn Cluster3Rounds times.
	Cluster3       bool
	Cluster3Rounds int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.Events, "events", 50000, "size of the data set in events (1000000: one large authority; 5000000: a region)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated data")
	fs.StringVar(&o.Peer, "peer", "", "also measure the same workload on a peer: postgres")
	fs.StringVar(&o.JSON, "json", "", "write the report as JSON to this file")
	fs.DurationVar(&o.StageTimeout, "stage-timeout", 20*time.Minute, "time limit of each stage; a stage that runs out is reported as timed out")
	fs.StringVar(&o.Dir, "dir", "", "where to put the run's data (default the system's temporary directory)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the run's data directory (data set, stores, chronicle.log)")
	fs.StringVar(&o.PGBin, "pg-bin", "", "directory of PostgreSQL's server binaries (default the newest /usr/lib/postgresql/*/bin)")
	fs.IntVar(&o.Samples, "samples", 200, "requests timed for a page of 100 alone; other latencies take a share")
	fs.BoolVar(&o.Cluster3, "cluster3", false, "also import and replay on a local three-node cluster (in this process), streams at three replicas, for the ratio to one node")
	fs.IntVar(&o.Cluster3Rounds, "cluster3-rounds", 2, "with --cluster3: how many times one node and three are measured in turn (each figure the best of them)")
	fs.StringVar(&o.Profile, "profile", "", "write a CPU profile of each stage into this directory (go tool pprof reads them)")
	fs.BoolVar(&o.SkipDurable, "skip-durable", false, "leave out the stages that fsync every event (raw JetStream and Chronicle with sync always; slow on a busy disk)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := o.check(); err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	rep, err := run(ctx, o, stderr)
	if rep != nil {
		rep.writeTable(stdout)
		if o.JSON != "" {
			if werr := writeJSON(o.JSON, rep); werr != nil {
				err = errors.Join(err, werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	return 0
}

func (o options) check() error {
	var errs []error
	if o.Events < 100 {
		errs = append(errs, fmt.Errorf("--events %d: at least 100", o.Events))
	}
	if o.Peer != "" && o.Peer != "postgres" {
		errs = append(errs, fmt.Errorf("--peer %q: the only peer is postgres", o.Peer))
	}
	if o.StageTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--stage-timeout %s: must be positive", o.StageTimeout))
	}
	if o.Cluster3Rounds < 1 {
		errs = append(errs, fmt.Errorf("--cluster3-rounds %d: at least 1", o.Cluster3Rounds))
	}
	if o.Samples < 8 {
		errs = append(errs, fmt.Errorf("--samples %d: at least 8", o.Samples))
	}
	return errors.Join(errs...)
}

func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// samples is how many requests measure each latency: a page of 1,000 and
// the worklist cost more, so they get fewer; 8 clients share theirs.
type samples struct {
	page100, page1000, flagged, flaggedAfter, perClient100, perClient1000, annexA, statStats int
}

func (o options) samples() samples {
	s := o.Samples
	return samples{page100: s, page1000: max(2, s/4), flagged: max(2, s/5), flaggedAfter: max(2, s/10), perClient100: max(1, s/8), perClient1000: max(1, s/32),
		annexA: max(2, s/40), statStats: max(2, s/5)}
}

// bench is one run.
type bench struct {
	o    options
	s    samples
	ds   dataset
	res  results
	work string
	out  io.Writer // progress
	log  *slog.Logger
	// failed holds the errors of stages that failed other than by running
	// out of time.
	failed []error
}

// run generates the data and measures everything. It returns a report
// whenever the data could be generated; the error then says which stages
// failed (a stage that timed out is a result, not a failure).
func run(ctx context.Context, o options, progress io.Writer) (*Report, error) {
	started := time.Now()
	rep := &Report{Machine: describeMachine(), Peer: o.Peer, StageTimeout: o.StageTimeout.String()}
	work, err := os.MkdirTemp(o.Dir, "chronicle-bench-*")
	if err != nil {
		return nil, fmt.Errorf("work directory: %w", err)
	}
	if o.Profile != "" {
		if err := os.MkdirAll(o.Profile, 0o755); err != nil {
			return nil, fmt.Errorf("--profile: %w", err)
		}
	}
	if o.Keep {
		fmt.Fprintf(progress, "keeping %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	logFile, err := os.Create(filepath.Join(work, "chronicle.log"))
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	defer logFile.Close()
	b := &bench{o: o, s: o.samples(), res: results{}, work: work, out: progress,
		log: slog.New(slog.NewTextHandler(logFile, &slog.HandlerOptions{Level: slog.LevelWarn}))}

	fmt.Fprintf(progress, "generating about %d events...\n", o.Events)
	start := time.Now()
	if b.ds, err = generate(ctx, work, o.Events, o.Seed); err != nil {
		return nil, err
	}
	rep.Data = Data{Seed: o.Seed, Events: b.ds.Events, Bytes: b.ds.Bytes, Children: b.ds.Children, Child: b.ds.Child, ChildEvents: b.ds.ChildEvents}
	fmt.Fprintf(progress, "  %d events, %d children, biggest child %s with %d events, in %s\n", b.ds.Events, b.ds.Children, b.ds.Child, b.ds.ChildEvents, time.Since(start).Round(time.Millisecond))

	b.raw(ctx)
	b.chronicle(ctx)
	if o.Cluster3 {
		b.cluster3(ctx)
	}
	if o.Peer == "postgres" {
		b.postgres(ctx, &rep.Machine)
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.Rows = buildRows(b.res, o.Peer == "postgres", o.Cluster3)
	rep.WallSeconds = time.Since(started).Seconds()
	if err := ctx.Err(); err != nil {
		b.failed = append(b.failed, err)
	}
	return rep, errors.Join(b.failed...)
}

// stage runs fn within the stage time limit. Whatever fn measured stays;
// every key of keys it did not measure is noted as timed out or failed.
func (b *bench) stage(ctx context.Context, name string, keys []string, fn func(ctx context.Context) error) {
	if b.o.SkipDurable && strings.Contains(name, "sync always") {
		fmt.Fprintf(b.out, "%s: skipped (--skip-durable)\n", name)
		for _, k := range keys {
			b.res.missing(k, "skipped (--skip-durable)")
		}
		return
	}
	fmt.Fprintf(b.out, "%s...\n", name)
	stopProfile := b.profile(name)
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, b.o.StageTimeout)
	err := fn(sctx)
	cancel()
	stopProfile()
	took := time.Since(start).Round(time.Millisecond)
	switch {
	case err == nil:
		fmt.Fprintf(b.out, "  done in %s\n", took)
		return
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		why := fmt.Sprintf("timed out after %s", b.o.StageTimeout)
		fmt.Fprintf(b.out, "  %s: %v\n", why, err)
		for _, k := range keys {
			b.partial(k, why)
		}
	default:
		fmt.Fprintf(b.out, "  failed after %s: %v\n", took, err)
		b.failed = append(b.failed, fmt.Errorf("%s: %w", name, err))
		for _, k := range keys {
			b.partial(k, fmt.Sprintf("failed: %v", err))
		}
	}
}

// profile starts the stage's CPU profile, when asked for, and returns what
// stops it. A profile that cannot be written is said and the run goes on.
func (b *bench) profile(stage string) (stop func()) {
	if b.o.Profile == "" {
		return func() {}
	}
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, stage)
	path := filepath.Join(b.o.Profile, strings.Trim(name, "-")+".pprof")
	f, err := os.Create(path)
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		fmt.Fprintf(b.out, "  no profile: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// heapProfile writes what the live heap holds (heap.pprof), when profiles
// are asked for: the memory stage's figure says how much, this says whose.
func (b *bench) heapProfile() {
	if b.o.Profile == "" {
		return
	}
	f, err := os.Create(filepath.Join(b.o.Profile, "heap.pprof"))
	if err == nil {
		err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
	}
	if err != nil {
		fmt.Fprintf(b.out, "  no heap profile: %v\n", err)
	}
}

// partial notes why on key: as the reason it is missing, or beside a
// figure whose measurement it cut short. A figure measured in full before
// the stage stopped stays as it is.
func (b *bench) partial(key, why string) {
	f, ok := b.res[key]
	switch {
	case !ok || !f.ok:
		b.res.missing(key, why)
	case f.cut:
		f.note = strings.TrimSuffix(why+"; "+f.note, "; ")
		b.res[key] = f
	}
}

// raw measures the baselines: JetStream alone on the same data, first with
// sync always (publish), then with the default sync interval (publish,
// drain, direct gets).
func (b *bench) raw(ctx context.Context) {
	for _, mode := range []struct {
		name, key string
		always    bool
		keys      []string
		// within bounds the publish: one fsync per event is a rate that
		// does not change with the log's size, and at a million events
		// on a busy disk it would take most of an hour.
		within time.Duration
	}{
		{"sync always: publish", "raw.publish.always", true, nil, 2 * time.Minute},
		{"sync interval: publish, drain, direct gets", "raw.publish.interval", false, []string{"raw.drain", "raw.get100", "raw.get100x8", "raw.get1000", "raw.get1000x8"}, 0},
	} {
		b.stage(ctx, "raw JetStream, "+mode.name, append([]string{mode.key}, mode.keys...), func(ctx context.Context) error {
			dir := filepath.Join(b.work, "raw")
			defer os.RemoveAll(dir)
			r, err := startRaw(ctx, dir, mode.always)
			if err != nil {
				return err
			}
			defer r.close()
			n, took, seqs, err := r.publish(ctx, b.ds, mode.within)
			b.res.rate(mode.key, n, took, partly(n, b.ds.Events), err)
			if err != nil {
				return err
			}
			if mode.always {
				return nil
			}
			if took, err = drain(ctx, r.js, eventlog.EventsStream, b.ds.Events); err != nil {
				return err
			}
			b.res.rate("raw.drain", b.ds.Events, took, "", nil)
			return b.directGets(ctx, r, seqs)
		})
	}
}

// directGets times pages of the child's first 100 and 1,000 messages,
// alone and from 8 clients.
func (b *bench) directGets(ctx context.Context, r *rawServer, seqs []uint64) error {
	getters := make([]*directGetter, clients)
	for i := range getters {
		g, err := newDirectGetter(r.local, eventlog.EventsStream)
		if err != nil {
			return err
		}
		defer g.close()
		getters[i] = g
	}
	return b.pages(ctx, "raw.get", func(_ context.Context, size int) (string, func(context.Context, int) error, error) {
		page := seqs[:min(size, len(seqs))]
		return fmt.Sprintf("%d messages", len(page)), func(ctx context.Context, c int) error { return getters[c].page(ctx, page) }, nil
	})
}

// clients is how many clients ask at once in the concurrent measurements.
const clients = 8

// pages times a page of 100 and one of 1,000, alone and from clients at
// once, under prefix+"100", prefix+"100x8" and so on. prepare checks the
// page once and returns a note on what it holds and the request to time
// (for a given client).
func (b *bench) pages(ctx context.Context, prefix string, prepare func(ctx context.Context, size int) (string, func(ctx context.Context, client int) error, error)) error {
	for _, p := range []struct{ size, alone, each int }{{100, b.s.page100, b.s.perClient100}, {1000, b.s.page1000, b.s.perClient1000}} {
		note, op, err := prepare(ctx, p.size)
		if err != nil {
			return err
		}
		key := prefix + strconv.Itoa(p.size)
		l, err := sequential(ctx, p.alone, func(ctx context.Context) error { return op(ctx, 0) })
		b.res.latency(key, l, note, err)
		if err != nil {
			return err
		}
		l, err = concurrent(ctx, clients, p.each, op)
		b.res.latency(key+"x8", l, note, err)
		if err != nil {
			return err
		}
	}
	return nil
}

// chronicle measures serve: a durable import into one store, a relaxed
// import into another, then on the second a restart, its memory, the
// pages, the worklist and a full replay.
func (b *bench) chronicle(ctx context.Context) {
	b.stage(ctx, "Chronicle: import, sync always, serve projecting", []string{"chronicle.import.durable", "chronicle.lag.durable"}, func(ctx context.Context) error {
		dir := filepath.Join(b.work, "chronicle-durable")
		defer os.RemoveAll(dir)
		a := app.New(appConfig(dir, false, b.log))
		if err := a.Run(ctx); err != nil {
			return err
		}
		defer a.Close()
		return b.importInto(ctx, a, app.NATSKeyPath(dir), "chronicle.import.durable", "chronicle.lag.durable")
	})
	dir := filepath.Join(b.work, "chronicle")
	defer os.RemoveAll(dir)
	cfg := appConfig(dir, true, b.log)
	var a *app.App
	defer func() {
		if a != nil {
			a.Close()
		}
	}()
	b.stage(ctx, "Chronicle: import, --no-sync-always, serve projecting", []string{"chronicle.import.relaxed", "chronicle.lag.relaxed"}, func(ctx context.Context) error {
		a = app.New(cfg)
		if err := a.Run(ctx); err != nil {
			a = nil
			return err
		}
		return b.importInto(ctx, a, app.NATSKeyPath(dir), "chronicle.import.relaxed", "chronicle.lag.relaxed")
	})
	if a == nil {
		return
	}
	b.stage(ctx, "Chronicle: stop, restart with snapshot", []string{"chronicle.shutdown", "chronicle.ready", "chronicle.looked"}, func(ctx context.Context) error {
		next, stopped, ready, err := restart(ctx, a, cfg)
		a = next
		if stopped > 0 {
			b.res.set("chronicle.shutdown", stopped.Seconds(), "")
		}
		if err != nil {
			return err
		}
		started := time.Now().Add(-ready)
		b.res.set("chronicle.ready", ready.Seconds(), "")
		// The reads below are timed alone: after the alerter's first look
		// at every child's flags, which a restart costs once.
		select {
		case <-a.Alerter().Looked():
			b.res.set("chronicle.looked", time.Since(started).Seconds(), "")
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	})
	if a == nil {
		return
	}
	b.stage(ctx, "Chronicle: memory after catch-up", []string{"chronicle.rss", "chronicle.heap"}, func(ctx context.Context) error {
		// Per event held: an import cut short leaves fewer than generated.
		held, err := logEvents(ctx, a.JetStream())
		if err != nil {
			return err
		}
		rss, heap, breakdown, err := memory()
		if err != nil {
			return err
		}
		b.heapProfile()
		perEvent := func(n uint64) float64 { return float64(n) / float64(held) }
		b.res.set("chronicle.rss", perEvent(rss), fmt.Sprintf("%s MB for %s events: %s", group(int64(rss>>20)), group(int64(held)), breakdown))
		b.res.set("chronicle.heap", perEvent(heap), fmt.Sprintf("%s MB for %s events", group(int64(heap>>20)), group(int64(held))))
		return nil
	})
	b.stage(ctx, "Chronicle: chronology pages over HTTP", []string{"chronicle.page100", "chronicle.page100x8", "chronicle.page1000", "chronicle.page1000x8"}, func(ctx context.Context) error {
		c, err := newClient(a)
		if err != nil {
			return err
		}
		return b.pages(ctx, "chronicle.page", func(ctx context.Context, size int) (string, func(context.Context, int) error, error) {
			q := chronologyQuery(b.ds.Child, size)
			body, err := c.query(ctx, q)
			if err != nil {
				return "", nil, err
			}
			entries, total, err := pageEntries(body)
			if err != nil {
				return "", nil, err
			}
			return fmt.Sprintf("%d entries of %d", entries, total), func(ctx context.Context, _ int) error { _, err := c.query(ctx, q); return err }, nil
		})
	})
	b.stage(ctx, "Chronicle: flaggedChildren(first: 50)", []string{"chronicle.flagged", "chronicle.flagged.after"}, func(ctx context.Context) error {
		c, err := newClient(a)
		if err != nil {
			return err
		}
		body, err := c.query(ctx, flaggedQuery)
		if err != nil {
			return err
		}
		flagged, err := flaggedCount(body)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("%s children flagged", group(int64(flagged)))
		ask := func(ctx context.Context) error { _, err := c.query(ctx, flaggedQuery); return err }
		l, err := sequential(ctx, b.s.flagged, ask)
		b.res.latency("chronicle.flagged", l, note, err)
		if err != nil {
			return err
		}
		var after latencies
		for i := range b.s.flaggedAfter {
			if err = publishNew(ctx, a, longHistory(b.o.Events)+i); err != nil {
				break
			}
			l, err = sequential(ctx, 1, ask)
			if after = append(after, l...); err != nil {
				break
			}
		}
		b.res.latency("chronicle.flagged.after", after, note, err)
		return err
	})
	b.stage(ctx, "Chronicle: Annex A for a year, statutoryStatistics", []string{"chronicle.annexa", "chronicle.statstats"}, func(ctx context.Context) error {
		c, err := newClient(a)
		if err != nil {
			return err
		}
		from, to := financialYear()
		path := "/v1/export/annex-a?from=" + from + "&to=" + to
		body, err := c.get(ctx, path)
		if err != nil {
			return err
		}
		rows, err := annexARows(body)
		if err != nil {
			return err
		}
		note := fmt.Sprintf("%s to %s, %s rows", from, to, group(int64(rows)))
		l, err := sequential(ctx, b.s.annexA, func(ctx context.Context) error { _, err := c.get(ctx, path); return err })
		b.res.latency("chronicle.annexa", l, note, err)
		if err != nil {
			return err
		}
		l, err = sequential(ctx, b.s.statStats, func(ctx context.Context) error { _, err := c.query(ctx, statutoryStatsQuery); return err })
		b.res.latency("chronicle.statstats", l, "every quarter of the data set", err)
		return err
	})
	b.stage(ctx, "Chronicle: full replay", []string{"chronicle.replay"}, func(ctx context.Context) error {
		n, took, err := replay(ctx, a.JetStream())
		if err != nil {
			return err
		}
		b.res.rate("chronicle.replay", n, took, "", nil)
		return nil
	})
}

// importInto imports the data set into a, connecting with the
// credentials at credsPath (serve's own key, as the CLI finds it through
// --data, or the cluster's), and records the rate under rateKey and the
// projector's lag under lagKey.
func (b *bench) importInto(ctx context.Context, a *app.App, credsPath, rateKey, lagKey string) error {
	imp, err := importInto(ctx, a, credsPath, b.ds, func(err error) { b.log.Warn("import", "err", err) })
	done := imp.stored + imp.rejected
	note := partly(done, b.ds.Events)
	if imp.rejected > 0 {
		note = strings.TrimPrefix(note+fmt.Sprintf("; %s of the generated events rejected, first: %s", group(int64(imp.rejected)), imp.reason), "; ")
		b.log.Warn("import rejected generated events", "stage", rateKey, "rejected", imp.rejected, "first", imp.reason)
	}
	if done > 0 {
		b.res.rate(rateKey, done, imp.elapsed, note, err)
	}
	if err != nil {
		return err
	}
	b.res.set(lagKey, imp.catchUp.Seconds(), fmt.Sprintf("%s events behind", group(int64(imp.behind))))
	return nil
}

// partly notes a rate measured over part of the data set.
func partly(done, all int) string {
	if done >= all {
		return ""
	}
	return fmt.Sprintf("over the first %s of %s events", group(int64(done)), group(int64(all)))
}

// postgres measures the peer: loads with COPY and with batched inserts
// (synchronous_commit on, then off), then the same pages.
func (b *bench) postgres(ctx context.Context, m *Machine) {
	keys := []string{"pg.copy", "pg.insert.sync", "pg.insert.async", "pg.page100", "pg.page100x8", "pg.page1000", "pg.page1000x8"}
	b.stage(ctx, "PostgreSQL: load and pages", keys, func(ctx context.Context) error {
		bin, err := findPostgres(b.o.PGBin)
		if err != nil {
			return err
		}
		pg, err := startPostgres(ctx, bin)
		if err != nil {
			return err
		}
		m.PostgreSQL = pg.Version
		defer func() {
			if err := pg.stop(); err != nil {
				b.failed = append(b.failed, err)
			}
		}()
		return b.peer(ctx, pg)
	})
}

func (b *bench) peer(ctx context.Context, pg *postgres) error {
	c, err := pg.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	for _, l := range []struct {
		key  string
		load func() (int64, error)
	}{
		{"pg.copy", func() (int64, error) { return copyLoad(ctx, c, b.ds) }},
		{"pg.insert.sync", func() (int64, error) { return insertLoad(ctx, c, b.ds, true) }},
		{"pg.insert.async", func() (int64, error) { return insertLoad(ctx, c, b.ds, false) }},
	} {
		start := time.Now()
		n, err := l.load()
		if err != nil {
			return err
		}
		b.res.rate(l.key, b.ds.Events, time.Since(start), fmt.Sprintf("%s rows", group(n)), nil)
	}
	if _, err := c.Exec(ctx, "VACUUM ANALYZE events"); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	conns := make([]*pgx.Conn, clients)
	for i := range conns {
		cc, err := pg.connect(ctx)
		if err != nil {
			return err
		}
		defer cc.Close(context.Background())
		conns[i] = cc
	}
	return b.pages(ctx, "pg.page", func(ctx context.Context, size int) (string, func(context.Context, int) error, error) {
		n, err := pgPage(ctx, c, b.ds.Child, size)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("%d entries", n), func(ctx context.Context, i int) error { _, err := pgPage(ctx, conns[i], b.ds.Child, size); return err }, nil
	})
}
