package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/chronicle-hub/chronicle/gateway/web"
	"github.com/chronicle-hub/chronicle/services/app"
)

// provider is a real OpenID Connect provider, in process: discovery, a
// JSON Web Key Set, an authorization endpoint that signs in whoever the
// test says (no login form) and a token endpoint that checks the client's
// secret, the code, the redirect URI and the PKCE verifier against the
// challenge, and signs ID tokens (RS256) with a key made for the test.
type provider struct {
	t        testing.TB
	srv      *httptest.Server
	base     string // the issuer: srv.URL, or the same server by another name
	signer   jose.Signer
	key      *rsa.PrivateKey
	clientID string
	secret   string
	redirect string
	// consent, when set, has the authorization endpoint show a page with
	// an Approve button (a form on the provider's site, as a real
	// provider's sign-in is) instead of answering at once.
	consent bool

	mu    sync.Mutex
	user  map[string]any              // the claims of whoever signs in next
	edit  func(claims map[string]any) // changes an ID token's claims before signing (bad paths)
	codes map[string]grant
	seq   int
}

// grant is an authorization code's request: what the token endpoint must
// see again.
type grant struct {
	clientID, redirect, challenge, nonce string
	user                                 map[string]any
}

const (
	testClientID     = "chronicle-web"
	testClientSecret = "synthetic-client-secret"
	// chronicleHost is the hub's name in the redirect URL: the test
	// browser dials the hub for it, so the URL is known before the hub has
	// a port.
	chronicleHost = "chronicle.test"
)

func startProvider(t testing.TB) *provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "test-key-1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	p := &provider{t: t, signer: signer, key: key, clientID: testClientID, secret: testClientSecret,
		redirect: "http://" + chronicleHost + web.CallbackPath, codes: map[string]grant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewServer(mux)
	p.base = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

func (p *provider) discovery(w http.ResponseWriter, _ *http.Request) {
	u := p.base
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token", "jwks_uri": u + "/jwks",
		"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"},
	})
}

func (p *provider) jwks(w http.ResponseWriter, _ *http.Request) {
	_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "test-key-1", Algorithm: "RS256", Use: "sig"}}})
}

