package embedded_test

import (
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

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
	s, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Listen: ln.Addr().String()})
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
