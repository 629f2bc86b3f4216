package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/chronicle-hub/chronicle/events"
)

// StatusOf maps an error's Kind to its HTTP status. It is the only place
// that decides this, for the ingest API and GraphQL alike.
func StatusOf(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch events.KindOf(err) {
	case events.KindInvalid:
		return http.StatusBadRequest
	case events.KindNotFound:
		return http.StatusNotFound
	case events.KindConflict:
		return http.StatusConflict
	case events.KindForbidden:
		return http.StatusForbidden
	case events.KindUnauthenticated:
		return http.StatusUnauthorized
	case events.KindUnavailable:
		return http.StatusServiceUnavailable
	case events.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// CodeOf is the GraphQL extensions.code and the ingest API's error code for
// err.
func CodeOf(err error) string {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return events.KindTooLarge.String()
	}
	return events.KindOf(err).String()
}

// PublicMessage is what a caller may see of err: the message for errors the
// caller can act on, and "internal error" for the rest, whose detail goes to
// the log with the request id.
func PublicMessage(ctx context.Context, log *slog.Logger, err error) string {
	if StatusOf(err) == http.StatusInternalServerError {
		log.Error("internal error", "request_id", RequestID(ctx), "err", err)
		return "internal error (request id " + RequestID(ctx) + ")"
	}
	return err.Error()
}

// ErrorBody is the JSON body of a non-GraphQL error response.
type ErrorBody struct {
	Error struct {
		Code      string              `json:"code"`
		Message   string              `json:"message"`
		Problems  []events.FieldError `json:"problems,omitempty"`
		RequestID string              `json:"request_id,omitempty"`
	} `json:"error"`
}

// WriteError writes err as an ErrorBody with the status StatusOf gives.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	var body ErrorBody
	body.Error.Code = CodeOf(err)
	body.Error.Message = PublicMessage(r.Context(), log, err)
	body.Error.Problems = events.Problems(err)
	body.Error.RequestID = RequestID(r.Context())
	WriteJSON(w, StatusOf(err), body)
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

type requestIDKey struct{}

// RequestID returns the request's id, set by the Middleware.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Middleware gives every request an id (the caller's X-Request-Id when it is
// sane, else a new one), echoes it in the response, and turns a panic in a
// handler into a logged 500 so that nothing a caller sends can stop the
// server.
func Middleware(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !saneRequestID(id) {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "request_id", id, "panic", v, "stack", string(debug.Stack()))
				WriteError(w, r, log, events.Errorf("http", events.KindInternal, "panic: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func saneRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