// authorize signs in p.user at once and sends the browser back with a
// code. It requires PKCE (S256), a state and a nonce.
func (p *provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if p.consent && r.Method == http.MethodGet {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>Provider</title><form method="post" action="/authorize?` + html.EscapeString(r.URL.RawQuery) + `"><button id="approve">Approve</button></form>`))
		return
	}
	switch {
	case q.Get("response_type") != "code", q.Get("client_id") != p.clientID, q.Get("redirect_uri") != p.redirect:
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE (S256) is required", http.StatusBadRequest)
		return
	case q.Get("state") == "" || q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid"):
		http.Error(w, "state, nonce and scope openid are required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.seq++
	code := "code-" + strings.Repeat("x", p.seq%3) + base64.RawURLEncoding.EncodeToString([]byte(time.Now().String()))
	p.codes[code] = grant{clientID: p.clientID, redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), user: maps.Clone(p.user)}
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := back.Query()
	bq.Set("code", code)
	bq.Set("state", q.Get("state"))
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// token exchanges a code, once, for an ID token, as RFC 6749 and RFC 7636
// say: the client authenticates, the redirect URI is the one the code was
// issued for, and the verifier's S256 hash is the challenge.
func (p *provider) token(w http.ResponseWriter, r *http.Request) {
	refuse := func(code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
	}
	if err := r.ParseForm(); err != nil {
		refuse("invalid_request")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != p.clientID || secret != p.secret {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	edit := p.edit
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	switch {
	case r.PostForm.Get("grant_type") != "authorization_code" || !ok || g.redirect != r.PostForm.Get("redirect_uri"):
		refuse("invalid_grant")
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		refuse("invalid_grant") // the PKCE verifier is not the one the challenge was made from
		return
	}
	now := time.Now()
	claims := map[string]any{"iss": p.base, "aud": p.clientID, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "nonce": g.nonce}
	maps.Copy(claims, g.user)
	if edit != nil {
		edit(claims)
	}
	raw, _ := json.Marshal(claims)
	sig, err := p.signer.Sign(raw)
	if err != nil {
		p.t.Error(err)
		refuse("server_error")
		return
	}
	idToken, _ := sig.CompactSerialize()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "synthetic-access", "token_type": "Bearer", "expires_in": 300, "id_token": idToken})
}

// signsIn says who the provider signs in next, and how their ID token is
// to be spoiled (nil: not).
func (p *provider) signsIn(user map[string]any, edit func(map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user, p.edit = user, edit
}

// startOIDCHub starts a hub whose web app offers sign-in with p, roles
// mapped from the groups claim. With addr set it listens there (p's
// redirect URL must name it); else on any port, reached as chronicleHost.
func startOIDCHub(t testing.TB, p *provider, addr string) *hub {
	t.Helper()
	h := startHubWith(t, func(c *app.Config) {
		if addr != "" {
			c.HTTPAddr = addr
		}
		c.OIDCIssuer, c.OIDCClientID, c.OIDCClientSecret, c.OIDCRedirectURL = p.base, p.clientID, p.secret, p.redirect
		c.OIDCRoleClaim = "groups"
		c.OIDCRoles = map[string]web.Grant{"mash-team": {Role: "hub", Agency: "hub"}, "school-nurses": {Role: "practitioner", Agency: "health"},
			"chronicle-managers": {Role: "manager"}, "data-team": {Role: "analyst"}}
	})
	publishRobin(h)
	return h
}

// chronicleBrowser is a browser that reaches the hub as chronicleHost
// (the name in the redirect URL) and the provider at its own address.
func (h *hub) chronicleBrowser() *browser {
	jar, _ := cookiejar.New(nil)
	addr := strings.TrimPrefix(h.base, "http://")
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		if a == chronicleHost+":80" {
			a = addr
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	t := h.t
	t.Cleanup(tr.CloseIdleConnections)
	return &browser{t: t, base: "http://" + chronicleHost, client: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// startSignin presses "Sign in with ..." and follows the browser to the
// provider, which sends it back: it returns the callback URL the provider
// sent (not yet visited).
func (b *browser) startSignin() *url.URL {
	b.t.Helper()
	page := b.get("/signin")
	if !strings.Contains(page.body, `id="signin-oidc"`) {
		b.t.Fatalf("the sign-in page offers no OpenID Connect sign-in: %s", page.body)
	}
	a := b.post("/signin/oidc", url.Values{"csrf": {csrf(b.t, page)}})
	if a.status != http.StatusSeeOther {
		b.t.Fatalf("sign in with the provider: %d %s", a.status, a.body)
	}
	if c := a.header.Get("Set-Cookie"); !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
		b.t.Errorf("the sign-in flow's cookie: %s", c)
	}
	req, _ := http.NewRequest(http.MethodGet, a.location, nil)
	at := b.do(req)
	if at.status != http.StatusFound {
		b.t.Fatalf("the provider's authorization endpoint: %d %s", at.status, at.body)
	}
	back, err := url.Parse(at.location)
	if err != nil || back.Host != chronicleHost || back.Path != web.CallbackPath {
		b.t.Fatalf("the provider sent the browser to %q", at.location)
	}
	return back
}

// visit GETs an absolute URL.
func (b *browser) visit(u *url.URL) answer {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u.String(), nil)
	return b.do(req)
}

func TestSignInWithOpenIDConnect(t *testing.T) {
	p := startProvider(t)
	h := startOIDCHub(t, p, "")
	p.signsIn(map[string]any{"sub": "oidc-nurse-1", "name": "Nell Nurse", "groups": []string{"staff", "school-nurses"}}, nil)
	b := h.chronicleBrowser()
	back := b.startSignin()
	done := b.visit(back)
	var c string
	for _, v := range done.header.Values("Set-Cookie") {
		if strings.HasPrefix(v, "chronicle_session=") {
			c = v
		}
	}
	if done.status != http.StatusOK || !strings.Contains(done.body, `http-equiv="refresh"`) || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		t.Fatalf("callback: %d, cookies %q: %s", done.status, done.header.Values("Set-Cookie"), done.body)
	}
	if strings.Contains(done.header.Get("Location"), "code=") || strings.Contains(done.body, back.Query().Get("code")) {
		t.Errorf("the code is echoed back to the browser")
	}
	// Signed in as the practitioner the groups claim maps to: the nurse's
	// page holds no restricted police text.
	tok := csrf(t, b.get("/"))
	page := b.open(tok, b.find(tok, "9990000018"), "direct_work", "")
	if !strings.Contains(page.body, "Signed in as Nell Nurse (practitioner, health)") || strings.Contains(page.body, "Zanzibar") {
		t.Fatalf("the nurse's page: %s", page.body)
	}
	// The same callback again (a replayed code, a back button): refused,
	// and the session already made is not disturbed.
	if again := b.visit(back); again.status != http.StatusBadRequest || !strings.Contains(again.body, "sign in again") {
		t.Errorf("the callback a second time: %d %s", again.status, again.body)
	}
	// Sign-out ends the session.
	if a := b.post("/signout", url.Values{"csrf": {tok}}); a.status != http.StatusOK {
		t.Fatalf("sign out: %d", a.status)
	}
	if a := b.get("/"); a.status != http.StatusSeeOther || a.location != "/signin" {
		t.Errorf("after sign-out: %d %s", a.status, a.location)
	}
	// The session from the provider ends after 30 idle minutes, as any.
	b.visit(b.startSignin())
	h.skew.Store(int64(31 * time.Minute))
	if a := b.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("after 31 idle minutes: %d", a.status)
	}
}

// Every way a sign-in with the provider can go wrong refuses it, says
// which, and starts no session.
func TestSignInWithOpenIDConnectRefused(t *testing.T) {
	p := startProvider(t)
	h := startOIDCHub(t, p, "")
	hubUser := map[string]any{"sub": "oidc-hub-1", "name": "Hana Hub", "groups": []string{"mash-team"}}
	tests := []struct {
		name   string
		user   map[string]any
		edit   func(map[string]any)
		spoil  func(t *testing.T, b *browser, back *url.URL) *url.URL
		status int
		says   string
	}{
		{name: "wrong state", user: hubUser, status: http.StatusBadRequest, says: "state:",
			spoil: func(_ *testing.T, _ *browser, back *url.URL) *url.URL {
				return withParam(back, "state", "not-the-state")
			}},
		{name: "wrong nonce", user: hubUser, edit: func(c map[string]any) { c["nonce"] = "another-sign-in" }, status: http.StatusUnauthorized, says: "nonce:"},
		{name: "expired token", user: hubUser, edit: func(c map[string]any) {
			c["iat"], c["exp"] = time.Now().Add(-time.Hour).Unix(), time.Now().Add(-10*time.Minute).Unix()
		}, status: http.StatusUnauthorized, says: "expired"},
		{name: "wrong audience", user: hubUser, edit: func(c map[string]any) { c["aud"] = "another-client" }, status: http.StatusUnauthorized, says: "audience"},
		{name: "wrong issuer", user: hubUser, edit: func(c map[string]any) { c["iss"] = "https://elsewhere.example" }, status: http.StatusUnauthorized, says: "issuer"},
		{name: "unknown role claim", user: map[string]any{"sub": "oidc-x", "name": "Xan", "groups": []string{"finance", "admins"}},
			status: http.StatusForbidden, says: `no Chronicle role (claim "groups": "finance", "admins")`},
		{name: "no role claim", user: map[string]any{"sub": "oidc-y", "name": "Yan"}, status: http.StatusForbidden, says: "no Chronicle role"},
		{name: "two roles", user: map[string]any{"sub": "oidc-z", "groups": []string{"mash-team", "chronicle-managers"}}, status: http.StatusForbidden, says: "several Chronicle roles (hub:hub, manager)"},
		{name: "a role that reads no records", user: map[string]any{"sub": "oidc-a", "groups": "data-team"}, status: http.StatusForbidden, says: "may not read child records"},
		{name: "the provider refuses", user: hubUser, status: http.StatusUnauthorized, says: "access_denied",
			spoil: func(_ *testing.T, _ *browser, back *url.URL) *url.URL {
				u := withParam(back, "error", "access_denied")
				return withParam(u, "code", "")
			}},
		// An attacker's code (from a sign-in they started, with their own
		// PKCE challenge) put into this browser's callback: the provider
		// refuses it, as this browser's verifier is not the one the
		// attacker's challenge was made from.
		{name: "PKCE verifier mismatch", user: hubUser, status: http.StatusUnauthorized, says: "invalid_grant",
			spoil: func(t *testing.T, _ *browser, back *url.URL) *url.URL {
				theirs := h.chronicleBrowser().startSignin()
				return withParam(back, "code", theirs.Query().Get("code"))
			}},
		{name: "a callback this browser did not start", user: hubUser, status: http.StatusBadRequest, says: "did not start a sign-in",
			spoil: func(t *testing.T, b *browser, back *url.URL) *url.URL {
				u, _ := url.Parse(b.base)
				b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "chronicle_oidc", Value: "made-up", Path: web.CallbackPath}})
				return back
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.signsIn(tt.user, tt.edit)
			b := h.chronicleBrowser()
			back := b.startSignin()
			if tt.spoil != nil {
				back = tt.spoil(t, b, back)
			}
			a := b.visit(back)
			if a.status != tt.status || !strings.Contains(a.body, "There is a problem") || !strings.Contains(html.UnescapeString(a.body), tt.says) {
				t.Errorf("callback: %d (want %d), want %q in: %s", a.status, tt.status, tt.says, a.body)
			}
			for _, c := range a.header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "chronicle_session=") && !strings.Contains(c, "Max-Age=0") {
					t.Errorf("a session cookie was set: %s", c)
				}
			}
			if a := b.get("/"); a.status != http.StatusSeeOther || a.location != "/signin" {
				t.Errorf("after a refused sign-in, / answered %d %s", a.status, a.location)
			}
		})
	}
	// And the provider still signs in whom it should.
	p.signsIn(hubUser, nil)
	b := h.chronicleBrowser()
	if a := b.visit(b.startSignin()); a.status != http.StatusOK {
		t.Fatalf("a good sign-in after the bad ones: %d %s", a.status, a.body)
	}
	if a := b.get("/"); a.status != http.StatusOK || !strings.Contains(a.body, "Hana Hub (hub, hub)") {
		t.Errorf("front page: %d %s", a.status, a.body)
	}
}

func withParam(u *url.URL, k, v string) *url.URL {
	c := *u
	q := c.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	c.RawQuery = q.Encode()
	return &c
}

func TestParseRoleMap(t *testing.T) {
	m, err := web.ParseRoleMap(" mash-team=hub:hub, school-nurses=practitioner:health,auditors=auditor ")
	if err != nil || len(m) != 3 || m["school-nurses"] != (web.Grant{Role: "practitioner", Agency: "health"}) || m["auditors"] != (web.Grant{Role: "auditor"}) {
		t.Fatalf("ParseRoleMap: %v %v", m, err)
	}
	for _, bad := range []string{"mash-team", "=hub", "x=superuser", "x=practitioner:plumbing"} {
		if _, err := web.ParseRoleMap(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("ParseRoleMap(%q): %v, want an error naming it", bad, err)
		}
	}
}
