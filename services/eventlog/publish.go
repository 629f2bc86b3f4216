package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
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
	// Failed: valid, but not confirmed stored: the server refused it (the
	// credentials may not publish there), or it could not be reached to ask.
	// Sending it again is safe: an event is stored once, whatever happened.
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
	unreachableAfter time.Duration
	nc               *nats.Conn
	js               jetstream.JetStream
	now              func() time.Time
	check            CheckFunc
	observe          ObserveFunc
}

// CheckFunc is a further check on a valid event that needs the read model:
// a correction must refer to an event the hub has, from the same agency.
type CheckFunc func(ctx context.Context, e *events.Event) error

// SetCheck installs a CheckFunc run by Prepare after validation. Set it
// before the publisher is shared.
func (p *Publisher) SetCheck(check CheckFunc) { p.check = check }

// ObserveFunc is told the outcome of every event published through a
// Publisher (by PublishOne or in a Batch), with the agency the event names
// ("" when it could not be decoded): for the process's metrics.
type ObserveFunc func(outcome Status, agency string)

// SetObserve installs an ObserveFunc. Set it before the publisher is
// shared.
func (p *Publisher) SetObserve(observe ObserveFunc) { p.observe = observe }

func (p *Publisher) observed(s Status, agency string) {
	if p.observe != nil {
		p.observe(s, agency)
	}
}

// maxPendingPerConn bounds unacknowledged publishes across every batch on
// one connection; each batch has its own, smaller bound.
const maxPendingPerConn = 8192

// DefaultAckTimeout is how long a publish waits for the log's
// acknowledgement before reporting the event as failed (not stored, safe to
// send again).
const DefaultAckTimeout = 30 * time.Second

// PublisherOption tunes a Publisher.
type PublisherOption func(*publisherOptions)

type publisherOptions struct{ ackTimeout, unreachableAfter time.Duration }

// WithUnreachableAfter sets how long a batch goes on while its server
// cannot be reached (default UnreachableAfter).
func WithUnreachableAfter(d time.Duration) PublisherOption {
	return func(o *publisherOptions) { o.unreachableAfter = d }
}

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
	o := publisherOptions{ackTimeout: DefaultAckTimeout, unreachableAfter: UnreachableAfter}
	for _, opt := range opts {
		opt(&o)
	}
	// Without a timeout an async publish to a server that has gone away
	// would wait for ever; with one, it is reported as failed.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(maxPendingPerConn), jetstream.WithPublishAsyncTimeout(o.ackTimeout))
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	return &Publisher{nc: nc, js: js, now: now, unreachableAfter: o.unreachableAfter}, nil
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
	if err := events.ValidateDecoded(e, decodeErr, p.now()); err != nil {
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
		p.observed(Failed, e.Agency)
		return Result{ID: e.ID, Status: Failed, Error: err.Error()}, events.E("publish "+e.ID, events.KindUnavailable, err)
	}
	r := Result{ID: e.ID, Status: Accepted, Sequence: ack.Sequence}
	if ack.Duplicate {
		r.Status = Duplicate
	}
	p.observed(r.Status, e.Agency)
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
	pub     *Publisher
	nc      *nats.Conn
	js      jetstream.JetStream
	pending chan inflight // its capacity is the in-flight bound
	done    chan struct{}
	report  func(Result)

	// stop is closed when the batch cannot go on (see Add); the collector
	// then stops waiting for acknowledgements that will not come.
	stop     chan struct{}
	stopOnce sync.Once
	stopErr  error
	// before is the connection's last error when the batch began: only a
	// refusal after it is this batch's.
	before error
	// away is when the connection was first seen down, zero while it is up.
	away             time.Time
	unreachableAfter time.Duration
}

type inflight struct {
	key    int
	id     string
	agency string
	sent   time.Time // when it was published: see askAfter
	msg    *nats.Msg
	future jetstream.PubAckFuture
	err    error
}

