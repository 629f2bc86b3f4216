package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// TestHandlerResponseWireFormat pins the JSON agencies' systems parse: the
// field names, which fields each status carries, and the duplicate of an
// event earlier in the same request pointing at the original's sequence.
// The other tests decode into ingest.Response and would not notice a
// renamed tag.
func TestHandlerResponseWireFormat(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	a := event(t, "contact.received", "WIRE-A")
	bad := invalidNHS(t, "WIRE-B")
	body := array(t, encode(t, a), encode(t, bad), encode(t, a))

	resp, b := send(t, ts, http.MethodPost, jsonType, body)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, http.StatusMultiStatus, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	keys := func(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }
	if k := keys(got); !slices.Equal(k, []string{"accepted", "duplicates", "failed", "rejected", "results"}) {
		t.Fatalf("top-level fields %q", k)
	}
	for field, want := range map[string]float64{"accepted": 1, "duplicates": 1, "rejected": 1, "failed": 0} {
		if got[field] != want {
			t.Errorf("%s: %v, want %v", field, got[field], want)
		}
	}
	results, ok := got["results"].([]any)
	if !ok || len(results) != 3 {
		t.Fatalf("results %v", got["results"])
	}
	want := []struct {
		keys   []string
		values map[string]any
	}{
		{[]string{"id", "index", "sequence", "status"}, map[string]any{"index": 0.0, "id": a.ID, "status": "accepted", "sequence": 1.0}},
		{[]string{"id", "index", "problems", "status"}, map[string]any{"index": 1.0, "id": bad.ID, "status": "rejected"}},
		{[]string{"id", "index", "sequence", "status"}, map[string]any{"index": 2.0, "id": a.ID, "status": "duplicate", "sequence": 1.0}},
	}
	for i, w := range want {
		r, ok := results[i].(map[string]any)
		if !ok {
			t.Fatalf("result %d is %T", i, results[i])
		}
		if k := keys(r); !slices.Equal(k, w.keys) {
			t.Errorf("result %d fields %q, want %q", i, k, w.keys)
		}
		for field, v := range w.values {
			if r[field] != v {
				t.Errorf("result %d %s: %v, want %v", i, field, r[field], v)
			}
		}
	}
	probs, _ := results[1].(map[string]any)["problems"].([]any)
	if len(probs) != 1 {
		t.Fatalf("problems %v", probs)
	}
	p, _ := probs[0].(map[string]any)
	if k := keys(p); !slices.Equal(k, []string{"field", "problem"}) || p["field"] != "subjects[0].identifiers.nhs_number" || p["problem"] == "" {
		t.Errorf("problem %v, want field and problem with the NHS number's path", p)
	}
	h.wantCount(t, 1)
	if h.stored(t, 1).ID != a.ID {
		t.Fatal("the stored event is not the accepted one")
	}
}

// correctionOfSize returns an encoded record.corrected event of exactly
// size bytes, padded inside the corrected payload (which the envelope does
// not bound). withID false sends "id": "" for ingest to fill in.
func correctionOfSize(tb testing.TB, ref string, withID bool, size int) []byte {
	tb.Helper()
	spec, ok := events.Lookup("record.corrected")
	if !ok {
		tb.Fatal("no record.corrected in the catalogue")
	}
	e := spec.ExampleEvent()
	e.SourceRef = ref
	e.ID = ""
	if withID {
		e.ID = events.DeriveID(e)
	}
	pad := func(n int) {
		e.Payload = json.RawMessage(fmt.Sprintf(`{"event_id":"0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f","reason":"Wrong concern keyed.","payload":{"concern":%q}}`, strings.Repeat("x", n)))
	}
	pad(0)
	pad(size - len(encode(tb, e)))
	b := encode(tb, e)
	if len(b) != size {
		tb.Fatalf("built %d bytes, want %d", len(b), size)
	}
	return b
}

