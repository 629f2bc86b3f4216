package ingest_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// callerServer serves the ingest handler to requests from caller, as
// httpapi.Authenticated passes them on once the token is verified.
func callerServer(tb testing.TB, h *hub, caller auth.Caller) *httptest.Server {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	next := ingest.NewHandler(h.pub, log)
	ts := httptest.NewServer(httpapi.Middleware(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(auth.WithCaller(r.Context(), caller)))
	})))
	tb.Cleanup(ts.Close)
	return ts
}

// eventFor returns a valid contact.received (which any agency may publish)
// from agency, made distinct by ref.
func eventFor(tb testing.TB, agency, ref string) *events.Event {
	tb.Helper()
	e := event(tb, "contact.received", ref)
	e.Agency = agency
	e.ID = events.DeriveID(e)
	return e
}

// TestHandlerAgencyBoundCaller checks that a caller whose token is for one
// agency can store only that agency's events: one event naming another
// agency refuses the whole request (403, nothing stored), ahead of any
// validation verdict, while the caller's own invalid events are still
// answered per event.
func TestHandlerAgencyBoundCaller(t *testing.T) {
	school := auth.Caller{Subject: "svc-school", Role: auth.Publisher, Agency: "education"}
	tests := []struct {
		name        string
		caller      auth.Caller
		contentType string
		body        func(tb testing.TB) []byte
		wantStatus  int
		wantStored  []string // source refs
		wantMention []string // in the 403's message
	}{
		{
			name: "own agency", caller: school, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				return array(tb, encode(tb, eventFor(tb, "education", "AG-1")), encode(tb, eventFor(tb, "education", "AG-2")))
			},
			wantStatus: http.StatusOK, wantStored: []string{"AG-1", "AG-2"},
		},
		{
			name: "own agency, one invalid", caller: school, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				bad := eventFor(tb, "education", "AG-4")
				bad.Subjects[0].Identifiers.NHSNumber = "9990000017"
				return array(tb, encode(tb, eventFor(tb, "education", "AG-3")), encode(tb, bad))
			},
			wantStatus: http.StatusMultiStatus, wantStored: []string{"AG-3"},
		},
		{
			name: "one event of another agency", caller: school, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				return array(tb, encode(tb, eventFor(tb, "education", "AG-5")), encode(tb, eventFor(tb, "police", "AG-6")))
			},
			wantStatus: http.StatusForbidden, wantMention: []string{`"education"`, `#1 names "police"`, "nothing stored"},
		},
		{
			name: "another agency's invalid event is refused, not rejected", caller: school, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				bad := eventFor(tb, "health", "AG-7")
				bad.Subjects[0].Identifiers.NHSNumber = "9990000017"
				return encode(tb, bad)
			},
			wantStatus: http.StatusForbidden, wantMention: []string{`#0 names "health"`},
		},
		{
			name: "NDJSON line of another agency among malformed ones", caller: school, contentType: ndjsonType,
			body: func(tb testing.TB) []byte {
				return []byte(lines("{oops", string(encode(tb, eventFor(tb, "education", "AG-8"))), string(encode(tb, eventFor(tb, "social_care", "AG-9")))))
			},
			wantStatus: http.StatusForbidden, wantMention: []string{`#2 names "social_care"`},
		},
		{
			// Otherwise a hub or manager token without an agency claim
			// could publish as police.
			name: "a caller without an agency may not publish", caller: auth.Caller{Subject: "mash-1", Role: auth.Hub}, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				return array(tb, encode(tb, eventFor(tb, "police", "AG-10")), encode(tb, eventFor(tb, "health", "AG-11")))
			},
			wantStatus: http.StatusForbidden, wantMention: []string{"names no agency", "must carry the agency"},
		},
		{
			name: "a caller with an unknown agency may not publish", caller: auth.Caller{Subject: "svc-x", Role: auth.Publisher, Agency: "mi5"}, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				return encode(tb, eventFor(tb, "police", "AG-12"))
			},
			wantStatus: http.StatusForbidden, wantMention: []string{`"mi5"`},
		},
		{
			name: "the hub publishes its own events", caller: auth.Caller{Subject: "mash-1", Role: auth.Hub, Agency: "hub"}, contentType: jsonType,
			body: func(tb testing.TB) []byte {
				return encode(tb, eventFor(tb, "hub", "AG-13"))
			},
			wantStatus: http.StatusOK, wantStored: []string{"AG-13"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			ts := callerServer(t, h, tt.caller)
			if tt.wantStatus != http.StatusForbidden {
				resp := post(t, ts, tt.contentType, tt.body(t), tt.wantStatus)
				if resp.Accepted != len(tt.wantStored) {
					t.Fatalf("response %+v, want %d accepted", resp, len(tt.wantStored))
				}
			} else {
				resp, b := send(t, ts, http.MethodPost, tt.contentType, tt.body(t))
				var eb httpapi.ErrorBody
				if err := json.Unmarshal(b, &eb); err != nil || resp.StatusCode != http.StatusForbidden || eb.Error.Code != "FORBIDDEN" {
					t.Fatalf("status %d, body %s: want 403 FORBIDDEN", resp.StatusCode, b)
				}
				for _, m := range tt.wantMention {
					if !strings.Contains(eb.Error.Message, m) {
						t.Errorf("message %q does not mention %s", eb.Error.Message, m)
					}
				}
			}
			h.wantCount(t, uint64(len(tt.wantStored)))
			if got := h.sourceRefs(t); strings.Join(got, ",") != strings.Join(tt.wantStored, ",") {
				t.Fatalf("stored %v, want %v", got, tt.wantStored)
			}
		})
	}
}
