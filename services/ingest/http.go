package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/httpapi"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Limits of one ingest request.
const (
	// MaxBody caps a request body.
	MaxBody = 32 << 20
	// MaxEventsPerRequest caps the events in one request; larger loads
	// belong in chronicle import.
	MaxEventsPerRequest = 10000
)

// Response is the body of every answered ingest request: counts, then one
// result per event in request order.
type Response struct {
	Accepted   int               `json:"accepted"`
	Duplicates int               `json:"duplicates"`
	Rejected   int               `json:"rejected"`
	Failed     int               `json:"failed"`
	Results    []eventlog.Result `json:"results"`
}

// Handler serves POST /v1/events.
type Handler struct {
	pub *eventlog.Publisher
	log *slog.Logger
}

// NewHandler returns the ingest handler.
func NewHandler(pub *eventlog.Publisher, log *slog.Logger) *Handler {
	return &Handler{pub: pub, log: log}
}

// ServeHTTP takes one JSON event, a JSON array of events, or NDJSON
// (application/x-ndjson), and answers per event. The status is 200 when
// every event was stored (accepted or duplicate), 207 when some were and some
// were not, 422 when none were because all were invalid, and 503 when none
// were and the log was unreachable. Malformed bodies, wrong content types and
// oversized bodies get 400, 415 and 413 with a JSON error.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpapi.WriteError(w, r, h.log, httpapi.Refuse(httpapi.MethodNotAllowed, "method %s not allowed: POST events to /v1/events", r.Method))
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson") {
		w.Header().Set("Accept-Post", "application/json, application/x-ndjson")
		httpapi.WriteError(w, r, h.log, httpapi.Refuse(httpapi.UnsupportedMediaType,
			"Content-Type %q is not supported: send application/json (one event or an array) or application/x-ndjson", r.Header.Get("Content-Type")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		// Only the limit is "too large": a body cut short (the client went
		// away, a broken chunked encoding) is a bad request.
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = events.Errorf("ingest", events.KindTooLarge, "request body is over %d bytes: split it, or use chronicle import", MaxBody)
		} else {
			err = events.Errorf("ingest", events.KindInvalid, "could not read the request body: %v", err)
		}
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	items, err := splitBody(mt, body)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	// A verified caller publishes for its own agency only. A token without
	// one could otherwise publish as anyone, so it may not publish at all.
	// (Without a caller the handler is in-process, as in PublishBody.)
	agency := ""
	if c, ok := auth.CallerFrom(r.Context()); ok {
		if !events.Agencies.Has(c.Agency) {
			httpapi.WriteError(w, r, h.log, events.Errorf("ingest", events.KindForbidden,
				"your token names no agency Chronicle knows (%q): a token that publishes must carry the agency it publishes for", c.Agency))
			return
		}
		agency = c.Agency
	}
	resp, err := publishChecked(r.Context(), h.pub, items, agency)
	if err != nil {
		httpapi.WriteError(w, r, h.log, err)
		return
	}
	httpapi.WriteJSON(w, resp.Status(), resp)
}

// item is one event in a request: its bytes, or why it could not be read.
type item struct {
	raw []byte
	err error
}

func splitBody(mediaType string, body []byte) ([]item, error) {
	var items []item
	if mediaType == "application/x-ndjson" {
		err := readNDJSON(bytes.NewReader(body), func(line int, raw []byte, err error) error {
			if len(items) == MaxEventsPerRequest {
				return events.Errorf("ingest", events.KindTooLarge, "more than %d events in one request: use chronicle import", MaxEventsPerRequest)
			}
			if err != nil {
				err = &events.FieldError{Problem: fmt.Sprintf("line %d: %v", line, err)}
			}
			items = append(items, item{raw: raw, err: err})
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return nil, events.Errorf("ingest", events.KindInvalid, "the body holds no events")
		}
		return items, nil
	}
	trimmed := bytes.TrimSpace(body)
	// Offsets in parse errors count from the body as sent.
	lead := len(body) - len(bytes.TrimLeftFunc(body, unicode.IsSpace))
	switch {
	case len(trimmed) == 0:
		return nil, events.Errorf("ingest", events.KindInvalid, "the body is empty: send one event or an array of events")
	case trimmed[0] == '{':
		if !json.Valid(trimmed) {
			return nil, malformed(trimmed, lead)
		}
		return []item{{raw: trimmed}}, nil
	case trimmed[0] == '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, malformed(trimmed, lead)
		}
		if len(raws) == 0 {
			return nil, events.Errorf("ingest", events.KindInvalid, "the array holds no events")
		}
		if len(raws) > MaxEventsPerRequest {
			return nil, events.Errorf("ingest", events.KindTooLarge, "%d events in one request; the limit is %d: use chronicle import", len(raws), MaxEventsPerRequest)
		}
		for _, raw := range raws {
			items = append(items, item{raw: raw})
		}
		return items, nil
	}
	return nil, events.Errorf("ingest", events.KindInvalid, "the body must be a JSON object (one event) or array (several events), not %q...", firstBytes(trimmed))
}

// malformed describes where JSON parsing failed; lead is the white space
// trimmed from the front of the body, added back to the offset.
func malformed(body []byte, lead int) error {
	var v any
	err := json.Unmarshal(body, &v)
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return events.Errorf("ingest", events.KindInvalid, "malformed JSON at byte %d: %v", syn.Offset+int64(lead), err)
	}
	return events.Errorf("ingest", events.KindInvalid, "malformed JSON: %v", err)
}

