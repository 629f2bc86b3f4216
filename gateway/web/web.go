// Package web is Chronicle's web app for practitioners: sign-in, find a
// child, a purpose of access, the child's page (header, flags with their
// evidence, a timeline across agencies, the chronology), the worklist and a
// print stylesheet for conference. Pages are rendered on the server with
// html/template; every asset is embedded (no external scripts or fonts,
// and no scripts at all), so the app works on a hub network with no route
// to the internet.
//
// The pages read only by running GraphQL documents through gateway.Reads,
// as the signed-in caller with their purpose of access: the read path and
// the access log are GraphQL's own, so redaction, purpose and audit cannot
// differ between the two faces.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// DemoCaller is a ready-made caller the sign-in page offers as a button
// with --demo only.
type DemoCaller struct {
	Subject, Name string
	Role          auth.Role
	Agency        string
}

// Config is what the web app needs.
type Config struct {
	// Reads is the read path shared with GraphQL (GraphQL.Reads).
	Reads *gateway.Reads
	// Verifier checks the tokens people sign in with, and again on every
	// request.
	Verifier *auth.Verifier
	// Demo callers get a sign-in button each; Issue makes their tokens.
	// Both are set only with --demo.
	Demo  []DemoCaller
	Issue func(DemoCaller) (string, error)
	// OIDC, when set, offers sign-in with an OpenID Connect provider
	// beside the token form.
	OIDC *OIDC
	// IdleTimeout and MaxAge end sessions; zero means DefaultIdleTimeout
	// and DefaultMaxAge.
	IdleTimeout, MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives errors; nil discards them.
	Log *slog.Logger
}

// App serves the web pages. It is an http.Handler for every path the
// other handlers of the process do not take.
type App struct {
	cfg      Config
	mux      *http.ServeMux
	tmpl     map[string]*template.Template
	sessions *sessions
	docs     documents
	oidc     *oidcSignin // nil without Config.OIDC
	log      *slog.Logger
}

// New returns the web app. It fails when a page's GraphQL document does
// not validate against the schema (a programming error, found at start).
func New(cfg Config) (*App, error) {
	if cfg.Reads == nil || cfg.Verifier == nil {
		return nil, errors.New("web: Reads and Verifier are required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, mux: http.NewServeMux(), sessions: newSessions(cfg.IdleTimeout, cfg.MaxAge, cfg.Now), log: cfg.Log}
	var err error
	if a.docs, err = prepareDocuments(cfg.Reads); err != nil {
		return nil, err
	}
	if a.tmpl, err = parseTemplates(); err != nil {
		return nil, err
	}
	if cfg.OIDC != nil {
		if a.oidc, err = newOIDCSignin(*cfg.OIDC, cfg.Now); err != nil {
			return nil, err
		}
		a.mux.HandleFunc("POST /signin/oidc", a.oidcStart)
		a.mux.HandleFunc("GET "+CallbackPath, a.oidcCallback)
	}
	static, _ := fs.Sub(staticFiles, "static")
	a.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.FS(static))))
	a.mux.HandleFunc("GET /signin", a.signinPage)
	a.mux.HandleFunc("POST /signin", a.signin)
	a.mux.HandleFunc("POST /signout", a.signedIn(a.signout))
	a.mux.HandleFunc("GET /{$}", a.signedIn(a.home))
	a.mux.HandleFunc("POST /search", a.signedIn(a.search))
	a.mux.HandleFunc("POST /purpose", a.signedIn(a.setPurpose))
	a.mux.HandleFunc("GET /children/{id}", a.signedIn(a.child))
	a.mux.HandleFunc("GET /children/{id}/print", a.signedIn(a.print))
	a.mux.HandleFunc("GET /worklist", a.signedIn(a.worklist))
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.errorPage(w, r, nil, http.StatusNotFound, "Page not found", "There is no page at this address.")
	})
	return a, nil
}

