package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// asBinaryEnv makes the test binary run as the chronicle binary: TestMain
// then runs main with the binary's arguments instead of the tests, so a
// test starts serve as a process of its own (to kill it with SIGKILL)
// without building anything.
const asBinaryEnv = "CHRONICLE_TEST_AS_BINARY"

// TestMain runs the tests, or main when asBinaryEnv is set (see there).
func TestMain(m *testing.M) {
	if os.Getenv(asBinaryEnv) == "1" {
		main() // exits
	}
	os.Exit(m.Run())
}

// process is chronicle running as a subprocess, its log read line by line.
type process struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string // every log line, closed at end of output
	done  chan struct{}

	mu  sync.Mutex
	log []string
}

// startProcess runs the chronicle binary (this test binary, see
// asBinaryEnv) with args and extra environment; it is killed when the test
// ends, if still running.
func startProcess(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asBinaryEnv+"=1"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, lines: make(chan string, 1<<12), done: make(chan struct{})}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody is waiting for lines now; the log keeps them
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.wait()
		}
	})
	return p
}

// waitFor returns the first log line from now on that holds every one of
// parts, failing the test if the process ends first or within passes.
func (p *process) waitFor(within time.Duration, parts ...string) string {
	p.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("chronicle ended before logging %q:\n%s", parts, p.output())
			}
			if containsAll(line, parts) {
				return line
			}
		case <-deadline:
			p.t.Fatalf("chronicle did not log %q within %v:\n%s", parts, within, p.output())
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, part := range parts {
		if !strings.Contains(s, part) {
			return false
		}
	}
	return true
}

// wait waits for the process to end, once its output has been read.
func (p *process) wait() error {
	for range p.lines {
	}
	return p.cmd.Wait()
}

// output is everything the process has logged so far.
func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.log, "\n")
}

// logged reports whether some line holds every one of parts.
func (p *process) logged(parts ...string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.log {
		if containsAll(line, parts) {
			return true
		}
	}
	return false
}

// A gateway killed with SIGKILL in the middle of its first replay, just
// after it wrote a snapshot part way, and started again, restores that
// snapshot and replays the rest although its durable consumer had moved
// past it: its read model then has the same digest as a gateway that
// replayed without interruption. The gateway runs as a process of its own
// (the test binary as chronicle serve --role gateway) against a NATS
// server in the test process; GOMAXPROCS=1 slows its replay so that the
// kill lands part way.
func TestGatewayKilledMidReplayReachesTheSameDigest(t *testing.T) {
	if testing.Short() {
		t.Skip("replays about 25,000 events three times; .ci/run runs it")
	}
	srv := jstest.Run(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	total := publishDemo(ctx, t, srv.JS, demodata.Config{Seed: 3, Children: 1000})
	creds := srv.SeedFile(t)
	dir := t.TempDir()
	args := []string{"serve", "--role", "gateway", "--replica", "killed", "--nats-url", srv.ClientURL(), "--nats-creds", creds,
		"--data", dir, "--http", "127.0.0.1:0"}
	env := []string{"GOMAXPROCS=1"}

	first := startProcess(t, env, args...)
	first.waitFor(time.Minute, "projector: snapshot written")
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.wait()
	if ws, ok := first.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the first gateway ended with %v, not killed", first.cmd.ProcessState)
	}
	if first.logged("projector: caught up") {
		t.Fatalf("the first gateway had caught up before it was killed: not mid-replay\n%s", first.output())
	}

	again := startProcess(t, env, args...)
	restored := again.waitFor(time.Minute, "projector: restored snapshot")
	again.waitFor(2*time.Minute, "projector: caught up")
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := again.wait(); err != nil {
		t.Fatalf("the restarted gateway's shutdown: %v\n%s", err, again.output())
	}
	got := projections.NewModel()
	f, err := os.Open(filepath.Join(dir, "snapshots", "projections-killed.snap"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := got.Restore(f); err != nil {
		t.Fatal(err)
	}
	// The final snapshot is the restarted process's model, whole: not
	// something this test replayed.
	if got.LastSeq() != total {
		t.Fatalf("the restarted gateway's final snapshot is at sequence %d of %d", got.LastSeq(), total)
	}

	whole := app.New(app.Config{Role: app.RoleGateway, Replica: "uninterrupted", NATSURL: srv.ClientURL(), NATSCreds: creds,
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0"})
	if err := whole.Run(ctx); err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if err := whole.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if g, w := got.Digest(), whole.Model().Digest(); g != w {
		t.Fatalf("killed mid-replay and restarted (%s): digest %s, %d entries; uninterrupted: %s, %d entries",
			restored, g, got.Stats().Entries, w, whole.Model().Stats().Entries)
	}
	t.Logf("%d events; the restart: %s", total, restored)
}

// publishDemo stores the demo data set cfg describes straight into the
// events stream, as an agency publishing over NATS would, and returns its
// last sequence.
func publishDemo(ctx context.Context, t *testing.T, js jetstream.JetStream, cfg demodata.Config) uint64 {
	t.Helper()
	var last uint64
	// A loaded machine acknowledges slowly: a publish waits for room in
	// the window of unacknowledged messages rather than failing.
	for _, e := range demodata.Generate(cfg) {
		data, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishMsgAsync(eventlog.Message(e, data), jetstream.WithStallWait(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	s, err := js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	last = s.CachedInfo().State.LastSeq
	return last
}
