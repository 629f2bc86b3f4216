// Package auth says who a caller is and what they may see: it verifies
// bearer tokens (JWTs, with golang-jwt/jwt) from Chronicle's own signing key
// or an OpenID Connect issuer's key set, and holds the role rules that
// decide which entries each caller sees and which operations they may use.
package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/chronicle-hub/chronicle/events"
)

// Role is what a caller does in the hub.
type Role string

// The roles. What each may do is in the tables below.
const (
	// Hub: a MASH practitioner; standard and restricted entries of every
	// agency, not sealed ones. Publishes the hub's own events only (see
	// Caller.Can).
	Hub Role = "hub"
	// Practitioner: agency-scoped; standard entries of every agency,
	// restricted entries of their own agency only.
	Practitioner Role = "practitioner"
	// Manager: as hub, plus sealed entries; publishes as hub does.
	Manager Role = "manager"
	// Analyst: statistics and pseudonymised exports only; no names,
	// identifiers or free text.
	Analyst Role = "analyst"
	// Auditor: the access log only.
	Auditor Role = "auditor"
	// Publisher: ingest for one agency only.
	Publisher Role = "publisher"
)

// Roles lists every role.
var Roles = []Role{Hub, Practitioner, Manager, Analyst, Auditor, Publisher}

// Action is something a caller may be allowed to do.
type Action string

// The actions the API checks.
const (
	ReadRecords     Action = "read child records"
	LinkRecords     Action = "link and unlink records"
	ResolveIdentity Action = "review identity conflicts and possible matches"
	ReadStatistics  Action = "read statistics"
	Export          Action = "export pseudonymised data"
	ReadAccessLog   Action = "read the access log"
	Publish         Action = "publish events"
	ReadCatalogue   Action = "read the catalogue and rules"
)

// HubAgency is the agency code of the hub itself: its own events (MASH
// decisions, strategy discussions, links) are published as this agency.
const HubAgency = "hub"

// allowed is the permission table. Publish is further limited by
// Caller.Can.
var allowed = map[Role][]Action{
	Hub:          {ReadRecords, LinkRecords, ResolveIdentity, ReadCatalogue, Publish},
	Practitioner: {ReadRecords, ReadCatalogue},
	Manager:      {ReadRecords, LinkRecords, ResolveIdentity, ReadStatistics, Export, ReadCatalogue, Publish},
	Analyst:      {ReadStatistics, Export, ReadCatalogue},
	Auditor:      {ReadAccessLog, ReadCatalogue},
	Publisher:    {Publish, ReadCatalogue},
}

// Caller is a verified caller.
type Caller struct {
	Subject string
	Name    string
	Role    Role
	Agency  string
}

// Can reports whether the caller may do a.
//
// Publishing: a token publishes only as the agency it names (the ingest
// API refuses events of any other agency), so publishing needs a known
// agency claim, and which one depends on the role:
//   - publisher: its agency, which every publisher token must carry (Verify
//     refuses one without).
//   - hub and manager: only with the agency claim "hub" (HubAgency), for
//     the hub's own events. A hub or manager token naming another agency
//     (a seconded officer's employer, say) or none reads as before but may
//     not publish: events of police, health and the rest come from those
//     agencies' own publisher tokens, never from a person's reading token.
//
// Every other role may not publish.
func (c Caller) Can(a Action) bool {
	if a == Publish && (c.Role == Hub || c.Role == Manager) && c.Agency != HubAgency {
		return false
	}
	return slices.Contains(allowed[c.Role], a)
}

// Require returns a KindForbidden error naming what the role may not do.
func (c Caller) Require(a Action) error {
	switch {
	case c.Can(a):
		return nil
	case a == Publish && slices.Contains(allowed[c.Role], a):
		return events.Errorf("auth", events.KindForbidden,
			"role %q may %s only with agency claim %q (the hub's own events), not %q: an agency's events come from its publisher token", c.Role, a, HubAgency, c.Agency)
	}
	return events.Errorf("auth", events.KindForbidden, "role %q may not %s", c.Role, a)
}

