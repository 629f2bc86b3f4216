// Package embedded runs a nats-server with JetStream inside the Chronicle
// process, for the one-machine deployment and for tests.
package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/chronicle-hub/chronicle/events"
)

// Config says where the embedded server keeps its data and listens.
type Config struct {
	// StoreDir holds JetStream's file storage; it survives restarts.
	StoreDir string
	// Listen is the client address ("127.0.0.1:4222"), so that agency
	// systems and the nats CLI can publish. Port 0 picks a free port; an
	// empty Listen accepts in-process connections only.
	Listen string
	// SyncAlways makes JetStream fsync every write before acknowledging it.
	// Chronicle's default is true: nats-server otherwise syncs every two
	// minutes, and an acknowledged event could be lost on power failure in
	// that window. Turn it off only where the hosting gives durable writes
	// some other way; the README has the measured cost.
	SyncAlways bool
	// ServerName names the server in logs and cluster views.
	ServerName string
	// Users are agency accounts for the client port. When there are any,
	// every client must authenticate, and each agency may publish only
	// under chronicle.events.<its agency>.>. Chronicle's own connection
	// uses the internal user (Internal).
	Users []User
	// Internal is Chronicle's own account when Users are set.
	Internal User
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
}

// User is one NATS account for an agency system.
type User struct {
	User     string `json:"user"`
	Password string `json:"password"`
	Agency   string `json:"agency"`
}

// LoadUsers reads a users file: {"users": [{"user": "police-niche",
// "password": "...", "agency": "police"}]}. Every problem is reported.
func LoadUsers(path string) ([]User, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats users: %w", err)
	}
	var f struct {
		Users []User `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("nats users %s: %w", path, err)
	}
	var errs []error
	seen := map[string]bool{}
	for i, u := range f.Users {
		switch {
		case u.User == "":
			errs = append(errs, fmt.Errorf("nats users %s: users[%d].user: is required", path, i))
		case seen[u.User]:
			errs = append(errs, fmt.Errorf("nats users %s: users[%d].user: %q repeats", path, i, u.User))
		}
		seen[u.User] = true
		if len(u.Password) < 12 {
			errs = append(errs, fmt.Errorf("nats users %s: users[%d].password: must be at least 12 characters", path, i))
		}
		if !events.Agencies.Has(u.Agency) {
			errs = append(errs, fmt.Errorf("nats users %s: users[%d].agency: %q is not a known agency", path, i, u.Agency))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f.Users, nil
}

// serverUsers turns agency accounts into server users with publish
// permissions bound to the agency's own subject token. Acknowledgements
// come back on _INBOX, which is all they may subscribe to.
func serverUsers(cfg Config) []*server.User {
	out := []*server.User{{Username: cfg.Internal.User, Password: cfg.Internal.Password}}
	for _, u := range cfg.Users {
		out = append(out, &server.User{
			Username: u.User, Password: u.Password,
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{events.SubjectPrefix + u.Agency + ".>"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			},
		})
	}
	return out
}

// readyWithin is how long Start waits for the server to accept connections.
const readyWithin = 30 * time.Second

// Start is StartContext with a context that never ends.
func Start(cfg Config) (*server.Server, error) {
	return StartContext(context.Background(), cfg)
}

// StartContext runs a JetStream-enabled nats-server and waits until it
// accepts connections. The caller must Shutdown it. A client address that
// is already in use fails at once, with the *net.OpError (errors.Is
// syscall.EADDRINUSE) naming it; otherwise it waits until ctx ends or for
// 30s at most, and then reports the server's last error.
func StartContext(ctx context.Context, cfg Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName: cfg.ServerName,
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		SyncAlways: cfg.SyncAlways,
		NoSigs:     true,
		MaxPayload: 8 << 20,
	}
	if cfg.Listen == "" {
		opts.DontListen = true
	} else {
		host, portText, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", cfg.Listen, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil {
			return nil, fmt.Errorf("nats listen port %q: %w", portText, err)
		}
		if port == 0 {
			port = server.RANDOM_PORT
		} else if err := checkFree(cfg.Listen); err != nil {
			// nats-server would log the failure and never become ready.
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: a store directory is required")
	}
	if len(cfg.Users) > 0 {
		if cfg.Internal.User == "" || cfg.Internal.Password == "" {
			return nil, errors.New("embedded nats: agency users need an internal user for Chronicle itself")
		}
		opts.Users = serverUsers(cfg)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := &slogAdapter{l: logger.With("component", "nats")}
	s.SetLoggerV2(log, false, false, false)
	go s.Start()
	deadline := time.Now().Add(readyWithin)
	for !s.ReadyForConnections(100 * time.Millisecond) {
		if ctx.Err() != nil || time.Now().After(deadline) {
			s.Shutdown()
			why := fmt.Sprintf("not ready within %v", readyWithin)
			if ctx.Err() != nil {
				why = "start-up abandoned: " + ctx.Err().Error()
			}
			if last := log.lastError(); last != "" {
				why += "; last server error: " + last
			}
			return nil, errors.New("embedded nats: " + why)
		}
	}
	return s, nil
}

// checkFree reports whether addr can be listened on, by doing so briefly.
func checkFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	if err := ln.Close(); err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	return nil
}

// Connect opens an in-process client connection (no socket) to s.
func Connect(s *server.Server, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.InProcessServer(s), nats.Name("chronicle")}, opts...)
	nc, err := nats.Connect("", opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return nc, nil
}

// slogAdapter sends nats-server log lines to slog, and keeps the last error
// for Start to report.
type slogAdapter struct {
	l    *slog.Logger
	mu   sync.Mutex
	last string
}

func (a *slogAdapter) lastError() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

func (a *slogAdapter) keep(msg string) string {
	a.mu.Lock()
	a.last = msg
	a.mu.Unlock()
	return msg
}

func (a *slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(a.keep(fmt.Sprintf(format, v...))) }
func (a *slogAdapter) Errorf(format string, v ...any)  { a.l.Error(a.keep(fmt.Sprintf(format, v...))) }
func (a *slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a *slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
