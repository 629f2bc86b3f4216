// Package runner feeds the projections from JetStream: it owns the durable
// consumer, applies events in stream order, quarantines what cannot be
// applied, says when the model has caught up, and keeps snapshots so that a
// restart replays only what came after.
package runner

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// RejectFunc stores an event the projector could not apply in the
// quarantine, with the reason: one that is invalid (it reached the log
// without passing ingest, straight over NATS), one that is valid on its own
// but cannot be applied (a correction of an unknown event), and one that
// made the projection fail maxApplyAttempts times.
type RejectFunc func(ctx context.Context, subject string, seq uint64, received time.Time, data []byte, reason error) error

// Config configures a Runner.
type Config struct {
	// Stream is the events stream's name.
	Stream string
	// Name distinguishes this replica's durable consumer
	// ("chronicle-projector-<name>"): every replica builds its own model,
	// so every process on one NATS cluster needs its own name (see
	// CheckName and SanitiseName).
	Name string
	// Projection is what the runner feeds; nil means a new
	// projections.Model.
	Projection Projection
	// SnapshotPath is the snapshot file; empty disables snapshots.
	SnapshotPath string
	// Preloaded, when set, is the snapshot Preload has been restoring
	// meanwhile: its projection and path are the runner's, and Start
	// waits for it instead of reading the snapshot itself.
	Preloaded *Preloaded
	// SnapshotEvery writes a snapshot after this many applied events, or a
	// quarter of the log when that is more (and always on Stop). Default
	// 10,000.
	SnapshotEvery int
	// Retry is how long the runner waits, after its consumer stops
	// working, before it looks again; later attempts back off to 30s.
	// Default 2s.
	Retry time.Duration
	// Reject quarantines the events the projector cannot apply; nil only
	// logs them. It is called again for the same event on a replay, so it
	// must store each event once however often it is called.
	Reject RejectFunc
	// ApplyFailed is told each time applying an event made the projection
	// fail (a panic), for the process's metrics; nil for none.
	ApplyFailed func()
	// Snapshotted is told how long each snapshot took to write ("write")
	// or to restore at start ("restore"), for the process's metrics; nil
	// for none.
	Snapshotted func(op string, took time.Duration)
	// Log receives progress and problems.
	Log *slog.Logger
}

// Errors from Start and Ready.
var (
	// ErrReplicaInUse: Start found another process consuming with the same
	// replica name. Starting anyway would delete that process's consumer
	// and stop its projector.
	ErrReplicaInUse = errors.New("projector: replica name in use")
	// ErrCatchingUp: the model is behind the stream as it was when the
	// runner started (or last recreated its consumer); answers would be
	// incomplete.
	ErrCatchingUp = errors.New("projector: catching up with the stream")
	// ErrConsumerLost: the durable consumer stopped delivering. It was
	// deleted (by an operator, by the server after long inactivity, or by
	// another process started with the same replica name), or its
	// heartbeats stopped. The runner recreates a deleted consumer from the
	// model's position; one replaced by another process stays an error.
	ErrConsumerLost = errors.New("projector: consumer not working")
)

// inactiveThreshold lets the server delete the durable of a replica that
// has gone away for good (replica names default to host names, which
// change with every container), so abandoned consumers do not pile up. A
// running runner always has a pull request waiting, so it is never idle
// that long; if it were, it recreates the consumer.
const inactiveThreshold = time.Hour

// instanceKey is the consumer metadata key naming the process that created
// it, so that a runner can tell its own consumer from one another process
// created under the same name.
const instanceKey = "chronicle_instance"

