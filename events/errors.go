package events

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies an error for the edges of the system. The gateway and the
// ingest API map a Kind to an HTTP status and a GraphQL extensions.code in
// one place (httpapi.StatusOf), so every layer below only has to say what
// went wrong, not how to report it.
type Kind uint8

// The kinds of error Chronicle distinguishes.
const (
	KindInternal        Kind = iota // a bug or an unexpected failure; callers see "internal error"
	KindInvalid                     // the caller sent something malformed or semantically wrong
	KindNotFound                    // the thing asked for does not exist (or is not visible)
	KindConflict                    // the request conflicts with what is already recorded
	KindForbidden                   // the caller is known but not allowed to do this
	KindUnauthenticated             // the caller could not be identified
	KindUnavailable                 // a dependency (NATS, the audit stream) is not reachable
	KindTooLarge                    // the request exceeds a size or complexity limit
)

var kindNames = [...]string{
	KindInternal:        "INTERNAL",
	KindInvalid:         "INVALID",
	KindNotFound:        "NOT_FOUND",
	KindConflict:        "CONFLICT",
	KindForbidden:       "FORBIDDEN",
	KindUnauthenticated: "UNAUTHENTICATED",
	KindUnavailable:     "UNAVAILABLE",
	KindTooLarge:        "TOO_LARGE",
}

// String returns the upper-case code used in GraphQL extensions.code.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Error is the one error type that crosses package boundaries. Op names the
// operation that failed ("ingest", "child"), Kind says what sort of failure it
// was, and Err carries the detail.
type Error struct {
	Op   string
	Kind Kind
	Err  error
}

// Error renders "op: detail".
func (e *Error) Error() string {
	switch {
	case e.Op == "":
		return e.Err.Error()
	case e.Err == nil:
		return e.Op + ": " + e.Kind.String()
	default:
		return e.Op + ": " + e.Err.Error()
	}
}

// Unwrap exposes the cause to errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// E builds an *Error. It is a short constructor because it is used at every
// boundary.
func E(op string, kind Kind, err error) error {
	return &Error{Op: op, Kind: kind, Err: err}
}

// Errorf builds an *Error with a formatted message.
func Errorf(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// KindOf returns the Kind of the outermost *Error in err's chain. Validation
// problems without an explicit *Error are KindInvalid; anything else is
// KindInternal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if len(Problems(err)) > 0 {
		return KindInvalid
	}
	return KindInternal
}

// FieldError is one validation problem, located by a field path in the wire
// format: "subjects[0].identifiers.nhs_number".
type FieldError struct {
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

// Error renders "field: problem".
func (f *FieldError) Error() string {
	if f.Field == "" {
		return f.Problem
	}
	return f.Field + ": " + f.Problem
}

// Problems flattens every *FieldError in err's tree (errors.Join trees and
// wrapped errors alike), in order. It returns nil when there are none.
func Problems(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, *e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// ProblemSet accumulates validation problems so that a validator reports
// every problem rather than the first. The zero value is ready to use.
type ProblemSet struct {
	errs []error
}

// Add records a problem at field.
func (p *ProblemSet) Add(field, format string, args ...any) {
	p.errs = append(p.errs, &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

// Nest adds every problem in err with its field path placed under prefix.
func (p *ProblemSet) Nest(prefix string, err error) {
	for _, f := range Problems(err) {
		p.errs = append(p.errs, &FieldError{Field: joinPath(prefix, f.Field), Problem: f.Problem})
	}
}

// Err returns the problems joined with errors.Join, or nil when there are
// none.
func (p *ProblemSet) Err() error {
	return errors.Join(p.errs...)
}

func joinPath(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	default:
		return prefix + "." + field
	}
}

// maxQuoted is how much of an offending value a problem repeats. Enough to
// recognise it; not so much that a hostile 60 KB value makes a 60 KB reason
// (which would not fit the quarantine record that carries it).
const maxQuoted = 40

// quote renders a value for a problem message like %q, cut to maxQuoted
// characters with a note of its full length.
func quote(s string) string {
	r := []rune(s)
	if len(r) <= maxQuoted {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q… (%d characters)", string(r[:maxQuoted]), len(r))
}
