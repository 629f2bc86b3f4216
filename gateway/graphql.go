package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/location"
	"github.com/graphql-go/graphql/language/parser"
	"github.com/graphql-go/graphql/language/source"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// Media types of the GraphQL over HTTP specification.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// Body caps. A caller with a verified token may send up to
// MaxGraphQLBody (room for large variables); a request without one may
// only introspect the schema, which GraphiQL does in 1.3 KB, so it gets
// MaxPublicGraphQLBody: nobody unauthenticated can make the server hold a
// megabyte.
const (
	MaxGraphQLBody       = 1 << 20
	MaxPublicGraphQLBody = 16 << 10
)

// GraphQL serves /graphql by the GraphQL over HTTP specification: POST with
// application/json, GET for queries only, application/graphql-response+json
// responses (application/json when that is all the client accepts), 4xx for
// requests that cannot be parsed or validated, and GraphiQL for browsers.
type GraphQL struct {
	reads       *Reads
	log         *slog.Logger
	timeout     time.Duration
	bodyTimeout time.Duration
	verifier    *auth.Verifier
	example     func() string // the NHS number GraphiQL opens with; see WithExampleChild
	observe     Observer
}

// DefaultGraphQLTimeout is how long one GraphQL request may take, from
// its first byte read to its access records stored.
const DefaultGraphQLTimeout = 30 * time.Second

// DefaultBodyTimeout is how long a GraphQL request body may take to
// arrive once its headers have: 1 MiB at 1 Mbit/s. A client that trickles
// its body holds a connection no longer than this.
const DefaultBodyTimeout = 10 * time.Second

// GraphQLOption configures the GraphQL handler.
type GraphQLOption func(*GraphQL)

// WithTimeout sets how long one request may take, reading, checking,
// executing and auditing, before it is answered 503 TIMEOUT (default
// DefaultGraphQLTimeout).
func WithTimeout(d time.Duration) GraphQLOption {
	return func(h *GraphQL) { h.timeout = d }
}

// WithBodyTimeout sets how long a request body may take to arrive before
// the request is answered 408 (default DefaultBodyTimeout).
func WithBodyTimeout(d time.Duration) GraphQLOption {
	return func(h *GraphQL) { h.bodyTimeout = d }
}

// WithExampleChild names the NHS number GraphiQL's opening query looks up,
// asked on every page load; "" (or anything but ten digits) keeps the
// placeholder. Only synthetic data should be named: the page is public.
func WithExampleChild(nhs func() string) GraphQLOption {
	return func(h *GraphQL) { h.example = nhs }
}

// Observer is told of every GraphQL request answered (GraphiQL's page is
// not one): its operation kind ("query", "mutation", or "none" when it was
// refused before its operation was known), its outcome ("ok"; "errors"
// when it ran and its result holds errors; "refused" for a 4xx answer;
// "unavailable" for 503: the access log, a timeout, shutting down;
// "failed" for anything else) and how long it took from its first byte.
// It sees no part of the request itself.
type Observer func(kind, outcome string, took time.Duration)

// WithObserver installs an Observer, for the process's metrics.
func WithObserver(o Observer) GraphQLOption {
	return func(h *GraphQL) { h.observe = o }
}

// NewGraphQL returns the handler for schema with limits applied before
// validation (see Limits), callers verified by v, and every read recorded
// by a before its answer is written.
func NewGraphQL(schema graphql.Schema, limits Limits, v *auth.Verifier, a Auditor, log *slog.Logger, opts ...GraphQLOption) *GraphQL {
	h := &GraphQL{reads: NewReads(schema, limits, a, log), log: log, timeout: DefaultGraphQLTimeout, bodyTimeout: DefaultBodyTimeout, verifier: v}
	for _, o := range opts {
		o(h)
	}
	return h
}

// Reads is the read path this handler runs requests through, for other
// faces of the same schema (the web pages) to share.
func (h *GraphQL) Reads() *Reads { return h.reads }

