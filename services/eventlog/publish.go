package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
)

// Status is what happened to one event offered for publishing.
type Status string

// The statuses reported per event.
const (
	// Accepted: validated and stored; Sequence is its stream sequence.
	Accepted Status = "accepted"
	// Duplicate: an event with this id was already stored; Sequence is
	// the original's.
	Duplicate Status = "duplicate"
	// Rejected: failed validation and was not stored; Problems says why.
	Rejected Status = "rejected"
	// Failed: valid, but the log did not confirm it was stored (for example
	// NATS was unreachable). Sending it again is safe.
	Failed Status = "failed"
)

// Result reports one event's outcome. Key is the caller's reference to the
// input (its position in a batch, its line in a file).
type Result struct {
	Key      int                 `json:"index"`
	ID       string              `json:"id,omitempty"`
	Status   Status              `json:"status"`
	Sequence uint64              `json:"sequence,omitempty"`
	Problems []events.FieldError `json:"problems,omitempty"`
	Error    string              `json:"error,omitempty"`
}

// Publisher validates events and publishes them to the events stream with
// the event id as Nats-Msg-Id. It is safe for concurrent use.
type Publisher struct {
	js    jetstream.JetStream
	now   func() time.Time
	check CheckFunc
}

// CheckFunc is a further check on a valid event that needs the read model:
// a correction must refer to an event the hub has, from the same agency.
type CheckFunc func(ctx context.Context, e *events.Event) error

// SetCheck installs a CheckFunc run by Prepare after validation. Set it
// before the publisher is shared.
func (p *Publisher) SetCheck(check CheckFunc) { p.check = check }

// maxPendingPerConn bounds unacknowledged publishes across every batch on
// one connection; each batch has its own, smaller bound.
const maxPendingPerConn = 8192

// DefaultAckTimeout is how long a publish waits for the log's
// acknowledgement before reporting the event as failed (not stored, safe to
// send again).
const DefaultAckTimeout = 30 * time.Second

// PublisherOption tunes a Publisher.
type PublisherOption func(*publisherOptions)

type publisherOptions struct{ ackTimeout time.Duration }

// WithAckTimeout sets how long to wait for each acknowledgement.
func WithAckTimeout(d time.Duration) PublisherOption {
	return func(o *publisherOptions) { o.ackTimeout = d }
}

// NewPublisher returns a Publisher on nc. now is the clock used for the
// "not in the future" rules; nil means time.Now.
func NewPublisher(nc *nats.Conn, now func() time.Time, opts ...PublisherOption) (*Publisher, error) {
	if now == nil {
		now = time.Now
	}
	o := publisherOptions{ackTimeout: DefaultAckTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	// Without a timeout an async publish to a server that has gone away
	// would wait for ever; with one, it is reported as failed.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingPerConn), jetstream.WithPublishAsyncTimeout(o.ackTimeout))
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return &Publisher{js: js, now: now}, nil
}

// Prepare decodes, normalises and validates one encoded event and returns
// it with the bytes to store: the sender's own bytes when nothing had to be
// filled in (they decoded strictly, so they hold exactly the fields
// validated), else the event re-encoded. The error lists every problem (see
// events.Problems).
func (p *Publisher) Prepare(ctx context.Context, raw []byte) (*events.Event, []byte, error) {
	e, data, err := p.Validate(raw)
	if err != nil {
		return e, nil, err
	}
	if err := p.Check(ctx, e); err != nil {
		return e, nil, err
	}
	return e, data, nil
}

// Validate is Prepare without the CheckFunc: what can be judged from the
// event alone. It is safe to run on many events at once; an import runs it
// in parallel and then Check in input order, so that a correction is
// judged after the event it corrects, however the work was spread.
func (p *Publisher) Validate(raw []byte) (*events.Event, []byte, error) {
	e, err := events.Decode(raw)
	if e == nil {
		return nil, nil, err
	}
	return p.validate(e, bytes.TrimSpace(raw), err)
}

// Check runs the CheckFunc installed by SetCheck, if any, on a valid event.
func (p *Publisher) Check(ctx context.Context, e *events.Event) error {
	if p.check == nil {
		return nil
	}
	return p.check(ctx, e)
}

// PrepareEvent is Prepare for an event built in Go (the hub's own events).
func (p *Publisher) PrepareEvent(ctx context.Context, e *events.Event) ([]byte, error) {
	raw, err := events.Encode(e)
	if err != nil {
		return nil, err
	}
	_, data, err := p.Prepare(ctx, raw)
	return data, err
}

func (p *Publisher) validate(e *events.Event, raw []byte, decodeErr error) (*events.Event, []byte, error) {
	changed := e.Normalize(newID)
	if err := errors.Join(decodeErr, events.Validate(e, p.now())); err != nil {
		return e, nil, err
	}
	if !changed {
		return e, raw, nil
	}
	data, err := events.Encode(e)
	if err != nil {
		return e, nil, err
	}
	if len(data) > events.MaxEventSize {
		return e, nil, &events.FieldError{Problem: fmt.Sprintf("event is %d bytes once encoded; the limit is %d", len(data), events.MaxEventSize)}
	}
	return e, data, nil
}

// PublishOne publishes one prepared event and waits for the log's
// acknowledgement, returning the stream sequence. It is how the hub records
// its own events (links, unlinks) from a request.
func (p *Publisher) PublishOne(ctx context.Context, e *events.Event, data []byte) (Result, error) {
	ack, err := p.js.PublishMsg(ctx, Message(e, data))
	if err != nil {
		return Result{ID: e.ID, Status: Failed, Error: err.Error()}, events.E("publish "+e.ID, events.KindUnavailable, err)
	}
	r := Result{ID: e.ID, Status: Accepted, Sequence: ack.Sequence}
	if ack.Duplicate {
		r.Status = Duplicate
	}
	return r, nil
}

// Rejection builds the Result for an event that failed Prepare.
func Rejection(key int, e *events.Event, err error) Result {
	r := Result{Key: key, Status: Rejected, Problems: events.Problems(err)}
	if e != nil {
		r.ID = e.ID
	}
	if len(r.Problems) == 0 {
		r.Problems = []events.FieldError{{Problem: err.Error()}}
	}
	return r
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		// NewV7 fails only if the system's random source does. Leaving the
		// id empty makes validation reject the event ("id: is required")
		// rather than store it under an id that breaks time ordering.
		return ""
	}
	return id.String()
}