// Runner keeps a Model up to date with the stream.
type Runner struct {
	cfg      Config
	js       jetstream.JetStream
	model    Projection
	instance string
	target   atomic.Uint64 // the stream's last sequence when the consumer was (re)created

	mu        sync.Mutex
	cc        jetstream.ConsumeContext
	broken    error // why the consumer is not delivering; nil when it is
	sinceSnap int
	writing   bool          // a snapshot is being written
	snapDone  chan struct{} // closed when the last snapshot started is written
	waiters   []waiter
	skipped   int

	// The pipeline from delivery to the model (see startPipeline).
	work, ordered chan *job
	applied       chan struct{} // closed when the applier has finished

	trouble chan struct{} // wakes the watcher; buffered
	// gapped is set when a delivery skipped sequences (see apply): what
	// follows is passed over until the consumer is recreated from the
	// model's position.
	gapped atomic.Bool
	// tainted is set when applying an event failed part way: the model may
	// be half changed, so it is rebuilt (from the last snapshot, else from
	// empty) before anything else is applied, and no snapshot is written
	// from it.
	tainted atomic.Bool
	// failures counts, per stream sequence, how often applying the event
	// failed; only the applier touches it.
	failures map[uint64]applyFailure
	// empty is the projection's state before any event, persisted, to
	// rebuild from when there is no snapshot; nil when the projection was
	// handed over with events in it.
	empty []byte

	quit        chan struct{}
	stopOnce    sync.Once
	consumeOnce sync.Once
	watched     chan struct{} // closed when the watcher has returned
}

type waiter struct {
	seq  uint64
	done chan struct{}
}

// ConsumerName returns the durable consumer's name for a replica.
func ConsumerName(replica string) string { return "chronicle-projector-" + replica }

// maxName keeps consumer names (and snapshot file names) short.
const maxName = 64

// CheckName reports whether name can name a replica: 1 to 64 letters,
// digits, '-' or '_' (JetStream consumer names may not hold '.', '*', '>',
// spaces or path separators, and the name is also part of a file name).
func CheckName(name string) error {
	if name == "" || len(name) > maxName {
		return fmt.Errorf("replica name %q: must be 1 to %d characters", name, maxName)
	}
	for _, c := range name {
		if !nameChar(c) {
			return fmt.Errorf("replica name %q: only letters, digits, '-' and '_' are allowed, not %q", name, c)
		}
	}
	return nil
}

// SanitiseName turns s (a host name, say) into a valid replica name:
// lower case, other characters as '-', at most 64 characters. An s with
// nothing usable gives "local".
func SanitiseName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if !nameChar(c) {
			c = '-'
		}
		b.WriteRune(c)
	}
	name := strings.Trim(b.String(), "-_")
	if len(name) > maxName {
		name = strings.TrimRight(name[:maxName], "-_")
	}
	if name == "" {
		return "local"
	}
	return name
}

func nameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// Start restores the model from the snapshot when there is a usable one,
// then consumes the stream from the sequence after it. It returns
// ErrReplicaInUse when another process is consuming under the same name.
func Start(ctx context.Context, js jetstream.JetStream, cfg Config) (*Runner, error) {
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = 10000
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := CheckName(cfg.Name); err != nil {
		return nil, fmt.Errorf("projector: %w", err)
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("projector: instance id: %w", err)
	}
	if pl := cfg.Preloaded; pl != nil {
		if cfg.Projection != nil && cfg.Projection != pl.p {
			return nil, errors.New("projector: Config.Projection is not the projection preloaded")
		}
		cfg.Projection, cfg.SnapshotPath = pl.p, pl.path
	}
	if cfg.Projection == nil {
		cfg.Projection = projections.NewModel()
	}
	r := &Runner{cfg: cfg, js: js, model: cfg.Projection, instance: hex.EncodeToString(id[:]),
		snapDone: closedChan(),
		trouble:  make(chan struct{}, 1), quit: make(chan struct{}), watched: make(chan struct{})}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("projector: stream %s: %w", cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("projector: stream info: %w", err)
	}
	r.target.Store(info.State.LastSeq)
	switch {
	case cfg.Preloaded != nil:
		r.empty = cfg.Preloaded.empty
	case r.model.LastSeq() == 0:
		if r.empty, err = persisted(r.model); err != nil {
			return nil, fmt.Errorf("projector: %w", err)
		}
	}
	if cfg.SnapshotPath != "" {
		started := time.Now()
		var loaded bool
		if pl := cfg.Preloaded; pl != nil {
			loaded, err = pl.use(ctx, stream)
			started = started.Add(-pl.took) // restored while NATS started
		} else {
			loaded, err = loadSnapshot(ctx, cfg.SnapshotPath, stream, r.model)
		}
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("projector: restoring the snapshot: %w", ctx.Err())
		case err != nil:
			cfg.Log.Warn("projector: snapshot not used; replaying the whole stream", "path", cfg.SnapshotPath, "reason", err)
		case loaded:
			took := time.Since(started)
			cfg.Log.Info("projector: restored snapshot", "seq", r.model.LastSeq(), "took", took.Round(time.Millisecond))
			r.snapshotted("restore", took)
		}
	}
	name := ConsumerName(cfg.Name)
	// A consumer with pull requests waiting belongs to a live process (the
	// server drops the requests of a closed connection): deleting it would
	// silently stop that process's projector.
	if c, err := js.Consumer(ctx, cfg.Stream, name); err == nil && c.CachedInfo().NumWaiting > 0 {
		return nil, fmt.Errorf("%w: consumer %s is being consumed by another process; give each process its own replica name (chronicle serve --replica)", ErrReplicaInUse, name)
	}
	// The durable restarts from the snapshot: the model lives in memory, so
	// what the consumer acknowledged before a crash may not be in it.
	if err := js.DeleteConsumer(ctx, cfg.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("projector: reset consumer: %w", err)
	}
	r.startPipeline()
	if err := r.consume(ctx); err != nil {
		r.stopPipeline()
		return nil, err
	}
	go r.watch()
	return r, nil
}