// request is a GraphQL-over-HTTP request's parameters.
type request struct {
	Query         string         `json:"query"`
	Variables     map[string]any `json:"variables"`
	OperationName string         `json:"operationName"`
	Extensions    map[string]any `json:"extensions"`
}

// executed is the response to a request whose operation ran: data is
// always present, and null when a non-null root field failed.
type executed struct {
	Data   any         `json:"data"`
	Errors []wireError `json:"errors,omitempty"`
}

// refused is the response to a request that was not executed: errors and
// no data entry, which is how the GraphQL over HTTP specification tells a
// request error from a partial result.
type refused struct {
	Errors []wireError `json:"errors"`
}

// wireError is one error as a response carries it. Unlike
// gqlerrors.FormattedError it leaves locations out when there are none:
// GraphQL lets them be absent, not null or empty.
type wireError struct {
	Message    string                    `json:"message"`
	Locations  []location.SourceLocation `json:"locations,omitempty"`
	Path       []any                     `json:"path,omitempty"`
	Extensions map[string]any            `json:"extensions,omitempty"`
}

func responseErrors(errs []gqlerrors.FormattedError) []wireError {
	if len(errs) == 0 {
		return nil
	}
	out := make([]wireError, len(errs))
	for i, e := range errs {
		out[i] = wireError{Message: e.Message, Locations: e.Locations, Path: e.Path, Extensions: e.Extensions}
	}
	return out
}

type loggerKey struct{}

func loggerFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP serves /graphql per the GraphQL over HTTP specification:
// GraphiQL for a browser asking for HTML, queries by GET or POST, mutations
// by POST only. Every request but a bounded introspection query needs a
// verified bearer token, and an answer that read a child's record is
// released only once its access records are stored.
//
// The order is what keeps an unauthenticated or hostile request cheap: a
// presented token is verified on the headers before any body is read
// (and one that does not verify is refused, whatever the request asks);
// the body is read under a size cap and a deadline of its own; the text is
// scanned and the parsed document checked (Limits) before graphql-go's
// validation rules see it; and one deadline (WithTimeout) runs from the
// start to the access records, checked between stages, with resolvers
// stopping once it passes or the client goes.
func (h *GraphQL) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Query().Get("query") == "" && accepts(r, "text/html") {
		example := ""
		if h.example != nil {
			example = h.example()
		}
		serveGraphiQL(w, example)
		return
	}
	if h.observe == nil {
		h.serve(w, r, &observation{})
		return
	}
	started := time.Now()
	o := &observation{ResponseWriter: w, kind: "none"}
	h.serve(o, r, o)
	h.observe(o.kind, o.outcome(), time.Since(started))
}

// observation is what an Observer is told about one request: the response
// writer is wrapped to see the status (readBody unwraps it again, see
// there), and serve notes the operation kind and whether the result held
// errors.
type observation struct {
	http.ResponseWriter
	kind   string
	status int
	errors bool
}

// WriteHeader implements http.ResponseWriter.
func (o *observation) WriteHeader(status int) {
	if o.status == 0 {
		o.status = status
	}
	o.ResponseWriter.WriteHeader(status)
}

// Write implements http.ResponseWriter.
func (o *observation) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return o.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (o *observation) Unwrap() http.ResponseWriter { return o.ResponseWriter }

func (o *observation) outcome() string {
	switch {
	case o.status == http.StatusOK && o.errors:
		return "errors"
	case o.status == http.StatusOK:
		return "ok"
	case o.status == http.StatusServiceUnavailable:
		return "unavailable"
	case o.status >= 400 && o.status < 500:
		return "refused"
	}
	return "failed"
}