// DefaultMaxInFlight bounds unacknowledged publishes per batch: enough to
// keep the server busy, small enough that a stalled server is noticed fast.
const DefaultMaxInFlight = 512

// UnreachableAfter is how long a batch goes on adding while its server
// cannot be reached (see WithUnreachableAfter); after it Add returns
// ErrUnreachable.
const UnreachableAfter = 20 * time.Second

// Errors from Batch.Add that end a batch.
var (
	// ErrUnreachable: the server has not been reachable for
	// UnreachableAfter, or the connection is closed.
	ErrUnreachable = errors.New("eventlog: the NATS server cannot be reached")
	// ErrRefused: the server refused to take events on these credentials
	// (a permissions violation): nothing more would be stored.
	ErrRefused = errors.New("eventlog: the NATS server refused these credentials permission to publish")
)

// NewBatch starts a batch. Call Close to wait for the last acknowledgement.
func (p *Publisher) NewBatch(maxInFlight int, report func(Result)) *Batch {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	b := &Batch{pub: p, nc: p.nc, js: p.js, unreachableAfter: p.unreachableAfter, before: lastError(p.nc), pending: make(chan inflight, maxInFlight), done: make(chan struct{}), report: report, stop: make(chan struct{})}
	go b.collect()
	return b
}

// Add publishes one prepared event. It blocks while maxInFlight events are
// unacknowledged, or until ctx is done. It returns ErrRefused once the
// server has refused these credentials a publish, and ErrUnreachable once
// the server has been out of reach for UnreachableAfter: the caller stops
// there and says so, rather than going on failing row by row.
func (b *Batch) Add(ctx context.Context, key int, e *events.Event, data []byte) error {
	if err := b.usable(); err != nil {
		return err
	}
	// The stall wait covers a slow (fsyncing) server when other batches
	// share the connection's pending limit: wait rather than fail.
	m := Message(e, data)
	f, err := b.js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
	select {
	case b.pending <- inflight{key: key, id: e.ID, agency: e.Agency, sent: time.Now(), msg: m, future: f, err: err}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// usable reports why the batch cannot go on, if it cannot.
func (b *Batch) usable() error {
	select {
	case <-b.stop:
		return b.stopErr
	default:
	}
	if b.nc == nil {
		return nil
	}
	if err := b.refusal(); err != nil {
		b.halt(fmt.Errorf("%w: %v", ErrRefused, err))
		return b.stopErr
	}
	switch {
	case b.nc.IsClosed():
		b.halt(fmt.Errorf("%w: the connection is closed", ErrUnreachable))
		return b.stopErr
	case b.nc.IsConnected():
		b.away = time.Time{}
	case b.away.IsZero():
		b.away = time.Now()
	case time.Since(b.away) > b.unreachableAfter:
		b.halt(fmt.Errorf("%w: not connected for %v", ErrUnreachable, time.Since(b.away).Round(time.Second)))
		return b.stopErr
	}
	return nil
}

// refusal returns the permissions violation the server reported on the
// connection since the batch began, if any.
func (b *Batch) refusal() error {
	err := lastError(b.nc)
	if err == nil || err == b.before || !errors.Is(err, nats.ErrPermissionViolation) {
		return nil
	}
	return err
}

func lastError(nc *nats.Conn) error {
	if nc == nil {
		return nil
	}
	return nc.LastError()
}

func (b *Batch) halt(err error) {
	b.stopOnce.Do(func() {
		b.stopErr = err
		close(b.stop)
	})
}

// Reject reports an event that failed Prepare in its place in the order.
func (b *Batch) Reject(ctx context.Context, key int, e *events.Event, err error) error {
	r := Rejection(key, e, err)
	agency := ""
	if e != nil {
		agency = e.Agency
	}
	select {
	case b.pending <- inflight{key: key, id: r.ID, agency: agency, err: &rejected{r}}:
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

// resolveWithin bounds the question a batch asks the log about an event
// whose acknowledgement did not come.
const resolveWithin = 5 * time.Second

// askAfter is how long a batch waits for an event's acknowledgement before
// asking the log about it (resolve). On a cluster, a stream leader that
// steps down or fails drops the acknowledgements of what it had in flight
// without an error: waiting for the acknowledgement timeout (30 s) would
// stall every request in flight that long (TestClusterStepDownAndEmptyRejoin
// saw it). Asking costs one more publish of an event the log stores once
// by its id; on one machine, even fsyncing each event, acknowledgements
// come in well under a second.
const askAfter = 5 * time.Second

// errNoAnswerYet: the acknowledgement has not come within askAfter.
var errNoAnswerYet = errors.New("eventlog: no acknowledgement yet")

func (b *Batch) collect() {
	defer close(b.done)
	for p := range b.pending {
		r := b.outcome(p)
		b.pub.observed(r.Status, p.agency)
		b.report(r)
	}
}

// outcome waits for one event's acknowledgement, or settles it without.
func (b *Batch) outcome(p inflight) Result {
	var rej *rejected
	if errors.As(p.err, &rej) {
		return rej.r
	}
	r := Result{Key: p.key, ID: p.id}
	err := p.err
	if err == nil {
		var ack *jetstream.PubAck
		if ack, err = b.await(p.future, p.sent.Add(askAfter)); err == nil {
			r.Status, r.Sequence = Accepted, ack.Sequence
			if ack.Duplicate {
				r.Status = Duplicate
			}
			return r
		}
	}
	return b.resolve(r, p, err)
}

// await waits for one acknowledgement, looking meanwhile for a refusal:
// the server answers a publish it does not permit with an error on the
// connection, not on the message, so without looking the batch would wait
// out the acknowledgement timeout for every such event. At askAt (askAfter
// from its publishing) it stops waiting, so that the caller asks the log.
func (b *Batch) await(f jetstream.PubAckFuture, askAt time.Time) (*jetstream.PubAck, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	ask := time.NewTimer(time.Until(askAt))
	defer ask.Stop()
	for {
		select {
		case ack := <-f.Ok():
			return ack, nil
		case err := <-f.Err():
			return nil, err
		case <-b.stop:
			return nil, b.stopErr
		case <-ask.C:
			return nil, errNoAnswerYet
		case <-tick.C:
			if err := b.refusal(); err != nil {
				b.halt(fmt.Errorf("%w: %v", ErrRefused, err))
			}
		}
	}
}

// resolve settles an event whose acknowledgement did not come. A refused
// publish was not stored. Otherwise the answer may have been lost rather
// than the event, so the batch asks the log by sending the event again: its
// id makes the log store it at most once, and the log's answer (stored now,
// or already stored) is the truth. Only when the log cannot be asked is the
// event reported as not confirmed.
func (b *Batch) resolve(r Result, p inflight, err error) Result {
	// The server names the subject it refused; other events in flight at
	// the time may well have been stored, and are asked about below.
	why := b.refusal()
	refused := why != nil && p.msg != nil && strings.Contains(why.Error(), `"`+p.msg.Subject+`"`)
	if refused {
		r.Status, r.Error = Failed, fmt.Sprintf("refused by the server: these credentials may not publish to %s", p.msg.Subject)
		return r
	}
	// No stream answered at once: nothing takes the subject for these
	// credentials (an agency's account reaches only its own agency's
	// subjects), so nothing was stored.
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		r.Status, r.Error = Failed, err.Error()
		return r
	}
	if p.msg != nil && !errors.Is(err, ErrUnreachable) && (b.nc == nil || b.nc.IsConnected()) {
		ctx, cancel := context.WithTimeout(context.Background(), resolveWithin)
		ack, aerr := b.js.PublishMsg(ctx, p.msg)
		cancel()
		if aerr == nil {
			// Stored, by this run (its answer was lost) or just now.
			r.Status, r.Sequence = Accepted, ack.Sequence
			return r
		}
	}
	r.Status, r.Error = Failed, fmt.Sprintf("not confirmed: %v (safe to send again: an event is stored once)", err)
	return r
}
