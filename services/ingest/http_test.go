package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

const (
	jsonType   = "application/json"
	ndjsonType = "application/x-ndjson"
)

// ingestServer serves the ingest handler behind the gateway middleware, as
// the app mounts it.
func ingestServer(tb testing.TB, h *hub) *httptest.Server {
	tb.Helper()
	log := slog.New(slog.DiscardHandler)
	ts := httptest.NewServer(httpapi.Middleware(log, ingest.NewHandler(h.pub, log)))
	tb.Cleanup(ts.Close)
	return ts
}

// send makes one request and returns the response with its body read.
func send(tb testing.TB, ts *httptest.Server, method, contentType string, body []byte) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
		tb.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Fatalf("response Content-Type %q, want JSON; body %s", ct, b)
	}
	return resp, b
}

// post sends body and decodes an answered (per-event) response, failing
// unless the status is want.
func post(tb testing.TB, ts *httptest.Server, contentType string, body []byte, want int) ingest.Response {
	tb.Helper()
	resp, b := send(tb, ts, http.MethodPost, contentType, body)
	if resp.StatusCode != want {
		tb.Fatalf("status %d, want %d; body %s", resp.StatusCode, want, b)
	}
	var r ingest.Response
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		tb.Fatalf("decode response: %v\n%s", err, b)
	}
	if n := r.Accepted + r.Duplicates + r.Rejected + r.Failed; n != len(r.Results) {
		tb.Fatalf("counts add to %d, %d results: %s", n, len(r.Results), b)
	}
	for i, res := range r.Results {
		if res.Key != i {
			tb.Fatalf("result %d has index %d: results out of request order: %s", i, res.Key, b)
		}
	}
	return r
}

func array(tb testing.TB, raws ...[]byte) []byte {
	tb.Helper()
	return append(append([]byte("["), bytes.Join(raws, []byte(","))...), ']')
}

func TestHandlerStoresOneEventOnce(t *testing.T) {
	withoutID := event(t, "contact.received", "NO-ID-1")
	derived := withoutID.ID
	withoutID.ID = ""
	tests := []struct {
		name        string
		contentType string
		e           *events.Event
		wantID      string
	}{
		{name: "with id", contentType: jsonType, e: event(t, "contact.received", "ONE-1"), wantID: events.DeriveID(event(t, "contact.received", "ONE-1"))},
		{name: "without id, derived from source_ref", contentType: jsonType, e: withoutID, wantID: derived},
		{name: "charset parameter", contentType: "application/json; charset=utf-8", e: event(t, "education.exclusion", "ONE-2"), wantID: event(t, "education.exclusion", "ONE-2").ID},
		{name: "one NDJSON line", contentType: ndjsonType, e: event(t, "police.incident", "ONE-3"), wantID: event(t, "police.incident", "ONE-3").ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			ts := ingestServer(t, h)
			body := encode(t, tt.e)

			first := post(t, ts, tt.contentType, body, http.StatusOK)
			if first.Accepted != 1 || len(first.Results) != 1 {
				t.Fatalf("first send: %+v", first)
			}
			r := first.Results[0]
			if r.Status != eventlog.Accepted || r.ID != tt.wantID || r.Sequence == 0 {
				t.Fatalf("first send result %+v, want accepted %s with a sequence", r, tt.wantID)
			}
			h.wantCount(t, 1)
			got := h.stored(t, r.Sequence)
			if got.ID != tt.wantID || got.SourceRef != tt.e.SourceRef || got.Type != tt.e.Type {
				t.Fatalf("stored %s %s %s, want %s %s %s", got.ID, got.Type, got.SourceRef, tt.wantID, tt.e.Type, tt.e.SourceRef)
			}

			again := post(t, ts, tt.contentType, body, http.StatusOK)
			if again.Duplicates != 1 || again.Accepted != 0 {
				t.Fatalf("second send: %+v", again)
			}
			d := again.Results[0]
			if d.Status != eventlog.Duplicate || d.ID != tt.wantID || d.Sequence != r.Sequence {
				t.Fatalf("second send result %+v, want duplicate %s of sequence %d", d, tt.wantID, r.Sequence)
			}
			h.wantCount(t, 1)
		})
	}
}

