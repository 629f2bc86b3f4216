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
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/events"
)

// Account names on the embedded server. Chronicle's own clients (the
// projector, the access log, the alerter, the quarantine check, the ingest
// publisher and the CLI with the hub's credentials) share the hub account,
// which alone has JetStream. Each agency user has an account of its own,
// which imports from the hub only the service of publishing under its
// agency's subjects: subscribing to everything it may, it sees its own
// replies and nothing of the hub's traffic or another agency's. Nobody logs
// in to the system account; it keeps the server's own traffic out of the
// hub account.
const (
	HubAccount    = "CHRONICLE"
	SystemAccount = "SYS"
)

// AgencyAccount names the account of an agency user: one account per user,
// so two systems of one agency do not see each other's replies either.
func AgencyAccount(user string) string { return "agency-" + user }

// Config says where the embedded server keeps its data and listens, and who
// may connect.
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
	// HubKey is the public nkey of Chronicle's own user, the only user of
	// the hub account (see LoadOrCreateKey). It is required: the server has
	// no anonymous users, so without it nobody could use JetStream.
	HubKey string
	// Users are agency accounts for the client port; each may publish only
	// under chronicle.events.<its agency>.>. Without any, only Chronicle's
	// own user can connect.
	Users []User
	// Monitor is the address of the server's own monitoring endpoint
	// (/varz, /jsz, /connz, /healthz: nats-server's, read by its tools and
	// by Prometheus exporters); "" leaves it off. It says nothing about a
	// child but names connections and accounts, so it belongs on loopback
	// or an operators' network. Port 0 picks a free port.
	Monitor string
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
		case !validUserName(u.User):
			// The name becomes an account name, which appears in the
			// server's own subjects: no dots, spaces or wildcards.
			errs = append(errs, fmt.Errorf("nats users %s: users[%d].user: %q may hold only letters, digits, - and _", path, i, u.User))
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

func validUserName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return s != ""
}

// accounts builds the server's accounts and users from cfg (see HubAccount).
// The hub exports publishing under each agency's subjects as a service to
// that agency's accounts only; an agency account imports it, so a publish
// lands in the hub's stream and the stream's acknowledgement comes back to
// the publisher's own inbox, in its own account.
func accounts(cfg Config, opts *server.Options) error {
	hub := server.NewAccount(HubAccount)
	opts.Accounts = []*server.Account{hub, server.NewAccount(SystemAccount)}
	opts.SystemAccount = SystemAccount
	opts.Nkeys = []*server.NkeyUser{{Nkey: cfg.HubKey, Account: hub}}
	byAgency := map[string][]*server.Account{}
	var agencies []string
	for _, u := range cfg.Users {
		acc := server.NewAccount(AgencyAccount(u.User))
		opts.Accounts = append(opts.Accounts, acc)
		if byAgency[u.Agency] == nil {
			agencies = append(agencies, u.Agency)
		}
		byAgency[u.Agency] = append(byAgency[u.Agency], acc)
		opts.Users = append(opts.Users, &server.User{
			Username: u.User, Password: u.Password, Account: acc,
			// Within its own account an agency could do no harm; the
			// permissions say what it is for, and keep it from the
			// JetStream API altogether. Another agency's subjects are
			// allowed here so that a publish under them is answered at once
			// ("no responders": the account imports only its own agency's)
			// rather than left to time out.
			Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{events.SubjectPrefix + ">"}},
				Subscribe: &server.SubjectPermission{Allow: []string{nats.InboxPrefix + ">"}},
			},
		})
	}
	for _, agency := range agencies {
		if err := hub.AddServiceExport(agencySubjects(agency), byAgency[agency]); err != nil {
			return fmt.Errorf("embedded nats: export %s: %w", agencySubjects(agency), err)
		}
		for _, acc := range byAgency[agency] {
			if err := acc.AddServiceImport(hub, agencySubjects(agency), agencySubjects(agency)); err != nil {
				return fmt.Errorf("embedded nats: import %s into %s: %w", agencySubjects(agency), acc.Name, err)
			}
		}
	}
	return nil
}

func agencySubjects(agency string) string { return events.SubjectPrefix + agency + ".>" }

// ErrMonitor wraps every reason the monitoring address (Config.Monitor)
// cannot be used, so that a caller can name its own flag.
var ErrMonitor = errors.New("embedded nats: monitoring address")

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
	if cfg.Monitor != "" {
		host, portText, err := net.SplitHostPort(cfg.Monitor)
		if err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrMonitor, cfg.Monitor, err)
		}
		port, err := strconv.Atoi(portText)
		if err != nil || port < 0 || port > 65535 {
			return nil, fmt.Errorf("%w %q: the port must be a number from 0 to 65535", ErrMonitor, cfg.Monitor)
		}
		if port == 0 {
			port = server.RANDOM_PORT
		} else if err := checkFree(cfg.Monitor); err != nil {
			return nil, fmt.Errorf("%w %q: %w", ErrMonitor, cfg.Monitor, err)
		}
		opts.HTTPHost, opts.HTTPPort = host, port
	}
	if cfg.StoreDir == "" {
		return nil, errors.New("embedded nats: a store directory is required")
	}
	if !nkeys.IsValidPublicUserKey(cfg.HubKey) {
		return nil, errors.New("embedded nats: Chronicle's own user needs a public nkey (HubKey)")
	}
	if err := accounts(cfg, opts); err != nil {
		return nil, err
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := moveGlobalAccount(cfg.StoreDir, logger); err != nil {
		return nil, err
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("embedded nats: %w", err)
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
	// nats-server takes an account's JetStream limits only from a parsed
	// configuration file; for accounts built in code, JetStream is enabled
	// once the server runs. Nothing has connected yet: the hub's one user is
	// this process, which connects after Start returns.
	hub, err := s.LookupAccount(HubAccount)
	if err == nil {
		err = hub.EnableJetStream(nil, nil)
	}
	if err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("embedded nats: jetstream for account %s: %w", HubAccount, err)
	}
	return s, nil
}

// moveGlobalAccount moves streams stored by a Chronicle that kept them in
// nats-server's global account ($G, before the hub had an account of its
// own) into the hub account, so that an existing data directory keeps its
// history. It refuses when both accounts hold streams, rather than choose.
func moveGlobalAccount(storeDir string, log *slog.Logger) error {
	root := filepath.Join(storeDir, "jetstream")
	old, hub := filepath.Join(root, server.DEFAULT_GLOBAL_ACCOUNT), filepath.Join(root, HubAccount)
	if !hasStreams(old) {
		return nil
	}
	if hasStreams(hub) {
		return fmt.Errorf("embedded nats: both %s and %s hold streams: Chronicle uses only %s; move the other away", old, hub, hub)
	}
	if err := os.RemoveAll(hub); err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	if err := os.Rename(old, hub); err != nil {
		return fmt.Errorf("embedded nats: move streams to account %s: %w", HubAccount, err)
	}
	log.Info("moved Chronicle's streams from the global NATS account to its own", "from", old, "to", hub)
	return nil
}

func hasStreams(accountDir string) bool {
	entries, err := os.ReadDir(filepath.Join(accountDir, "streams"))
	return err == nil && len(entries) > 0
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

// Connect opens an in-process client connection (no socket) to s, as
// Chronicle's own user with key hub.
func Connect(s *server.Server, hub nkeys.KeyPair, opts ...nats.Option) (*nats.Conn, error) {
	auth, err := KeyAuth(hub)
	if err != nil {
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	opts = append([]nats.Option{nats.InProcessServer(s), nats.Name("chronicle"), auth}, opts...)
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
