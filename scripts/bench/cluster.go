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

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// cluster3 measures Chronicle on a local three-node cluster, its streams
// at three replicas: the same import as the one-node stages (serve
// projecting, as a gateway of the cluster) and a full replay from it, for
// the ratio to one node. The cluster is the fault tests' own
// (jstest.RunCluster): three nats-server nodes in this process on loopback
// ports, each with its own store, at nats-server's default sync interval;
// so the one-node baseline is the --no-sync-always import. All three
// nodes and Chronicle share this machine's cores, as they would not in a
// deployment: the ratio is what replication costs in work and round trips,
// not what a cluster of three machines would do.
func (b *bench) cluster3(ctx context.Context) {
	b.stage(ctx, "Chronicle on a three-node cluster, R3: import, serve projecting; full replay", []string{"r3.import", "r3.lag", "r3.replay"}, func(ctx context.Context) error {
		dir := filepath.Join(b.work, "cluster3")
		defer os.RemoveAll(dir)
		c, stop, err := startCluster(dir)
		if err != nil {
			return err
		}
		defer stop()
		cfg := appConfig(filepath.Join(dir, "chronicle"), true, b.log)
		cfg.NATSURL, cfg.NATSCreds, cfg.Streams.Replicas = c.URLs(), c.SeedFile, 3
		a := app.New(cfg)
		if err := a.Run(ctx); err != nil {
			return err
		}
		defer a.Close()
		if err := b.importInto(ctx, a, c.SeedFile, "r3.import", "r3.lag"); err != nil {
			return err
		}
		n, took, err := replay(ctx, a.JetStream())
		if err != nil {
			return err
		}
		b.res.rate("r3.replay", n, took, "", nil)
		return nil
	})
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
