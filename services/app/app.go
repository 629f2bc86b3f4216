// Package app wires one Chronicle process: NATS (embedded or external), the
// streams, the consumer-side quarantine check, the projector and the HTTP
// endpoints (ingest, GraphQL, health). The
// binary's serve verb and the end-to-end tests both start it through Run and
// stop it with Close.
package app

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/gateway/web"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/audit"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/metrics"
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
	// the embedded one: one URL, or several separated by commas (every
	// node's, so that start-up does not depend on any one of them; the
	// client learns the rest of the cluster from the server too).
	NATSURL string
	// Role says which parts this process runs (RoleAll when empty): see
	// RoleIngest and RoleGateway.
	Role string
	// NATSListen is the embedded server's client address. Default
	// 127.0.0.1:4222; port 0 picks a free port.
	NATSListen string
	// NATSMonitor is the embedded server's monitoring address (its /varz,
	// /jsz, /healthz); "" (the default) leaves it off.
	NATSMonitor string
	// NoSyncAlways turns off fsync-before-ack in the embedded server. The
	// default (sync always) never loses an acknowledged event on power
	// failure; see the README for what it costs.
	NoSyncAlways bool
	// Streams tunes the JetStream streams (replicas, duplicate window).
	Streams eventlog.StreamConfig
	// Replica names this process's projector consumer
	// (chronicle-projector-<Replica>) and snapshot file. Every process on
	// one NATS cluster builds its own read model from the stream and needs
	// its own name: a second process with the same name is refused at
	// start (runner.ErrReplicaInUse). Default DefaultReplica(), the host
	// name.
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
	// and OIDCAudience must then be set too (Run refuses to start
	// otherwise), and every token must carry them as iss and aud.
	OIDCJWKSURL, OIDCIssuer, OIDCAudience string
	// OIDCClientID, when set, offers sign-in to the web app with the
	// OpenID Connect provider at OIDCIssuer (the authorization code flow
	// with PKCE; see web.OIDC): OIDCRedirectURL is required with it, and
	// OIDCClientSecret unless the client is public. OIDCRoleClaim,
	// OIDCRoles and OIDCAgencyClaim map the ID token to Chronicle's roles
	// (web.OIDC's RoleClaim, Roles and AgencyClaim).
	OIDCClientID, OIDCClientSecret, OIDCRedirectURL string
	OIDCRoleClaim, OIDCAgencyClaim                  string
	OIDCRoles                                       map[string]web.Grant
	// TokenLifetimes cap how long a bearer token may live (from iat to
	// exp); zero fields take auth.DefaultLifetimes (24 hours for people,
	// 90 days for publisher tokens).
	TokenLifetimes auth.Lifetimes
	// TLSCert and TLSKey serve HTTPS; both or neither. Run loads them
	// before starting anything, so a bad pair stops start-up.
	TLSCert, TLSKey string
	// Demo says a demo data set will be loaded (LoadDemo): the process is
	// not ready until it has been, so that whoever waits on /readyz reads
	// all of it.
	Demo bool
	// ShutdownGrace is how long Close lets HTTP requests in flight finish
	// before it cancels them and closes their connections. Default
	// DefaultShutdownGrace.
	ShutdownGrace time.Duration
	// NATSUsersFile gives the embedded server per-agency users, each in an
	// account of its own (see embedded.LoadUsers); without it only
	// Chronicle's own user can connect.
	NATSUsersFile string
	// NATSCreds authenticates to the server at NATSURL: a NATS .creds file
	// or an nkey user seed (embedded.Credentials). The embedded server needs
	// none: Chronicle's own key is in the data directory (NATSKeyPath).
	NATSCreds string
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
		c.Replica = DefaultReplica()
	}
	if c.Role == "" {
		c.Role = RoleAll
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
	if c.ShutdownGrace <= 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	return c
}

// Roles a process can take, so that ingest and reads scale separately on a
// cluster. Every role connects to NATS, ensures the streams, writes the
// access log, runs the consumer-side quarantine check (one durable shared
// by every process, so the work is spread) and serves /healthz, /readyz and
// /metrics.
const (
	// RoleAll is the one-machine process: everything below.
	RoleAll = "all"
	// RoleIngest takes events: HTTP ingest (/v1/events). It keeps no read
	// model; a correction or retraction is judged by asking a gateway over
	// NATS (eventlog.AmendmentCheckSubject), and refused as unavailable
	// (retryable) while none answers.
	RoleIngest = "ingest"
	// RoleGateway serves reads: the projector and its read model, GraphQL
	// and GraphiQL, the exports, the alerter, and the answers to
	// correction checks from chronicle import and ingest processes. It
	// takes no events over HTTP (its GraphQL mutations still record the
	// hub's own events).
	RoleGateway = "gateway"
)