// serve is ServeHTTP for a GraphQL request; o is told what the Observer
// needs (without an Observer, nobody reads it).
func (h *GraphQL) serve(w http.ResponseWriter, r *http.Request, o *observation) {
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	ctx = context.WithValue(ctx, loggerKey{}, h.log)
	if r.ContentLength != 0 {
		// Until the body has been read, an answer closes the connection:
		// otherwise net/http reads what is left of the body before it
		// answers, and a client trickling one would hold the refusal back.
		w.Header().Set("Connection", "close")
	}
	media, ok := responseMedia(r)
	if !ok {
		h.requestError(w, mediaJSON, http.StatusNotAcceptable, "NOT_ACCEPTABLE", "accept application/graphql-response+json or application/json")
		return
	}
	var caller *auth.Caller
	if _, presented := r.Header["Authorization"]; presented {
		c, err := h.verifier.Verify(auth.BearerToken(r))
		if err != nil {
			h.authError(w, media, err)
			return
		}
		caller = &c
	}
	var req request
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
		if v := q.Get("variables"); v != "" {
			if err := events.CheckJSONText([]byte(v)); err != nil {
				h.requestError(w, media, http.StatusBadRequest, "INVALID", "variables: "+textProblem(err))
				return
			}
			if err := json.Unmarshal([]byte(v), &req.Variables); err != nil {
				h.requestError(w, media, http.StatusBadRequest, "INVALID", "variables: not a JSON object: "+err.Error())
				return
			}
		}
	case http.MethodPost:
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != mediaJSON {
			h.requestError(w, media, http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "POST a JSON body with Content-Type: application/json")
			return
		}
		limit := int64(MaxGraphQLBody)
		if caller == nil {
			limit = MaxPublicGraphQLBody
		}
		body, err := readBody(w, r, limit, h.bodyTimeout)
		if err != nil {
			h.bodyError(w, media, err, caller == nil)
			return
		}
		w.Header().Del("Connection")
		trimmed := bytes.TrimSpace(body)
		if bytes.HasPrefix(trimmed, []byte("[")) {
			h.requestError(w, media, http.StatusBadRequest, "INVALID", "batched requests are not supported: send one operation per request")
			return
		}
		if err := events.CheckJSONText(trimmed); err != nil {
			h.requestError(w, media, http.StatusBadRequest, "INVALID", textProblem(err))
			return
		}
		if err := json.Unmarshal(trimmed, &req); err != nil {
			h.requestError(w, media, http.StatusBadRequest, "INVALID", bodyProblem(err))
			return
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		h.requestError(w, media, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "use POST (or GET for queries)")
		return
	}
	if strings.TrimSpace(req.Query) == "" {
		h.requestError(w, media, http.StatusBadRequest, "INVALID", "query: a GraphQL document is required")
		return
	}
	src := source.NewSource(&source.Source{Body: []byte(req.Query), Name: "GraphQL request"})
	if errs := h.reads.limits.scan(src); len(errs) > 0 {
		h.documentError(w, media, errs)
		return
	}
	doc, err := parser.Parse(parser.ParseParams{Source: src, Options: parser.ParseOptions{NoSource: true}}) // see locate
	if err != nil {
		h.documentError(w, media, gqlerrors.FormatErrors(err))
		return
	}
	if errs := h.reads.limits.precheck(src, doc); len(errs) > 0 {
		h.documentError(w, media, errs)
		return
	}
	op, err := operation(doc, req.OperationName)
	if err != nil {
		h.documentError(w, media, []gqlerrors.FormattedError{{Message: err.Error(), Extensions: map[string]any{"code": events.KindInvalid.String()}}})
		return
	}
	o.kind = op.Operation
	if r.Method == http.MethodGet && op.Operation != ast.OperationTypeQuery {
		w.Header().Set("Allow", "POST")
		h.requestError(w, media, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", op.Operation+" operations must be sent with POST")
		return
	}
	// The schema itself is public, so GraphiQL's documentation works before
	// a token is pasted (Limits bound introspection as they bound the rest);
	// everything else needs a verified caller.
	if caller == nil && !introspectionOnly(op) {
		h.authError(w, media, events.Errorf("auth", events.KindUnauthenticated,
			"no bearer token: send Authorization: Bearer <token> (only introspection of the schema is public)"))
		return
	}
	if v := graphql.ValidateDocument(&h.reads.schema, doc, graphql.SpecifiedRules); !v.IsValid {
		h.documentError(w, media, locate(src, v.Errors))
		return
	}
	if ctx.Err() != nil {
		h.stopped(w, media, ctx)
		return
	}
	if errs := h.reads.coerceVariables(ctx, op, req.Variables); len(errs) > 0 {
		h.documentError(w, media, locate(src, errs))
		return
	}
	why := Purpose{Reason: r.Header.Get(HeaderPurpose), Detail: r.Header.Get(HeaderPurposeDetail)}.given()
	res, err := h.reads.execute(ctx, caller, why, ActionRead, doc, req.OperationName, req.Variables)
	switch {
	case isAuditUnavailable(err):
		h.requestError(w, media, http.StatusServiceUnavailable, "AUDIT_UNAVAILABLE", ErrAuditUnavailable.Error())
		return
	case err != nil:
		h.stopped(w, media, ctx)
		return
	}
	o.errors = len(res.Errors) > 0
	write(w, media, http.StatusOK, executed{Data: res.Data, Errors: responseErrors(locate(src, res.Errors))})
}

// authError refuses a request whose caller is not verified: 401 with
// WWW-Authenticate, or 403 for a token whose role is unknown.
func (h *GraphQL) authError(w http.ResponseWriter, media string, err error) {
	if StatusOf(err) == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chronicle", error="invalid_token"`)
	}
	h.requestError(w, media, StatusOf(err), CodeOf(err), err.Error())
}

