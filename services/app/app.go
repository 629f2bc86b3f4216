// Package app wires one Chronicle process: NATS (embedded or external), the
// streams, the consumer-side quarantine check, the projector and the HTTP
// endpoints (ingest, GraphQL, health). The
// binary's serve verb and the end-to-end tests both start it through Run and
// stop it with Close.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/audit"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/quarantine"
)

// Config is everything serve can be told. Zero values take defaults.
type Config struct {
	// DataDir holds JetStream's files (embedded mode) and Chronicle's own
	// state. Default ./data.
	DataDir string
	// HTTPAddr is where the HTTP API listens. Default 127.0.0.1:8080; port 0
	// picks a free port (see App.HTTPAddr).
	HTTPAddr string
	// NATSURL, when set, uses an existing NATS server or cluster instead of
	// the embedded one.
	NATSURL string
	// NATSListen is the embedded server's client address. Default
	// 127.0.0.1:4222; port 0 picks a free port.
	NATSListen string
	// NoSyncAlways turns off fsync-before-ack in the embedded server. The
	// default (sync always) never loses an acknowledged event on power
	// failure; see the README for what it costs.
	NoSyncAlways bool
	// Streams tunes the JetStream streams (replicas, duplicate window).
	Streams eventlog.StreamConfig
	// Replica names this process's projector consumer; every replica
	// builds its own read model from the stream. Default "local".
	Replica string
	// Limits bound GraphQL requests; zero means gateway.DefaultLimits.
	Limits gateway.Limits
	// Rules are the risk rules in force (see flags.LoadConfig); zero means
	// the defaults.
	Rules flags.Config
	// Now is the clock for flags and alerts; nil means time.Now. Tests move
	// it to make deadlines pass.
	Now func() time.Time
	// AlertInterval is how often the alerter checks for changes (default
	// 2s); it sweeps only after a new event or when a deadline passes.
	AlertInterval time.Duration
	// OIDCJWKSURL, when set, verifies bearer tokens against an OpenID
	// Connect issuer's key set instead of the local signing key; OIDCIssuer
	// and OIDCAudience are then required claims.
	OIDCJWKSURL, OIDCIssuer, OIDCAudience string
	// TLSCert and TLSKey serve HTTPS.
	TLSCert, TLSKey string
	// NATSUsersFile gives the embedded server per-agency users (see
	// embedded.LoadUsers); without it the client port needs no credentials.
	NATSUsersFile string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.NATSListen == "" {
		c.NATSListen = "127.0.0.1:4222"
	}
	if c.Replica == "" {
		c.Replica = "local"
	}
	if c.Limits == (gateway.Limits{}) {
		c.Limits = gateway.DefaultLimits
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// App is one running Chronicle process.
type App struct {
	cfg Config
	log *slog.Logger

	ns       *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	pub      *eventlog.Publisher
	checker  *quarantine.Checker
	proj     *runner.Runner
	alerter  *alerts.Alerter
	key      ed25519.PrivateKey
	verifier *auth.Verifier
	audit    *audit.Log
	http     *http.Server
	ln       net.Listener
	ready    atomic.Bool
}

// New returns an App that Run will start.
func New(cfg Config) *App {
	cfg = cfg.withDefaults()
	return &App{cfg: cfg, log: cfg.Logger}
}

// Run starts every part and returns once the HTTP API is serving. On error
// it releases whatever it had started.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.connect(); err != nil {
		return err
	}
	if err := eventlog.EnsureStreams(ctx, a.js, a.cfg.Streams); err != nil {
		return err
	}
	if a.key, err = loadOrCreateKey(KeyPath(a.cfg.DataDir)); err != nil {
		return err
	}
	if a.cfg.OIDCJWKSURL != "" {
		if a.verifier, err = auth.NewOIDCVerifier(ctx, a.cfg.OIDCJWKSURL, a.cfg.OIDCIssuer, a.cfg.OIDCAudience, a.cfg.Now); err != nil {
			return err
		}
	} else {
		a.verifier = auth.NewLocalVerifier(a.key.Public().(ed25519.PublicKey), a.cfg.Now)
	}
	if a.audit, err = audit.Open(ctx, a.js); err != nil {
		return err
	}
	if a.pub, err = eventlog.NewPublisher(a.nc, nil); err != nil {
		return err
	}
	if a.checker, err = quarantine.Start(ctx, a.js, a.log); err != nil {
		return err
	}
	a.proj, err = runner.Start(ctx, a.js, runner.Config{
		Stream:       eventlog.EventsStream,
		Name:         a.cfg.Replica,
		SnapshotPath: filepath.Join(a.cfg.DataDir, "snapshots", "projections-"+a.cfg.Replica+".gob"),
		Reject: func(ctx context.Context, subject string, seq uint64, at time.Time, data []byte, reason error) error {
			return quarantine.Put(ctx, a.js, subject, seq, at, data, reason)
		},
		Log: a.log,
	})
	if err != nil {
		return err
	}
	a.alerter, err = alerts.Start(ctx, a.js, a.proj.Model(), alerts.Config{
		Rules: a.cfg.Rules, Now: a.cfg.Now, Interval: a.cfg.AlertInterval, Ready: a.proj.CaughtUp, Log: a.log,
	})
	if err != nil {
		return err
	}
	a.pub.SetCheck(a.checkAmendment)
	if err := a.serveHTTP(); err != nil {
		return err
	}
	a.ready.Store(true)
	a.log.Info("chronicle ready", "http", "http://"+a.HTTPAddr(), "nats", a.NATSClientURL(), "data", a.cfg.DataDir)
	return nil
}

