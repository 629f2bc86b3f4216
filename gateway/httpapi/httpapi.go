// Package httpapi is the plumbing every HTTP endpoint of Chronicle shares
// (GraphQL, the web pages, ingest, export, health): the one mapping from an
// error to its HTTP status and wire code, JSON and error bodies, request
// ids, panic recovery, bearer-token checks and bounded request bodies. It
// knows nothing of GraphQL or of the read model, so every face can import
// it without importing the others.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/chronicle-hub/chronicle/events"
)

// Refusal is a way of refusing a request for how or when it was sent,
// rather than for what it asked: a response type the client will not
// accept, a body of the wrong type, a method the endpoint does not take, a
// body or an answer that took too long, an access log that cannot be
// written. events.Kind says what Chronicle's own layers can say; these
// exist only at the HTTP edge, so they are kept here, in the same mapping.
type Refusal uint8

// The refusals, each with its status and code in refusals.
const (
	NotAcceptable        Refusal = iota + 1 // 406 NOT_ACCEPTABLE: no response type the client accepts
	UnsupportedMediaType                    // 415 UNSUPPORTED_MEDIA_TYPE: a body of a type the endpoint does not read
	MethodNotAllowed                        // 405 METHOD_NOT_ALLOWED: set Allow before answering
	BodyTimeout                             // 408 TIMEOUT: the request body did not arrive in time
	Timeout                                 // 503 TIMEOUT: the answer was not ready in time
	AuditUnavailable                        // 503 AUDIT_UNAVAILABLE: the access log cannot be written, so nothing is read
)

var refusals = [...]struct {
	status int
	code   string
}{
	NotAcceptable:        {http.StatusNotAcceptable, "NOT_ACCEPTABLE"},
	UnsupportedMediaType: {http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	MethodNotAllowed:     {http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	BodyTimeout:          {http.StatusRequestTimeout, "TIMEOUT"},
	Timeout:              {http.StatusServiceUnavailable, "TIMEOUT"},
	AuditUnavailable:     {http.StatusServiceUnavailable, "AUDIT_UNAVAILABLE"},
}

// kindStatus is the status of each events.Kind; a Kind not here (Internal)
// is 500.
var kindStatus = map[events.Kind]int{
	events.KindInvalid:         http.StatusBadRequest,
	events.KindNotFound:        http.StatusNotFound,
	events.KindConflict:        http.StatusConflict,
	events.KindForbidden:       http.StatusForbidden,
	events.KindUnauthenticated: http.StatusUnauthorized,
	events.KindUnavailable:     http.StatusServiceUnavailable,
	events.KindTooLarge:        http.StatusRequestEntityTooLarge,
}

// Refuse returns an error that refuses a request as r, its message
// (formatted as by fmt.Sprintf) the caller's to read.
func Refuse(r Refusal, format string, args ...any) error {
	return &refused{r: r, msg: fmt.Sprintf(format, args...)}
}

type refused struct {
	r   Refusal
	msg string
}

func (e *refused) Error() string { return e.msg }

// classify is the one mapping: an error's HTTP status and wire code.
func classify(err error) (status int, code string) {
	var rf *refused
	if errors.As(err, &rf) {
		return refusals[rf.r].status, refusals[rf.r].code
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, events.KindTooLarge.String()
	}
	k := events.KindOf(err)
	if s, ok := kindStatus[k]; ok {
		return s, k.String()
	}
	return http.StatusInternalServerError, k.String()
}

// StatusOf maps an error to its HTTP status: by its Refusal, else by its
// events.Kind. It is the only place that decides this, for every endpoint
// (GraphQL, the web pages, ingest, export).
func StatusOf(err error) int {
	s, _ := classify(err)
	return s
}

// CodeOf is the GraphQL extensions.code and the JSON error body's code for
// err: its Refusal's code, else its Kind's.
func CodeOf(err error) string {
	_, c := classify(err)
	return c
}

// Challenge sets WWW-Authenticate on a response refusing err when err is
// answered 401, as a bearer-token endpoint must (RFC 6750).
func Challenge(w http.ResponseWriter, err error) {
	if StatusOf(err) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chronicle", error="invalid_token"`)
	}
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
