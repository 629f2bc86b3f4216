package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// askHubWithin bounds one question to the hub about an amendment's target.
const askHubWithin = 10 * time.Second

// AmendmentCheck returns a check for publishers that have no read model of
// their own (the CLI): a correction or retraction is judged, by the same
// rule as the projector's (projections.JudgeAmendment), against the events
// this publisher prepared earlier in the same run when its target is one of
// them, and otherwise by the hub, asked over NATS on
// eventlog.AmendmentCheckSubject (the hub judges against its read model).
// It must be called in input order: an import validates in parallel but
// checks in order, so the verdicts do not depend on how work was spread.
//
// Memory is bounded (see earlier): the CLI never reads the log itself. When
// no hub answers (none is running, or the credentials are an agency's, which
// cannot reach it), warn is called once and the amendments are let through:
// the hub's consumer-side check quarantines any that do not apply when they
// arrive.
func AmendmentCheck(nc *nats.Conn, warn func(error)) eventlog.CheckFunc {
	var (
		mu     sync.Mutex
		seen   = newEarlier()
		warned bool
	)
	return func(ctx context.Context, e *events.Event) error {
		id, ok := projections.AmendedID(e)
		mu.Lock()
		if !ok {
			seen.add(e)
			mu.Unlock()
			return nil
		}
		orig, found := seen.find(id)
		mu.Unlock()
		if found {
			return projections.JudgeAmendment(e, orig)
		}
		err := AskHub(ctx, nc, e)
		if errors.Is(err, ErrNoHub) {
			mu.Lock()
			first := !warned
			warned = true
			mu.Unlock()
			if first && warn != nil {
				warn(fmt.Errorf("corrections and retractions cannot be checked before publishing (%w); the hub checks them on arrival and quarantines any that do not apply", err))
			}
			return nil
		}
		return err
	}
}

// ErrNoHub: no hub answered a question about an amendment.
var ErrNoHub = errors.New("ingest: no hub answered")

// amendmentVerdict is the hub's answer: no problems means the amendment
// applies.
type amendmentVerdict struct {
	Problems []events.FieldError `json:"problems,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// AskHub asks the hub whether amendment e applies to the log as the hub
// has it. The error is nil, a KindInvalid error with the hub's field
// problems, or one wrapping ErrNoHub.
func AskHub(ctx context.Context, nc *nats.Conn, e *events.Event) error {
	data, err := events.Encode(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, askHubWithin)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, eventlog.AmendmentCheckSubject, data)
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, nats.ErrPermissionViolation):
		return fmt.Errorf("%w: %v", ErrNoHub, err)
	case err != nil:
		return fmt.Errorf("%w: %v", ErrNoHub, err)
	}
	var v amendmentVerdict
	if err := json.Unmarshal(msg.Data, &v); err != nil {
		return fmt.Errorf("%w: unreadable answer: %v", ErrNoHub, err)
	}
	if v.Error != "" {
		return events.Errorf("check amendment", events.KindUnavailable, "%s", v.Error)
	}
	if len(v.Problems) == 0 {
		return nil
	}
	errs := make([]error, len(v.Problems))
	for i := range v.Problems {
		errs[i] = &v.Problems[i]
	}
	return events.E("check amendment", events.KindInvalid, errors.Join(errs...))
}

// AnswerAmendmentChecks serves AmendmentCheckSubject for the hub: judge
// decides on each amendment sent (the hub passes its read model's rule,
// after letting the projector catch up). Several hubs answer as one queue
// group. The subscription ends with the connection or Unsubscribe.
func AnswerAmendmentChecks(nc *nats.Conn, judge func(ctx context.Context, e *events.Event) error) (*nats.Subscription, error) {
	return nc.QueueSubscribe(eventlog.AmendmentCheckSubject, "chronicle-hub", func(m *nats.Msg) {
		var v amendmentVerdict
		e, err := events.Decode(m.Data)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), askHubWithin)
			err = judge(ctx, e)
			cancel()
		}
		if err != nil {
			v.Problems = events.Problems(err)
			if len(v.Problems) == 0 {
				v.Error = err.Error()
			}
		}
		out, _ := json.Marshal(v)
		_ = m.Respond(out)
	})
}