func (a *App) connect() error {
	opts := []nats.Option{
		nats.Name("chronicle"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
	}
	var err error
	if a.cfg.NATSURL != "" {
		a.nc, err = nats.Connect(a.cfg.NATSURL, opts...)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", a.cfg.NATSURL, err)
		}
	} else {
		ec := embedded.Config{
			StoreDir:   filepath.Join(a.cfg.DataDir, "jetstream"),
			Listen:     a.cfg.NATSListen,
			SyncAlways: !a.cfg.NoSyncAlways,
			ServerName: "chronicle",
			Logger:     a.log,
		}
		if a.cfg.NATSUsersFile != "" {
			if ec.Users, err = embedded.LoadUsers(a.cfg.NATSUsersFile); err != nil {
				return err
			}
			// Chronicle's own in-process account gets a fresh password on
			// every start: it is never written down.
			var b [24]byte
			if _, err := rand.Read(b[:]); err != nil {
				return err
			}
			ec.Internal = embedded.User{User: "chronicle-internal", Password: hex.EncodeToString(b[:])}
			opts = append(opts, nats.UserInfo(ec.Internal.User, ec.Internal.Password))
		}
		a.ns, err = embedded.Start(ec)
		if err != nil {
			return err
		}
		if a.nc, err = embedded.Connect(a.ns, opts...); err != nil {
			return err
		}
	}
	a.js, err = jetstream.New(a.nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

func (a *App) serveHTTP() error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		gateway.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("/v1/events", gateway.Authenticated(a.verifier, auth.Publish, a.log, ingest.NewHandler(a.pub, a.log)))
	schema, err := gateway.NewSchema(a.proj.Model(), recorder{a}, gateway.Options{Limits: a.cfg.Limits, Rules: a.cfg.Rules, Now: a.cfg.Now, Auditor: a.audit})
	if err != nil {
		return fmt.Errorf("graphql schema: %w", err)
	}
	mux.Handle("/graphql", gateway.NewGraphQL(schema, a.cfg.Limits, a.verifier, a.audit, a.log))
	mux.Handle("GET /graphiql/", gateway.GraphiQLAssets())
	exportKey := sha256.Sum256(append([]byte("chronicle-export-pseudonyms|"), a.key.Seed()...))
	mux.Handle("/v1/export", gateway.Authenticated(a.verifier, auth.Export, a.log,
		gateway.NewExporter(a.proj.Model(), exportKey[:], a.audit, a.log, a.cfg.Now)))
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http listen %s: %w", a.cfg.HTTPAddr, err)
	}
	a.ln = ln
	a.http = &http.Server{
		Handler:           gateway.Middleware(a.log, mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	go func() {
		var err error
		if a.cfg.TLSCert != "" {
			err = a.http.ServeTLS(ln, a.cfg.TLSCert, a.cfg.TLSKey)
		} else {
			err = a.http.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// readyz answers 200 only when every part is up and NATS is connected.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case !a.ready.Load():
		gateway.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	case a.nc == nil || !a.nc.IsConnected():
		gateway.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "nats disconnected"})
	case !a.proj.CaughtUp():
		gateway.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "catching up", "applied_seq": a.proj.Model().LastSeq()})
	default:
		gateway.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	}
}

