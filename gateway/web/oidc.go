package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// CallbackPath is where the OpenID Connect provider sends the browser back
// after sign-in: the redirect URL registered with the provider is this
// server's address followed by it.
const CallbackPath = "/signin/oidc/callback"

// OIDC configures sign-in with an OpenID Connect provider: the
// authorization code flow with PKCE (S256), state and nonce, and the
// provider's ID token mapped to one of Chronicle's roles.
type OIDC struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer string
	// ClientID and ClientSecret are Chronicle's registration with the
	// provider. The secret may be empty for a public client (PKCE alone).
	ClientID, ClientSecret string
	// RedirectURL is the callback as registered with the provider: this
	// server's external address (behind a proxy, the proxy's) and
	// CallbackPath.
	RedirectURL string
	// RoleClaim names the ID token claim holding the person's roles or
	// groups: a string or a list of strings (default "roles").
	RoleClaim string
	// Roles maps a value of RoleClaim to a Chronicle role and, optionally,
	// agency. Empty: the claim's values are Chronicle's role names
	// themselves (hub, practitioner, manager, ...). A value the map does
	// not name is ignored; a person none of whose values maps is refused,
	// and so is one whose values map to two different grants (a person
	// signs in as one role: an administrator gives them one).
	Roles map[string]Grant
	// AgencyClaim names the claim holding the agency code, for a grant that
	// names none (default "agency").
	AgencyClaim string
	// Scopes asked for besides openid (default profile).
	Scopes []string
	// Label names the provider on the sign-in button (default "your
	// organisation's account").
	Label string
}

// Grant is the Chronicle role (and agency, empty for none or to take the
// agency claim) a value of the role claim gives.
type Grant struct {
	Role   auth.Role
	Agency string
}

// ParseRoleMap reads a role map as the --oidc-role-map flag gives it:
// "value=role[:agency]" pairs separated by commas, e.g.
// "mash-team=hub:hub,school-nurses=practitioner:health". It returns an
// error naming the pair that is not one, or whose role or agency Chronicle
// does not know.
func ParseRoleMap(s string) (map[string]Grant, error) {
	out := map[string]Grant{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		value, grant, ok := strings.Cut(pair, "=")
		role, agency, _ := strings.Cut(grant, ":")
		g := Grant{Role: auth.Role(strings.TrimSpace(role)), Agency: strings.TrimSpace(agency)}
		switch {
		case !ok || strings.TrimSpace(value) == "":
			return nil, fmt.Errorf("%q is not value=role[:agency]", pair)
		case !slices.Contains(auth.Roles, g.Role):
			return nil, fmt.Errorf("%q: unknown role %q (want one of hub, practitioner, manager, analyst, auditor, publisher)", pair, g.Role)
		case g.Agency != "" && !events.Agencies.Has(g.Agency):
			return nil, fmt.Errorf("%q: unknown agency %q", pair, g.Agency)
		}
		out[strings.TrimSpace(value)] = g
	}
	return out, nil
}

// Check finds a configuration that cannot work, before anything starts:
// each problem names the setting.
func (o OIDC) Check() error {
	var errs []error
	if o.Issuer == "" {
		errs = append(errs, errors.New("issuer: required for OpenID Connect sign-in"))
	}
	if o.ClientID == "" {
		errs = append(errs, errors.New("client id: required for OpenID Connect sign-in"))
	}
	u, err := url.Parse(o.RedirectURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != CallbackPath {
		errs = append(errs, fmt.Errorf("redirect URL: %q must be this server's address followed by %s (as registered with the provider)", o.RedirectURL, CallbackPath))
	}
	return errors.Join(errs...)
}

// flowTTL is how long a sign-in at the provider may take, from the button
// to the callback; maxFlows bounds the flows waiting at once.
const (
	flowTTL  = 10 * time.Minute
	maxFlows = 10000
)

// oidcCookie binds a flow to the browser that started it. It is
// SameSite=Lax, unlike the session's: the provider sends the browser back
// with a top-level GET from its own site, on which a Strict cookie is not
// sent.
const oidcCookie = "chronicle_oidc"

// flow is one sign-in under way at the provider: what the callback must
// match (state), what the ID token must carry (nonce) and the PKCE
// verifier whose S256 hash the provider holds.
type flow struct {
	state, nonce, verifier string
	started                time.Time
}

// oidcSignin is the OpenID Connect sign-in: discovery (at the first
// sign-in, and again until it succeeds, so a provider down when Chronicle
// starts does not stop the rest of the hub), flows under way, and the
// mapping of ID tokens to callers.
type oidcSignin struct {
	cfg OIDC
	now func() time.Time

	mu       sync.Mutex
	provider *oidc.Provider
	flows    map[string]flow // by the flow cookie's value
	order    []string
}

func newOIDCSignin(cfg OIDC, now func() time.Time) (*oidcSignin, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("web: OpenID Connect: %w", err)
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	if cfg.AgencyClaim == "" {
		cfg.AgencyClaim = "agency"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = []string{"profile"}
	}
	if cfg.Label == "" {
		cfg.Label = "your organisation's account"
	}
	return &oidcSignin{cfg: cfg, now: now, flows: map[string]flow{}}, nil
}

// discover returns the provider and the OAuth 2.0 configuration, fetching
// the discovery document the first time it succeeds.
func (o *oidcSignin) discover(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	o.mu.Lock()
	p := o.provider
	o.mu.Unlock()
	if p == nil {
		var err error
		if p, err = oidc.NewProvider(ctx, o.cfg.Issuer); err != nil {
			return nil, nil, events.E("oidc", events.KindUnavailable, fmt.Errorf("the identity provider %s cannot be reached: %w", o.cfg.Issuer, err))
		}
		o.mu.Lock()
		o.provider = p
		o.mu.Unlock()
	}
	return p, &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, RedirectURL: o.cfg.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}, nil
}

