package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// ReplayResult summarises a replay.
type ReplayResult struct {
	Model    *projections.Model
	Read     int // messages read
	Invalid  int // passed over: they fail validation (and are in the quarantine)
	Rejected int // valid but not applicable (corrections of unknown events)
	Elapsed  time.Duration
}

// Replay builds a fresh model from the whole stream with an ordered
// consumer, stopping at the last message received by asKnownAt (nil: the
// stream's end as it was when Replay started). Analysts use it for a
// practice review ("what the hub knew on 3 March"), and tests and benchmarks
// use it to check a live model against a rebuild.
func Replay(ctx context.Context, js jetstream.JetStream, stream string, asKnownAt *time.Time) (ReplayResult, error) {
	return ReplayInto(ctx, js, stream, asKnownAt, projections.NewModel())
}

// ReplayInto is Replay into a given empty model.
func ReplayInto(ctx context.Context, js jetstream.JetStream, stream string, asKnownAt *time.Time, model *projections.Model) (ReplayResult, error) {
	started := time.Now()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay: %w", err)
	}
	res := ReplayResult{Model: model}
	end := info.State.LastSeq
	if end == 0 {
		res.Elapsed = time.Since(started)
		return res, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return res, fmt.Errorf("replay: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return res, fmt.Errorf("replay: %w", err)
			}
			return res, fmt.Errorf("replay: next: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return res, fmt.Errorf("replay: %w", err)
		}
		seq := meta.Sequence.Stream
		if asKnownAt != nil && meta.Timestamp.After(*asKnownAt) {
			break
		}
		res.Read++
		e, invalid := events.CheckDelivered(msg.Subject(), msg.Data(), meta.Timestamp)
		switch {
		case invalid != nil:
			res.Invalid++
			res.Model.Advance(seq)
		default:
			if err := res.Model.Apply(projections.Delivered{Event: e, Seq: seq, Received: meta.Timestamp}); err != nil {
				res.Rejected++
			}
		}
		if seq >= end {
			break
		}
	}
	res.Elapsed = time.Since(started)
	return res, nil
}
