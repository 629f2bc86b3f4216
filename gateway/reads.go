package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/parser"
	"github.com/graphql-go/graphql/language/source"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
)

// Reads runs GraphQL documents against the schema as a verified caller,
// with the caller's purpose of access, and stores the access records a run
// makes before its answer is released. It is the one read path and the one
// audit path: GraphQL over HTTP (GraphQL.ServeHTTP) and the web pages
// (gateway/web) both read through it, so redaction, purpose of access and
// the access log cannot differ between them.
type Reads struct {
	schema  graphql.Schema
	limits  Limits
	auditor Auditor
	log     *slog.Logger
	now     func() time.Time
}

// ErrAuditUnavailable is returned by Reads.Run when a run's access records
// could not be stored: its answer is then withheld (fail closed).
var ErrAuditUnavailable = events.Errorf("audit", events.KindUnavailable, "the access log cannot be written, so nothing can be read: try again shortly")

// NewReads returns the read path over schema, bounded by limits (zero
// means DefaultLimits), recording through a.
func NewReads(schema graphql.Schema, limits Limits, a Auditor, log *slog.Logger) *Reads {
	if limits == (Limits{}) {
		limits = DefaultLimits
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Reads{schema: schema, limits: limits.withDefaults(), auditor: a, log: log, now: time.Now}
}

// Purpose is why a caller reads: one of Purposes' codes and, optionally, a
// few words. It is what the Chronicle-Purpose and Chronicle-Purpose-Detail
// headers carry, and it is checked where the read happens (an unknown or
// missing reason refuses a read of a child's record).
type Purpose struct {
	Reason, Detail string
}

// Check returns the error a read with this purpose would be refused with,
// or nil: the same check the schema makes, for a form to ask again before
// anything is read.
func (p Purpose) Check() error { return p.given().check() }

// given normalises a purpose as the headers give it.
func (p Purpose) given() purpose {
	return purpose{reason: strings.ToLower(strings.TrimSpace(p.Reason)), detail: strings.TrimSpace(p.Detail)}
}

// Document is a parsed and validated GraphQL document with one operation,
// ready to run many times (see Prepare).
type Document struct {
	doc *ast.Document
	op  string
}

// Prepare parses query, checks it against the limits and validates it
// against the schema, once, for a caller that runs the same documents
// again and again (the web pages). The document must hold exactly one
// operation. It returns a KindInvalid error with graphql-go's messages.
func (r *Reads) Prepare(query string) (*Document, error) {
	src := source.NewSource(&source.Source{Body: []byte(query), Name: "GraphQL request"})
	problems := func(errs []gqlerrors.FormattedError) error {
		var msgs []string
		for _, e := range errs {
			msgs = append(msgs, e.Message)
		}
		return events.Errorf("query", events.KindInvalid, "%s", strings.Join(msgs, "; "))
	}
	if errs := r.limits.scan(src); len(errs) > 0 {
		return nil, problems(errs)
	}
	doc, err := parser.Parse(parser.ParseParams{Source: src})
	if err != nil {
		return nil, problems(gqlerrors.FormatErrors(err))
	}
	if errs := r.limits.precheck(src, doc); len(errs) > 0 {
		return nil, problems(errs)
	}
	op, err := operation(doc, "")
	if err != nil {
		return nil, events.E("query", events.KindInvalid, err)
	}
	if v := graphql.ValidateDocument(&r.schema, doc, graphql.SpecifiedRules); !v.IsValid {
		return nil, problems(v.Errors)
	}
	name := ""
	if op.Name != nil {
		name = op.Name.Value
	}
	return &Document{doc: doc, op: name}, nil
}

// Run executes d as caller, for purpose p, with vars, and returns its
// result once the access records it made are stored. Variables that do not
// fit the document are a KindInvalid error; an access log that cannot be
// written is ErrAuditUnavailable; a context that ends first, its error.
// Errors in fields (a child not found, a purpose refused) are in the
// result, as GraphQL gives them.
func (r *Reads) Run(ctx context.Context, caller auth.Caller, p Purpose, d *Document, vars map[string]any) (*graphql.Result, error) {
	return r.RunAs(ctx, ActionRead, caller, p, d, vars)
}

// RunAs is Run with the run's reads of children's records recorded under
// action: ActionRead (as Run) or ActionPrint (the print view, so printing
// for conference is on the access log as itself). Any other action is a
// KindInvalid error: the log's actions are a closed list.
func (r *Reads) RunAs(ctx context.Context, action string, caller auth.Caller, p Purpose, d *Document, vars map[string]any) (*graphql.Result, error) {
	if action != ActionRead && action != ActionPrint {
		return nil, events.Errorf("action", events.KindInvalid, "%q is not an action a read may be recorded as (want %s or %s)", action, ActionRead, ActionPrint)
	}
	ctx = context.WithValue(ctx, loggerKey{}, r.log)
	if op, _ := operation(d.doc, d.op); op != nil {
		if errs := r.coerceVariables(ctx, op, vars); len(errs) > 0 {
			return nil, events.Errorf("variables", events.KindInvalid, "%s", errs[0].Message)
		}
	}
	return r.execute(ctx, &caller, p.given(), action, d.doc, d.op, vars)
}

// execute runs the operation opName of doc, already validated, with
// caller (nil only for a request that reads the schema alone: nothing is
// then recorded) and the purpose the request gave outside the document,
// and stores its access records before returning. It is the step both
// faces share: the context carries the caller, the request's audit and
// the logger exactly as every resolver expects them. readAs is the action
// its reads of children's records are recorded as (ActionRead, or
// ActionPrint for the print view).
func (r *Reads) execute(ctx context.Context, caller *auth.Caller, why purpose, readAs string, doc *ast.Document, opName string, vars map[string]any) (*graphql.Result, error) {
	var ra *requestAudit
	if caller != nil {
		ra = newRequestAudit(RequestID(ctx), *caller, why, r.now())
		ra.readAs = readAs
		ctx = context.WithValue(auth.WithCaller(ctx, *caller), auditKey{}, ra)
	}
	res := graphql.Execute(graphql.ExecuteParams{Schema: r.schema, AST: doc, OperationName: opName, Args: vars, Context: ctx})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Fail closed: the answer is released only once its access records are
	// stored.
	if recs := ra.list(); len(recs) > 0 {
		if err := r.auditor.Record(ctx, recs); err != nil {
			r.log.Error("audit failed; read refused", "request_id", RequestID(ctx), "err", err)
			return nil, fmt.Errorf("%w: %w", ErrAuditUnavailable, err)
		}
	}
	return res, nil
}

// coerceVariables checks the request's variables against op's
// definitions, so that a wrong one is answered as a request error (400,
// no data) as the GraphQL over HTTP specification asks. graphql-go coerces
// variables only inside Execute and reports failure exactly as it reports
// a failed non-null root field, so the check executes a stand-in: op's
// variable definitions with nothing to resolve but __typename. It returns
// the coercion errors, each coded INVALID.
func (r *Reads) coerceVariables(ctx context.Context, op *ast.OperationDefinition, vars map[string]any) []gqlerrors.FormattedError {
	if len(op.VariableDefinitions) == 0 {
		return nil
	}
	typename := ast.NewField(&ast.Field{Name: ast.NewName(&ast.Name{Value: "__typename"})})
	probe := ast.NewOperationDefinition(&ast.OperationDefinition{
		Operation:           ast.OperationTypeQuery,
		VariableDefinitions: op.VariableDefinitions,
		SelectionSet:        ast.NewSelectionSet(&ast.SelectionSet{Selections: []ast.Selection{typename}}),
	})
	res := graphql.Execute(graphql.ExecuteParams{Schema: r.schema, AST: ast.NewDocument(&ast.Document{Definitions: []ast.Node{probe}}), Args: vars, Context: ctx})
	if res.Data != nil || ctx.Err() != nil {
		return nil // coerced; or the caller has gone, and execution will say so
	}
	for i := range res.Errors {
		res.Errors[i].Extensions = map[string]any{"code": events.KindInvalid.String()}
	}
	return res.Errors
}

// isAuditUnavailable reports whether err is ErrAuditUnavailable.
func isAuditUnavailable(err error) bool { return errors.Is(err, ErrAuditUnavailable) }
