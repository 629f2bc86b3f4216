package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

const (
	issuer   = "https://idp.council.test/realms/mash"
	audience = "chronicle"
)

// jwksServer serves the public half of key as a JSON Web Key Set under kid.
func jwksServer(t *testing.T, kid string, key *rsa.PrivateKey) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	set := map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/protocol/openid-connect/certs"
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// An OpenID Connect issuer's token verifies against its key set only with
// the configured issuer and audience, a known key id and in date.
func TestOIDCVerification(t *testing.T) {
	key, stranger := rsaKey(t), rsaKey(t)
	now := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v, err := auth.NewOIDCVerifier(ctx, jwksServer(t, "k1", key), issuer, audience, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	claims := func(change func(*auth.Claims)) auth.Claims {
		c := auth.Claims{Name: "Harper Hub", Role: auth.Hub, Agency: "hub", RegisteredClaims: jwt.RegisteredClaims{
			Subject: "user-42", Issuer: issuer, Audience: jwt.ClaimStrings{audience, "account"},
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}}
		if change != nil {
			change(&c)
		}
		return c
	}
	sign := func(kid string, k *rsa.PrivateKey, c auth.Claims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name    string
		token   string
		wantErr string // empty: accepted
	}{
		{"valid", sign("k1", key, claims(nil)), ""},
		{"wrong issuer", sign("k1", key, claims(func(c *auth.Claims) { c.Issuer = "https://idp.elsewhere.test" })), "issuer is not trusted"},
		{"wrong audience", sign("k1", key, claims(func(c *auth.Claims) { c.Audience = jwt.ClaimStrings{"payroll"} })), "audience"},
		{"unknown key id", sign("k2", stranger, claims(nil)), "cannot be verified"},
		{"known key id, other key", sign("k1", stranger, claims(nil)), "does not verify"},
		{"expired", sign("k1", key, claims(func(c *auth.Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) })), "expired"},
		{"no expiry", sign("k1", key, claims(func(c *auth.Claims) { c.ExpiresAt = nil })), "exp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c != (auth.Caller{Subject: "user-42", Name: "Harper Hub", Role: auth.Hub, Agency: "hub"}) {
					t.Fatalf("caller %+v", c)
				}
				return
			}
			if events.KindOf(err) != events.KindUnauthenticated || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v (%v), want unauthenticated, %q", err, events.KindOf(err), tt.wantErr)
			}
		})
	}
}

// Without an issuer or an audience any token signed by the key set would
// do, so the verifier is not made.
func TestOIDCNeedsIssuerAndAudience(t *testing.T) {
	url := jwksServer(t, "k1", rsaKey(t))
	for _, tt := range []struct{ name, issuer, audience string }{
		{"no issuer", "", audience},
		{"no audience", issuer, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewOIDCVerifier(context.Background(), url, tt.issuer, tt.audience, time.Now); err == nil {
				t.Fatal("verifier made")
			}
		})
	}
}

// Only a publisher (for its agency) and hub or manager tokens naming the
// hub may publish; the refusal says why.
func TestWhoMayPublish(t *testing.T) {
	tests := []struct {
		role    auth.Role
		agency  string
		may     bool
		wantErr string
	}{
		{auth.Publisher, "police", true, ""},
		{auth.Hub, "hub", true, ""},
		{auth.Manager, "hub", true, ""},
		{auth.Hub, "", false, `only with agency claim "hub"`},
		{auth.Manager, "police", false, `only with agency claim "hub"`},
		{auth.Practitioner, "health", false, "may not publish"},
		{auth.Analyst, "", false, "may not publish"},
		{auth.Auditor, "", false, "may not publish"},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+"/"+tt.agency, func(t *testing.T) {
			c := auth.Caller{Subject: "s", Role: tt.role, Agency: tt.agency}
			if c.Can(auth.Publish) != tt.may {
				t.Fatalf("Can(Publish) = %v, want %v", !tt.may, tt.may)
			}
			err := c.Require(auth.Publish)
			if tt.may {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if events.KindOf(err) != events.KindForbidden || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Require: %v, want forbidden, %q", err, tt.wantErr)
			}
		})
	}
}