// bodyError answers a POST body that could not be read whole: over its
// cap (413, saying that a token raises the cap when the request had
// none), too slow (408), or cut short (400).
func (h *GraphQL) bodyError(w http.ResponseWriter, media string, err error, public bool) {
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) && public:
		h.requestError(w, media, http.StatusRequestEntityTooLarge, events.KindTooLarge.String(),
			fmt.Sprintf("request body is over %d bytes, the limit without a bearer token (only introspection is public); with one it is %d", MaxPublicGraphQLBody, MaxGraphQLBody))
	case errors.As(err, &tooBig):
		h.requestError(w, media, http.StatusRequestEntityTooLarge, events.KindTooLarge.String(), fmt.Sprintf("request body is over %d bytes", MaxGraphQLBody))
	case errors.Is(err, os.ErrDeadlineExceeded):
		h.requestError(w, media, http.StatusRequestTimeout, "TIMEOUT", fmt.Sprintf("the request body did not arrive within %v", h.bodyTimeout))
	default:
		h.requestError(w, media, http.StatusBadRequest, "INVALID", "could not read the request body: "+err.Error())
	}
}

// stopped answers a request whose context ended before its answer was
// ready: 503 TIMEOUT past the deadline; 503 UNAVAILABLE when the client
// went away (nobody reads it) or the server is shutting down.
func (h *GraphQL) stopped(w http.ResponseWriter, media string, ctx context.Context) {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		h.requestError(w, media, http.StatusServiceUnavailable, "TIMEOUT", fmt.Sprintf("the request took longer than %v", h.timeout))
		return
	}
	h.requestError(w, media, http.StatusServiceUnavailable, events.KindUnavailable.String(), "the request was cancelled: the server is shutting down")
}

// textProblem renders what events.CheckJSONText found: a repeated member
// name (encoding/json would keep the last, so the query run might not be the
// one a proxy or log saw) or forbidden text, each with its field.
func textProblem(err error) string {
	var parts []string
	for _, p := range events.Problems(err) {
		parts = append(parts, p.Field+": "+p.Problem)
	}
	return strings.Join(parts, "; ")
}

// bodyProblem describes why a POST body is not a GraphQL-over-HTTP
// request.
func bodyProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := "a string"
		if te.Field == "variables" || te.Field == "extensions" {
			want = "a JSON object"
		}
		return fmt.Sprintf("%s: must be %s, not a JSON %s", te.Field, want, te.Value)
	}
	return "malformed JSON body: " + err.Error()
}

