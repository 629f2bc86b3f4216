// Package projections holds Chronicle's read models: pure, deterministic
// folds over the event log. Identity joins the identifiers each agency uses
// into one child; the chronology keeps every entry with its corrections; the
// Model combines them behind one Apply and answers queries "as known at" any
// time. Nothing here does I/O or reads the clock: the stream sequence and
// the JetStream receipt time come in with each event, so the same log gives
// the same state on every replica and every replay (Apply must be
// deterministic, as in hashicorp/raft's FSM). The runner in
// projections/runner feeds it from JetStream.
package projections

import (
	"time"

	"github.com/chronicle-hub/chronicle/events"
)

// Delivered is one event as read from the log: decoded and validated, with
// the stream sequence and the time the hub received it (the JetStream
// timestamp), the third time axis.
type Delivered struct {
	Event    *events.Event
	Seq      uint64
	Received time.Time
}