// consume creates the durable consumer from the sequence after the model's
// and starts consuming it.
func (r *Runner) consume(ctx context.Context) error {
	cc := jetstream.ConsumerConfig{
		Durable:           ConsumerName(r.cfg.Name),
		Description:       "Chronicle: feeds this replica's read model",
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           time.Minute,
		MaxAckPending:     10000,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: inactiveThreshold,
		Metadata:          map[string]string{instanceKey: r.instance},
	}
	if seq := r.model.LastSeq(); seq > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	}
	cons, err := r.js.CreateConsumer(ctx, r.cfg.Stream, cc)
	if err != nil {
		return fmt.Errorf("projector: consumer %s: %w", cc.Durable, err)
	}
	return r.start(cons)
}

// start consumes cons, reporting its errors to consumeErr.
func (r *Runner) start(cons jetstream.Consumer) error {
	cc, err := cons.Consume(r.enqueue, jetstream.PullMaxMessages(1000), jetstream.ConsumeErrHandler(r.consumeErr))
	if err != nil {
		return fmt.Errorf("projector: consume: %w", err)
	}
	r.mu.Lock()
	r.cc = cc
	r.mu.Unlock()
	return nil
}

// consumeErr logs every consumer error; those that mean nothing is being
// delivered make the runner not ready and wake the watcher.
func (r *Runner) consumeErr(_ jetstream.ConsumeContext, err error) {
	switch {
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound),
		errors.Is(err, jetstream.ErrNoHeartbeat), errors.Is(err, nats.ErrNoResponders):
		r.setBroken(err)
	case errors.Is(err, jetstream.ErrConnectionClosed):
		// Shutting down.
	default:
		r.cfg.Log.Warn("projector: consumer", "consumer", ConsumerName(r.cfg.Name), "err", err)
	}
}

func (r *Runner) setBroken(err error) {
	r.mu.Lock()
	first := r.broken == nil
	r.broken = err
	r.mu.Unlock()
	if first {
		r.cfg.Log.Error("projector: consumer stopped delivering; not ready until it works again", "consumer", ConsumerName(r.cfg.Name), "err", err)
	}
	select {
	case r.trouble <- struct{}{}:
	default:
	}
}

func (r *Runner) brokenErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.broken
}

// watch repairs the consumer whenever consumeErr reports it broken, until
// Stop.
func (r *Runner) watch() {
	defer close(r.watched)
	for {
		select {
		case <-r.quit:
			return
		case <-r.trouble:
		}
		// Retry, then back off to at most 30s while NATS stays away.
		for delay := r.cfg.Retry; r.brokenErr() != nil; delay = min(2*delay, 30*time.Second) {
			select {
			case <-r.quit:
				return
			case <-time.After(delay):
			}
			r.repair()
		}
	}
}