// TestHandlerEventSizeLimit checks the limit is on the event as stored:
// exactly events.MaxEventSize is fine (and stored byte for byte as sent),
// while an event at the limit as sent but over it once ingest fills in its
// id is refused, as is one byte over as sent.
func TestHandlerEventSizeLimit(t *testing.T) {
	limit := strconv.Itoa(events.MaxEventSize)
	tests := []struct {
		name        string
		body        func(tb testing.TB) []byte
		wantStatus  int
		wantMention []string
	}{
		{
			name:       "at the limit with an id",
			body:       func(tb testing.TB) []byte { return correctionOfSize(tb, "SIZE-1", true, events.MaxEventSize) },
			wantStatus: http.StatusOK,
		},
		{
			name:        "at the limit without an id, over once it is filled in",
			body:        func(tb testing.TB) []byte { return correctionOfSize(tb, "SIZE-2", false, events.MaxEventSize) },
			wantStatus:  http.StatusUnprocessableEntity,
			wantMention: []string{"once encoded", "the limit is " + limit},
		},
		{
			name:        "one byte over as sent",
			body:        func(tb testing.TB) []byte { return correctionOfSize(tb, "SIZE-3", true, events.MaxEventSize+1) },
			wantStatus:  http.StatusUnprocessableEntity,
			wantMention: []string{strconv.Itoa(events.MaxEventSize + 1), "the limit is " + limit},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			ts := ingestServer(t, h)
			body := tt.body(t)
			resp := post(t, ts, jsonType, body, tt.wantStatus)
			r := resp.Results[0]
			if tt.wantStatus == http.StatusOK {
				if r.Status != eventlog.Accepted {
					t.Fatalf("result %+v", r)
				}
				h.wantCount(t, 1)
				m, err := h.stream(t).GetMsg(context.Background(), r.Sequence)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(m.Data, body) {
					t.Fatalf("stored %d bytes, not the %d sent", len(m.Data), len(body))
				}
				return
			}
			if r.Status != eventlog.Rejected || len(r.Problems) != 1 {
				t.Fatalf("result %+v, want rejected with one problem", r)
			}
			for _, m := range tt.wantMention {
				if !strings.Contains(r.Problems[0].Problem, m) {
					t.Errorf("problem %q does not mention %q", r.Problems[0].Problem, m)
				}
			}
			h.wantCount(t, 0)
		})
	}
}

var atByte = regexp.MustCompile(`malformed JSON at byte (\d+)`)

// TestHandlerMalformedJSONOffset checks that the byte offset in a 400 counts
// from the body as sent, white space before the JSON included, so that the
// byte it names is the one that broke the parse.
func TestHandlerMalformedJSONOffset(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	tests := []struct {
		name   string
		body   string
		offset int
		char   byte
	}{
		{name: "object", body: `{"a":,}`, offset: 6, char: ','},
		{name: "object after blank lines", body: "\n\n  {\"a\":,}", offset: 10, char: ','},
		{name: "array after CRLF and a tab", body: "\r\n\t[{\"a\":1},,]", offset: 13, char: ','},
		{name: "text after the object", body: "  {\"a\":1} x", offset: 11, char: 'x'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := send(t, ts, http.MethodPost, jsonType, []byte(tt.body))
			var eb httpapi.ErrorBody
			if err := json.Unmarshal(b, &eb); err != nil || resp.StatusCode != http.StatusBadRequest || eb.Error.Code != "INVALID" {
				t.Fatalf("status %d, body %s: want 400 INVALID", resp.StatusCode, b)
			}
			m := atByte.FindStringSubmatch(eb.Error.Message)
			if m == nil {
				t.Fatalf("message %q gives no byte offset", eb.Error.Message)
			}
			n, _ := strconv.Atoi(m[1])
			if n != tt.offset || tt.body[n-1] != tt.char {
				t.Fatalf("offset %d (byte %q), want %d (byte %q)", n, tt.body[n-1], tt.offset, tt.char)
			}
		})
	}
	h.wantCount(t, 0)
}