// Sees reports whether the caller may see an entry of this sensitivity from
// this agency. Everyone who may read records sees standard entries;
// restricted ones need the hub or manager role, or a practitioner of the
// same agency; sealed ones need a manager.
func (c Caller) Sees(sensitivity, agency string) bool {
	if !c.Can(ReadRecords) {
		return false
	}
	switch sensitivity {
	case "standard":
		return true
	case "restricted":
		return c.Role == Hub || c.Role == Manager || (c.Role == Practitioner && c.Agency == agency)
	case "sealed":
		return c.Role == Manager
	}
	return false
}

// Claims are Chronicle's token claims.
type Claims struct {
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Agency string `json:"agency,omitempty"`
	jwt.RegisteredClaims
}

// Audience is the audience Chronicle's own tokens carry and require.
const Audience = "chronicle"

// LocalIssuer is the issuer of tokens signed with the local key.
const LocalIssuer = "chronicle-local"

// Issue signs a token with the local key.
func Issue(key ed25519.PrivateKey, subject, name string, role Role, agency string, now time.Time, ttl time.Duration) (string, error) {
	c := Claims{Name: name, Role: role, Agency: agency, RegisteredClaims: jwt.RegisteredClaims{
		Subject: subject, Issuer: LocalIssuer, Audience: jwt.ClaimStrings{Audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	if err := checkClaims(c); err != nil {
		return "", err
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return tok, nil
}

// checkClaims validates the Chronicle-specific claims.
func checkClaims(c Claims) error {
	switch {
	case c.Subject == "":
		return events.Errorf("auth", events.KindUnauthenticated, "token has no subject (sub)")
	case !slices.Contains(Roles, c.Role):
		return events.Errorf("auth", events.KindForbidden, "unknown role %q (want one of hub, practitioner, manager, analyst, auditor, publisher)", c.Role)
	case (c.Role == Practitioner || c.Role == Publisher) && !events.Agencies.Has(c.Agency):
		return events.Errorf("auth", events.KindForbidden, "role %q needs a known agency claim, not %q", c.Role, c.Agency)
	case c.Agency != "" && !events.Agencies.Has(c.Agency):
		return events.Errorf("auth", events.KindForbidden, "unknown agency %q", c.Agency)
	}
	return nil
}

// CheckCaller checks a caller made from another proof of identity (an
// OpenID Connect ID token whose claims were mapped to Chronicle's roles)
// with the rules Verify applies to a token's claims: a subject, a known
// role, and a known agency where the role needs one. Errors are
// KindUnauthenticated (no subject) or KindForbidden, naming the problem.
func CheckCaller(c Caller) error {
	return checkClaims(Claims{Name: c.Name, Role: c.Role, Agency: c.Agency, RegisteredClaims: jwt.RegisteredClaims{Subject: c.Subject}})
}

// Lifetimes cap how long a token may live, from its iat (or, without one,
// from now) to its exp. A token is a bearer credential: one copied from a
// shared hub PC, a log or a script is good to whoever holds it until it
// expires, so people's tokens last a working day and only systems that
// publish (which cannot sign in each morning) get longer ones.
type Lifetimes struct {
	// People is the longest lifetime of every role but publisher.
	People time.Duration
	// Publisher is the longest lifetime of a publisher (an agency system)
	// token.
	Publisher time.Duration
}

// DefaultLifetimes: 24 hours for people, 90 days for agency systems.
var DefaultLifetimes = Lifetimes{People: 24 * time.Hour, Publisher: 90 * 24 * time.Hour}

// For returns the longest lifetime of a token of role r.
func (l Lifetimes) For(r Role) time.Duration {
	if r == Publisher {
		return l.Publisher
	}
	return l.People
}

// Verifier checks bearer tokens.
type Verifier struct {
	keys     jwt.Keyfunc
	methods  []string
	issuer   string
	audience string
	now      func() time.Time
	life     Lifetimes
}

// VerifierOption tunes a Verifier.
type VerifierOption func(*Verifier)

// WithLifetimes sets the longest lifetimes accepted (default
// DefaultLifetimes); a zero field keeps the default's.
func WithLifetimes(l Lifetimes) VerifierOption {
	return func(v *Verifier) {
		if l.People > 0 {
			v.life.People = l.People
		}
		if l.Publisher > 0 {
			v.life.Publisher = l.Publisher
		}
	}
}

func newVerifier(v *Verifier, opts []VerifierOption) *Verifier {
	v.life = DefaultLifetimes
	for _, o := range opts {
		o(v)
	}
	return v
}

// NewLocalVerifier verifies tokens signed with the local key (EdDSA only).
func NewLocalVerifier(pub ed25519.PublicKey, now func() time.Time, opts ...VerifierOption) *Verifier {
	return newVerifier(&Verifier{keys: func(*jwt.Token) (any, error) { return pub, nil }, methods: []string{"EdDSA"}, issuer: LocalIssuer, audience: Audience, now: now}, opts)
}

// NewOIDCVerifier verifies tokens from an OpenID Connect issuer, fetching
// and refreshing its JSON Web Key Set from jwksURL while ctx lasts. Tokens
// must carry iss equal to issuer, aud including audience, sub, exp, and
// Chronicle's role and (for practitioner and publisher; for hub and
// manager to publish) agency claims. An empty issuer or audience is an
// error: without them any token signed by a key in the set would do. A key
// set that cannot be fetched at start is fetched again later; until then
// every token is refused.
func NewOIDCVerifier(ctx context.Context, jwksURL, issuer, audience string, now func() time.Time, opts ...VerifierOption) (*Verifier, error) {
	if issuer == "" || audience == "" {
		return nil, fmt.Errorf("oidc keys from %s: an issuer and an audience are required", jwksURL)
	}
	k, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	if err != nil {
		return nil, fmt.Errorf("oidc keys from %s: %w", jwksURL, err)
	}
	return newVerifier(&Verifier{keys: k.Keyfunc, methods: []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"}, issuer: issuer, audience: audience, now: now}, opts), nil
}

// Verify checks a token and returns the caller. Errors are
// KindUnauthenticated (no, malformed, forged, expired or not yet valid
// token, wrong issuer or audience) or KindForbidden (unknown role), with a
// message that says which.
func (v *Verifier) Verify(token string) (Caller, error) {
	if token == "" {
		return Caller{}, events.Errorf("auth", events.KindUnauthenticated, "no bearer token: send Authorization: Bearer <token> (in GraphiQL, open Headers and paste one printed by chronicle serve --demo or issued by chronicle token)")
	}
	var c Claims
	opts := []jwt.ParserOption{jwt.WithValidMethods(v.methods), jwt.WithExpirationRequired(), jwt.WithTimeFunc(v.now), jwt.WithLeeway(30 * time.Second)}
	if v.issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.issuer))
	}
	if v.audience != "" {
		opts = append(opts, jwt.WithAudience(v.audience))
	}
	_, err := jwt.ParseWithClaims(token, &c, v.keys, opts...)
	if err != nil {
		msg := tokenProblem(err)
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			msg = "token lacks a required claim (" + missingClaim(c) + ")"
		}
		return Caller{}, events.E("auth", events.KindUnauthenticated, errors.New(msg))
	}
	if err := checkClaims(c); err != nil {
		return Caller{}, err
	}
	if err := v.checkLifetime(c); err != nil {
		return Caller{}, err
	}
	return Caller{Subject: c.Subject, Name: c.Name, Role: c.Role, Agency: c.Agency}, nil
}

// missingClaim names the registered claim a token lacks, of those Verify
// requires (the library says only that one is missing).
func missingClaim(c Claims) string {
	switch {
	case c.ExpiresAt == nil:
		return "exp"
	case c.Issuer == "":
		return "iss"
	case len(c.Audience) == 0:
		return "aud"
	}
	return "exp, iss or aud"
}

// checkLifetime refuses a token that lives longer than its role may:
// from iat when it has one, else from now, to exp.
func (v *Verifier) checkLifetime(c Claims) error {
	from := v.now()
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	life, max := c.ExpiresAt.Sub(from), v.life.For(c.Role)
	if life > max+time.Minute { // a minute's slack for issuers' clocks
		return events.Errorf("auth", events.KindUnauthenticated, "token lives %s from issue to expiry; a %s token may live at most %s: ask for a shorter one", life.Round(time.Minute), c.Role, max)
	}
	return nil
}

func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "token signature does not verify"
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrSignatureInvalid):
		return "token signature cannot be verified (alg none and unexpected algorithms are refused)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim (exp)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer is not trusted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience is not chronicle"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token is malformed"
	}
	return "token is not valid: " + err.Error()
}

type callerKey struct{}

// WithCaller stores the caller in ctx.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored by the middleware.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

// BearerToken extracts the token from an Authorization header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}
