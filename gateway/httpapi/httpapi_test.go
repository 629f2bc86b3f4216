package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
)

// Every error an endpoint answers with gets its status and code from the
// one mapping: a Refusal by its own entry, else its Kind, wrapped or not.
func TestStatusAndCodeOfEveryError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"invalid", events.Errorf("query", events.KindInvalid, "bad"), 400, "INVALID"},
		{"not found", events.Errorf("child", events.KindNotFound, "none"), 404, "NOT_FOUND"},
		{"conflict", events.Errorf("x", events.KindConflict, "x"), 409, "CONFLICT"},
		{"forbidden", events.Errorf("x", events.KindForbidden, "x"), 403, "FORBIDDEN"},
		{"unauthenticated", events.Errorf("auth", events.KindUnauthenticated, "x"), 401, "UNAUTHENTICATED"},
		{"unavailable", events.Errorf("x", events.KindUnavailable, "x"), 503, "UNAVAILABLE"},
		{"too large", events.Errorf("x", events.KindTooLarge, "x"), 413, "TOO_LARGE"},
		{"internal", errors.New("a bug"), 500, "INTERNAL"},
		{"body over its cap", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 1}), 413, "TOO_LARGE"},
		{"not acceptable", httpapi.Refuse(httpapi.NotAcceptable, "x"), 406, "NOT_ACCEPTABLE"},
		{"media type", httpapi.Refuse(httpapi.UnsupportedMediaType, "x"), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"method", httpapi.Refuse(httpapi.MethodNotAllowed, "x"), 405, "METHOD_NOT_ALLOWED"},
		{"slow body", httpapi.Refuse(httpapi.BodyTimeout, "x"), 408, "TIMEOUT"},
		{"slow answer", httpapi.Refuse(httpapi.Timeout, "x"), 503, "TIMEOUT"},
		{"access log", httpapi.Refuse(httpapi.AuditUnavailable, "x"), 503, "AUDIT_UNAVAILABLE"},
		{"wrapped refusal", fmt.Errorf("serve: %w", httpapi.Refuse(httpapi.MethodNotAllowed, "x")), 405, "METHOD_NOT_ALLOWED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := httpapi.StatusOf(c.err); got != c.status {
				t.Errorf("StatusOf = %d, want %d", got, c.status)
			}
			if got := httpapi.CodeOf(c.err); got != c.code {
				t.Errorf("CodeOf = %q, want %q", got, c.code)
			}
		})
	}
	if msg := httpapi.Refuse(httpapi.MethodNotAllowed, "%s operations must be sent with POST", "mutation").Error(); msg != "mutation operations must be sent with POST" {
		t.Errorf("Refuse's message = %q", msg)
	}
}
