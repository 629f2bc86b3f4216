package embedded_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/embedded"
)

// Chronicle's own key is created once, readable by its owner only in a
// directory only its owner may enter, and the same key is loaded after.
func TestLoadOrCreateKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "nats-chronicle.nk")
	first, err := embedded.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700 | os.ModeDir} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, st.Mode(), want)
		}
	}
	again, err := embedded.LoadOrCreateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := first.PublicKey()
	b, _ := again.PublicKey()
	if a != b || !nkeys.IsValidPublicUserKey(a) {
		t.Fatalf("keys %s and %s", a, b)
	}
	if err := os.WriteFile(path, []byte("not a seed\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.LoadOrCreateKey(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("a damaged key file: %v, want an error naming it", err)
	}
}

// --nats-creds takes a standard .creds file or an nkey user seed, and
// names the file and what is wrong with it otherwise.
func TestCredentials(t *testing.T) {
	dir := t.TempDir()
	user, _ := nkeys.CreateUser()
	userSeed, _ := user.Seed()
	account, _ := nkeys.CreateAccount()
	accountSeed, _ := account.Seed()
	// A .creds file as nsc writes it; the JWT is only carried, not checked
	// here (a server in operator mode checks it).
	creds := "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n" +
		"************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(userSeed) + "\n------END USER NKEY SEED------\n"
	tests := []struct {
		name    string
		content string // "" for no file at all
		wantErr string
	}{
		{name: "nkey user seed", content: string(userSeed) + "\n"},
		{name: ".creds file", content: creds},
		{name: "no such file", wantErr: "no such file"},
		{name: "empty file", content: "\n", wantErr: "neither a .creds file nor an nkey user seed"},
		{name: "a password", content: "synthetic-password\n", wantErr: "neither a .creds file nor an nkey user seed"},
		{name: "an account seed", content: string(accountSeed) + "\n", wantErr: "neither a .creds file nor an nkey user seed"},
		{name: ".creds file without its seed", content: creds[:strings.Index(creds, "*")], wantErr: "no usable seed"},
		{name: ".creds file without a JWT", content: strings.Replace(creds, "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln", "", 1), wantErr: "no user JWT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if tt.content != "" {
				if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			opt, err := embedded.Credentials(path)
			if tt.wantErr == "" {
				if err != nil || opt == nil {
					t.Fatalf("Credentials: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming %s with %q", err, path, tt.wantErr)
			}
		})
	}
}

// The embedded server has no anonymous users: without Chronicle's own key
// it refuses to start, and with it only that key and configured agencies
// may connect.
func TestOnlyChroniclesKeyConnects(t *testing.T) {
	if _, err := embedded.Start(embedded.Config{StoreDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "HubKey") {
		t.Fatalf("started without a key for Chronicle's own user: %v", err)
	}
	kp, pub := hubKey(t)
	s, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Listen: "127.0.0.1:0", HubKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	seed, _ := kp.Seed()
	path := filepath.Join(t.TempDir(), "hub.nk")
	if err := os.WriteFile(path, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := embedded.Credentials(path)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), creds)
	if err != nil {
		t.Fatalf("Chronicle's key over the client port: %v", err)
	}
	nc.Close()
	if _, err := nats.Connect(s.ClientURL()); err == nil || !strings.Contains(err.Error(), "Authorization Violation") {
		t.Fatalf("anonymous: %v", err)
	}
}
