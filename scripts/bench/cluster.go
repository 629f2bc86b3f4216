package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// cluster3 measures Chronicle on a local three-node cluster, its streams
// at three replicas, against one node in the same stage: the same import
// as the one-node stages (serve projecting) and a full replay from the
// log, on one embedded node (--no-sync-always) and on the cluster, in
// turn, --cluster3-rounds times, each figure the best of its rounds. One node
// is measured here again, not taken from the earlier stages, because on
// a shared machine the load changes from minute to minute; alternating
// and keeping the best lets the ratio compare like with like. The
// cluster is the fault tests' own (jstest.RunCluster): three nats-server
// nodes in this process on loopback ports, each with its own store, at
// nats-server's default sync interval (hence one node without sync
// always). All three nodes and Chronicle share this machine's cores, as
// they would not in a deployment: the ratio is what replication costs in
// work and round trips, not what three machines would do.
func (b *bench) cluster3(ctx context.Context) {
	keys := []string{"r3.import", "r3.lag", "r3.replay", "r1.import", "r1.lag", "r1.replay"}
	b.stage(ctx, "Chronicle on one node and on a three-node cluster (R3), in turn: import, serve projecting; full replay", keys, func(ctx context.Context) error {
		best := map[string]clusterRound{}
		for round := range b.o.Cluster3Rounds {
			for _, nodes := range []int{1, 3} {
				dir := filepath.Join(b.work, fmt.Sprintf("r%d-%d", nodes, round))
				r, err := b.clusterRound(ctx, dir, nodes)
				os.RemoveAll(dir)
				if err != nil {
					return err
				}
				prefix := fmt.Sprintf("r%d.", nodes)
				if prev, ok := best[prefix+"import"]; !ok || r.importRate > prev.importRate {
					best[prefix+"import"] = r
				}
				if prev, ok := best[prefix+"replay"]; !ok || r.replayRate > prev.replayRate {
					best[prefix+"replay"] = r
				}
			}
		}
		for _, prefix := range []string{"r1.", "r3."} {
			imp, rep := best[prefix+"import"], best[prefix+"replay"]
			note := fmt.Sprintf("best of %d", b.o.Cluster3Rounds)
			b.res.set(prefix+"import", imp.importRate, note)
			b.res.set(prefix+"lag", imp.lag.Seconds(), fmt.Sprintf("%s events behind, in the best import's round", group(int64(imp.behind))))
			b.res.set(prefix+"replay", rep.replayRate, note)
		}
		return nil
	})
}

// clusterRound is what one import and replay measured.
type clusterRound struct {
	importRate, replayRate float64
	behind                 uint64
	lag                    time.Duration
}

// clusterRound imports the data set into serve projecting, on one
// embedded node or on a new three-node cluster at R3, then replays the
// log from it.
func (b *bench) clusterRound(ctx context.Context, dir string, nodes int) (clusterRound, error) {
	var r clusterRound
	cfg := appConfig(filepath.Join(dir, "chronicle"), true, b.log)
	creds := app.NATSKeyPath(cfg.DataDir)
	if nodes == 3 {
		c, stop, err := startCluster(dir)
		if err != nil {
			return r, err
		}
		defer stop()
		cfg.NATSURL, cfg.NATSCreds, cfg.Streams.Replicas = c.URLs(), c.SeedFile, 3
		creds = c.SeedFile
	}
	a := app.New(cfg)
	if err := a.Run(ctx); err != nil {
		return r, err
	}
	defer a.Close()
	imp, err := importInto(ctx, a, creds, b.ds, func(err error) { b.log.Warn("import", "err", err) })
	if err != nil {
		return r, err
	}
	if imp.rejected > 0 {
		return r, fmt.Errorf("%d of the generated events rejected, first: %s", imp.rejected, imp.reason)
	}
	r.importRate, r.behind, r.lag = float64(imp.stored)/imp.elapsed.Seconds(), imp.behind, imp.catchUp
	n, took, err := replay(ctx, a.JetStream())
	if err != nil {
		return r, err
	}
	r.replayRate = float64(n) / took.Seconds()
	return r, nil
}

// startCluster starts jstest's three-node cluster under dir outside a
// test: jstest takes a testing.TB, and clusterTB is the little of one it
// uses. stop shuts the nodes down.
func startCluster(dir string) (c *jstest.Cluster, stop func(), err error) {
	tb := &clusterTB{dir: dir}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c = jstest.RunCluster(tb)
	}()
	<-done
	if tb.failed != nil {
		tb.cleanup()
		return nil, nil, fmt.Errorf("three-node cluster: %w", tb.failed)
	}
	return c, tb.cleanup, nil
}

// clusterTB is what jstest.RunCluster and the cluster's methods call on
// their testing.TB: Helper, TempDir, Cleanup, Fatal and Fatalf. A fatal
// error is kept and ends the goroutine (runtime.Goexit, as testing does);
// anything else would call the nil interface it embeds and panic, which
// is the bench's bug to fix here.
type clusterTB struct {
	testing.TB
	dir      string
	cleanups []func()
	failed   error
}

// Helper implements testing.TB.
func (tb *clusterTB) Helper() {}

// TempDir implements testing.TB: a new directory under the stage's.
func (tb *clusterTB) TempDir() string {
	if err := os.MkdirAll(tb.dir, 0o700); err != nil {
		tb.Fatal(err)
	}
	d, err := os.MkdirTemp(tb.dir, "nodes-")
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// Cleanup implements testing.TB: cleanup runs fn, the last added first.
func (tb *clusterTB) Cleanup(fn func()) { tb.cleanups = append(tb.cleanups, fn) }

// Fatal implements testing.TB.
func (tb *clusterTB) Fatal(args ...any) { tb.fail(errors.New(fmt.Sprint(args...))) }

// Fatalf implements testing.TB.
func (tb *clusterTB) Fatalf(format string, args ...any) { tb.fail(fmt.Errorf(format, args...)) }

func (tb *clusterTB) fail(err error) {
	tb.failed = err
	runtime.Goexit()
}

func (tb *clusterTB) cleanup() {
	for _, fn := range slices.Backward(tb.cleanups) {
		fn()
	}
	tb.cleanups = nil
}
