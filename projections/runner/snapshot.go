package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections"
)

// Projection is what the runner feeds: a deterministic state machine over
// the log, as a raft FSM is (Apply must give the same state for the same
// events in the same order), with snapshots of its state so that a restart
// replays only what came after. projections.Model is the one Chronicle
// serves from.
type Projection interface {
	// Apply folds one event in; an error means it was not applied and is
	// quarantined (the model's position still moves past it).
	Apply(projections.Delivered) error
	// Advance moves the position past an event passed over.
	Advance(seq uint64)
	// LastSeq is the position: the last sequence applied or passed over.
	LastSeq() uint64
	// Snapshot captures the state cheaply, to be written in the background.
	Snapshot() (projections.Snapshot, error)
	// Restore replaces the state with one a Snapshot wrote; on error the
	// state is unchanged.
	Restore(io.Reader) error
}

var _ Projection = (*projections.Model)(nil)

// writeSnapshot persists s to path, whole or not at all: to a temporary
// file, synced, then renamed over the old one.
func writeSnapshot(path string, s projections.Snapshot) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("snapshot dir: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	err = s.Persist(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("snapshot write: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// loadSnapshot restores p from the snapshot at path. It reports false when
// there is none; an error means it cannot be used (the caller replays from
// the start): unreadable, of another version, damaged, or stale, that is
// the stream no longer holds the snapshot's last event at its sequence (a
// recreated stream). The stream is checked before the state is restored.
func loadSnapshot(ctx context.Context, path string, stream jetstream.Stream, p Projection) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	pos, err := readPosition(f)
	if err != nil {
		return false, err
	}
	if err := checkPosition(ctx, stream, pos); err != nil {
		return false, err
	}
	if err := p.Restore(f); err != nil {
		return false, err
	}
	return true, nil
}

// readPosition reads where the snapshot in f stands and rewinds f.
func readPosition(f *os.File) (projections.Position, error) {
	head := make([]byte, 4096)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return projections.Position{}, err
	}
	pos, err := projections.SnapshotPosition(head[:n])
	if err != nil {
		return projections.Position{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return projections.Position{}, err
	}
	return pos, nil
}

// checkPosition reports an error unless the stream still holds the
// snapshot's last event at its sequence.
func checkPosition(ctx context.Context, stream jetstream.Stream, pos projections.Position) error {
	if pos.LastIDSeq == 0 {
		return nil
	}
	msg, err := stream.GetMsg(ctx, pos.LastIDSeq)
	if err != nil {
		return fmt.Errorf("stream lacks sequence %d: %w", pos.LastIDSeq, err)
	}
	if got := msg.Header.Get(jetstream.MsgIDHeader); got != pos.LastID {
		return fmt.Errorf("stream sequence %d holds %s, snapshot expected %s", pos.LastIDSeq, got, pos.LastID)
	}
	return nil
}

// Preloaded is a snapshot being restored before NATS is reached (see
// Preload).
type Preloaded struct {
	path  string
	p     Projection
	empty []byte
	done  chan struct{}
	// Set before done closes.
	pos    projections.Position
	loaded bool
	took   time.Duration
	err    error
}

// Preload starts restoring p, which must be empty, from the snapshot at
// path, on its own goroutine. A process starts its NATS server (which
// recovers the streams from disk) and restores its read model at the same
// time this way; Start, given it in Config.Preloaded, waits for it and then
// checks the snapshot against the stream, returning p to empty when the
// stream no longer matches.
func Preload(path string, p Projection) (*Preloaded, error) {
	if p.LastSeq() != 0 {
		return nil, errors.New("projector: preload: the projection is not empty")
	}
	empty, err := persisted(p)
	if err != nil {
		return nil, fmt.Errorf("projector: preload: %w", err)
	}
	pl := &Preloaded{path: path, p: p, empty: empty, done: make(chan struct{})}
	go func() {
		defer close(pl.done)
		started := time.Now()
		pl.loaded, pl.err = pl.restore()
		pl.took = time.Since(started)
	}()
	return pl, nil
}

func (pl *Preloaded) restore() (bool, error) {
	f, err := os.Open(pl.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if pl.pos, err = readPosition(f); err != nil {
		return false, err
	}
	if err := pl.p.Restore(f); err != nil {
		return false, err
	}
	return true, nil
}

// use waits for the preload and checks it against the stream. It reports
// whether the projection holds the snapshot's state; when it cannot be
// used, the projection is empty again and err says why.
func (pl *Preloaded) use(ctx context.Context, stream jetstream.Stream) (bool, error) {
	select {
	case <-pl.done:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	if pl.err != nil || !pl.loaded {
		return false, pl.err
	}
	if err := checkPosition(ctx, stream, pl.pos); err != nil {
		if rerr := pl.p.Restore(bytes.NewReader(pl.empty)); rerr != nil {
			return false, fmt.Errorf("%w; and returning to empty: %w", err, rerr)
		}
		return false, err
	}
	return true, nil
}

// snapshotWithin bounds how long Stop waits for the final snapshot: a
// restart replays what the last complete snapshot lacks, so shutting down
// never waits long for one.
const snapshotWithin = 5 * time.Second
