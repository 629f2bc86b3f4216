package httpapi

import (
	"io"
	"net/http"
	"time"
)

// ReadBody reads r's body whole: at most limit bytes, and within d of
// now. The deadline is the connection's read deadline, so a client that
// trickles its body is cut off when it passes, whatever the server's own
// ReadTimeout; it is lifted once the body is read, because net/http
// watches the connection for the client going away while the handler runs
// and would take a deadline passing then for that. The error wraps
// *http.MaxBytesError over the limit and os.ErrDeadlineExceeded past d.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64, d time.Duration) ([]byte, error) {
	rc := http.NewResponseController(w)
	// Without support (ErrNotSupported) the server's ReadTimeout still applies.
	set := rc.SetReadDeadline(time.Now().Add(d)) == nil
	// MaxBytesReader tells net/http's own writer that the limit was hit
	// (so the connection is closed rather than the rest read); it does not
	// look through wrappers such as the GraphQL handler's observation, so
	// ReadBody unwraps them (by their Unwrap method) itself.
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if set && err == nil {
		_ = rc.SetReadDeadline(time.Time{})
	}
	return body, err
}

// BodyWithin gives next's request body d to arrive, counted from when next
// is called (so after Authenticated, when it wraps this: a caller whose
// token does not verify is refused before any of the body is read). The
// deadline is lifted when the body has been read to its end, so next must
// read it to the end, as io.ReadAll does. A body still arriving at d
// fails with an error wrapping os.ErrDeadlineExceeded, and the deadline
// stays: net/http then cannot wait for the rest before answering.
func BodyWithin(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody && rc.SetReadDeadline(time.Now().Add(d)) == nil {
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline once its body has
// been read to the end.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