func TestHandlerArrayMixesValidAndInvalid(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)

	a := event(t, "contact.received", "MIX-A")
	bad := invalidNHS(t, "MIX-B")
	c := event(t, "education.exclusion", "MIX-C")
	unknown := event(t, "contact.received", "MIX-D")
	unknown.Type, unknown.Summary = "contact.recieved", ""
	body := array(t, encode(t, a), encode(t, bad), encode(t, c), encode(t, unknown), []byte("42"))

	resp := post(t, ts, jsonType, body, http.StatusMultiStatus)
	if resp.Accepted != 2 || resp.Rejected != 3 || resp.Duplicates != 0 || resp.Failed != 0 {
		t.Fatalf("counts %+v", resp)
	}
	want := []struct {
		status eventlog.Status
		id     string
		fields []string
	}{
		{eventlog.Accepted, a.ID, nil},
		{eventlog.Rejected, bad.ID, []string{"subjects[0].identifiers.nhs_number"}},
		{eventlog.Accepted, c.ID, nil},
		{eventlog.Rejected, unknown.ID, []string{"type", "summary"}},
		{eventlog.Rejected, "", nil},
	}
	for i, w := range want {
		r := resp.Results[i]
		if r.Status != w.status || r.ID != w.id {
			t.Errorf("result %d: %s %q, want %s %q", i, r.Status, r.ID, w.status, w.id)
		}
		for _, f := range w.fields {
			if !hasProblem(r.Problems, f) {
				t.Errorf("result %d: no problem at %s in %+v", i, f, r.Problems)
			}
		}
		if w.status == eventlog.Rejected && (len(r.Problems) == 0 || r.Sequence != 0) {
			t.Errorf("result %d: rejected with problems %+v and sequence %d", i, r.Problems, r.Sequence)
		}
	}
	// The bad NHS number is the event's only problem: nothing else is
	// reported for it.
	if n := len(resp.Results[1].Problems); n != 1 {
		t.Errorf("bad NHS number: %d problems, want 1: %+v", n, resp.Results[1].Problems)
	}
	h.wantCount(t, 2)
	stored := h.all(t)
	if stored[0].ID != a.ID || stored[1].ID != c.ID {
		t.Fatalf("stored %s, %s; want %s, %s", stored[0].ID, stored[1].ID, a.ID, c.ID)
	}
	if resp.Results[0].Sequence != 1 || resp.Results[2].Sequence != 2 {
		t.Fatalf("sequences %d, %d; want 1, 2", resp.Results[0].Sequence, resp.Results[2].Sequence)
	}
}

func TestHandlerNDJSONReportsPerRecord(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)

	a := event(t, "contact.received", "ND-A")
	bad := invalidNHS(t, "ND-B")
	c := event(t, "contact.received", "ND-C")
	body := string(encode(t, a)) + "\n" +
		"\n" +
		string(encode(t, bad)) + "\n" +
		"{not json\n" +
		"   \t \n" +
		string(encode(t, c)) + "\r\n" +
		"\n"

	resp := post(t, ts, ndjsonType, []byte(body), http.StatusMultiStatus)
	if len(resp.Results) != 4 || resp.Accepted != 2 || resp.Rejected != 2 {
		t.Fatalf("want 4 results (blank lines skipped), 2 accepted, 2 rejected: %+v", resp)
	}
	wantStatus := []eventlog.Status{eventlog.Accepted, eventlog.Rejected, eventlog.Rejected, eventlog.Accepted}
	for i, s := range wantStatus {
		if resp.Results[i].Status != s {
			t.Errorf("result %d: %s, want %s", i, resp.Results[i].Status, s)
		}
	}
	if !hasProblem(resp.Results[1].Problems, "subjects[0].identifiers.nhs_number") {
		t.Errorf("invalid record: problems %+v", resp.Results[1].Problems)
	}
	if p := resp.Results[2].Problems; len(p) != 1 || !strings.Contains(p[0].Problem, "malformed JSON") {
		t.Errorf("malformed line: problems %+v, want one saying malformed JSON", p)
	}
	h.wantCount(t, 2)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "ND-A,ND-C" {
		t.Fatalf("stored %v", refs)
	}
}