// Roles lists the roles, for --help.
var Roles = []string{RoleAll, RoleIngest, RoleGateway}

func (c Config) runsIngest() bool  { return c.Role != RoleGateway }
func (c Config) runsGateway() bool { return c.Role != RoleIngest }

// maxReplicas is JetStream's limit on a stream's replicas.
const maxReplicas = 5

// DefaultShutdownGrace is how long Close waits for HTTP requests in
// flight: long enough for any request that is within its limits to
// finish, short enough for a service manager's stop timeout (systemd's
// default is 90 s).
const DefaultShutdownGrace = 10 * time.Second

// Time bounds of the HTTP server. A request's headers must arrive within
// httpHeaderTimeout; an ingest body within ingestBodyTimeout of its
// token being verified (32 MiB at 5 Mbit/s; GraphQL bodies have their own,
// shorter, gateway.DefaultBodyTimeout); and httpReadTimeout bounds any
// other request's reading as a last resort.
const (
	httpHeaderTimeout = 10 * time.Second
	ingestBodyTimeout = time.Minute
	httpReadTimeout   = 2 * time.Minute
	httpIdleTimeout   = 2 * time.Minute
)

// DefaultReplica is the replica name a process takes when it is given
// none: its host name, made a valid consumer name (runner.SanitiseName).
func DefaultReplica() string {
	host, _ := os.Hostname()
	return runner.SanitiseName(host)
}

// check finds settings that cannot work together, naming the serve flags,
// before anything is started.
func (c Config) check() error {
	var errs []error
	if err := runner.CheckName(c.Replica); err != nil {
		errs = append(errs, fmt.Errorf("--replica: %w", err))
	}
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		errs = append(errs, errors.New("--tls-cert is set but --tls-key is not: HTTPS needs both"))
	case c.TLSKey != "" && c.TLSCert == "":
		errs = append(errs, errors.New("--tls-key is set but --tls-cert is not: HTTPS needs both"))
	}
	if c.OIDCJWKSURL != "" {
		// Without an issuer, any token signed by a key in that set would
		// do, whoever it was issued by or for.
		if c.OIDCIssuer == "" {
			errs = append(errs, errors.New("--oidc-issuer is required with --oidc-jwks-url: the issuer (iss) every token must carry"))
		}
		if c.OIDCAudience == "" {
			errs = append(errs, errors.New("--oidc-audience is required with --oidc-jwks-url: the audience (aud) every token must carry"))
		}
	} else if c.OIDCIssuer != "" && c.OIDCClientID == "" {
		errs = append(errs, errors.New("--oidc-issuer has no effect without --oidc-jwks-url or --oidc-client-id: tokens would be checked against the local key"))
	}
	if c.OIDCClientID != "" {
		if c.OIDCIssuer == "" {
			errs = append(errs, errors.New("--oidc-issuer is required with --oidc-client-id: the provider people sign in with"))
		}
		if c.OIDCRedirectURL == "" {
			errs = append(errs, fmt.Errorf("--oidc-redirect-url is required with --oidc-client-id: this server's address followed by %s, as registered with the provider", web.CallbackPath))
		} else if err := (web.OIDC{Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, RedirectURL: c.OIDCRedirectURL}).Check(); err != nil {
			errs = append(errs, fmt.Errorf("--oidc-*: %w", err))
		}
	} else if c.OIDCRedirectURL != "" || c.OIDCClientSecret != "" {
		errs = append(errs, errors.New("--oidc-redirect-url and --oidc-client-secret have no effect without --oidc-client-id"))
	}
	if c.NATSURL == "" && c.NATSCreds != "" {
		errs = append(errs, fmt.Errorf("--nats-creds is for a server given with --nats-url: the embedded server's own clients use %s", NATSKeyPath(c.DataDir)))
	}
	switch c.Role {
	case RoleAll:
	case RoleIngest, RoleGateway:
		if c.NATSURL == "" {
			errs = append(errs, fmt.Errorf("--role %s shares a NATS cluster with the other roles: give it with --nats-url", c.Role))
		}
		if c.Demo {
			errs = append(errs, fmt.Errorf("--demo loads and reads back the demo in one process: use it with --role all, not %s", c.Role))
		}
	default:
		errs = append(errs, fmt.Errorf("--role %q: must be one of %s", c.Role, strings.Join(Roles, ", ")))
	}
	switch r := c.Streams.Replicas; {
	case r < 0 || r > maxReplicas:
		errs = append(errs, fmt.Errorf("--replicas %d: JetStream keeps 1 to %d copies of a stream", r, maxReplicas))
	case r > 1 && c.NATSURL == "":
		errs = append(errs, fmt.Errorf("--replicas %d needs a NATS cluster of at least %d nodes (--nats-url): the embedded server is one node", r, r))
	}
	if c.NATSURL != "" && c.NATSUsersFile != "" {
		errs = append(errs, errors.New("--nats-users configures the embedded server and has no effect with --nats-url: configure that server's accounts there"))
	}
	return errors.Join(errs...)
}

