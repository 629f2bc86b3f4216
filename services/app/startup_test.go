package app_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/services/app"
)

// Settings that cannot work stop Run at once, with an error naming the
// serve flag, instead of a process that says it is running and is not.
func TestRunRefusesSettingsThatCannotWork(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath, _ := writeCert(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate"), 0o600)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()

	tests := []struct {
		name   string
		cfg    func(*app.Config)
		want   []string
		errIs  error
		within time.Duration
	}{
		{name: "certificate without key", cfg: func(c *app.Config) { c.TLSCert = certPath }, want: []string{"--tls-key"}},
		{name: "key without certificate", cfg: func(c *app.Config) { c.TLSKey = keyPath }, want: []string{"--tls-cert"}},
		{name: "missing certificate file", cfg: func(c *app.Config) { c.TLSCert, c.TLSKey = filepath.Join(dir, "nope.pem"), keyPath },
			want: []string{"--tls-cert", "nope.pem"}, errIs: os.ErrNotExist},
		{name: "certificate that is not one", cfg: func(c *app.Config) { c.TLSCert, c.TLSKey = garbage, keyPath }, want: []string{"--tls-cert", "garbage.pem"}},
		{name: "key that does not match", cfg: func(c *app.Config) { c.TLSCert, c.TLSKey = certPath, garbage }, want: []string{"--tls-key", "garbage.pem"}},
		{name: "OIDC without issuer", cfg: func(c *app.Config) { c.OIDCJWKSURL, c.OIDCAudience = "http://127.0.0.1:1/jwks", "chronicle" }, want: []string{"--oidc-issuer"}},
		{name: "OIDC without audience", cfg: func(c *app.Config) { c.OIDCJWKSURL, c.OIDCIssuer = "http://127.0.0.1:1/jwks", "https://idp.test" }, want: []string{"--oidc-audience"}},
		{name: "issuer without key set", cfg: func(c *app.Config) { c.OIDCIssuer = "https://idp.test" }, want: []string{"--oidc-issuer", "--oidc-jwks-url"}},
		{name: "web sign-in without issuer", cfg: func(c *app.Config) {
			c.OIDCClientID, c.OIDCRedirectURL = "chronicle-web", "https://hub.test/signin/oidc/callback"
		}, want: []string{"--oidc-issuer", "--oidc-client-id"}},
		{name: "web sign-in without redirect URL", cfg: func(c *app.Config) { c.OIDCClientID, c.OIDCIssuer = "chronicle-web", "https://idp.test" }, want: []string{"--oidc-redirect-url"}},
		{name: "web sign-in with a redirect URL elsewhere", cfg: func(c *app.Config) {
			c.OIDCClientID, c.OIDCIssuer, c.OIDCRedirectURL = "chronicle-web", "https://idp.test", "https://hub.test/callback"
		}, want: []string{"--oidc-*", "/signin/oidc/callback"}},
		{name: "a client secret without a client", cfg: func(c *app.Config) { c.OIDCClientSecret = "s" }, want: []string{"--oidc-client-secret", "--oidc-client-id"}},
		{name: "replica name with a dot", cfg: func(c *app.Config) { c.Replica = "web.1" }, want: []string{"--replica", "web.1"}},
		{name: "NATS port in use", cfg: func(c *app.Config) { c.NATSListen = addr }, want: []string{"--nats-listen", addr}, errIs: syscall.EADDRINUSE},
		{name: "NATS credentials for the embedded server", cfg: func(c *app.Config) { c.NATSCreds = garbage }, want: []string{"--nats-creds", "--nats-url", "nats-chronicle.nk"}},
		{name: "agency users for an external server", cfg: func(c *app.Config) { c.NATSURL, c.NATSUsersFile = "nats://127.0.0.1:1", garbage }, want: []string{"--nats-users", "--nats-url"}},
		{name: "NATS credentials that are not", cfg: func(c *app.Config) { c.NATSURL, c.NATSCreds = "nats://127.0.0.1:1", garbage },
			want: []string{"--nats-creds", "garbage.pem", "neither a .creds file nor an nkey user seed"}},
		{name: "HTTP port in use", cfg: func(c *app.Config) { c.HTTPAddr = addr }, want: []string{"--http", addr}, errIs: syscall.EADDRINUSE},
		{name: "NATS monitoring port in use", cfg: func(c *app.Config) { c.NATSMonitor = addr }, want: []string{"--nats-monitor", addr}, errIs: syscall.EADDRINUSE},
		{name: "NATS monitoring address without a port", cfg: func(c *app.Config) { c.NATSMonitor = "127.0.0.1" }, want: []string{"--nats-monitor", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true}
			tt.cfg(&cfg)
			a := app.New(cfg)
			started := time.Now()
			err := a.Run(context.Background())
			if err == nil {
				a.Close()
				t.Fatal("Run succeeded")
			}
			if took := time.Since(started); took > 5*time.Second {
				t.Errorf("took %v to fail", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if tt.errIs != nil && !errors.Is(err, tt.errIs) {
				t.Errorf("error %q is not %v", err, tt.errIs)
			}
		})
	}
}

// The embedded server's own monitoring endpoint is off unless asked for,
// and with --nats-monitor answers nats-server's /varz and /healthz there.
func TestNATSMonitoringOnlyWhenAsked(t *testing.T) {
	off := start(t, t.TempDir())
	if addr := off.NATSMonitorAddr(); addr != "" {
		t.Fatalf("monitoring listens on %s without --nats-monitor", addr)
	}
	on := start(t, t.TempDir(), func(c *app.Config) { c.NATSMonitor = "127.0.0.1:0" })
	addr := on.NATSMonitorAddr()
	if addr == "" {
		t.Fatal("no monitoring address with --nats-monitor")
	}
	for path, want := range map[string]string{"/varz": `"server_name": "chronicle"`, "/healthz": `"status":"ok"`} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("%s: %d %.300s, want %s", path, resp.StatusCode, body, want)
		}
	}
}
