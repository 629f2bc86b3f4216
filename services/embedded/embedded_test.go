package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/embedded"
)

// A client address another process holds fails at once, naming the
// address, instead of waiting 30s for a server that cannot start.
func TestBusyListenAddressFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	started := time.Now()
	_, pub := hubKey(t)
	s, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Listen: ln.Addr().String(), HubKey: pub})
	if err == nil {
		s.Shutdown()
		t.Fatal("started on a busy address")
	}
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("error %q: want address in use, naming %s", err, ln.Addr())
	}
	if took := time.Since(started); took > 5*time.Second {
		t.Fatalf("took %v to fail", took)
	}
}

// hubKey is a fresh key for Chronicle's own user and its public half.
func hubKey(t *testing.T) (nkeys.KeyPair, string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return kp, pub
}

// startPlain runs nats-server on dir as Chronicle ran it before the hub had
// an account of its own: everything in the global account.
func startPlain(t *testing.T, dir string) (*server.Server, jetstream.JetStream) {
	t.Helper()
	s, err := server.NewServer(&server.Options{JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return s, js
}

// A data directory from before the hub had its own account keeps its
// history: the streams, their messages and consumers move into the hub
// account at the first start.
func TestStreamsMoveFromTheGlobalAccount(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	old, js := startPlain(t, dir)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LOG", Subjects: []string{"log.>"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, fmt.Sprintf("log.%d", i), []byte("synthetic")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.CreateConsumer(ctx, "LOG", jetstream.ConsumerConfig{Durable: "reader"}); err != nil {
		t.Fatal(err)
	}
	old.Shutdown()
	old.WaitForShutdown()

	kp, pub := hubKey(t)
	s, err := embedded.Start(embedded.Config{StoreDir: dir, HubKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	nc, err := embedded.Connect(s, kp)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	hub, _ := jetstream.New(nc)
	st, err := hub.Stream(ctx, "LOG")
	if err != nil {
		t.Fatalf("the stream did not move: %v", err)
	}
	if n := st.CachedInfo().State.Msgs; n != 3 {
		t.Fatalf("the moved stream holds %d messages, want 3", n)
	}
	if _, err := st.Consumer(ctx, "reader"); err != nil {
		t.Fatalf("the consumer did not move: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT)); !os.IsNotExist(err) {
		t.Fatalf("the global account's directory is still there: %v", err)
	}
}

// When both the global account and the hub's hold streams (an older
// Chronicle was run on the directory again after the move), start-up
// refuses rather than choose, naming both.
func TestStreamsInBothAccountsRefuseToStart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, pub := hubKey(t)
	for i, name := range []string{"FIRST", "SECOND"} {
		old, js := startPlain(t, dir)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{strings.ToLower(name) + ".>"}}); err != nil {
			t.Fatal(err)
		}
		old.Shutdown()
		old.WaitForShutdown()
		s, err := embedded.Start(embedded.Config{StoreDir: dir, HubKey: pub})
		if i == 0 {
			if err != nil {
				t.Fatal(err)
			}
			s.Shutdown()
			s.WaitForShutdown()
			continue
		}
		if err == nil {
			s.Shutdown()
			t.Fatal("started with streams in both accounts")
		}
		for _, want := range []string{server.DEFAULT_GLOBAL_ACCOUNT, embedded.HubAccount, "move the other away"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
	}
}