func firstBytes(b []byte) string {
	if len(b) > 20 {
		b = b[:20]
	}
	return string(b)
}

// PublishBody validates and publishes every event in body: one JSON event,
// a JSON array of events, or NDJSON. It is what chronicle publish does with a
// file; the error is for a body that cannot be read at all.
func PublishBody(ctx context.Context, pub *eventlog.Publisher, body []byte) (*Response, error) {
	items, err := splitAny(body)
	if err != nil {
		return nil, err
	}
	return publishItems(ctx, pub, items), nil
}

// splitAny splits a body given without a content type: one JSON value (an
// event or an array) if it parses as one, NDJSON otherwise.
func splitAny(body []byte) ([]item, error) {
	mt := "application/json"
	if !json.Valid(bytes.TrimSpace(body)) {
		mt = "application/x-ndjson"
	}
	return splitBody(mt, body)
}

// PublishFile is PublishBody for a file of at most MaxBody bytes. The events
// not stored are written with their reasons, in the NDJSON shape import
// uses ("line" is the event's position in the file), next to it:
// events.json gives events.rejects.ndjson. It returns that path, or "" when
// every event was stored (and no such file is left behind).
func PublishFile(ctx context.Context, pub *eventlog.Publisher, path string) (*Response, string, error) {
	body, err := readCapped(path)
	if err != nil {
		return nil, "", err
	}
	items, err := splitAny(body)
	if err != nil {
		return nil, "", err
	}
	resp := publishItems(ctx, pub, items)
	rejectsPath := strings.TrimSuffix(path, filepath.Ext(path)) + ".rejects.ndjson"
	if resp.Rejected+resp.Failed == 0 {
		_ = os.Remove(rejectsPath) // one from an earlier run would mislead
		return resp, "", nil
	}
	f, err := os.Create(rejectsPath)
	if err != nil {
		return resp, "", fmt.Errorf("publish: rejects file: %w", err)
	}
	rw := &ndjsonRejects{w: bufio.NewWriter(f)}
	for _, r := range resp.Results {
		if r.Status != eventlog.Rejected && r.Status != eventlog.Failed {
			continue
		}
		probs := r.Problems
		if r.Error != "" {
			probs = append(probs, events.FieldError{Problem: "not stored: " + r.Error + " (safe to publish again)"})
		}
		rw.write(r.Key+1, reasons(probs), nil, items[r.Key].raw)
	}
	err = rw.flush()
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return resp, "", fmt.Errorf("publish: rejects file: %w", err)
	}
	return resp, rejectsPath, nil
}

// readCapped reads a file of at most MaxBody bytes.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	defer f.Close()
	body, err := io.ReadAll(io.LimitReader(f, MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}
	if len(body) > MaxBody {
		return nil, events.Errorf("publish", events.KindTooLarge, "%s is more than %d bytes: use chronicle import for large files", path, MaxBody)
	}
	return body, nil
}

func publishItems(ctx context.Context, pub *eventlog.Publisher, items []item) *Response {
	resp, _ := publishChecked(ctx, pub, items, "")
	return resp
}

// publishChecked prepares every item, refuses the whole request with a
// KindForbidden error if any event names an agency other than agency (when
// given: the agency a caller's token is for), and otherwise publishes.
func publishChecked(ctx context.Context, pub *eventlog.Publisher, items []item, agency string) (*Response, error) {
	type prepared struct {
		e    *events.Event
		data []byte
		err  error
	}
	ready := make([]prepared, len(items))
	var foreign []string
	for i, it := range items {
		if it.err != nil {
			ready[i].err = it.err
			continue
		}
		if agency != "" {
			// The agency check comes before any other, so that nothing about
			// another agency's records (such as whether an event exists) is
			// looked up on a request that will be refused.
			if e, _ := events.Decode(it.raw); e != nil && e.Agency != agency {
				foreign = append(foreign, fmt.Sprintf("#%d names %q", i, e.Agency))
				continue
			}
		}
		ready[i].e, ready[i].data, ready[i].err = pub.Prepare(ctx, it.raw)
	}
	if len(foreign) > 0 {
		return nil, events.Errorf("ingest", events.KindForbidden, "your token publishes for %q only; refused, nothing stored: %s", agency, strings.Join(foreign, ", "))
	}
	resp := &Response{Results: make([]eventlog.Result, 0, len(items))}
	batch := pub.NewBatch(0, resp.add)
	for i, p := range ready {
		if p.err != nil {
			_ = batch.Reject(ctx, i, p.e, p.err)
			continue
		}
		if err := batch.Add(ctx, i, p.e, p.data); err != nil {
			break // the caller went away
		}
	}
	batch.Close()
	return resp, nil
}

func (resp *Response) add(r eventlog.Result) {
	switch r.Status {
	case eventlog.Accepted:
		resp.Accepted++
	case eventlog.Duplicate:
		resp.Duplicates++
	case eventlog.Rejected:
		resp.Rejected++
	case eventlog.Failed:
		resp.Failed++
	}
	resp.Results = append(resp.Results, r)
}

// Status is the HTTP status for the response (see Handler.ServeHTTP).
func (resp *Response) Status() int {
	stored := resp.Accepted + resp.Duplicates
	switch {
	case stored == len(resp.Results):
		return http.StatusOK
	case stored > 0:
		return http.StatusMultiStatus
	case resp.Failed > 0:
		return http.StatusServiceUnavailable
	}
	return http.StatusUnprocessableEntity
}
