// Package embedded runs a nats-server with JetStream inside the Chronicle
// process, for the one-machine deployment and for tests.
package embedded

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
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
	// Logger receives the server's log lines; nil discards them.
	Logger *slog.Logger
}

// Start runs a JetStream-enabled nats-server and waits until it accepts
// connections. The caller must Shutdown it.
func Start(cfg Config) (*server.Server, error) {
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
		}
		opts.Host, opts.Port = host, port
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: a store directory is required")
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	if cfg.Logger != nil {
		s.SetLoggerV2(slogAdapter{cfg.Logger.With("component", "nats")}, false, false, false)
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		s.Shutdown()
		return nil, errors.New("embedded nats: not ready within 30s")
	}
	return s, nil
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

// slogAdapter sends nats-server log lines to slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) { a.l.Info(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Warnf(format string, v ...any)   { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Fatalf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Errorf(format string, v ...any)  { a.l.Error(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Debugf(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Tracef(format string, v ...any)  { a.l.Debug(fmt.Sprintf(format, v...)) }