// ServeHTTP serves the pages with headers that keep them out of caches and
// frames and allow nothing but this site's own styles and images.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", csp("'self'"))
	// same-origin, not no-referrer: with no-referrer a browser sends
	// "Origin: null" on a form POST, and the origin check needs the real one.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	a.mux.ServeHTTP(w, r)
}

// csp is the pages' Content-Security-Policy with forms allowed to go to
// formAction: this site's own ('self'), and on the sign-in page with an
// OpenID Connect provider, the provider's too (a browser applies
// form-action to the redirect that follows a form, and the button's
// redirect goes to the provider).
func csp(formAction string) string {
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// viewer is the signed-in person a page is rendered for.
type viewer struct {
	session
	caller auth.Caller
}

type viewerKey struct{}

// signedIn lets through requests with a live session whose token still
// verifies, and on POST a CSRF token that matches the session's and an
// Origin (when the browser sends one) of this site. Without a session a
// GET is sent to sign in and anything else refused 401; a CSRF failure is
// refused 403.
func (a *App) signedIn(next func(http.ResponseWriter, *http.Request, viewer)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var v viewer
		ok := false
		if c, err := r.Cookie(sessionCookie); err == nil {
			v.session, ok = a.sessions.get(c.Value)
		}
		if ok && v.token == "" {
			v.caller = v.session.caller // signed in with the OpenID Connect provider
		} else if ok {
			var err error
			if v.caller, err = a.cfg.Verifier.Verify(v.token); err != nil {
				a.sessions.end(v.id)
				ok = false
			}
		}
		if !ok {
			http.SetCookie(w, cookie(r, sessionCookie, "", -1))
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			a.errorPage(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended or you have not signed in. Sign in again.")
			return
		}
		if r.Method == http.MethodPost {
			if err := a.checkForm(r, v.csrf); err != nil {
				a.errorPage(w, r, &v, http.StatusForbidden, "Form refused", err.Error())
				return
			}
		}
		next(w, r, v)
	}
}

// checkForm reads a POSTed form (at most 64 KiB) and checks it came from
// this site: its csrf field equals want, and the Origin header, when the
// browser sends one, is this site's.
func (a *App) checkForm(r *http.Request, want string) error {
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("the form could not be read: %w", err)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return errors.New("the form was sent from another site")
		}
	}
	if !sameToken(r.PostForm.Get("csrf"), want) {
		return errors.New("the form's security token does not match this session (it may have been sent from another site, or from a page older than your sign-in): go back, reload the page and try again")
	}
	return nil
}

// page is what every template gets.
type page struct {
	Title   string
	Viewer  *viewer
	CSRF    string
	Printed time.Time
	Data    any
}

// Who names the signed-in person as a print header does.
func (p page) Who() string {
	if p.Viewer == nil {
		return ""
	}
	c := p.Viewer.caller
	s := c.Name + " (" + string(c.Role)
	if c.Agency != "" {
		s += ", " + c.Agency
	}
	return s + ")"
}