// TestHandlerBodyReadErrors checks that only a body over MaxBody is 413: a
// body cut short (a client that went away, a broken chunked upload) is a
// 400 naming the cause, not a claim that it was too large.
func TestHandlerBodyReadErrors(t *testing.T) {
	h := newHub(t)
	log := slog.New(slog.DiscardHandler)
	handler := httpapi.Middleware(log, ingest.NewHandler(h.pub, log))
	tests := []struct {
		name        string
		body        io.Reader
		wantStatus  int
		wantCode    string
		wantMention string
	}{
		{
			name:       "cut short",
			body:       io.MultiReader(strings.NewReader(`[{"id":`), iotest.ErrReader(io.ErrUnexpectedEOF)),
			wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMention: io.ErrUnexpectedEOF.Error(),
		},
		{
			name:       "connection reset",
			body:       iotest.ErrReader(errors.New("connection reset by peer")),
			wantStatus: http.StatusBadRequest, wantCode: "INVALID", wantMention: "connection reset by peer",
		},
		{
			name:       "over MaxBody",
			body:       io.LimitReader(neverEnding(' '), ingest.MaxBody+1),
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "TOO_LARGE", wantMention: strconv.Itoa(ingest.MaxBody),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/events", tt.body)
			req.Header.Set("Content-Type", jsonType)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			var eb httpapi.ErrorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
				t.Fatalf("error body is not JSON: %v: %s", err, rec.Body.Bytes())
			}
			if rec.Code != tt.wantStatus || eb.Error.Code != tt.wantCode || !strings.Contains(eb.Error.Message, tt.wantMention) {
				t.Fatalf("%d %+v, want %d %s mentioning %q", rec.Code, eb.Error, tt.wantStatus, tt.wantCode, tt.wantMention)
			}
		})
	}
	h.wantCount(t, 0)
}

// neverEnding is an endless stream of one byte.
type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestHandlerNDJSONByteOrderMark checks that a body saved by a tool that
// starts files with a UTF-8 byte order mark is read as its events, the first
// one included.
func TestHandlerNDJSONByteOrderMark(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	body := "\ufeff" + lines(string(encode(t, event(t, "contact.received", "BOM-1"))), string(encode(t, event(t, "contact.received", "BOM-2"))))
	resp := post(t, ts, ndjsonType, []byte(body), http.StatusOK)
	if resp.Accepted != 2 {
		t.Fatalf("response %+v, want both accepted", resp)
	}
	h.wantCount(t, 2)
	if refs := h.sourceRefs(t); strings.Join(refs, ",") != "BOM-1,BOM-2" {
		t.Fatalf("stored %v", refs)
	}
}

// TestHandlerSameLegacyRecordTwiceInOneRequest checks that two copies of a
// record without an id in one request get the same derived id, so the log
// holds it once.
func TestHandlerSameLegacyRecordTwiceInOneRequest(t *testing.T) {
	h := newHub(t)
	ts := ingestServer(t, h)
	e := event(t, "police.incident", "LEGACY-7")
	want := e.ID
	e.ID = ""
	raw := encode(t, e)
	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
	}{
		{name: "array", contentType: jsonType, body: array(t, raw, raw)},
		{name: "NDJSON", contentType: ndjsonType, body: []byte(lines(string(raw), string(raw)))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, ts, tc.contentType, tc.body, http.StatusOK)
			if len(resp.Results) != 2 || resp.Results[0].ID != want || resp.Results[1].ID != want {
				t.Fatalf("results %+v, want both with id %s", resp.Results, want)
			}
			if resp.Results[0].Sequence != 1 || resp.Results[1].Status != eventlog.Duplicate || resp.Results[1].Sequence != 1 {
				t.Fatalf("second copy %+v, want a duplicate of sequence 1", resp.Results[1])
			}
			h.wantCount(t, 1)
		})
	}
	if got := h.stored(t, 1); got.ID != want || got.SourceRef != "LEGACY-7" {
		t.Fatalf("stored %s %s, want %s LEGACY-7", got.ID, got.SourceRef, want)
	}
}
