package embedded

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// LoadOrCreateKey returns Chronicle's own NATS user key from the nkey seed
// in path, creating it on first start: the file readable by its owner only,
// in a directory only its owner may enter. The server is given only the
// public half, so no password is kept in any configuration; the CLI verbs
// find the seed through the data directory, as the token verb finds the
// signing key.
func LoadOrCreateKey(path string) (nkeys.KeyPair, error) {
	kp, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return kp, err
	}
	if kp, err = nkeys.CreateUser(); err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	// O_EXCL: a CLI verb and serve starting together must not each write a
	// different key; the loser reads the winner's.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return loadKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	_, werr := f.Write(append(seed, '\n'))
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path)
		return nil, fmt.Errorf("nats key %s: %w", path, werr)
	}
	return kp, nil
}

func loadKey(path string) (nkeys.KeyPair, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	kp, err := nkeys.ParseDecoratedUserNKey(raw)
	if err != nil {
		return nil, fmt.Errorf("nats key %s: not an nkey user seed: %w", path, err)
	}
	return kp, nil
}

// KeyAuth is the client option that authenticates as the nkey user kp.
func KeyAuth(kp nkeys.KeyPair) (nats.Option, error) {
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("nats key: %w", err)
	}
	return nats.Nkey(pub, kp.Sign), nil
}

// credsMarker starts the user JWT in a NATS .creds file.
var credsMarker = []byte("-----BEGIN NATS USER JWT-----")

// Credentials is the client option for a credentials file: a standard NATS
// .creds file (a user JWT and its seed, for a server run in operator mode)
// or an nkey user seed, such as the one serve keeps in its data directory.
// The file is read now, so that a missing or malformed one is reported
// before any connection is tried, naming the file.
func Credentials(path string) (nats.Option, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nats credentials: %w", err)
	}
	if bytes.Contains(raw, credsMarker) {
		// A JWT is three dot-separated parts; without one between the
		// markers the parser returns the next block, the seed.
		if jwt, err := nkeys.ParseDecoratedJWT(raw); err != nil || strings.Count(jwt, ".") != 2 {
			return nil, fmt.Errorf("nats credentials %s: no user JWT between the markers", path)
		}
		if _, err := nkeys.ParseDecoratedUserNKey(raw); err != nil {
			return nil, fmt.Errorf("nats credentials %s: the user JWT has no usable seed with it: %w", path, err)
		}
		// Read again at every (re)connection, so a rotated file is used.
		return nats.UserCredentials(path), nil
	}
	kp, err := nkeys.ParseDecoratedUserNKey(raw)
	if err != nil {
		return nil, fmt.Errorf("nats credentials %s: neither a .creds file nor an nkey user seed: %w", path, err)
	}
	return KeyAuth(kp)
}