// repair looks at the consumer: a deleted one is recreated from the model's
// position, one of ours that the server still has is working again, and one
// another process created under our name is reported and left alone.
func (r *Runner) repair() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	name := ConsumerName(r.cfg.Name)
	r.mu.Lock()
	cc := r.cc
	r.mu.Unlock()
	if r.gapped.Load() {
		r.refetch(ctx, cc)
		return
	}
	cons, err := r.js.Consumer(ctx, r.cfg.Stream, name)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		// The old subscription must have stopped before the new consumer
		// delivers, so that events are applied once and in order.
		cc.Stop()
		<-cc.Closed()
		if err := r.retarget(ctx); err != nil {
			r.cfg.Log.Warn("projector: recreating consumer", "consumer", name, "err", err)
			return
		}
		if err := r.deliverAgain(func() error { return r.consume(ctx) }); err != nil {
			r.cfg.Log.Warn("projector: recreating consumer", "consumer", name, "err", err)
			return
		}
		r.cfg.Log.Info("projector: consumer recreated", "consumer", name, "from_seq", r.model.LastSeq()+1)
		return
	case err != nil:
		r.cfg.Log.Warn("projector: checking consumer", "consumer", name, "err", err)
		return
	case cons.CachedInfo().Config.Metadata[instanceKey] != r.instance:
		r.setBroken(fmt.Errorf("%w: consumer %s was replaced by another process; is a second process running with replica name %q?", ErrReplicaInUse, name, r.cfg.Name))
		return
	default:
		select {
		case <-cc.Closed():
			if err := r.deliverAgain(func() error { return r.start(cons) }); err != nil {
				r.cfg.Log.Warn("projector: resuming consumer", "consumer", name, "err", err)
				return
			}
		default:
			_ = r.deliverAgain(func() error { return nil })
		}
		r.cfg.Log.Info("projector: consumer working again", "consumer", name)
	}
}

// deliverAgain clears the runner's trouble and starts delivery again with
// start. The trouble is cleared before the first delivery, not after it:
// otherwise a waiter woken by that delivery could find the runner not
// ready, and a failure among those deliveries would be cleared along with
// the old trouble and never repaired. A start that fails sets the trouble
// again, so the watch tries again.
func (r *Runner) deliverAgain(start func() error) error {
	r.mu.Lock()
	r.broken = nil
	r.mu.Unlock()
	if err := start(); err != nil {
		r.setBroken(err)
		return err
	}
	return nil
}

// errGap is why a runner whose consumer skipped sequences is not ready
// until it has refetched them.
var errGap = errors.New("projector: the consumer skipped events; refetching them")

// refetch recreates the consumer from the model's position after a gap in
// delivery: the old subscription is stopped, what it had delivered past the
// gap is passed over (the pipeline drained), and the consumer deleted and
// created again from the sequence after the last one applied.
func (r *Runner) refetch(ctx context.Context, cc jetstream.ConsumeContext) {
	name := ConsumerName(r.cfg.Name)
	cc.Stop()
	<-cc.Closed()
	r.stopPipeline()
	r.startPipeline()
	if err := r.js.DeleteConsumer(ctx, r.cfg.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		r.cfg.Log.Warn("projector: refetching after a gap", "consumer", name, "err", err)
		return
	}
	if r.tainted.Load() {
		if err := r.rebuild(ctx); err != nil {
			r.cfg.Log.Error("projector: rebuilding the read model", "err", err)
			return
		}
		if err := r.retarget(ctx); err != nil {
			r.cfg.Log.Warn("projector: rebuilding the read model", "err", err)
			return
		}
		r.tainted.Store(false)
		r.cfg.Log.Info("projector: read model rebuilt", "from_seq", r.model.LastSeq())
	}
	r.gapped.Store(false)
	if err := r.deliverAgain(func() error { return r.consume(ctx) }); err != nil {
		// The consumer is gone now: the next repair creates it.
		r.cfg.Log.Warn("projector: refetching after a gap", "consumer", name, "err", err)
		return
	}
	r.cfg.Log.Info("projector: consumer recreated after a gap in delivery", "consumer", name, "from_seq", r.model.LastSeq()+1)
}

// retarget moves the catch-up target to the stream's last sequence now:
// after a gap in delivery the model is as incomplete as at start.
func (r *Runner) retarget(ctx context.Context) error {
	s, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	r.target.Store(max(r.target.Load(), info.State.LastSeq))
	return nil
}

// Projection is what the runner maintains (Config.Projection).
func (r *Runner) Projection() Projection { return r.model }

