// Package runner feeds the projections from JetStream: it owns the durable
// consumer, applies events in stream order, quarantines what cannot be
// applied, says when the model has caught up, and keeps snapshots so that a
// restart replays only what came after.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// RejectFunc stores an event that is valid on its own but cannot be applied
// (a correction of an unknown event) in the quarantine.
type RejectFunc func(ctx context.Context, subject string, seq uint64, received time.Time, data []byte, reason error) error

// Config configures a Runner.
type Config struct {
	// Stream is the events stream's name.
	Stream string
	// Name distinguishes this replica's durable consumer
	// ("chronicle-projector-<name>"): every replica builds its own model.
	Name string
	// SnapshotPath is the snapshot file; empty disables snapshots.
	SnapshotPath string
	// SnapshotEvery writes a snapshot after this many applied events (and
	// always on Stop). Default 10,000.
	SnapshotEvery int
	// Reject quarantines events Apply refuses; nil only logs them.
	Reject RejectFunc
	// Log receives progress and problems.
	Log *slog.Logger
}

// Runner keeps a Model up to date with the stream.
type Runner struct {
	cfg   Config
	js    jetstream.JetStream
	model *projections.Model
	cc    jetstream.ConsumeContext

	mu        sync.Mutex
	target    uint64 // the stream's last sequence when the runner started
	sinceSnap int
	waiters   []waiter
	skipped   int
}

type waiter struct {
	seq  uint64
	done chan struct{}
}

// ConsumerName returns the durable consumer's name for a replica.
func ConsumerName(replica string) string { return "chronicle-projector-" + replica }

// Start restores the model from the snapshot when there is a usable one,
// then consumes the stream from the sequence after it.
func Start(ctx context.Context, js jetstream.JetStream, cfg Config) (*Runner, error) {
	if cfg.SnapshotEvery <= 0 {
		cfg.SnapshotEvery = 10000
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	r := &Runner{cfg: cfg, js: js, model: projections.NewModel()}
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, fmt.Errorf("projector: stream %s: %w", cfg.Stream, err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("projector: stream info: %w", err)
	}
	r.target = info.State.LastSeq
	if cfg.SnapshotPath != "" {
		started := time.Now()
		m, err := loadSnapshot(ctx, cfg.SnapshotPath, stream)
		switch {
		case err != nil:
			cfg.Log.Warn("projector: snapshot not used; replaying the whole stream", "path", cfg.SnapshotPath, "reason", err)
		case m != nil:
			r.model = m
			cfg.Log.Info("projector: restored snapshot", "seq", m.LastSeq(), "events", m.Stats().Events, "took", time.Since(started).Round(time.Millisecond))
		}
	}
	name := ConsumerName(cfg.Name)
	// The durable restarts from the snapshot: the model lives in memory, so
	// what the consumer acknowledged before a crash may not be in it.
	if err := js.DeleteConsumer(ctx, cfg.Stream, name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("projector: reset consumer: %w", err)
	}
	cc := jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Chronicle: feeds this replica's read model",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: 10000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if seq := r.model.LastSeq(); seq > 0 {
		cc.DeliverPolicy, cc.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq+1
	}
	cons, err := js.CreateConsumer(ctx, cfg.Stream, cc)
	if err != nil {
		return nil, fmt.Errorf("projector: consumer: %w", err)
	}
	if r.cc, err = cons.Consume(r.handle, jetstream.PullMaxMessages(1000)); err != nil {
		return nil, fmt.Errorf("projector: consume: %w", err)
	}
	return r, nil
}

// Model is the read model the runner maintains.
func (r *Runner) Model() *projections.Model { return r.model }

// CaughtUp reports whether the model has reached the stream as it was when
// the runner started: until then, answers would be incomplete.
func (r *Runner) CaughtUp() bool { return r.model.LastSeq() >= r.target }

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

func (r *Runner) handle(msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		r.cfg.Log.Error("projector: message without metadata", "err", err)
		_ = msg.Term()
		return
	}
	seq := meta.Sequence.Stream
	e, invalid := events.CheckDelivered(msg.Subject(), msg.Data(), meta.Timestamp)
	switch {
	case invalid != nil:
		// The quarantine checker copies it with the reason; here it is
		// only passed over, the same way on every replica and replay.
		r.model.Advance(seq)
		r.mu.Lock()
		r.skipped++
		r.mu.Unlock()
	default:
		if err := r.model.Apply(projections.Delivered{Event: e, Seq: seq, Received: meta.Timestamp}); err != nil {
			r.reject(msg, seq, meta.Timestamp, err)
		}
	}
	_ = msg.Ack()
	r.progress(seq)
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
	if seq == r.target {
		r.cfg.Log.Info("projector: caught up", "seq", seq, "skipped_invalid", r.skipped)
	}
	if r.cfg.SnapshotPath != "" && r.sinceSnap >= r.cfg.SnapshotEvery {
		r.sinceSnap = 0
		if err := saveSnapshot(r.cfg.SnapshotPath, r.model); err != nil {
			r.cfg.Log.Error("projector: snapshot failed", "err", err)
		}
	}
}

// Stop ends consumption and writes a final snapshot.
func (r *Runner) Stop() error {
	r.cc.Stop()
	<-r.cc.Closed()
	if r.cfg.SnapshotPath == "" {
		return nil
	}
	if err := saveSnapshot(r.cfg.SnapshotPath, r.model); err != nil {
		return fmt.Errorf("projector: final snapshot: %w", err)
	}
	return nil
}
