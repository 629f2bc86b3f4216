package gateway

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
)

// callerOf returns the verified caller; the handler guarantees one.
func callerOf(ctx context.Context) auth.Caller {
	c, _ := auth.CallerFrom(ctx)
	return c
}

// view is the read model as the caller may see it.
func (b *schemaBuilder) view(ctx context.Context) Reader {
	c := callerOf(ctx)
	return b.src.Through(func(e projections.Entry) bool { return c.Sees(e.Sensitivity, e.Agency) })
}

// shown returns the entry as the caller may see it: itself, or a
// placeholder with only the date, agency and sensitivity.
func shown(c auth.Caller, e projections.Entry, asOf *time.Time, children []string) entryView {
	if c.Sees(e.Sensitivity, e.Agency) {
		// A retraction carries its own sensitivity: a reader who may see
		// the entry may still not be allowed why it was retracted (a flag
		// cleared by it says the same; see redactFlag).
		if x, ok := e.Retraction(); ok && x.Event != nil && !c.Sees(x.Event.Sensitivity, x.Event.Agency) {
			e.RetractReason = "hidden from your role: ask the hub"
		}
		return entryView{Entry: e, asOf: asOf, children: children}
	}
	p := projections.Entry{
		EventID: e.EventID, Seq: e.Seq, Received: e.Received, Type: "redacted", Agency: e.Agency,
		Summary:     fmt.Sprintf("%s entry from %s: hidden from your role", capital(e.Sensitivity), agencyName(e.Agency)),
		Sensitivity: e.Sensitivity, Reliability: "redacted", OccurredAt: e.OccurredAt, RecordedAt: e.OccurredAt, Version: 1,
	}
	return entryView{Entry: p, asOf: asOf, hidden: true}
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func agencyName(code string) string { return strings.ReplaceAll(code, "_", " ") }

// countRedaction counts one hidden entry of agency and sensitivity in out.
func countRedaction(out []redaction, agency, sensitivity string) []redaction {
	for i := range out {
		if out[i].Agency == agency && out[i].Sensitivity == sensitivity {
			out[i].Count++
			return out
		}
	}
	return append(out, redaction{Agency: agency, Sensitivity: sensitivity, Count: 1})
}