// introspectionOnly reports whether every top-level field of a query is
// __schema, __type or __typename.
func introspectionOnly(op *ast.OperationDefinition) bool {
	if op.Operation != ast.OperationTypeQuery || op.SelectionSet == nil || len(op.SelectionSet.Selections) == 0 {
		return false
	}
	for _, sel := range op.SelectionSet.Selections {
		f, ok := sel.(*ast.Field)
		if !ok || f.Name == nil || !strings.HasPrefix(f.Name.Value, "__") {
			return false
		}
	}
	return true
}

// operation picks the operation to run, as the executor will.
func operation(doc *ast.Document, name string) (*ast.OperationDefinition, error) {
	var found *ast.OperationDefinition
	count := 0
	for _, def := range doc.Definitions {
		op, ok := def.(*ast.OperationDefinition)
		if !ok {
			continue
		}
		count++
		if name == "" || (op.Name != nil && op.Name.Value == name) {
			found = op
		}
	}
	switch {
	case count == 0:
		return nil, errors.New("query: the document has no operation")
	case name == "" && count > 1:
		return nil, errors.New("operationName: the document has several operations; name the one to run")
	case found == nil:
		return nil, fmt.Errorf("operationName: no operation named %q", name)
	}
	return found, nil
}

// documentError answers a request error found before execution (a
// document that does not parse or validate, an operation that cannot be
// chosen, variables that cannot be coerced): 400 with
// application/graphql-response+json; 200 with application/json, as the
// specification asks for legacy clients.
func (h *GraphQL) documentError(w http.ResponseWriter, media string, errs []gqlerrors.FormattedError) {
	status := http.StatusBadRequest
	if media == mediaJSON {
		status = http.StatusOK
	}
	for i := range errs {
		if errs[i].Extensions == nil {
			errs[i].Extensions = map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}
		}
	}
	write(w, media, status, refused{Errors: responseErrors(errs)})
}

// requestError answers a request that is not a GraphQL request at all, or
// that cannot be executed.
func (h *GraphQL) requestError(w http.ResponseWriter, media string, status int, code, msg string) {
	write(w, media, status, refused{Errors: []wireError{{Message: msg, Extensions: map[string]any{"code": code}}}})
}

func write(w http.ResponseWriter, media string, status int, body any) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}

// responseMedia negotiates the response type from Accept. A request without
// one gets application/graphql-response+json: the GraphQL over HTTP draft's
// default for legacy clients (application/json) applied only before
// 2025-01-01, and the modern type is the one whose status codes a client
// can trust.
func responseMedia(r *http.Request) (string, bool) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return mediaGraphQLResponse, true
	}
	best, bestQ := "", -1.0
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			fmt.Sscanf(v, "%g", &q)
		}
		var cand string
		switch mt {
		case mediaGraphQLResponse, "*/*", "application/*":
			cand = mediaGraphQLResponse
		case mediaJSON:
			cand = mediaJSON
		default:
			continue
		}
		if q > bestQ || (q == bestQ && cand == mediaGraphQLResponse) {
			best, bestQ = cand, q
		}
	}
	return best, best != "" && bestQ > 0
}

func accepts(r *http.Request, media string) bool {
	return strings.Contains(r.Header.Get("Accept"), media)
}

// stopWhenCancelled makes every field of s's own types resolve to the
// context's error, without running its resolver, once the request's
// context has ended. graphql-go's Execute returns when the context ends,
// but the execution it started runs on to the last field; with this, a
// request whose client has gone, whose deadline has passed or whose
// server is shutting down stops costing anything beyond a check per field.
// The introspection types (names beginning "__") belong to graphql-go and
// are shared by every schema, so they are left alone; Limits bound them.
func stopWhenCancelled(s graphql.Schema) {
	for name, t := range s.TypeMap() {
		obj, ok := t.(*graphql.Object)
		if !ok || strings.HasPrefix(name, "__") {
			continue
		}
		for _, f := range obj.Fields() {
			resolve := f.Resolve
			if resolve == nil {
				resolve = graphql.DefaultResolveFn
			}
			f.Resolve = func(p graphql.ResolveParams) (any, error) {
				if p.Context != nil && p.Context.Err() != nil {
					return nil, p.Context.Err()
				}
				return resolve(p)
			}
		}
	}
}