// HTTPAddr is the address the HTTP API listens on.
func (a *App) HTTPAddr() string {
	if a.ln == nil {
		return a.cfg.HTTPAddr
	}
	return a.ln.Addr().String()
}

// NATSClientURL is the URL NATS clients use to reach this process's NATS.
func (a *App) NATSClientURL() string {
	if a.ns != nil {
		return a.ns.ClientURL()
	}
	return a.cfg.NATSURL
}

// JetStream exposes the app's JetStream context, for tools running in the
// same process (the demo loader, tests).
func (a *App) JetStream() jetstream.JetStream { return a.js }

// Projector is the runner keeping the read model up to date.
func (a *App) Projector() *runner.Runner { return a.proj }

// Alerter is the process's alert sweeper.
func (a *App) Alerter() *alerts.Alerter { return a.alerter }

// Publisher is the app's validating publisher.
func (a *App) Publisher() *eventlog.Publisher { return a.pub }

// Close stops everything in reverse order of starting. It is safe to call
// more than once and after a failed Run.
func (a *App) Close() error {
	a.ready.Store(false)
	var errs []error
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, a.http.Shutdown(ctx))
		cancel()
		a.http = nil
	}
	if a.alerter != nil {
		a.alerter.Stop()
		a.alerter = nil
	}
	if a.checker != nil {
		a.checker.Stop()
		a.checker = nil
	}
	if a.audit != nil {
		a.audit.Close()
		a.audit = nil
	}
	if a.proj != nil {
		errs = append(errs, a.proj.Stop())
		a.proj = nil
	}
	if a.nc != nil {
		a.nc.Close()
		a.nc = nil
	}
	if a.ns != nil {
		a.ns.Shutdown()
		a.ns.WaitForShutdown()
		a.ns = nil
	}
	return errors.Join(errs...)
}

// checkAmendment rejects at ingest a correction or retraction of an event
// the hub does not have, or from another agency. It first lets the projector
// catch up with the log, so a correction sent right after its original is
// judged against it.
func (a *App) checkAmendment(ctx context.Context, e *events.Event) error {
	if e.Type != "record.corrected" && e.Type != "record.retracted" {
		return nil
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.proj.WaitForLatest(wait); err != nil {
		return events.E("ingest", events.KindUnavailable, fmt.Errorf("the read model is behind the log; try again: %w", err))
	}
	if err := a.proj.Model().CheckAmendment(e); err != nil {
		return err
	}
	// Every correction and retraction is on the access log before it is
	// stored; if the log cannot be written, the amendment is refused.
	var target string
	switch b := e.Body.(type) {
	case *events.RecordCorrected:
		target = b.EventID
	case *events.RecordRetracted:
		target = b.EventID
	}
	_, children, _ := a.proj.Model().Event(target, nil)
	rec := gateway.AccessRecord{At: a.cfg.Now(), RequestID: gateway.RequestID(ctx), Action: strings.TrimPrefix(string(e.Type), "record."), EventID: target,
		ChildID: strings.Join(children, ","), Returned: map[string]int{}}
	if c, ok := auth.CallerFrom(ctx); ok {
		rec.Subject, rec.Name, rec.Role, rec.Agency = c.Subject, c.Name, string(c.Role), c.Agency
	} else {
		rec.Subject, rec.Role, rec.Agency = "nats:"+e.Agency, "publisher", e.Agency
	}
	if err := a.audit.Record(ctx, []gateway.AccessRecord{rec}); err != nil {
		return events.E("ingest", events.KindUnavailable, err)
	}
	return nil
}

// IssueToken signs a token with this process's local key: for the demo's
// ready-made tokens and for tests.
func (a *App) IssueToken(subject, name string, role auth.Role, agency string, ttl time.Duration) (string, error) {
	return auth.Issue(a.key, subject, name, role, agency, a.cfg.Now(), ttl)
}

// recorder publishes the hub's own events for GraphQL mutations.
type recorder struct{ a *App }

// Record implements gateway.Recorder.
func (r recorder) Record(ctx context.Context, e *events.Event) error {
	data, err := r.a.pub.PrepareEvent(ctx, e)
	if err != nil {
		return events.E("record", events.KindInvalid, err)
	}
	res, err := r.a.pub.PublishOne(ctx, e, data)
	if err != nil {
		return err
	}
	return r.a.proj.WaitFor(ctx, res.Sequence)
}