func TestHandlerAllInvalidIs422(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        func(tb testing.TB) []byte
		results     int
	}{
		{
			name: "one event", contentType: jsonType, results: 1,
			body: func(tb testing.TB) []byte { return encode(tb, invalidNHS(tb, "ALL-1")) },
		},
		{
			name: "array", contentType: jsonType, results: 3,
			body: func(tb testing.TB) []byte {
				return array(tb, encode(tb, invalidNHS(tb, "ALL-2")), []byte(`{}`), []byte(`"event"`))
			},
		},
		{
			name: "NDJSON", contentType: ndjsonType, results: 2,
			body: func(tb testing.TB) []byte {
				return []byte(string(encode(tb, invalidNHS(tb, "ALL-3"))) + "\n{\"id\":\n")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			ts := ingestServer(t, h)
			resp := post(t, ts, tt.contentType, tt.body(t), http.StatusUnprocessableEntity)
			if resp.Rejected != tt.results || len(resp.Results) != tt.results {
				t.Fatalf("want %d rejected: %+v", tt.results, resp)
			}
			for i, r := range resp.Results {
				if len(r.Problems) == 0 {
					t.Errorf("result %d rejected without problems", i)
				}
			}
			h.wantCount(t, 0)
		})
	}
}

func TestHandlerRequestErrors(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)

	emptyObjects := func(n int, sep string) []byte {
		return []byte(strings.Repeat("{}"+sep, n-1) + "{}")
	}
	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		wantStatus  int
		wantCode    string
		wantMessage []string
		wantHeader  map[string]string
	}{
		{name: "GET", method: http.MethodGet, wantStatus: http.StatusMethodNotAllowed, wantCode: "METHOD_NOT_ALLOWED", wantMessage: []string{"POST"}, wantHeader: map[string]string{"Allow": "POST"}},
		{name: "PUT", method: http.MethodPut, contentType: jsonType, body: []byte(`{}`), wantStatus: http.StatusMethodNotAllowed, wantCode: "METHOD_NOT_ALLOWED", wantHeader: map[string]string{"Allow": "POST"}},
		{name: "text/plain", contentType: "text/plain", body: []byte(`{}`), wantStatus: http.StatusUnsupportedMediaType, wantCode: "UNSUPPORTED_MEDIA_TYPE", wantMessage: []string{"text/plain", jsonType, ndjsonType}, wantHeader: map[string]string{"Accept-Post": "application/json, application/x-ndjson"}},
		{name: "no content type", body: []byte(`{}`), wantStatus: http.StatusUnsupportedMediaType, wantCode: "UNSUPPORTED_MEDIA_TYPE", wantMessage: []string{jsonType, ndjsonType}},
		{name: "unparseable content type", contentType: "application/json; =", body: []byte(`{}`), wantStatus: http.StatusUnsupportedMediaType, wantCode: "UNSUPPORTED_MEDIA_TYPE"},
		{name: "malformed object", contentType: jsonType, body: []byte(`{"type": "contact.received",, "x": 1}`), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"malformed JSON at byte 29"}},
		{name: "truncated object", contentType: jsonType, body: []byte(`{"id": "x",`), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"malformed JSON at byte 11"}},
		{name: "truncated array", contentType: jsonType, body: []byte(`[{"a":1},`), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"malformed JSON at byte 9"}},
		{name: "empty body", contentType: jsonType, wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"empty"}},
		{name: "only spaces", contentType: jsonType, body: []byte(" \n\t "), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"empty"}},
		{name: "empty NDJSON", contentType: ndjsonType, body: []byte("\n \r\n\n"), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"no events"}},
		{name: "empty array", contentType: jsonType, body: []byte(" [ ] "), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"no events"}},
		{name: "number", contentType: jsonType, body: []byte(`42`), wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMessage: []string{"object", "array", "42"}},
		{name: "string", contentType: jsonType, body: []byte(`"event"`), wantStatus: http.StatusBadRequest, wantCode: "INVALID"},
		{name: "null", contentType: jsonType, body: []byte(`null`), wantStatus: http.StatusBadRequest, wantCode: "INVALID"},
		{name: "body over MaxBody", contentType: jsonType, body: bytes.Repeat([]byte(" "), ingest.MaxBody+1), wantStatus: http.StatusRequestEntityTooLarge, wantCode: "TOO_LARGE", wantMessage: []string{strconv.Itoa(ingest.MaxBody)}},
		{name: "array over MaxEventsPerRequest", contentType: jsonType, body: []byte("[" + string(emptyObjects(ingest.MaxEventsPerRequest+1, ",")) + "]"), wantStatus: http.StatusRequestEntityTooLarge, wantCode: "TOO_LARGE", wantMessage: []string{strconv.Itoa(ingest.MaxEventsPerRequest)}},
		{name: "NDJSON over MaxEventsPerRequest", contentType: ndjsonType, body: emptyObjects(ingest.MaxEventsPerRequest+1, "\n"), wantStatus: http.StatusRequestEntityTooLarge, wantCode: "TOO_LARGE", wantMessage: []string{strconv.Itoa(ingest.MaxEventsPerRequest)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			resp, b := send(t, ts, method, tt.contentType, tt.body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, b)
			}
			var eb httpapi.ErrorBody
			if err := json.Unmarshal(b, &eb); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, b)
			}
			if eb.Error.Code != tt.wantCode || eb.Error.Message == "" {
				t.Fatalf("error %+v, want code %s and a message", eb.Error, tt.wantCode)
			}
			if eb.Error.RequestID == "" || eb.Error.RequestID != resp.Header.Get("X-Request-Id") {
				t.Errorf("request id %q, header %q", eb.Error.RequestID, resp.Header.Get("X-Request-Id"))
			}
			for _, m := range tt.wantMessage {
				if !strings.Contains(eb.Error.Message, m) {
					t.Errorf("message %q does not mention %q", eb.Error.Message, m)
				}
			}
			for k, v := range tt.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
		})
	}
	h.wantCount(t, 0)
}