// CaughtUp reports whether the model has reached the stream as it was when
// the runner started (or last recreated its consumer): until then, answers
// would be incomplete.
func (r *Runner) CaughtUp() bool { return r.model.LastSeq() >= r.target.Load() }

// Ready returns nil when the consumer is delivering and the model has
// caught up; otherwise an error wrapping ErrConsumerLost (with the cause)
// or ErrCatchingUp (with how far the model has got).
func (r *Runner) Ready() error {
	if err := r.brokenErr(); err != nil {
		return fmt.Errorf("%w: %w", ErrConsumerLost, err)
	}
	if applied, target := r.model.LastSeq(), r.target.Load(); applied < target {
		return fmt.Errorf("%w: applied %d of %d", ErrCatchingUp, applied, target)
	}
	return nil
}

// WaitFor blocks until the model has applied stream sequence seq, or ctx ends.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	r.mu.Lock()
	if r.model.LastSeq() >= seq {
		r.mu.Unlock()
		return nil
	}
	w := waiter{seq: seq, done: make(chan struct{})}
	r.waiters = append(r.waiters, w)
	r.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("projector: waiting for sequence %d: %w", seq, ctx.Err())
	}
}

// WaitForLatest waits until the model has applied everything the stream
// holds now.
func (r *Runner) WaitForLatest(ctx context.Context) error {
	s, err := r.js.Stream(ctx, r.cfg.Stream)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	return r.WaitFor(ctx, info.State.LastSeq)
}

// job is one delivered message on its way through the pipeline: decoded
// and validated by any worker, applied in stream order by one goroutine.
type job struct {
	msg     jetstream.Msg
	seq     uint64
	at      time.Time
	event   *events.Event
	invalid error
	bad     bool // no metadata: terminated, not applied
	done    chan struct{}
}

// pipelineDepth bounds the messages between delivery and application.
const pipelineDepth = 1024

// startPipeline starts the decoding workers and the applier. Decoding
// (strict JSON and validation) is most of the cost of an event, and it
// does not depend on the model, so it runs on every core while the model
// applies events one at a time in stream order, as it must.
func (r *Runner) startPipeline() {
	r.work = make(chan *job, pipelineDepth)
	r.ordered = make(chan *job, pipelineDepth)
	r.applied = make(chan struct{})
	workers := max(1, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range r.work {
				r.decode(j)
			}
		}()
	}
	go func() {
		defer close(r.applied)
		for j := range r.ordered {
			<-j.done
			r.apply(j)
		}
		wg.Wait()
	}()
}

// stopPipeline applies what is in the pipeline and stops it. Call once no
// more messages can be delivered.
func (r *Runner) stopPipeline() {
	close(r.work)
	close(r.ordered)
	<-r.applied
}

// enqueue is the consumer's callback: it hands the message to the
// pipeline, in delivery order.
func (r *Runner) enqueue(msg jetstream.Msg) {
	j := &job{msg: msg, done: make(chan struct{})}
	r.ordered <- j
	r.work <- j
}

func (r *Runner) decode(j *job) {
	defer close(j.done)
	meta, err := j.msg.Metadata()
	if err != nil {
		r.cfg.Log.Error("projector: message without metadata", "err", err)
		j.bad = true
		return
	}
	j.seq, j.at = meta.Sequence.Stream, meta.Timestamp
	j.event, j.invalid = events.CheckDelivered(j.msg.Subject(), j.msg.Data(), meta.Timestamp)
}

