package app

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// The present flags are saved at shutdown and restored at start (see
// flags.Worklist.Save), so that a restarted gateway has its worklist and
// its alerter's first look at once instead of evaluating every child
// again. A saved worklist is used only by the same build of Chronicle
// with the same rules over the same stream; anything else, or a file
// that does not check, is set aside with a warning and every child is
// evaluated as before.

// worklistPath is where this replica keeps its saved worklist.
func (a *App) worklistPath() string {
	return filepath.Join(a.cfg.DataDir, "snapshots", "worklist-"+a.cfg.Replica+".saved")
}

// worklistKey is what the saved flags depend on besides the log: the
// build (a rule's logic may change between versions), the rules in force
// and the stream's identity (a stream deleted and made again reuses
// sequence numbers).
func (a *App) worklistKey(ctx context.Context) (string, error) {
	build, err := buildFingerprint()
	if err != nil {
		return "", err
	}
	rules, err := json.Marshal(a.cfg.Rules.Rules())
	if err != nil {
		return "", fmt.Errorf("rules: %w", err)
	}
	s, err := a.js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return "", err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", build, rules, info.Created.UTC().Format(time.RFC3339Nano))
	return hex.EncodeToString(h.Sum(nil)), nil
}

// eventIDAt is the id of the event the stream holds at seq.
func (a *App) eventIDAt(ctx context.Context, seq uint64) (string, error) {
	s, err := a.js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return "", err
	}
	msg, err := s.GetMsg(ctx, seq)
	if err != nil {
		return "", err
	}
	return msg.Header.Get(jetstream.MsgIDHeader), nil
}

// restoreWorklist restores the saved worklist into a.flags if there is
// one that fits, and says in the log what it did.
func (a *App) restoreWorklist(ctx context.Context) {
	path := a.worklistPath()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err == nil {
		defer f.Close()
		err = a.useSavedWorklist(ctx, f)
	}
	if err != nil {
		a.log.Warn("saved worklist not used; every child's flags are evaluated again", "path", path, "reason", err)
		return
	}
	a.log.Info("worklist restored; children changed since it was saved are evaluated again", "path", path)
}

func (a *App) useSavedWorklist(ctx context.Context, f io.Reader) error {
	s, err := flags.ReadSaved(f)
	if err != nil {
		return err
	}
	key, err := a.worklistKey(ctx)
	if err != nil {
		return err
	}
	if s.Key != key {
		return errors.New("saved by another build of Chronicle, with other rules, or over another stream")
	}
	if s.Seq > 0 {
		id, err := a.eventIDAt(ctx, s.Seq)
		if err != nil {
			return fmt.Errorf("the stream lacks sequence %d: %w", s.Seq, err)
		}
		if id != s.LastID {
			return fmt.Errorf("the stream holds %s at sequence %d, the worklist expected %s", id, s.Seq, s.LastID)
		}
	}
	return a.flags.Restore(s)
}

// saveWorklist saves a.flags for the next start: written beside and then
// renamed over the last, so a crash leaves one whole file or the other.
func (a *App) saveWorklist(ctx context.Context) error {
	key, err := a.worklistKey(ctx)
	if err != nil {
		return fmt.Errorf("save worklist: %w", err)
	}
	path := a.worklistPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save worklist: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".worklist-*")
	if err != nil {
		return fmt.Errorf("save worklist: %w", err)
	}
	defer os.Remove(tmp.Name()) // once renamed, there is nothing to remove
	_, err = a.flags.Save(tmp, key, func(seq uint64) (string, error) { return a.eventIDAt(ctx, seq) })
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, flags.ErrNotEvaluated) {
		return nil // nothing to save: the next start evaluates everyone, as this one was going to
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("save worklist: %w", err)
	}
	return nil
}

// buildFingerprint identifies this build of Chronicle: the Go build id in
// the executable (it changes with any source or dependency), or where
// there is none to read, a hash of the executable.
var buildFingerprint = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("build fingerprint: %w", err)
	}
	if f, err := elf.Open(exe); err == nil {
		defer f.Close()
		if sec := f.Section(".note.go.buildid"); sec != nil {
			if data, err := sec.Data(); err == nil && len(data) > 0 {
				sum := sha256.Sum256(data)
				return hex.EncodeToString(sum[:]), nil
			}
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("build fingerprint: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("build fingerprint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
})
