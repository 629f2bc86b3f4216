package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// events were added. report is called from one goroutine; Add, Reject and
// Close are called from one goroutine too (the caller's).
//
// Events go to the log in JetStream atomic batches (Nats-Batch-Id, up to
// MaxAtomicBatch events, one acknowledgement for all): under SyncAlways
// the server syncs to disk once per batch rather than once per event, which
// is what makes a durable bulk load fast, and one batch is stored whole or
// not at all. A batch the server will not take as one (it holds an event
// already stored, or the stream does not allow atomic batches) is
// published again event by event, so that each event gets its own answer
// (accepted or duplicate) as before.
type Batch struct {
	pub     *Publisher
	nc      *nats.Conn
	js      jetstream.JetStream
	pending chan inflight // its capacity is the in-flight bound
	done    chan struct{}
	report  func(Result)

	// group is the atomic batch being filled (events and, in their places,
	// rejections); groupSize is when it is sent.
	group     []entry
	groupMsgs int
	groupSize int
	// atomicOff is set once the stream has refused atomic batches as such
	// (not allowed on it): the rest of this batch goes event by event.
	atomicOff atomic.Bool

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

// entry is one input of a batch: an event to store (msg) or a rejection
// reported in its place (rejected).
type entry struct {
	key      int
	id       string
	agency   string
	msg      *nats.Msg
	rejected *Result
}

// inflight is what the collector waits for: one event published on its
// own, or an atomic batch of several (atomic), with the future of its
// acknowledgement (for a batch, the commit's); or rejections only.
type inflight struct {
	entries []entry
	atomic  bool
	sent    time.Time // when it was published: see askAfter
	future  jetstream.PubAckFuture
	err     error
}

// DefaultMaxInFlight bounds unacknowledged publishes per batch: enough to
// keep the server busy, small enough that a stalled server is noticed fast.
const DefaultMaxInFlight = 1024

// MaxAtomicBatch is the most events sent as one atomic batch: the
// server's own limit (1,000). Larger batches sync less often; this one
// already makes the sync a small share of a durable import's time.
const MaxAtomicBatch = 1000

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
// maxInFlight bounds the events sent and not yet acknowledged (0 means
// DefaultMaxInFlight); atomic batches are half of it, at most
// MaxAtomicBatch, so that one is filled while another is stored.
func (p *Publisher) NewBatch(maxInFlight int, report func(Result)) *Batch {
	if maxInFlight <= 0 {
		maxInFlight = DefaultMaxInFlight
	}
	size := min(max(maxInFlight/2, 1), MaxAtomicBatch)
	b := &Batch{pub: p, nc: p.nc, js: p.js, unreachableAfter: p.unreachableAfter, before: lastError(p.nc),
		pending: make(chan inflight, max(maxInFlight/size-1, 1)), groupSize: size,
		done: make(chan struct{}), report: report, stop: make(chan struct{})}
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
	b.group = append(b.group, entry{key: key, id: e.ID, agency: e.Agency, msg: Message(e, data)})
	if b.groupMsgs++; b.groupMsgs >= b.groupSize {
		return b.send(ctx)
	}
	return nil
}

// Reject reports an event that failed Prepare in its place in the order.
func (b *Batch) Reject(ctx context.Context, key int, e *events.Event, err error) error {
	r := Rejection(key, e, err)
	agency := ""
	if e != nil {
		agency = e.Agency
	}
	b.group = append(b.group, entry{key: key, id: r.ID, agency: agency, rejected: &r})
	if b.groupMsgs == 0 {
		return b.send(ctx) // nothing to wait for: report it now
	}
	return nil
}

// Close sends what is left, waits for every outstanding acknowledgement and
// the last report.
func (b *Batch) Close() {
	_ = b.send(context.Background()) // the collector drains pending, so this cannot block for ever
	close(b.pending)
	<-b.done
}

// send publishes the group being filled: one event on its own, several as
// an atomic batch; and hands it to the collector.
func (b *Batch) send(ctx context.Context) error {
	if len(b.group) == 0 {
		return nil
	}
	p := inflight{entries: b.group, sent: time.Now()}
	b.group, b.groupMsgs = nil, 0
	var msgs []*nats.Msg
	for _, e := range p.entries {
		if e.msg != nil {
			msgs = append(msgs, e.msg)
		}
	}
	switch {
	case len(msgs) == 0:
	case len(msgs) == 1 || b.nc == nil || b.atomicOff.Load():
		return b.sendEach(ctx, p.entries)
	default:
		p.atomic = true
		p.future, p.err = b.publishAtomic(msgs)
	}
	select {
	case b.pending <- p:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendEach publishes each event of entries on its own.
func (b *Batch) sendEach(ctx context.Context, entries []entry) error {
	for i, e := range entries {
		p := inflight{entries: entries[i : i+1], sent: time.Now()}
		if e.msg != nil {
			// The stall wait covers a slow (fsyncing) server when other
			// batches share the connection's pending limit: wait rather
			// than fail.
			p.future, p.err = b.js.PublishMsgAsync(e.msg, jetstream.WithStallWait(time.Minute))
		}
		select {
		case b.pending <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// publishAtomic sends msgs as one atomic batch (see atomicBatch), the
// commit asynchronously.
func (b *Batch) publishAtomic(msgs []*nats.Msg) (jetstream.PubAckFuture, error) {
	batch := atomicBatch(msgs)
	if err := sendUncommitted(b.nc, batch); err != nil {
		return nil, err
	}
	return b.js.PublishMsgAsync(batch[len(batch)-1], jetstream.WithStallWait(time.Minute))
}

// PublishAtomic stores msgs (at most MaxAtomicBatch) all together or not
// at all, and returns the acknowledgement of the last: the others hold the
// sequences just before it, in order. The stream must allow atomic
// batches. An error means nothing is known to be stored.
func PublishAtomic(ctx context.Context, js jetstream.JetStream, msgs []*nats.Msg) (*jetstream.PubAck, error) {
	if len(msgs) == 0 || len(msgs) > MaxAtomicBatch {
		return nil, fmt.Errorf("atomic batch of %d messages: 1 to %d", len(msgs), MaxAtomicBatch)
	}
	batch := atomicBatch(msgs)
	if err := sendUncommitted(js.Conn(), batch); err != nil {
		return nil, err
	}
	commit := batch[len(batch)-1]
	ack, err := js.PublishMsg(ctx, commit)
	if err != nil {
		return nil, fmt.Errorf("atomic batch %s: %w", commit.Header.Get(batchIDHeader), err)
	}
	return ack, nil
}

// sendUncommitted sends every message of an atomic batch but its commit,
// without a reply: the server answers only the commit.
func sendUncommitted(nc *nats.Conn, batch []*nats.Msg) error {
	for _, m := range batch[:len(batch)-1] {
		if err := nc.PublishMsg(m); err != nil {
			return fmt.Errorf("atomic batch %s: %w", m.Header.Get(batchIDHeader), err)
		}
	}
	return nil
}

// atomicBatch is msgs as one atomic batch: copies with a batch id and
// sequence, the last marked as the commit. Every message but the commit is
// sent without a reply (the server answers only the commit). The
// originals, without batch headers, are what is sent again should the
// batch be refused.
func atomicBatch(msgs []*nats.Msg) []*nats.Msg {
	id := uuid.NewString()
	out := make([]*nats.Msg, len(msgs))
	for i, m := range msgs {
		bm := nats.NewMsg(m.Subject)
		bm.Data = m.Data
		for k, v := range m.Header {
			bm.Header[k] = v
		}
		bm.Header.Set(batchIDHeader, id)
		bm.Header.Set(batchSeqHeader, strconv.Itoa(i+1))
		out[i] = bm
	}
	out[len(out)-1].Header.Set(batchCommitHeader, "1")
	return out
}

// The atomic batch headers (nats-server 2.12 and later).
const (
	batchIDHeader     = "Nats-Batch-Id"
	batchSeqHeader    = "Nats-Batch-Sequence"
	batchCommitHeader = "Nats-Batch-Commit"
)

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

// resolveWithin bounds the question a batch asks the log about an event
// whose acknowledgement did not come.
const resolveWithin = 5 * time.Second

// emit reports one entry's outcome, and tells the publisher's observer.
func (b *Batch) emit(e entry, r Result) {
	b.pub.observed(r.Status, e.agency)
	b.report(r)
}

// askAfter is how long a batch waits for an acknowledgement before asking
// the log about what it sent (resolve). On a cluster, a stream leader that
// steps down or fails drops the acknowledgements of what it had in flight
// without an error: waiting for the acknowledgement timeout (30 s) would
// stall every request in flight that long (TestClusterStepDownAndEmptyRejoin
// saw it). Asking costs one more publish of each event, which the log
// stores once by its id; on one machine, even syncing each batch to disk,
// acknowledgements come in well under a second.
const askAfter = 5 * time.Second

// errNoAnswerYet: the acknowledgement has not come within askAfter.
var errNoAnswerYet = errors.New("eventlog: no acknowledgement yet")

func (b *Batch) collect() {
	defer close(b.done)
	for p := range b.pending {
		if p.atomic {
			b.settleAtomic(p)
			continue
		}
		for _, e := range p.entries {
			if e.rejected != nil {
				b.emit(e, *e.rejected)
				continue
			}
			b.emit(e, b.settle(e, p.sent, p.future, p.err))
		}
	}
}

// settle waits for one event's acknowledgement and says what became of it.
func (b *Batch) settle(e entry, sent time.Time, f jetstream.PubAckFuture, err error) Result {
	r := Result{Key: e.key, ID: e.id}
	if err == nil {
		var ack *jetstream.PubAck
		if ack, err = b.await(f, sent.Add(askAfter)); err == nil {
			r.Status, r.Sequence = Accepted, ack.Sequence
			if ack.Duplicate {
				r.Status = Duplicate
			}
			return r
		}
	}
	return b.resolve(r, e, err)
}

// settleAtomic reports an atomic batch. Acknowledged, its events hold the
// sequences up to the commit's, in order. Refused by the server (an API
// error: nothing of it was stored), its events are published again one by
// one for their own answers. Unanswered, each event is resolved as a
// single one is (see resolve): sent again, its id deciding.
func (b *Batch) settleAtomic(p inflight) {
	err := p.err
	var ack *jetstream.PubAck
	if err == nil {
		ack, err = b.await(p.future, p.sent.Add(askAfter))
	}
	var apiErr *jetstream.APIError
	var outcome func(i int, e entry) Result
	switch {
	case err == nil:
		n := 0
		for _, e := range p.entries {
			if e.msg != nil {
				n++
			}
		}
		seq := ack.Sequence - uint64(n) + 1
		outcome = func(_ int, e entry) Result {
			r := Result{Key: e.key, ID: e.id, Status: Accepted, Sequence: seq}
			seq++
			return r
		}
	case errors.As(err, &apiErr):
		if apiErr.ErrorCode == jsAtomicPublishDisabled {
			b.atomicOff.Store(true)
		}
		// Nothing of the batch was stored: every event goes again on its
		// own, all sent before any answer is awaited.
		sent := time.Now()
		futures := make([]jetstream.PubAckFuture, len(p.entries))
		errs := make([]error, len(p.entries))
		for i, e := range p.entries {
			if e.msg != nil {
				futures[i], errs[i] = b.js.PublishMsgAsync(e.msg, jetstream.WithStallWait(time.Minute))
			}
		}
		outcome = func(i int, e entry) Result { return b.settle(e, sent, futures[i], errs[i]) }
	default:
		outcome = func(_ int, e entry) Result { return b.resolve(Result{Key: e.key, ID: e.id}, e, err) }
	}
	for i, e := range p.entries {
		if e.rejected != nil {
			b.emit(e, *e.rejected)
			continue
		}
		b.emit(e, outcome(i, e))
	}
}

// jsAtomicPublishDisabled is the server's error code for an atomic batch
// sent to a stream that does not allow them.
const jsAtomicPublishDisabled = 10174

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
func (b *Batch) resolve(r Result, p entry, err error) Result {
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