func (r *Runner) apply(j *job) {
	msg, seq := j.msg, j.seq
	if j.bad {
		_ = msg.Term()
		return
	}
	if r.gapped.Load() {
		return // refetched once the consumer is recreated
	}
	// The events stream has no gaps (nothing is deleted or purged), so a
	// delivery past the next sequence means events were lost in delivery:
	// when the node leading a replicated consumer fails, what it had in
	// flight is lost while the consumer's state counts it delivered. The
	// model passes over sequences at or below its position, so those
	// events would never be applied; the consumer is recreated from the
	// model's position instead.
	if last := r.model.LastSeq(); last > 0 && seq > last+1 {
		r.gapped.Store(true)
		r.cfg.Log.Warn("projector: a gap in delivery; refetching", "after_seq", last, "delivered_seq", seq)
		r.setBroken(errGap)
		return
	}
	switch {
	case j.invalid != nil:
		// Invalid events reach the log only straight over NATS. Each is
		// quarantined with the reason (once, however many replicas and
		// replays see it) and passed over, the same way everywhere.
		r.reject(msg, seq, j.at, j.invalid)
		r.model.Advance(seq)
		r.mu.Lock()
		r.skipped++
		r.mu.Unlock()
	case r.failures[seq].attempts >= maxApplyAttempts:
		r.reject(msg, seq, j.at, r.failures[seq])
		r.model.Advance(seq)
	default:
		err := applySafely(r.model, projections.Delivered{Event: j.event, Seq: seq, Received: j.at})
		var failed applyFailure
		if errors.As(err, &failed) {
			r.failed(seq, failed)
			return // not acknowledged: the rebuild fetches it again
		}
		if err != nil {
			r.reject(msg, seq, j.at, err)
		}
	}
	_ = msg.Ack()
	r.progress(seq)
}

// maxApplyAttempts bounds how often one event may make the projection fail
// before it is quarantined and passed over: a fault that a rebuild cures
// (a race, memory pressure) gets another chance, and an event that fails
// every time (a poison event: a valid envelope the projection cannot
// digest) cannot stop the read model for good.
const maxApplyAttempts = 3

// applyFailure is a panic while applying an event, as an error.
type applyFailure struct {
	attempts int
	cause    any
	stack    []byte // where it panicked, for the log
}

func (f applyFailure) Error() string {
	return fmt.Sprintf("applying the event failed %d times (panic: %v)", f.attempts, f.cause)
}

// applySafely applies d, turning a panic into an applyFailure: one bad
// event must not take the process, and every other reader with it, down.
func applySafely(p Projection, d projections.Delivered) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = applyFailure{cause: v, stack: debug.Stack()}
		}
	}()
	return p.Apply(d)
}

// failed records a failed apply of seq and sets the rebuild going: the
// model may be half changed, so it is restored from the last snapshot and
// the events after it fetched again; what is delivered meanwhile is passed
// over.
func (r *Runner) failed(seq uint64, f applyFailure) {
	if r.failures == nil {
		r.failures = map[uint64]applyFailure{}
	}
	f.attempts = r.failures[seq].attempts + 1
	r.failures[seq] = f
	r.tainted.Store(true)
	r.gapped.Store(true)
	if r.cfg.ApplyFailed != nil {
		r.cfg.ApplyFailed()
	}
	r.cfg.Log.Error("projector: applying an event failed; rebuilding the read model and trying again",
		"seq", seq, "attempt", f.attempts, "of", maxApplyAttempts, "panic", fmt.Sprint(f.cause), "stack", string(f.stack))
	r.setBroken(errRebuild)
}

// errRebuild is why a runner is not ready while it rebuilds its model
// after a failed apply.
var errRebuild = errors.New("projector: applying an event failed; rebuilding the read model")

// rebuild restores the model to the last snapshot, or to empty when there
// is none, after a failed apply may have left it half changed.
func (r *Runner) rebuild(ctx context.Context) error {
	if r.cfg.SnapshotPath != "" {
		stream, err := r.js.Stream(ctx, r.cfg.Stream)
		if err != nil {
			return fmt.Errorf("rebuild: %w", err)
		}
		loaded, err := loadSnapshot(ctx, r.cfg.SnapshotPath, stream, r.model)
		if err != nil {
			r.cfg.Log.Warn("projector: snapshot not used for the rebuild; replaying the whole stream", "path", r.cfg.SnapshotPath, "reason", err)
		}
		if loaded && err == nil {
			return nil
		}
	}
	if r.empty == nil {
		return errors.New("rebuild: no snapshot, and the projection was not empty when the runner started")
	}
	if err := r.model.Restore(bytes.NewReader(r.empty)); err != nil {
		return fmt.Errorf("rebuild from empty: %w", err)
	}
	return nil
}

// persisted is p's state as a snapshot writes it.
func persisted(p Projection) ([]byte, error) {
	snap, err := p.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer snap.Release()
	var b bytes.Buffer
	if err := snap.Persist(&b); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	return b.Bytes(), nil
}

