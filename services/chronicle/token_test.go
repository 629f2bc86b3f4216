package main

import (
	"cmp"
	"crypto/ed25519"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// chronicle token issues a token the data directory's key verifies, with
// the role, agency and lifetime asked for; it refuses an unknown role and a
// role that needs an agency without one.
func TestTokenVerb(t *testing.T) {
	dir := t.TempDir()
	if _, err := app.EnsureSigningKey(dir); err != nil { // as serve does at its first start
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		args        []string
		wantCode    int
		wantRole    auth.Role
		wantAgency  string
		wantPublish bool
		wantErr     string
		ttl         time.Duration // the --ttl given, when not 1h
	}{
		{name: "practitioner", args: []string{"--role", "practitioner", "--agency", "health", "--ttl", "1h"}, wantRole: auth.Practitioner, wantAgency: "health"},
		{name: "publisher", args: []string{"--role", "publisher", "--agency", "police", "--ttl", "1h"}, wantRole: auth.Publisher, wantAgency: "police", wantPublish: true},
		{name: "hub staff", args: []string{"--role", "hub", "--agency", "hub", "--ttl", "1h"}, wantRole: auth.Hub, wantAgency: "hub", wantPublish: true},
		{name: "seconded officer reads only", args: []string{"--role", "manager", "--agency", "police", "--ttl", "1h"}, wantRole: auth.Manager, wantAgency: "police",
			wantErr: "may not publish"},
		{name: "analyst needs no agency", args: []string{"--role", "analyst", "--ttl", "1h"}, wantRole: auth.Analyst},
		{name: "unknown role", args: []string{"--role", "superuser"}, wantCode: exitUsage, wantErr: `unknown role "superuser"`},
		{name: "publisher without agency", args: []string{"--role", "publisher"}, wantCode: exitUsage, wantErr: "needs --agency"},
		{name: "hub without agency", args: []string{"--role", "hub"}, wantCode: exitUsage, wantErr: "needs --agency"},
		{name: "a data directory with no key", args: []string{"--role", "analyst", "--data", "elsewhere"}, wantCode: exitFailure, wantErr: "no signing key at elsewhere"},
		{name: "unknown agency", args: []string{"--role", "publisher", "--agency", "mi5"}, wantCode: exitUsage, wantErr: `"mi5"`},
		{name: "a person's token for a century", args: []string{"--role", "hub", "--agency", "hub", "--ttl", "876000h"}, wantCode: exitUsage, wantErr: "--ttl 876000h0m0s is longer than a hub token may live (24h0m0s)"},
		{name: "a publisher's token for 90 days", args: []string{"--role", "publisher", "--agency", "police", "--ttl", "2160h"}, wantRole: auth.Publisher, wantAgency: "police", wantPublish: true, ttl: 2160 * time.Hour},
		{name: "a publisher's token for a year", args: []string{"--role", "publisher", "--agency", "police", "--ttl", "8760h"}, wantCode: exitUsage, wantErr: "longer than a publisher token may live"},
		{name: "a week where the server allows it", args: []string{"--role", "analyst", "--ttl", "168h", "--max-ttl", "168h"}, wantRole: auth.Analyst, ttl: 168 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "--data", dir, "--sub", "person-1", "--name", "Synthetic Person"}, tt.args...)
			code, out, errOut := runCLI(t, "", args...)
			if code != tt.wantCode || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.wantCode, errOut, tt.wantErr)
			}
			if code != exitOK {
				return
			}
			key, err := app.LoadSigningKey(dir)
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.TrimSpace(out)
			ttl := cmp.Or(tt.ttl, time.Hour)
			verifier := func(at time.Duration) *auth.Verifier {
				return auth.NewLocalVerifier(key.Public().(ed25519.PublicKey), func() time.Time { return time.Now().Add(at) },
					auth.WithLifetimes(auth.Lifetimes{People: max(ttl, 24*time.Hour), Publisher: max(ttl, auth.DefaultLifetimes.Publisher)}))
			}
			c, err := verifier(0).Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "person-1" || c.Role != tt.wantRole || c.Agency != tt.wantAgency || c.Can(auth.Publish) != tt.wantPublish {
				t.Fatalf("caller %+v, may publish %v", c, c.Can(auth.Publish))
			}
			// Valid five minutes before --ttl is up, expired five after.
			if _, err := verifier(ttl - 5*time.Minute).Verify(tok); err != nil {
				t.Fatalf("before expiry: %v", err)
			}
			_, err = verifier(ttl + 5*time.Minute).Verify(tok)
			if events.KindOf(err) != events.KindUnauthenticated || !strings.Contains(err.Error(), "expired") {
				t.Fatalf("after expiry: %v", err)
			}
		})
	}
}

// serve refuses an invalid --replica (also from CHRONICLE_REPLICA) and a
// busy --nats-listen at once, naming them.
func TestServeRefusesBadReplicaAndBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{name: "flag", args: []string{"--replica", "web.1"}, want: "--replica"},
		{name: "environment", env: "web 1", want: "web 1"},
		{name: "busy NATS port", args: []string{"--nats-listen", busy.Addr().String()}, want: busy.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("CHRONICLE_REPLICA", tt.env)
			}
			args := append([]string{"serve", "--data", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0"}, tt.args...)
			started := time.Now()
			code, out, errOut := runCLI(t, "", args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) || strings.Contains(out, "Chronicle is running") {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
			}
			if took := time.Since(started); took > 5*time.Second {
				t.Fatalf("took %v to fail", took)
			}
		})
	}
}
