package app_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// Close finishes within its grace period whatever a client is doing: a
// publisher trickling an ingest body (which may take a minute) has its
// request cancelled and its connection closed once the grace period has
// passed, instead of holding the shutdown, and the connection, until the
// server's read timeout.
func TestCloseEndsRequestsThatOutliveTheGracePeriod(t *testing.T) {
	a := start(t, t.TempDir(), func(c *app.Config) { c.ShutdownGrace = 100 * time.Millisecond })
	tok, err := a.IssueToken("police-rms", "Police RMS (synthetic)", auth.Publisher, "police", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", a.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// With Expect: 100-continue the server says when the handler starts
	// reading the body: from then on the request is in flight.
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: chronicle\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n", tok)
	r := bufio.NewReader(conn)
	if line, err := r.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	if _, err := r.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}
	fmt.Fprint(conn, `[{"id":`)

	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	// The read deadline only stops a test that would otherwise hang: the
	// server's own read timeout is two minutes.
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	rest, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the trickling connection is still open after Close's grace period (read %q)", rest)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
}
