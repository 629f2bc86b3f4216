package runner

import (
	"context"
	"fmt"
	"runtime"
	"sync"
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
	// Decoding and validating is most of the cost and needs no order, so
	// each chunk is checked across the cores; applying stays in order.
	chunk := make([]delivered, 0, replayChunk)
	done := false
	for !done {
		chunk = chunk[:0]
		for len(chunk) < replayChunk {
			msg, err := it.Next(jetstream.NextContext(ctx))
			if err != nil {
				return res, fmt.Errorf("replay: next: %w", err)
			}
			meta, err := msg.Metadata()
			if err != nil {
				return res, fmt.Errorf("replay: %w", err)
			}
			if asKnownAt != nil && meta.Timestamp.After(*asKnownAt) {
				done = true
				break
			}
			chunk = append(chunk, delivered{subject: msg.Subject(), data: msg.Data(), seq: meta.Sequence.Stream, at: meta.Timestamp})
			if meta.Sequence.Stream >= end {
				done = true
				break
			}
		}
		checkAll(chunk)
		for _, d := range chunk {
			res.Read++
			switch {
			case d.invalid != nil:
				res.Invalid++
				res.Model.Advance(d.seq)
			default:
				if err := res.Model.Apply(projections.Delivered{Event: d.event, Seq: d.seq, Received: d.at}); err != nil {
					res.Rejected++
				}
			}
		}
	}
	res.Elapsed = time.Since(started)
	return res, nil
}

const replayChunk = 512

// delivered is one message read for replay, and the verdict on it.
type delivered struct {
	subject string
	data    []byte
	seq     uint64
	at      time.Time
	event   *events.Event
	invalid error
}

// checkAll decodes and validates a chunk across the cores.
func checkAll(chunk []delivered) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(chunk); i += workers {
				d := &chunk[i]
				d.event, d.invalid = events.CheckDelivered(d.subject, d.data, d.at)
			}
		}()
	}
	wg.Wait()
}