// render writes a template as a full page, buffered, so a template error
// is a clean 500 and never half a page.
func (a *App) render(w http.ResponseWriter, r *http.Request, v *viewer, status int, name, title string, data any) {
	p := page{Title: title, Viewer: v, Printed: a.cfg.Now(), Data: data}
	if v != nil {
		p.CSRF = v.csrf
	}
	t, ok := a.tmpl[name]
	var buf bytes.Buffer
	var err error
	if !ok {
		err = fmt.Errorf("no template %q", name)
	} else {
		err = t.ExecuteTemplate(&buf, "layout", p)
	}
	if err != nil {
		a.log.Error("web: render", "template", name, "request_id", gateway.RequestID(r.Context()), "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, "internal error (request id %s)\n", gateway.RequestID(r.Context()))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorData struct{ Heading, Message string }

func (a *App) errorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, heading, msg string) {
	a.render(w, r, v, status, "error", heading, errorData{heading, msg})
}

// failed shows an error from the read path: its status and public message
// through the gateway's one mapping.
func (a *App) failed(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	status := gateway.StatusOf(err)
	heading := http.StatusText(status)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		status, heading = http.StatusServiceUnavailable, "Timed out"
	case errors.Is(err, gateway.ErrAuditUnavailable):
		heading = "Access log unavailable"
	}
	a.errorPage(w, r, v, status, heading, gateway.PublicMessage(r.Context(), a.log, err))
}

// signinData is the sign-in page's.
type signinData struct {
	CSRF    string
	Demo    []DemoCaller
	Problem string
	// OIDC names the identity provider when sign-in with it is offered.
	OIDC string
}

// signinPage shows the form, with a fresh CSRF token in a cookie of its
// own (there is no session yet to hold it).
func (a *App) signinPage(w http.ResponseWriter, r *http.Request) {
	a.showSignin(w, r, http.StatusOK, "")
}

func (a *App) showSignin(w http.ResponseWriter, r *http.Request, status int, problem string) {
	tok := randomToken()
	http.SetCookie(w, cookie(r, signinCookie, tok, 0))
	d := signinData{CSRF: tok, Demo: a.cfg.Demo, Problem: problem}
	if a.oidc != nil {
		d.OIDC = a.oidc.cfg.Label
		w.Header().Set("Content-Security-Policy", csp("'self' "+a.oidc.authOrigin(r.Context())))
	}
	a.render(w, r, nil, status, "signin", "Sign in", d)
}

// signin checks the form's CSRF token against its cookie, then the token
// pasted (or, with --demo, issues the chosen demo caller's), and starts a
// session under a new id. Only roles that read children's records may
// sign in: the pages are theirs.
func (a *App) signin(w http.ResponseWriter, r *http.Request) {
	if err := a.checkSigninForm(r); err != nil {
		a.errorPage(w, r, nil, http.StatusForbidden, "Form refused", err.Error())
		return
	}
	token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(r.PostForm.Get("token")), "Bearer "))
	if demo := r.PostForm.Get("demo"); demo != "" && a.cfg.Issue != nil {
		for _, d := range a.cfg.Demo {
			if d.Subject == demo {
				var err error
				if token, err = a.cfg.Issue(d); err != nil {
					a.failed(w, r, nil, err)
					return
				}
			}
		}
	}
	if token == "" {
		a.showSignin(w, r, http.StatusUnauthorized, "token: paste a token from chronicle token (or your identity provider) to sign in")
		return
	}
	caller, err := a.cfg.Verifier.Verify(token)
	if err == nil {
		err = caller.Require(auth.ReadRecords)
	}
	if err != nil {
		a.showSignin(w, r, gateway.StatusOf(err), "token: "+gateway.PublicMessage(r.Context(), a.log, err))
		return
	}
	ss := a.sessions.start(token, caller)
	http.SetCookie(w, cookie(r, signinCookie, "", -1))
	http.SetCookie(w, cookie(r, sessionCookie, ss.id, 0))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// checkSigninForm checks a sign-in form (there is no session yet) against
// the CSRF token in the sign-in page's cookie.
func (a *App) checkSigninForm(r *http.Request) error {
	want := ""
	if c, err := r.Cookie(signinCookie); err == nil {
		want = c.Value
	}
	return a.checkForm(r, want)
}

// signout ends the session and deletes its cookie.
func (a *App) signout(w http.ResponseWriter, r *http.Request, v viewer) {
	a.sessions.end(v.id)
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	a.render(w, r, nil, http.StatusOK, "signedout", "Signed out", nil)
}

// purposeFrom reads a purpose of access from a form and checks it as the
// schema will.
func purposeFrom(form url.Values) (gateway.Purpose, error) {
	p := gateway.Purpose{Reason: strings.ToLower(strings.TrimSpace(form.Get("reason"))), Detail: strings.TrimSpace(form.Get("detail"))}
	return p, p.Check()
}
