package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// Authenticated lets through only requests with a valid bearer token whose
// role may do a, with the caller in the request context. Others get 401
// (no or bad token, with WWW-Authenticate) or 403 (role not allowed),
// decided on the headers alone: none of the body is read, and the
// connection is closed, since net/http would otherwise read the rest of
// the body before answering, and a client trickling one would hold it.
func Authenticated(v *auth.Verifier, a auth.Action, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(auth.BearerToken(r))
		if err == nil {
			err = c.Require(a)
		}
		if err != nil {
			if r.ContentLength != 0 {
				w.Header().Set("Connection", "close")
			}
			Challenge(w, err)
			WriteError(w, r, log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), c)))
	})
}