// TestHandlerEventsAtTheLimit checks MaxEventsPerRequest is a limit, not
// one past it: a full request is answered per event.
func TestHandlerEventsAtTheLimit(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	body := "[" + strings.Repeat("{},", ingest.MaxEventsPerRequest-1) + "{}]"
	resp := post(t, ts, jsonType, []byte(body), http.StatusUnprocessableEntity)
	if resp.Rejected != ingest.MaxEventsPerRequest {
		t.Fatalf("rejected %d, want %d", resp.Rejected, ingest.MaxEventsPerRequest)
	}
	h.wantCount(t, 0)
}

func TestHandlerRejectsEventOverMaxEventSize(t *testing.T) {
	// big returns a valid-looking event padded to about size bytes.
	big := func(tb testing.TB, size int) []byte {
		tb.Helper()
		e := event(tb, "contact.received", "BIG")
		e.Payload = json.RawMessage(`{"concern":""}`)
		b := encode(tb, e)
		e.Payload = json.RawMessage(fmt.Sprintf(`{"concern":%q}`, strings.Repeat("x", size-len(b))))
		return encode(tb, e)
	}
	justOver := fmt.Sprintf("the limit is %d", events.MaxEventSize)
	tests := []struct {
		name        string
		contentType string
		size        int
		wantStatus  int
		wantMention string
	}{
		{name: "one JSON event", contentType: jsonType, size: events.MaxEventSize + 100, wantStatus: http.StatusUnprocessableEntity, wantMention: justOver},
		{name: "NDJSON line just over", contentType: ndjsonType, size: events.MaxEventSize + 100, wantStatus: http.StatusMultiStatus, wantMention: justOver},
		{name: "NDJSON line far over", contentType: ndjsonType, size: 4 * events.MaxEventSize, wantStatus: http.StatusMultiStatus, wantMention: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			ts := ingestServer(t, h)
			body := big(t, tt.size)
			if len(body) <= events.MaxEventSize {
				t.Fatalf("test event is %d bytes, not over the limit", len(body))
			}
			want := 1
			if tt.contentType == ndjsonType {
				body = append(append(body, '\n'), encode(t, event(t, "contact.received", "SMALL"))...)
				want = 2
			}
			resp := post(t, ts, tt.contentType, body, tt.wantStatus)
			if len(resp.Results) != want || resp.Results[0].Status != eventlog.Rejected {
				t.Fatalf("want %d results, the first rejected: %+v", want, resp)
			}
			probs := resp.Results[0].Problems
			if len(probs) != 1 || !strings.Contains(probs[0].Problem, tt.wantMention) || !strings.Contains(probs[0].Problem, "bytes") {
				t.Fatalf("problems %+v, want one mentioning %q", probs, tt.wantMention)
			}
			h.wantCount(t, uint64(want-1))
			if want == 2 && h.stored(t, 1).SourceRef != "SMALL" {
				t.Fatal("the event after the large one was not stored")
			}
		})
	}
}