// secure says whether the cookies of a sign-in are Secure: over TLS, and
// also behind a proxy that ends TLS, which the redirect URL's https says.
func (o *oidcSignin) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(o.cfg.RedirectURL, "https://")
}

// authOrigin is the origin of the provider's authorization endpoint, for
// the sign-in page's form-action; the issuer's while the provider has not
// been discovered.
func (o *oidcSignin) authOrigin(ctx context.Context) string {
	raw := o.cfg.Issuer
	if p, _, err := o.discover(ctx); err == nil {
		raw = p.Endpoint().AuthURL
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// begin records a new flow and returns its cookie value.
func (o *oidcSignin) begin() (string, flow) {
	f := flow{state: randomToken(), nonce: randomToken(), verifier: oauth2.GenerateVerifier(), started: o.now()}
	id := randomToken()
	o.mu.Lock()
	defer o.mu.Unlock()
	kept := o.order[:0]
	for _, k := range o.order {
		if old, ok := o.flows[k]; ok && f.started.Sub(old.started) <= flowTTL {
			kept = append(kept, k)
			continue
		}
		delete(o.flows, k)
	}
	for len(kept) >= maxFlows { // a flood of unfinished sign-ins: the oldest go first
		delete(o.flows, kept[0])
		kept = kept[1:]
	}
	o.order = append(kept, id)
	o.flows[id] = f
	return id, f
}

// finish takes the flow with this cookie value: once only, and only
// within flowTTL of its start.
func (o *oidcSignin) finish(id string) (flow, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	f, ok := o.flows[id]
	delete(o.flows, id)
	return f, ok && o.now().Sub(f.started) <= flowTTL
}

// callerOf maps a verified ID token's claims to a Chronicle caller,
// checked as a token's claims are (auth.CheckCaller). Errors are
// KindForbidden and name the claim.
func (o *oidcSignin) callerOf(tok *oidc.IDToken) (auth.Caller, error) {
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return auth.Caller{}, events.E("oidc", events.KindUnauthenticated, fmt.Errorf("the ID token's claims cannot be read: %w", err))
	}
	values := claimStrings(claims[o.cfg.RoleClaim])
	var grants []Grant
	for _, v := range values {
		g, ok := o.cfg.Roles[v]
		if len(o.cfg.Roles) == 0 {
			g, ok = Grant{Role: auth.Role(v)}, slices.Contains(auth.Roles, auth.Role(v))
		}
		if ok && !slices.Contains(grants, g) {
			grants = append(grants, g)
		}
	}
	switch {
	case len(grants) == 0:
		return auth.Caller{}, events.Errorf(o.cfg.RoleClaim, events.KindForbidden,
			"the identity provider gives no Chronicle role (claim %q: %s): ask your administrator for access", o.cfg.RoleClaim, quoted(values))
	case len(grants) > 1:
		var names []string
		for _, g := range grants {
			names = append(names, string(g.Role)+map[bool]string{true: ":" + g.Agency, false: ""}[g.Agency != ""])
		}
		sort.Strings(names)
		return auth.Caller{}, events.Errorf(o.cfg.RoleClaim, events.KindForbidden,
			"the identity provider gives several Chronicle roles (%s); a person signs in as one: ask your administrator", strings.Join(names, ", "))
	}
	c := auth.Caller{Subject: tok.Subject, Role: grants[0].Role, Agency: grants[0].Agency}
	if c.Agency == "" {
		c.Agency, _ = claims[o.cfg.AgencyClaim].(string)
	}
	for _, k := range []string{"name", "preferred_username", "email"} {
		if s, _ := claims[k].(string); s != "" && c.Name == "" {
			c.Name = s
		}
	}
	if c.Name == "" {
		c.Name = c.Subject
	}
	return c, auth.CheckCaller(c)
}

// claimStrings reads a claim that is a string or a list of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return strings.Fields(v)
	case []any:
		var out []string
		for _, s := range v {
			if s, ok := s.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func quoted(vs []string) string {
	if len(vs) == 0 {
		return "none"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}

// oidcStart answers the sign-in page's "Sign in with ..." button (a POST
// with the sign-in form's CSRF token): it starts a flow and sends the
// browser to the provider with the state, the nonce and the PKCE
// challenge. Nothing of the flow is in the browser but a random id in a
// cookie.
func (a *App) oidcStart(w http.ResponseWriter, r *http.Request) {
	if err := a.checkSigninForm(r); err != nil {
		a.errorPage(w, r, nil, http.StatusForbidden, "Form refused", err.Error())
		return
	}
	_, conf, err := a.oidc.discover(r.Context())
	if err != nil {
		a.showSignin(w, r, gateway.StatusOf(err), gateway.PublicMessage(r.Context(), a.log, err))
		return
	}
	id, f := a.oidc.begin()
	c := cookie(r, oidcCookie, id, int(flowTTL/time.Second))
	c.SameSite, c.Path, c.Secure = http.SameSiteLaxMode, CallbackPath, a.oidc.secure(r)
	http.SetCookie(w, c)
	http.Redirect(w, r, conf.AuthCodeURL(f.state, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier)), http.StatusSeeOther)
}

// oidcCallback finishes a flow: the state must be the flow's, the code is
// exchanged with the PKCE verifier (the provider checks it against the
// challenge), the ID token must verify (signature, issuer, audience,
// expiry) and carry the flow's nonce, and its claims must map to a role
// that reads records. Only then does a session start, under a new id.
// Every failure shows the sign-in page with what went wrong; none starts
// a session.
func (a *App) oidcCallback(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		a.log.Warn("web: OpenID Connect sign-in refused", "request_id", gateway.RequestID(r.Context()), "reason", msg)
		a.showSignin(w, r, status, msg)
	}
	gone := cookie(r, oidcCookie, "", -1)
	gone.Path = CallbackPath
	http.SetCookie(w, gone)
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		fail(http.StatusBadRequest, "sign-in: this browser did not start a sign-in here, or took longer than 10 minutes: sign in again")
		return
	}
	f, ok := a.oidc.finish(c.Value)
	q := r.URL.Query()
	switch {
	case !ok:
		fail(http.StatusBadRequest, "sign-in: this browser did not start a sign-in here, or took longer than 10 minutes: sign in again")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.state)) != 1:
		fail(http.StatusBadRequest, "state: the answer from the identity provider is not for the sign-in this browser started: sign in again")
		return
	case q.Get("error") != "":
		fail(http.StatusUnauthorized, fmt.Sprintf("the identity provider refused the sign-in: %.200s %.200s", q.Get("error"), q.Get("error_description")))
		return
	}
	p, conf, err := a.oidc.discover(r.Context())
	if err != nil {
		fail(gateway.StatusOf(err), gateway.PublicMessage(r.Context(), a.log, err))
		return
	}
	tok, err := conf.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			fail(http.StatusUnauthorized, fmt.Sprintf("code: the identity provider would not exchange it (%.200s): sign in again", re.ErrorCode))
			return
		}
		fail(http.StatusServiceUnavailable, "the identity provider cannot be reached: try again shortly")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		fail(http.StatusUnauthorized, "id_token: the identity provider sent none")
		return
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: a.oidc.cfg.ClientID, Now: a.cfg.Now}).Verify(r.Context(), raw)
	if err != nil {
		fail(http.StatusUnauthorized, "id_token: "+idTokenProblem(err))
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.nonce)) != 1 {
		fail(http.StatusUnauthorized, "nonce: the ID token is not for the sign-in this browser started: sign in again")
		return
	}
	caller, err := a.oidc.callerOf(idt)
	if err == nil {
		err = caller.Require(auth.ReadRecords)
	}
	if err != nil {
		fail(gateway.StatusOf(err), gateway.PublicMessage(r.Context(), a.log, err))
		return
	}
	ss := a.sessions.start("", caller)
	http.SetCookie(w, cookie(r, signinCookie, "", -1))
	sc := cookie(r, sessionCookie, ss.id, 0)
	sc.Secure = a.oidc.secure(r)
	http.SetCookie(w, sc)
	// A page of our own, not a redirect, takes the browser on: the
	// navigation that brought it here began at the provider's site, and a
	// browser does not send a SameSite=Strict cookie (the session's) on a
	// redirect from it; a navigation from this page is same-site.
	a.render(w, r, nil, http.StatusOK, "signedin", "Signed in", caller.Name)
}

// idTokenProblem says why go-oidc refused an ID token, without its
// internals.
func idTokenProblem(err error) string {
	var exp *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &exp):
		return "the ID token has expired: sign in again"
	case strings.Contains(msg, "audience"):
		return "the ID token is not for Chronicle (its audience is another client's)"
	case strings.Contains(msg, "issuer"), strings.Contains(msg, "different provider"):
		return "the ID token is from another issuer"
	case strings.Contains(msg, "signature"):
		return "the ID token's signature does not verify"
	}
	return "the ID token does not verify"
}
