package app

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// loadOrCreateKey returns the Ed25519 key in path, creating it (readable by
// the owner only) on first start. The token verb and the server share it
// through the data directory.
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		return priv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("signing key %s: not PEM", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an Ed25519 key", path)
	}
	return priv, nil
}

// KeyPath is where the local signing key lives in a data directory.
func KeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "signing-ed25519.pem") }

// NATSKeyPath is where a data directory keeps the nkey seed of Chronicle's
// own NATS user, which the embedded server trusts and the CLI verbs use.
func NATSKeyPath(dataDir string) string { return filepath.Join(dataDir, "keys", "nats-chronicle.nk") }

// EnsureSigningKey loads the local signing key of a data directory,
// creating it the first time: what serve does at start.
func EnsureSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	return loadOrCreateKey(KeyPath(dataDir))
}

// LoadSigningKey loads the local signing key of a data directory, for the
// token verb. It never creates one: a token signed with a key no server
// knows would be refused everywhere, so a missing key is an error that says
// which directory was looked in.
func LoadSigningKey(dataDir string) (ed25519.PrivateKey, error) {
	path := KeyPath(dataDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		// A new key would sign tokens no server knows.
		return nil, fmt.Errorf("no signing key at %s: is %s the data directory chronicle serve uses? serve creates the key when it first starts", path, dataDir)
	}
	return loadOrCreateKey(path)
}
