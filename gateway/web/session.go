package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// Session timeouts: a session ends after DefaultIdleTimeout without a
// request, and DefaultMaxAge after sign-in whatever happens (a hub PC left
// signed in over a shift change is signed out by the next one). The token
// itself is checked on every request too, so a session never outlives it.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxAge      = 8 * time.Hour
)

// maxSessions bounds the store: a flood of sign-ins (each needs a valid
// token) cannot make it grow without end; the oldest session goes first.
const maxSessions = 10000

// Cookie names. The session cookie holds only a random id: the token and
// everything else stay on the server.
const (
	sessionCookie = "chronicle_session"
	signinCookie  = "chronicle_signin" // the sign-in form's CSRF token, before any session exists
)

// session is one signed-in person. A token pasted at sign-in is kept,
// never sent back to the browser, and verified again on every request (so
// the session ends when it expires); a session from the OpenID Connect
// provider has no token, only the caller its ID token was mapped to at
// sign-in, and ends by the session's own timeouts or sign-out.
type session struct {
	id       string
	token    string
	caller   auth.Caller
	csrf     string
	created  time.Time
	seen     time.Time
	purposes map[string]gateway.Purpose // per child id, for this session
	general  *gateway.Purpose           // for search and the worklist
}

// sessions is the server-side session store, in this process's memory: a
// restart signs everyone out, and each replica has its own (a load
// balancer in front of several needs sticky sessions).
type sessions struct {
	mu      sync.Mutex
	byID    map[string]*session
	idle    time.Duration
	maxAge  time.Duration
	now     func() time.Time
	created []string // ids in order of creation, for eviction
}

func newSessions(idle, maxAge time.Duration, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, maxAge: maxAge, now: now}
}

// randomToken returns 32 random bytes, URL-safe base64.
func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24 and later)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// start creates a session for caller (signed in with token, or with the
// OpenID Connect provider when token is empty), always under a new id, so
// an id planted before sign-in (session fixation) is never the signed-in
// one.
func (s *sessions) start(token string, caller auth.Caller) *session {
	now := s.now()
	ss := &session{id: randomToken(), token: token, caller: caller, csrf: randomToken(), created: now, seen: now, purposes: map[string]gateway.Purpose{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	for len(s.byID) >= maxSessions && len(s.created) > 0 {
		delete(s.byID, s.created[0])
		s.created = s.created[1:]
	}
	s.byID[ss.id] = ss
	s.created = append(s.created, ss.id)
	return ss
}

// sweep drops expired sessions; the caller holds mu.
func (s *sessions) sweep(now time.Time) {
	kept := s.created[:0]
	for _, id := range s.created {
		ss, ok := s.byID[id]
		if !ok {
			continue
		}
		if s.expired(ss, now) {
			delete(s.byID, id)
			continue
		}
		kept = append(kept, id)
	}
	s.created = kept
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) > s.idle || now.Sub(ss.created) > s.maxAge
}

// get returns a copy of the session with this id and marks it used, or
// false when there is none or it has expired (it is then dropped).
func (s *sessions) get(id string) (session, bool) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return session{}, false
	}
	if s.expired(ss, now) {
		delete(s.byID, id)
		return session{}, false
	}
	ss.seen = now
	cp := *ss
	cp.purposes = make(map[string]gateway.Purpose, len(ss.purposes))
	for k, v := range ss.purposes {
		cp.purposes[k] = v
	}
	return cp, true
}

// setPurpose remembers why the session reads a child (childID) or, with
// childID empty, searches and reads the worklist.
func (s *sessions) setPurpose(id, childID string, p gateway.Purpose) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	if !ok {
		return
	}
	if childID == "" {
		ss.general = &p
		return
	}
	ss.purposes[childID] = p
}

// end signs a session out.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// sameToken compares two secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie builds one of the app's cookies: HttpOnly (no script reads it),
// SameSite=Strict (no other site's page sends it), Secure over TLS, for
// the whole site. maxAge < 0 deletes it; 0 makes it last the browser
// session.
func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: maxAge}
}