func (r *Runner) reject(msg jetstream.Msg, seq uint64, at time.Time, err error) {
	r.cfg.Log.Warn("projector: event not applied", "seq", seq, "subject", msg.Subject(), "reason", err)
	if r.cfg.Reject == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if qerr := r.cfg.Reject(ctx, msg.Subject(), seq, at, msg.Data(), err); qerr != nil {
		r.cfg.Log.Error("projector: quarantine failed", "seq", seq, "err", qerr)
	}
}

func (r *Runner) progress(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if seq >= w.seq {
			close(w.done)
		} else {
			kept = append(kept, w)
		}
	}
	r.waiters = kept
	r.sinceSnap++
	if seq == r.target.Load() {
		r.cfg.Log.Info("projector: caught up", "seq", seq, "skipped_invalid", r.skipped)
	}
	// A snapshot holds the whole state, so writing one every fixed number
	// of events would cost quadratic time as the log grows. The interval
	// grows with the log instead (a quarter of it): snapshot work stays
	// proportional to the events applied, and a crash replays at most that
	// quarter. The capture is cheap and the writing is in the background,
	// so the projector goes on; a snapshot still being written when the
	// next is due puts the next off.
	if r.cfg.SnapshotPath != "" && r.sinceSnap >= max(r.cfg.SnapshotEvery, int(seq/4)) && !r.writing {
		r.sinceSnap = 0
		r.snapshotInBackground()
	}
}

// snapshotInBackground captures the state now and writes it on another
// goroutine. Call with r.mu held.
func (r *Runner) snapshotInBackground() {
	if r.tainted.Load() {
		return // a half-changed model is never written down
	}
	snap, err := r.model.Snapshot()
	if err != nil {
		r.cfg.Log.Error("projector: snapshot failed", "err", err)
		return
	}
	r.writing = true
	done := make(chan struct{})
	r.snapDone = done
	go func() {
		defer close(done)
		started := time.Now()
		err := writeSnapshot(r.cfg.SnapshotPath, snap)
		seq := snap.Position().Seq
		snap.Release()
		r.mu.Lock()
		r.writing = false
		r.mu.Unlock()
		if err != nil {
			r.cfg.Log.Error("projector: snapshot failed", "err", err)
			return
		}
		took := time.Since(started)
		r.cfg.Log.Info("projector: snapshot written", "seq", seq, "took", took.Round(time.Millisecond))
		r.snapshotted("write", took)
	}()
}

func (r *Runner) snapshotted(op string, took time.Duration) {
	if r.cfg.Snapshotted != nil {
		r.cfg.Snapshotted(op, took)
	}
}

// Stop ends consumption and writes a final snapshot.
func (r *Runner) Stop() error {
	r.StopConsuming()
	if r.cfg.SnapshotPath == "" {
		return nil
	}
	// A final snapshot, if it can be written within snapshotWithin: a
	// restart replays whatever the last complete one lacks, so shutting
	// down never waits long.
	deadline := time.After(snapshotWithin)
	r.mu.Lock()
	inFlight := r.snapDone
	r.mu.Unlock()
	select {
	case <-inFlight:
	case <-deadline:
		r.cfg.Log.Warn("projector: a snapshot is still being written; stopping without a final one")
		return nil
	}
	r.mu.Lock()
	r.snapshotInBackground()
	final := r.snapDone
	r.mu.Unlock()
	select {
	case <-final:
		return nil
	case <-deadline:
		r.cfg.Log.Warn("projector: final snapshot not finished in time; the next start replays what it lacks", "within", snapshotWithin)
		return nil
	}
}

// StopConsuming stops taking events from the log and applies those already
// taken; Stop then writes the final snapshot, which needs the local disk
// only, so a process can close its NATS connection and server meanwhile.
// Calling it more than once, or before Stop, is safe.
func (r *Runner) StopConsuming() {
	r.consumeOnce.Do(func() {
		r.stopOnce.Do(func() { close(r.quit) })
		<-r.watched
		r.mu.Lock()
		cc := r.cc
		r.mu.Unlock()
		cc.Stop()
		<-cc.Closed()
		r.stopPipeline()
	})
}

// closedChan is a channel that is already closed: no snapshot in flight.
func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