// Message builds the NATS message for a prepared event.
func Message(e *events.Event, data []byte) *nats.Msg {
	m := nats.NewMsg(events.SubjectFor(e.Agency, e.Type))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
	m.Header.Set(jetstream.ExpectedStreamHeader, EventsStream)
	return m
}

// Batch publishes prepared events asynchronously with at most maxInFlight
// unacknowledged at once, and reports each outcome to report in the order the
// events were added. report is called from one goroutine.
type Batch struct {
	js      jetstream.JetStream
	pending chan inflight // its capacity is the in-flight bound
	done    chan struct{}
	report  func(Result)
}

type inflight struct {
	key    int
	id     string
	future jetstream.PubAckFuture
	err    error
}

// DefaultMaxInFlight bounds unacknowledged publishes per batch: enough to
// keep the server busy, small enough that a stalled server is noticed fast.
const DefaultMaxInFlight = 512

// NewBatch starts a batch. Call Close to wait for the last acknowledgement.
func (p *Publisher) NewBatch(maxInFlight int, report func(Result)) *Batch {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	b := &Batch{js: p.js, pending: make(chan inflight, maxInFlight), done: make(chan struct{}), report: report}
	go b.collect()
	return b
}

// Add publishes one prepared event. It blocks while maxInFlight events are
// unacknowledged, or until ctx is done.
func (b *Batch) Add(ctx context.Context, key int, e *events.Event, data []byte) error {
	// The stall wait covers a slow (fsyncing) server when other batches
	// share the connection's pending limit: wait rather than fail.
	f, err := b.js.PublishMsgAsync(Message(e, data), jetstream.WithStallWait(time.Minute))
	select {
	case b.pending <- inflight{key: key, id: e.ID, future: f, err: err}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reject reports an event that failed Prepare in its place in the order.
func (b *Batch) Reject(ctx context.Context, key int, e *events.Event, err error) error {
	r := Rejection(key, e, err)
	select {
	case b.pending <- inflight{key: key, id: r.ID, err: &rejected{r}}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type rejected struct{ r Result }

func (r *rejected) Error() string { return "rejected" }

// Close waits for every outstanding acknowledgement and the last report.
func (b *Batch) Close() {
	close(b.pending)
	<-b.done
}

func (b *Batch) collect() {
	defer close(b.done)
	for p := range b.pending {
		var rej *rejected
		if errors.As(p.err, &rej) {
			b.report(rej.r)
			continue
		}
		r := Result{Key: p.key, ID: p.id}
		if p.err != nil {
			r.Status, r.Error = Failed, p.err.Error()
			b.report(r)
			continue
		}
		select {
		case ack := <-p.future.Ok():
			r.Status, r.Sequence = Accepted, ack.Sequence
			if ack.Duplicate {
				r.Status = Duplicate
			}
		case err := <-p.future.Err():
			r.Status, r.Error = Failed, err.Error()
		}
		b.report(r)
	}
}
