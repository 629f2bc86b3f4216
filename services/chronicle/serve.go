package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/web"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
)

func serve(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("serve", "", "Runs Chronicle: NATS (embedded, or --nats-url), the projector, the alerter, ingest and the query API. "+
		"On a NATS cluster, --role splits it: ingest processes (HTTP ingest; no read model) and gateway processes (projector, GraphQL, exports, alerts), each scaled on its own. "+
		"Every role uses --nats-url, --nats-creds, --replicas, --duplicate-window, --http, --tls-*, --data and the token and OIDC flags; a gateway also uses --replica and --rules; --demo needs --role all.", std)
	var cfg app.Config
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory; JetStream's files live here and survive restarts")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "use this NATS server or cluster instead of the embedded one; several URLs separated by commas (give every node's)")
	fs.StringVar(&cfg.Role, "role", app.RoleAll, "what this process runs: all (one machine), ingest (HTTP ingest only) or gateway (read model, GraphQL, exports, alerts); ingest and gateway need --nats-url")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server")
	fs.StringVar(&cfg.NATSMonitor, "nats-monitor", "", "address of the embedded NATS server's own monitoring endpoint (/varz, /jsz, /healthz), e.g. 127.0.0.1:8222; off when empty")
	fs.BoolVar(&cfg.NoSyncAlways, "no-sync-always", false, "embedded NATS: do not fsync each event before acknowledging it (faster; an acknowledged event can be lost on power failure)")
	fs.StringVar(&cfg.Replica, "replica", app.DefaultReplica(), "this process's name among the processes sharing one NATS cluster; names its projector consumer (chronicle-projector-NAME) and snapshot, so every process needs its own (letters, digits, - and _; default: the host name)")
	fs.IntVar(&cfg.Streams.Replicas, "replicas", 1, "JetStream replicas for Chronicle's streams: 3 on a three-node cluster (needs --nats-url; start-up fails naming this flag when the cluster cannot keep that many)")
	fs.DurationVar(&cfg.Streams.DuplicateWindow, "duplicate-window", 0, "how long re-sent event ids are recognised as duplicates by the server (default 24h)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	rulesFile := fs.String("rules", "", "JSON file of risk rule thresholds over the defaults (see README: risk flags)")
	fs.StringVar(&cfg.NATSUsersFile, "nats-users", "", "JSON file of agency NATS accounts for the embedded server; each may publish only under its own agency and sees nothing of the hub's traffic")
	fs.StringVar(&cfg.NATSCreds, "nats-creds", "", "with --nats-url: credentials for that server, a .creds file or an nkey user seed (the embedded server's own key is in --data)")
	fs.BoolVar(&cfg.Streams.RecreateAudit, "recreate-audit-stream", false, "create the access log stream empty when it has been lost (start-up refuses otherwise); its first record says so. Use once, deliberately")
	fs.StringVar(&cfg.OIDCJWKSURL, "oidc-jwks-url", "", "verify bearer tokens against this OpenID Connect JWKS URL instead of the local key")
	fs.StringVar(&cfg.OIDCIssuer, "oidc-issuer", "", "issuer (iss) every OIDC token must carry; required with --oidc-jwks-url")
	fs.StringVar(&cfg.OIDCAudience, "oidc-audience", "chronicle", "required audience (aud) of OIDC tokens")
	fs.StringVar(&cfg.OIDCClientID, "oidc-client-id", "", "offer sign-in to the web app with the OpenID Connect provider at --oidc-issuer, as this client (authorization code flow with PKCE)")
	fs.StringVar(&cfg.OIDCClientSecret, "oidc-client-secret", "", "the client's secret (prefer --oidc-client-secret-file: a flag is visible in the process list); empty for a public client")
	secretFile := fs.String("oidc-client-secret-file", "", "file holding the client's secret (one line)")
	fs.StringVar(&cfg.OIDCRedirectURL, "oidc-redirect-url", "", "the redirect URL registered with the provider: this server's external address followed by "+web.CallbackPath)
	fs.StringVar(&cfg.OIDCRoleClaim, "oidc-role-claim", "roles", "ID token claim holding the person's roles or groups (a string or a list)")
	roleMap := fs.String("oidc-role-map", "", "map the role claim's values to Chronicle roles: value=role[:agency],... (e.g. mash-team=hub:hub,school-nurses=practitioner:health); empty: the values are Chronicle's role names")
	fs.StringVar(&cfg.OIDCAgencyClaim, "oidc-agency-claim", "agency", "ID token claim holding the agency code, for a role the map gives no agency")
	fs.DurationVar(&cfg.TokenLifetimes.People, "token-max-ttl", auth.DefaultLifetimes.People, "longest a person's bearer token may live, issue to expiry (longer ones are refused)")
	fs.DurationVar(&cfg.TokenLifetimes.Publisher, "publisher-token-max-ttl", auth.DefaultLifetimes.Publisher, "longest an agency system's publisher token may live")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "private key for --tls-cert (PEM)")
	demo := fs.Bool("demo", false, "with an empty store, first load a synthetic data set (about 2,000 children, 50,000 events)")
	demoChildren := fs.Int("demo-children", 2000, "children in the demo data set")
	demoSeed := fs.Int64("demo-seed", 1, "seed of the demo data set")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(std.err, "serve: --log-level: %v\n", err)
		return exitUsage
	}
	cfg.Logger = slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: level}))
	if *secretFile != "" {
		if cfg.OIDCClientSecret != "" {
			fmt.Fprintln(std.err, "serve: --oidc-client-secret and --oidc-client-secret-file: give one")
			return exitUsage
		}
		raw, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintf(std.err, "serve: --oidc-client-secret-file: %v\n", err)
			return exitUsage
		}
		cfg.OIDCClientSecret = strings.TrimSpace(string(raw))
	}
	if *roleMap != "" {
		var err error
		if cfg.OIDCRoles, err = web.ParseRoleMap(*roleMap); err != nil {
			fmt.Fprintf(std.err, "serve: --oidc-role-map: %v\n", err)
			return exitUsage
		}
	}
	if *rulesFile != "" {
		f, err := os.Open(*rulesFile)
		if err != nil {
			fmt.Fprintf(std.err, "serve: --rules: %v\n", err)
			return exitUsage
		}
		cfg.Rules, err = flags.LoadConfig(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(std.err, "serve: %s: %v\n", *rulesFile, err)
			return exitUsage
		}
	}

	cfg.Demo = *demo
	a := app.New(cfg)
	if err := a.Run(ctx); err != nil {
		cfg.Logger.Error("start failed", "err", err)
		return exitUsage
	}
	if *demo {
		if _, err := a.LoadDemo(ctx, demodata.Config{Seed: *demoSeed, Children: *demoChildren}, std.out); err != nil {
			cfg.Logger.Error("demo data", "err", err)
			a.Close()
			return exitUsage
		}
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	base := scheme + "://" + a.HTTPAddr()
	fmt.Fprintf(std.out, "\nChronicle is running (role %s).\n", cfg.Role)
	if cfg.Role != app.RoleIngest {
		how := "a token"
		if cfg.OIDCClientID != "" {
			how = cfg.OIDCIssuer + " or a token"
		}
		fmt.Fprintf(std.out, "  web app:  %s/ (open in a browser; sign in with %s%s)\n", base, how, map[bool]string{true: " or a demo role's button", false: ""}[*demo])
		fmt.Fprintf(std.out, "  GraphiQL: %s/graphql (open in a browser)\n", base)
	}
	if cfg.Role != app.RoleGateway {
		fmt.Fprintf(std.out, "  ingest:   POST %s/v1/events\n", base)
	}
	fmt.Fprintf(std.out, "  health:   %s/readyz\n  metrics:  %s/metrics\n  NATS:     %s\n", base, base, a.NATSClientURL())
	if m := a.NATSMonitorAddr(); m != "" {
		fmt.Fprintf(std.out, "  NATS monitoring: http://%s/varz (the embedded server's own; --nats-monitor)\n", m)
	}
	if cfg.NATSURL == "" {
		fmt.Fprintf(std.out, "            (no anonymous clients: Chronicle's own key is %s; agencies need --nats-users)\n", app.NATSKeyPath(cfg.DataDir))
	}
	if *demo {
		fmt.Fprintln(std.out, "\nReady-made tokens (12 hours). In GraphiQL open Headers and paste, for example:")
		fmt.Fprintln(std.out, `  {"Authorization": "Bearer <token>", "Chronicle-Purpose": "mash_enquiry"}`)
		for _, d := range app.DemoCallers {
			tok, err := a.IssueToken(d.Subject, d.Name, d.Role, d.Agency, 12*time.Hour)
			if err != nil {
				cfg.Logger.Error("demo token", "err", err)
				continue
			}
			fmt.Fprintf(std.out, "\n  %s (%s%s):\n  %s\n", d.Role, d.Name, map[bool]string{true: ", " + d.Agency, false: ""}[d.Agency != ""], tok)
		}
	} else if cfg.OIDCJWKSURL == "" {
		fmt.Fprintf(std.out, "\nEvery request needs a bearer token. Issue one with the data directory's key, for example:\n"+
			"  chronicle token --data %s --sub jo.bloggs --name \"Jo Bloggs\" --role hub --agency hub\n", cfg.DataDir)
	}
	if nhs, ok := a.ExampleChild(); ok {
		fmt.Fprintf(std.out, "\nTry this query in GraphiQL (a child with a long multi-agency history):\n\n%s\n", exampleQuery(nhs))
	}
	fmt.Fprintln(std.out, "Press Ctrl-C to stop.")
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	if err := a.Close(); err != nil {
		cfg.Logger.Error("shutdown", "err", err)
		return exitUsage
	}
	return exitOK
}

// exampleQuery is the query printed at start and shown in the README.
func exampleQuery(nhs string) string {
	return `{
  child(identifier: {scheme: NHS_NUMBER, value: "` + nhs + `"}) {
    id
    names
    identifiers { scheme value }
    chronology(first: 5, agencies: ["police", "health", "education"]) {
      totalCount
      edges { node { occurredAt agency type summary reliability } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`
}