// App is one running Chronicle process.
type App struct {
	cfg Config
	log *slog.Logger

	ns      *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	pub     *eventlog.Publisher
	proj    *runner.Runner
	model   *projections.Model // what the projector keeps up to date
	alerter *alerts.Alerter
	// amendments answers chronicle import's questions about corrections.
	amendments *nats.Subscription
	key        ed25519.PrivateKey
	verifier   *auth.Verifier
	audit      *audit.Log
	auditor    access.Auditor // audit, counted in metrics
	metrics    *metrics.Metrics
	preload    *runner.Preloaded // the read model's snapshot, restored while NATS starts
	flags      *flags.Worklist   // the present flags, shared by the alerter and the worklist page
	replayFrom time.Time         // when the preload began, for the replay metric
	// bg ends when Close begins: for the process's own background work.
	bg       context.Context
	stopBG   context.CancelFunc
	http     *http.Server
	stopHTTP context.CancelFunc // ends every request's context: see Close
	tls      *tls.Config
	ln       net.Listener
	ready    atomic.Bool
	// demoPending is set from Config.Demo until LoadDemo succeeds.
	demoPending atomic.Bool
	example     atomic.Value // string: the demo's example NHS number, for GraphiQL
}

// New returns an App that Run will start.
func New(cfg Config) *App {
	cfg = cfg.withDefaults()
	a := &App{cfg: cfg, log: cfg.Logger}
	a.demoPending.Store(cfg.Demo)
	a.metrics = metrics.New(a.metricsState)
	a.bg, a.stopBG = context.WithCancel(context.Background())
	return a
}

// Run starts every part and returns once the HTTP API is serving. On error
// it releases whatever it had started. Settings that cannot work (see
// Config), an unreadable TLS key pair and a listen address in use fail at
// once, before NATS and the projector start; ctx ending while the embedded
// server starts stops the wait.
func (a *App) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := a.cfg.check(); err != nil {
		return err
	}
	if a.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("--tls-cert %s with --tls-key %s: %w", a.cfg.TLSCert, a.cfg.TLSKey, err)
		}
		a.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if a.ln, err = net.Listen("tcp", a.cfg.HTTPAddr); err != nil {
		return fmt.Errorf("--http %s: %w", a.cfg.HTTPAddr, err)
	}
	if a.cfg.runsGateway() {
		// The read model is restored from its snapshot while the embedded
		// server recovers its streams: at a million events each takes
		// seconds, and neither needs the other until the snapshot is
		// checked against the stream.
		a.model, a.replayFrom = projections.NewModel(), time.Now()
		if a.preload, err = runner.Preload(a.snapshotPath(), a.model); err != nil {
			return err
		}
	}
	if err := a.connect(ctx); err != nil {
		return err
	}
	auditRecreated, err := eventlog.EnsureStreams(ctx, a.js, a.cfg.Streams)
	if err != nil {
		return replicasError(err, a.cfg.Streams.Replicas)
	}
	if a.key, err = EnsureSigningKey(a.cfg.DataDir); err != nil {
		return err
	}
	if a.cfg.OIDCJWKSURL != "" {
		if a.verifier, err = auth.NewOIDCVerifier(ctx, a.cfg.OIDCJWKSURL, a.cfg.OIDCIssuer, a.cfg.OIDCAudience, a.cfg.Now, auth.WithLifetimes(a.cfg.TokenLifetimes)); err != nil {
			return err
		}
	} else {
		a.verifier = auth.NewLocalVerifier(a.key.Public().(ed25519.PublicKey), a.cfg.Now, auth.WithLifetimes(a.cfg.TokenLifetimes))
	}
	if a.audit, err = audit.Open(ctx, a.js); err != nil {
		return err
	}
	a.auditor = countedAudit{Log: a.audit, m: a.metrics}
	if auditRecreated {
		if err := a.recordRecreated(ctx); err != nil {
			return err
		}
	}
	if a.pub, err = eventlog.NewPublisher(a.nc, nil); err != nil {
		return err
	}
	a.pub.SetObserve(func(s eventlog.Status, agency string) { a.metrics.Ingested(string(s), agency) })
	retireQuarantineChecker(ctx, a.js, a.log)
	if a.cfg.runsGateway() {
		if err := a.startGateway(ctx); err != nil {
			return err
		}
	}
	a.pub.SetCheck(a.checkAmendment)
	if err := a.serveHTTP(); err != nil {
		return err
	}
	a.ready.Store(true)
	a.log.Info("chronicle ready", "http", "http://"+a.HTTPAddr(), "nats", a.NATSClientURL(), "data", a.cfg.DataDir, "replica", a.cfg.Replica, "role", a.cfg.Role)
	return nil
}

