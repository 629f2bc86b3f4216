package runner

import (
	"bufio"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
)

// snapshotVersion changes whenever the snapshot's shape or the meaning of
// Apply changes; an old snapshot is then ignored and the stream replayed.
const snapshotVersion = 1

// snapshot is what is written: the events the model applied, already
// decoded, so a restart re-applies them without JSON decoding or
// validation, and then consumes only what came after LastSeq.
type snapshot struct {
	Version   int
	LastSeq   uint64
	LastID    string // the last applied event's id, checked against the stream
	LastIDSeq uint64
	Applied   []projections.Delivered
}

var registerOnce sync.Once

// registerPayloads tells gob every payload type, from the catalogue.
func registerPayloads() {
	registerOnce.Do(func() {
		seen := map[string]bool{}
		for _, s := range events.Catalogue() {
			p := s.New()
			name := fmt.Sprintf("%T", p)
			if !seen[name] {
				seen[name] = true
				gob.Register(p)
			}
		}
	})
}

func saveSnapshot(path string, m *projections.Model) error {
	registerPayloads()
	snap := snapshot{Version: snapshotVersion, LastSeq: m.LastSeq(), Applied: m.Applied()}
	if n := len(snap.Applied); n > 0 {
		snap.LastID, snap.LastIDSeq = snap.Applied[n-1].Event.ID, snap.Applied[n-1].Seq
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("snapshot dir: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	err = gob.NewEncoder(w).Encode(&snap)
	if err == nil {
		err = w.Flush()
	}
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

// loadSnapshot returns the model in the snapshot, nil when there is none,
// or an error when it cannot be used (the caller replays from the start).
// A snapshot is used only if the stream still holds its last event at the
// same sequence: a recreated stream makes it stale.
func loadSnapshot(ctx context.Context, path string, stream jetstream.Stream) (*projections.Model, error) {
	registerPayloads()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var snap snapshot
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&snap); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if snap.Version != snapshotVersion {
		return nil, fmt.Errorf("version %d, want %d", snap.Version, snapshotVersion)
	}
	if snap.LastIDSeq > 0 {
		msg, err := stream.GetMsg(ctx, snap.LastIDSeq)
		if err != nil {
			return nil, fmt.Errorf("stream lacks sequence %d: %w", snap.LastIDSeq, err)
		}
		if got := msg.Header.Get(jetstream.MsgIDHeader); got != snap.LastID {
			return nil, fmt.Errorf("stream sequence %d holds %s, snapshot expected %s", snap.LastIDSeq, got, snap.LastID)
		}
	}
	return projections.Restore(snap.Applied, snap.LastSeq)
}
