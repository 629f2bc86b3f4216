// Package jstest starts a real JetStream server for tests: embedded in the
// test process, storing on a temporary directory. There are no mocks of NATS
// in Chronicle's tests.
package jstest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Server is a running test server with a client connection as
// Chronicle's own user.
type Server struct {
	*server.Server
	Dir string
	NC  *nats.Conn
	JS  jetstream.JetStream
	// Hub is Chronicle's own user's key, for a test that connects another
	// client (see Connect).
	Hub nkeys.KeyPair
}

// Run starts a JetStream server on a fresh temporary directory, listening on
// a random loopback port, with Chronicle's streams created. It is shut down
// when the test ends. SyncAlways is off: tests measure behaviour, not
// durability against power loss.
func Run(tb testing.TB) *Server {
	tb.Helper()
	return RunIn(tb, tb.TempDir())
}

// RunIn is Run on a given store directory, so that a test can restart a
// server on the same data.
func RunIn(tb testing.TB, dir string) *Server {
	tb.Helper()
	hub, pub := hubKey(tb)
	s, err := embedded.Start(embedded.Config{StoreDir: dir, Listen: "127.0.0.1:0", HubKey: pub})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	srv := &Server{Server: s, Dir: dir, Hub: hub}
	srv.NC = srv.Connect(tb)
	if srv.JS, err = jetstream.New(srv.NC); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := eventlog.EnsureStreams(ctx, srv.JS, eventlog.StreamConfig{}); err != nil {
		tb.Fatal(err)
	}
	return srv
}

// hubKey makes a key for Chronicle's own user and returns it with its
// public key.
func hubKey(tb testing.TB) (nkeys.KeyPair, string) {
	tb.Helper()
	hub, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	pub, err := hub.PublicKey()
	if err != nil {
		tb.Fatal(err)
	}
	return hub, pub
}

// Connect opens another in-process connection as Chronicle's own user,
// closed when the test ends.
func (s *Server) Connect(tb testing.TB, opts ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := embedded.Connect(s.Server, s.Hub, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// SeedFile writes the seed of Chronicle's own user to a temporary file and
// returns its path, for a process given --nats-creds.
func (s *Server) SeedFile(tb testing.TB) string {
	tb.Helper()
	seed, err := s.Hub.Seed()
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), "hub.nk")
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Restart shuts the server down and starts a new one on the same directory.
func (s *Server) Restart(tb testing.TB) *Server {
	tb.Helper()
	s.NC.Close()
	s.Shutdown()
	s.WaitForShutdown()
	return RunIn(tb, s.Dir)
}

// Eventually polls cond until it returns true or the deadline passes.
func Eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