// snapshotPath is where this replica keeps its read model's snapshot.
func (a *App) snapshotPath() string {
	return filepath.Join(a.cfg.DataDir, "snapshots", "projections-"+a.cfg.Replica+".snap")
}

// retireQuarantineChecker deletes the durable consumer of the quarantine
// checker that earlier versions ran beside the projector. The projector
// quarantines now (it validates every event anyway); left in place, the old
// consumer would only hold the server's memory for events nobody reads.
func retireQuarantineChecker(ctx context.Context, js jetstream.JetStream, log *slog.Logger) {
	const old = "chronicle-quarantine"
	err := js.DeleteConsumer(ctx, eventlog.EventsStream, old)
	switch {
	case err == nil:
		log.Info("deleted the old quarantine checker's consumer; the projector quarantines now", "consumer", old)
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		log.Warn("could not delete the old quarantine checker's consumer", "consumer", old, "err", err)
	}
}

// startGateway starts the read side: the projector and its read model, the
// alerter, and the answers to correction checks.
func (a *App) startGateway(ctx context.Context) error {
	var err error
	a.proj, err = runner.Start(ctx, a.js, runner.Config{
		Preloaded: a.preload,
		Stream:    eventlog.EventsStream,
		Name:      a.cfg.Replica,
		Reject: func(ctx context.Context, subject string, seq uint64, at time.Time, data []byte, reason error) error {
			return quarantine.Put(ctx, a.js, subject, seq, at, data, reason)
		},
		Snapshotted: a.metrics.Snapshot,
		ApplyFailed: a.metrics.ApplyFailed,
		Log:         a.log,
	})
	if err != nil {
		return err
	}
	go func(proj *runner.Runner) {
		if proj.WaitForLatest(a.bg) == nil {
			a.metrics.Replayed(time.Since(a.replayFrom))
		}
	}(a.proj)
	a.flags = flags.NewWorklist(a.model, a.cfg.Rules)
	a.restoreWorklist(ctx)
	a.alerter, err = alerts.Start(ctx, a.js, a.model, alerts.Config{Worklist: a.flags,
		Rules: a.cfg.Rules, Now: a.cfg.Now, Interval: a.cfg.AlertInterval, Ready: a.proj.CaughtUp, Log: a.log,
		Published: a.metrics.AlertPublished,
	})
	if err != nil {
		return err
	}
	// chronicle import asks here about corrections of events it did not
	// publish itself, rather than reading the whole log into its process.
	if a.amendments, err = ingest.AnswerAmendmentChecks(a.nc, a.judgeAmendment); err != nil {
		return fmt.Errorf("answer amendment checks: %w", err)
	}
	return nil
}