func TestPublishBody(t *testing.T) {
	a := event(t, "contact.received", "PB-A")
	b := event(t, "contact.received", "PB-B")
	indented := func(tb testing.TB, v any) []byte {
		tb.Helper()
		out, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			tb.Fatal(err)
		}
		return out
	}
	tests := []struct {
		name     string
		body     []byte
		wantRefs []string
		rejected int
		wantKind events.Kind // for a body that cannot be read at all
	}{
		{name: "one event", body: encode(t, a), wantRefs: []string{"PB-A"}},
		{name: "one event, indented over several lines", body: indented(t, a), wantRefs: []string{"PB-A"}},
		{name: "one event then newline", body: append(encode(t, a), '\n'), wantRefs: []string{"PB-A"}},
		{name: "array", body: array(t, encode(t, a), encode(t, b)), wantRefs: []string{"PB-A", "PB-B"}},
		{name: "array, indented", body: indented(t, []*events.Event{a, b}), wantRefs: []string{"PB-A", "PB-B"}},
		{name: "NDJSON", body: []byte(lines(string(encode(t, a)), "", string(encode(t, b)), "")), wantRefs: []string{"PB-A", "PB-B"}},
		{name: "NDJSON with a malformed line", body: []byte(lines(string(encode(t, a)), "{oops", string(encode(t, b)))), wantRefs: []string{"PB-A", "PB-B"}, rejected: 1},
		{name: "empty", body: []byte("\n\n"), wantKind: events.KindInvalid},
		{name: "number", body: []byte("42"), wantKind: events.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			resp, err := ingest.PublishBody(context.Background(), h.pub, tt.body)
			if tt.wantKind != 0 {
				if err == nil || events.KindOf(err) != tt.wantKind {
					t.Fatalf("err %v (kind %v), want kind %v", err, events.KindOf(err), tt.wantKind)
				}
				h.wantCount(t, 0)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if resp.Accepted != len(tt.wantRefs) || resp.Rejected != tt.rejected || len(resp.Results) != len(tt.wantRefs)+tt.rejected {
				t.Fatalf("response %+v, want %d accepted, %d rejected", resp, len(tt.wantRefs), tt.rejected)
			}
			h.wantCount(t, uint64(len(tt.wantRefs)))
			if got := h.sourceRefs(t); strings.Join(got, ",") != strings.Join(tt.wantRefs, ",") {
				t.Fatalf("stored %v, want %v", got, tt.wantRefs)
			}
		})
	}
}

// TestPublishBodyKinds checks that the error for an unreadable body carries
// a kind the CLI and API can map, not a bare string.
func TestPublishBodyKinds(t *testing.T) {
	h := newHub(t)
	many := []byte(strings.Repeat("{}\n", ingest.MaxEventsPerRequest+1))
	_, err := ingest.PublishBody(context.Background(), h.pub, many)
	var ee *events.Error
	if !errors.As(err, &ee) || ee.Kind != events.KindTooLarge {
		t.Fatalf("err %v, want kind %v", err, events.KindTooLarge)
	}
	h.wantCount(t, 0)
}
