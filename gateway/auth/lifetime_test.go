package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// A token is refused when it lives longer than its role may, and a token
// missing a claim is refused naming that claim.
func TestTokenLifetimeAndMissingClaims(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	sign := func(edit func(c *jwt.MapClaims)) string {
		c := jwt.MapClaims{"sub": "jo", "name": "Jo", "role": "hub", "agency": "hub", "iss": auth.LocalIssuer,
			"aud": auth.Audience, "iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(8 * time.Hour).Unix()}
		edit(&c)
		tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hours := func(h int) int64 { return now.Add(time.Duration(h) * time.Hour).Unix() }
	tests := []struct {
		name string
		edit func(c *jwt.MapClaims)
		life auth.Lifetimes
		want string // "" accepted
	}{
		{"a working day", func(c *jwt.MapClaims) {}, auth.Lifetimes{}, ""},
		{"exactly 24 hours", func(c *jwt.MapClaims) { (*c)["exp"] = hours(24) }, auth.Lifetimes{}, ""},
		{"100 years", func(c *jwt.MapClaims) { (*c)["exp"] = hours(24 * 365 * 100) }, auth.Lifetimes{}, "a hub token may live at most 24h0m0s"},
		{"25 hours", func(c *jwt.MapClaims) { (*c)["exp"] = hours(25) }, auth.Lifetimes{}, "token lives 25h0m0s"},
		{"no iat: counted from now", func(c *jwt.MapClaims) { delete(*c, "iat"); (*c)["exp"] = hours(48) }, auth.Lifetimes{}, "may live at most 24h0m0s"},
		{"a publisher may live 90 days", func(c *jwt.MapClaims) {
			(*c)["role"], (*c)["agency"], (*c)["exp"] = "publisher", "police", hours(24*90)
		}, auth.Lifetimes{}, ""},
		{"a publisher for a year", func(c *jwt.MapClaims) {
			(*c)["role"], (*c)["agency"], (*c)["exp"] = "publisher", "police", hours(24*365)
		}, auth.Lifetimes{}, "a publisher token may live at most 2160h0m0s"},
		{"a hub that allows a week", func(c *jwt.MapClaims) { (*c)["exp"] = hours(24 * 7) }, auth.Lifetimes{People: 7 * 24 * time.Hour}, ""},
		{"no exp", func(c *jwt.MapClaims) { delete(*c, "exp") }, auth.Lifetimes{}, "lacks a required claim (exp)"},
		{"no iss", func(c *jwt.MapClaims) { delete(*c, "iss") }, auth.Lifetimes{}, "lacks a required claim (iss)"},
		{"no aud", func(c *jwt.MapClaims) { delete(*c, "aud") }, auth.Lifetimes{}, "lacks a required claim (aud)"},
		{"no sub", func(c *jwt.MapClaims) { delete(*c, "sub") }, auth.Lifetimes{}, "no subject (sub)"},
		{"no role", func(c *jwt.MapClaims) { delete(*c, "role") }, auth.Lifetimes{}, `unknown role ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := auth.NewLocalVerifier(pub, func() time.Time { return now }, auth.WithLifetimes(tt.life))
			_, err := v.Verify(sign(tt.edit))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			case tt.want != "" && events.KindOf(err) != events.KindUnauthenticated && events.KindOf(err) != events.KindForbidden:
				t.Fatalf("kind %v", events.KindOf(err))
			}
		})
	}
}