func (a *App) connect(ctx context.Context) error {
	opts := []nats.Option{
		nats.Name("chronicle"),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { a.log.Info("nats reconnected", "url", nc.ConnectedUrl()) }),
		// Asynchronous errors (a permission the server refused, a slow
		// consumer) go to the log rather than to stderr.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Error("nats", "err", err) }),
	}
	if a.cfg.NATSURL != "" {
		if a.cfg.NATSCreds != "" {
			creds, err := embedded.Credentials(a.cfg.NATSCreds)
			if err != nil {
				return fmt.Errorf("--nats-creds: %w", err)
			}
			opts = append(opts, creds)
		}
		var err error
		if a.nc, err = nats.Connect(a.cfg.NATSURL, opts...); err != nil {
			return fmt.Errorf("connect to %s: %w", a.cfg.NATSURL, err)
		}
	} else if err := a.startEmbedded(ctx, opts); err != nil {
		return err
	}
	var err error
	if a.js, err = jetstream.New(a.nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// startEmbedded starts the embedded server with Chronicle's own user (its
// key created in the data directory at first start) and the agency
// accounts of --nats-users, and connects to it in process.
func (a *App) startEmbedded(ctx context.Context, opts []nats.Option) error {
	hub, err := embedded.LoadOrCreateKey(NATSKeyPath(a.cfg.DataDir))
	if err != nil {
		return err
	}
	ec := embedded.Config{
		StoreDir:   filepath.Join(a.cfg.DataDir, "jetstream"),
		Listen:     a.cfg.NATSListen,
		Monitor:    a.cfg.NATSMonitor,
		SyncAlways: !a.cfg.NoSyncAlways,
		ServerName: "chronicle",
		Logger:     a.log,
	}
	if ec.HubKey, err = hub.PublicKey(); err != nil {
		return fmt.Errorf("nats key: %w", err)
	}
	if a.cfg.NATSUsersFile != "" {
		if ec.Users, err = embedded.LoadUsers(a.cfg.NATSUsersFile); err != nil {
			return err
		}
	}
	a.ns, err = embedded.StartContext(ctx, ec)
	if errors.Is(err, embedded.ErrMonitor) {
		return fmt.Errorf("--nats-monitor %s: %w", a.cfg.NATSMonitor, err)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("--nats-listen %s is in use (another Chronicle or nats-server?): %w", a.cfg.NATSListen, err)
	}
	if err != nil {
		return err
	}
	a.nc, err = embedded.Connect(a.ns, hub, opts...)
	return err
}

// JetStream's error codes for a stream asked for more replicas than the
// servers can give: a server that is not in a cluster, and a cluster with
// too few nodes (or too few with room).
const (
	errCodeReplicasNotSupported = 10074
	errCodeNoPeers              = 10005
	errCodeInsufficientRes      = 10023
)

// replicasError names --replicas when the streams could not be created or
// updated because the servers cannot keep that many copies.
func replicasError(err error, replicas int) error {
	var api *jetstream.APIError
	if replicas <= 1 || !errors.As(err, &api) {
		return err
	}
	switch api.ErrorCode {
	case errCodeReplicasNotSupported:
		return fmt.Errorf("--replicas %d: the NATS server is not part of a cluster, so it keeps one copy of each stream; use --replicas 1, or a cluster of at least %d nodes: %w", replicas, replicas, err)
	case errCodeNoPeers, errCodeInsufficientRes:
		return fmt.Errorf("--replicas %d: the NATS cluster has fewer than %d nodes with JetStream and room for the streams; use fewer replicas, or add nodes: %w", replicas, replicas, err)
	}
	return err
}

// recordRecreated writes into an access log created or accepted anew over
// one that was lost (--recreate-audit-stream) a record saying so, so that
// an auditor reading it knows that what came before is missing and when
// that was accepted, and later starts know it was deliberate.
func (a *App) recordRecreated(ctx context.Context) error {
	a.log.Warn("the access log had been lost; going on with a new one, as --recreate-audit-stream allowed, and recording that", "stream", eventlog.AuditStream)
	rec := access.Record{At: a.cfg.Now(), Subject: "chronicle:" + a.cfg.Replica, Name: "Chronicle serve --recreate-audit-stream",
		Role: "system", Action: eventlog.AuditRecreated}
	if err := a.auditor.Record(ctx, []access.Record{rec}); err != nil {
		return fmt.Errorf("record that the access log was recreated: %w", err)
	}
	return nil
}

func (a *App) serveHTTP() error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	// Like /readyz, /metrics needs no token: neither says anything about a
	// child (see services/metrics).
	mux.Handle("GET /metrics", a.metrics.Handler())
	if a.cfg.runsIngest() {
		mux.Handle("/v1/events", httpapi.Authenticated(a.verifier, auth.Publish, a.log,
			httpapi.BodyWithin(ingestBodyTimeout, ingest.NewHandler(a.pub, a.log))))
	}
	if a.cfg.runsGateway() {
		if err := a.serveReads(mux); err != nil {
			return err
		}
	}
	ln := a.ln
	// Every request's context descends from base, so that Close can stop
	// the work of requests that outlive the grace period.
	base, stop := context.WithCancel(context.Background())
	a.stopHTTP = stop
	a.http = &http.Server{
		TLSConfig:         a.tls,
		Handler:           httpapi.Middleware(a.log, mux),
		ReadHeaderTimeout: httpHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		IdleTimeout:       httpIdleTimeout,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	// The goroutine serves this server, not the field: Close sets the field
	// to nil, and may do so before the goroutine has started.
	srv, tlsOn := a.http, a.tls != nil
	go func() {
		var err error
		if tlsOn {
			err = srv.ServeTLS(ln, "", "") // the key pair Run loaded
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// serveReads adds the read side's routes: GraphQL, GraphiQL's assets and
// the exports.
func (a *App) serveReads(mux *http.ServeMux) error {
	schema, err := gateway.NewSchema(a.model, recorder{a}, gateway.Options{Limits: a.cfg.Limits, Rules: a.cfg.Rules, Now: a.cfg.Now, Auditor: a.auditor, Worklist: a.flags})
	if err != nil {
		return fmt.Errorf("graphql schema: %w", err)
	}
	gql := gateway.NewGraphQL(schema, a.cfg.Limits, a.verifier, a.auditor, a.log, gateway.WithExampleChild(func() string {
		nhs, _ := a.example.Load().(string)
		return nhs
	}), gateway.WithObserver(a.metrics.GraphQL))
	mux.Handle("/graphql", gql)
	// Every other path is the web app's: the front page, sign-in, children,
	// the worklist. It reads through GraphQL's own read path (gql.Reads).
	wc := web.Config{Reads: gql.Reads(), Verifier: a.verifier, Now: a.cfg.Now, Log: a.log}
	if a.cfg.OIDCClientID != "" {
		wc.OIDC = &web.OIDC{Issuer: a.cfg.OIDCIssuer, ClientID: a.cfg.OIDCClientID, ClientSecret: a.cfg.OIDCClientSecret,
			RedirectURL: a.cfg.OIDCRedirectURL, RoleClaim: a.cfg.OIDCRoleClaim, Roles: a.cfg.OIDCRoles, AgencyClaim: a.cfg.OIDCAgencyClaim}
	}
	if a.cfg.Demo {
		for _, d := range DemoCallers {
			if (auth.Caller{Role: d.Role, Agency: d.Agency}).Can(auth.ReadRecords) {
				wc.Demo = append(wc.Demo, d)
			}
		}
		wc.Issue = func(d web.DemoCaller) (string, error) {
			return a.IssueToken(d.Subject, d.Name, d.Role, d.Agency, 8*time.Hour)
		}
	}
	pages, err := web.New(wc)
	if err != nil {
		return err
	}
	mux.Handle("/", pages)
	mux.Handle("GET /graphiql/", gateway.GraphiQLAssets())
	exportKey := sha256.Sum256(append([]byte("chronicle-export-pseudonyms|"), a.key.Seed()...))
	exporter := gateway.NewExporter(a.model, exportKey[:], a.auditor, a.log, a.cfg.Now)
	mux.Handle("/v1/export", httpapi.Authenticated(a.verifier, auth.Export, a.log, exporter))
	mux.Handle("/v1/export/annex-a", httpapi.Authenticated(a.verifier, auth.Export, a.log, exporter.AnnexA(a.model)))
	mux.Handle("/v1/export/cin-census", httpapi.Authenticated(a.verifier, auth.Export, a.log, exporter.Rendered("cin_census", "application/xml", a.censusExport)))
	return nil
}

// Reasons Ready gives besides the projector's own.
var (
	errStarting     = errors.New("starting")
	errLoadingDemo  = errors.New("loading the demo data")
	errDisconnected = errors.New("nats disconnected")
)

// Ready returns nil when this process can answer fully: started, connected
// to NATS, its access log's stream able to keep what is written to it, and
// its projector's consumer delivering with the read model caught up.
// Otherwise the error says why; an access log problem wraps
// audit.ErrUnavailable, a projector problem runner.ErrCatchingUp or
// runner.ErrConsumerLost.
func (a *App) Ready(ctx context.Context) error {
	switch {
	case !a.ready.Load():
		return errStarting
	case a.demoPending.Load():
		return errLoadingDemo
	case a.nc == nil || !a.nc.IsConnected():
		return errDisconnected
	}
	if err := a.audit.Check(ctx); err != nil {
		return err
	}
	if a.proj == nil {
		return nil // an ingest process keeps no read model
	}
	return a.proj.Ready()
}

// readyz answers 200 when Ready does, else 503 with a short status
// ("starting", "nats disconnected", "catching up", "consumer not working"),
// the reason in full and how far the read model has got.
func (a *App) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	err := a.Ready(ctx)
	if err == nil {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
		return
	}
	body := map[string]any{"status": err.Error(), "reason": err.Error()}
	switch {
	case errors.Is(err, runner.ErrCatchingUp):
		body["status"] = "catching up"
	case errors.Is(err, runner.ErrConsumerLost):
		body["status"] = "consumer not working"
	case errors.Is(err, audit.ErrUnavailable):
		body["status"] = "access log unavailable"
	}
	if proj := a.proj; proj != nil {
		body["applied_seq"] = proj.Projection().LastSeq()
	}
	body["role"] = a.cfg.Role
	httpapi.WriteJSON(w, http.StatusServiceUnavailable, body)
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

// NATSMonitorAddr is the embedded server's monitoring address
// (host:port), or "" when it is off (the default; see Config.NATSMonitor)
// or the server is external.
func (a *App) NATSMonitorAddr() string {
	if a.ns == nil {
		return ""
	}
	if addr := a.ns.MonitorAddr(); addr != nil {
		return addr.String()
	}
	return ""
}

// JetStream exposes the app's JetStream context, for tools running in the
// same process (the demo loader, tests).
func (a *App) JetStream() jetstream.JetStream { return a.js }

// Model is the read model this process serves from.
func (a *App) Model() *projections.Model { return a.model }

// Projector is the runner keeping the read model up to date.
func (a *App) Projector() *runner.Runner { return a.proj }

// Alerter is the process's alert sweeper.
func (a *App) Alerter() *alerts.Alerter { return a.alerter }

// Publisher is the app's validating publisher.
func (a *App) Publisher() *eventlog.Publisher { return a.pub }

// PublishAndApply validates and publishes events through the app's
// publisher, as HTTP ingest does but for any agencies, and returns once the
// read model has applied them: for tools in the same process and tests.
// It fails when an event is refused or not stored.
func (a *App) PublishAndApply(ctx context.Context, evs ...*events.Event) error {
	body, err := json.Marshal(evs)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	resp, err := ingest.PublishBody(ctx, a.pub, body)
	if err != nil {
		return err
	}
	if stored := resp.Accepted + resp.Duplicates; stored != len(evs) {
		for _, r := range resp.Results {
			if len(r.Problems) > 0 || r.Error != "" {
				return events.Errorf("publish", events.KindInvalid, "%d of %d events stored; event %d: %v%s", stored, len(evs), r.Key, r.Problems, r.Error)
			}
		}
		return events.Errorf("publish", events.KindInvalid, "%d of %d events stored", stored, len(evs))
	}
	return a.proj.WaitForLatest(ctx)
}

// Close stops everything in reverse order of starting. It is safe to call
// more than once and after a failed Run. HTTP requests in flight get
// Config.ShutdownGrace to finish; then their contexts are cancelled (so
// GraphQL execution stops at its next field) and their connections
// closed, so Close's HTTP part never takes longer than the grace period,
// whatever a client is doing.
func (a *App) Close() error {
	a.ready.Store(false)
	a.stopBG()
	var errs []error
	if a.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownGrace)
		if err := a.http.Shutdown(ctx); err != nil {
			a.log.Warn("requests still in flight after the grace period; cancelling them", "grace", a.cfg.ShutdownGrace)
			a.stopHTTP()
			errs = append(errs, a.http.Close())
		}
		cancel()
		a.stopHTTP()
		a.http = nil
	} else if a.ln != nil {
		a.ln.Close() // Run failed before serving
	}
	if a.alerter != nil {
		a.alerter.Stop()
		a.alerter = nil
	}
	if a.amendments != nil {
		_ = a.amendments.Unsubscribe()
		a.amendments = nil
	}
	if a.audit != nil {
		a.audit.Close()
		a.audit = nil
	}
	// The final snapshot goes to the local disk while the worklist is
	// brought to the same position and saved and NATS shuts down: together
	// they take the longest of them, not the sum (7.3 s at 1M events when
	// the snapshot and NATS followed one another).
	var snapshotted chan error
	if a.proj != nil {
		p := a.proj
		p.StopConsuming()
		snapshotted = make(chan error, 1)
		go func() { snapshotted <- p.Stop() }()
		a.proj = nil
	}
	if a.flags != nil && a.js != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// What changed since the last look (up to the alerter's pause
		// after a bulk import) is evaluated now, beside the snapshot,
		// rather than before the next start's first look.
		if err := a.flags.CatchUp(ctx, time.Now()); err != nil {
			a.log.Warn("worklist saved before it caught up; the next start evaluates the rest", "err", err)
		}
		if err := a.saveWorklist(ctx); err != nil {
			a.log.Warn("worklist not saved; the next start evaluates every child's flags again", "err", err)
		}
		cancel()
		a.flags = nil
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
	if snapshotted != nil {
		errs = append(errs, <-snapshotted)
	}
	return errors.Join(errs...)
}

// judgeAmendment says whether a correction or retraction applies to the
// log as this process's read model has it, once the model has caught up.
func (a *App) judgeAmendment(ctx context.Context, e *events.Event) error {
	if err := a.proj.WaitForLatest(ctx); err != nil {
		return events.E("check amendment", events.KindUnavailable, fmt.Errorf("the read model is behind the log; try again: %w", err))
	}
	return a.model.CheckAmendment(e)
}

// checkAmendment rejects at ingest a correction or retraction of an event
// the hub does not have, or from another agency. It first lets the projector
// catch up with the log, so a correction sent right after its original is
// judged against it; a process without a read model (RoleIngest) asks a
// gateway, which does the same.
func (a *App) checkAmendment(ctx context.Context, e *events.Event) error {
	if e.Type != "record.corrected" && e.Type != "record.retracted" {
		return nil
	}
	if a.proj == nil {
		err := ingest.AskHub(ctx, a.nc, e)
		if errors.Is(err, ingest.ErrNoHub) {
			return events.E("ingest", events.KindUnavailable, fmt.Errorf("no gateway answered to check this correction against the log; try again: %w", err))
		}
		if err != nil {
			return err
		}
	} else {
		wait, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := a.proj.WaitForLatest(wait); err != nil {
			return events.E("ingest", events.KindUnavailable, fmt.Errorf("the read model is behind the log; try again: %w", err))
		}
		if err := a.model.CheckAmendment(e); err != nil {
			return err
		}
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
	var children []string
	if a.model != nil {
		// An ingest process has no read model to name the children with;
		// the event id names the record.
		_, children, _ = a.model.Event(target, nil)
	}
	rec := access.Record{At: a.cfg.Now(), RequestID: httpapi.RequestID(ctx), Action: strings.TrimPrefix(string(e.Type), "record."), EventID: target,
		ChildID: strings.Join(children, ","), Returned: map[string]int{}}
	if c, ok := auth.CallerFrom(ctx); ok {
		rec.Subject, rec.Name, rec.Role, rec.Agency = c.Subject, c.Name, string(c.Role), c.Agency
	} else {
		rec.Subject, rec.Role, rec.Agency = "nats:"+e.Agency, "publisher", e.Agency
	}
	if err := a.auditor.Record(ctx, []access.Record{rec}); err != nil {
		return events.E("ingest", events.KindUnavailable, err)
	}
	return nil
}

// IssueToken signs a token with this process's local key: for the demo's
// ready-made tokens and for tests.
func (a *App) IssueToken(subject, name string, role auth.Role, agency string, ttl time.Duration) (string, error) {
	return auth.Issue(a.key, subject, name, role, agency, a.cfg.Now(), ttl)
}

// DemoCallers are the demo's ready-made people: serve --demo prints a token
// for each, and the web app offers those who read records as sign-in
// buttons.
var DemoCallers = []web.DemoCaller{
	{Subject: "demo-hub", Name: "Harper Hub (MASH practitioner)", Role: auth.Hub, Agency: "hub"},
	{Subject: "demo-practitioner", Name: "Parker Practitioner (school nurse)", Role: auth.Practitioner, Agency: "health"},
	{Subject: "demo-manager", Name: "Morgan Manager", Role: auth.Manager, Agency: "hub"},
	{Subject: "demo-analyst", Name: "Avery Analyst", Role: auth.Analyst},
	{Subject: "demo-auditor", Name: "Aubrey Auditor", Role: auth.Auditor},
	{Subject: "demo-publisher", Name: "Police system (publisher)", Role: auth.Publisher, Agency: "police"},
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
