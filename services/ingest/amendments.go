package ingest

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// AmendmentCheck returns a check for publishers that have no read model of
// their own (the CLI): a correction or retraction is judged, by the same
// rule as the projector's (projections.JudgeAmendment), against the log as
// it stands plus the events this publisher prepared earlier in the same run,
// so that a file may hold an event and its correction.
//
// The log is read once, at the first amendment, so a file without any costs
// nothing. Credentials that may only publish (an agency's NATS account)
// cannot read other agencies' events: then warn is called once, the
// amendments are let through, and the hub's own check quarantines any that
// do not apply when they arrive.
func AmendmentCheck(js jetstream.JetStream, warn func(error)) eventlog.CheckFunc {
	var (
		once  sync.Once
		model *projections.Model
		mu    sync.Mutex
		seen  = map[string]*events.Event{}
	)
	return func(ctx context.Context, e *events.Event) error {
		id, ok := projections.AmendedID(e)
		if !ok {
			// Only what the judgement reads, so that a large import does
			// not keep every payload alive.
			mu.Lock()
			seen[e.ID] = &events.Event{ID: e.ID, Type: e.Type, Agency: e.Agency}
			mu.Unlock()
			return nil
		}
		mu.Lock()
		orig := seen[id]
		mu.Unlock()
		if orig != nil {
			return projections.JudgeAmendment(e, orig)
		}
		once.Do(func() {
			res, err := runner.Replay(ctx, js, eventlog.EventsStream, nil)
			if err != nil {
				if warn != nil {
					warn(fmt.Errorf("corrections and retractions cannot be checked against the log with these credentials (%w); the hub checks them on arrival and quarantines any that do not apply", err))
				}
				return
			}
			model = res.Model
		})
		if model == nil {
			return nil
		}
		return model.CheckAmendment(e)
	}
}
