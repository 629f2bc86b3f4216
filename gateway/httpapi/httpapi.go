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
	"log/slog"
	"net/http"

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
