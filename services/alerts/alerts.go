// Package alerts publishes an alert to JetStream whenever a risk flag is
// raised or cleared, whether by a new event or by time passing (an overdue
// return home interview needs no new event to become overdue). Each change
// is alerted once, across restarts: the alerter rebuilds what it has already
// said from the alerts stream itself, and every alert's Nats-Msg-Id is
// derived from the change, so a repeat is a duplicate. The rebuild is what
// keeps a restart quiet; the duplicate window only covers a crash between
// publishing an alert and remembering it.
package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Alert is one change to a flag.
type Alert struct {
	ID          string     `json:"id"`
	Kind        string     `json:"kind"` // raised or cleared
	Code        string     `json:"code"`
	Title       string     `json:"title"`
	Severity    string     `json:"severity"`
	ChildID     string     `json:"child_id"`
	Reason      string     `json:"reason"`
	Evidence    []string   `json:"evidence"`
	RaisedAt    time.Time  `json:"raised_at"`
	ClearedAt   *time.Time `json:"cleared_at,omitempty"`
	ClearReason string     `json:"clear_reason,omitempty"`
	FlagKey     string     `json:"flag_key"`
	EvaluatedAt time.Time  `json:"evaluated_at"`
}

// Source is the read model with what changed in it (see flags.Changes).
type Source = flags.Changes

// Config configures the alerter.
type Config struct {
	Rules flags.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Interval is how often to look for changes (a new event applied, or a
	// deadline passed). Default 2 seconds; each look re-evaluates only the
	// children that changed (see flags.Worklist). A look that takes long
	// (a bulk import changes thousands of children a second) is followed by
	// a pause of three times its length (at most 10 s), so that looking
	// takes no more than about a quarter of a core from the import and the
	// projector; each look then covers more changes per child.
	Interval time.Duration
	// Worklist, when set, is the process's present flags, shared with the
	// worklist page so that each change is evaluated once; it must be over
	// the same Source with the same Rules. Nil: the alerter keeps its own.
	Worklist *flags.Worklist
	// Ready reports whether the read model has caught up with the log; no
	// sweep runs before, or a half-built model would clear every flag.
	Ready func() bool
	// Published, when set, is told of every alert stored (its kind,
	// "raised" or "cleared", and flag code): for the process's metrics.
	Published func(kind, code string)
	Log       *slog.Logger
}

// said is the last alert about a flag.
type said struct {
	up       bool
	raisedAt time.Time
	// n counts the alerts about the flag so far. It numbers the next
	// change, so that a flag cleared and raised again with the same raise
	// time (a record merged and unmerged) is a new alert, not a duplicate.
	n int
}

// Alerter sweeps the read model and publishes changes.
type Alerter struct {
	js  jetstream.JetStream
	cfg Config

	mu   sync.Mutex
	said map[string]said // child|flag key -> the last alert about it
	// flags follows the present flags, kept up incrementally: the
	// alerter says what changed in them (see flags.Follower).
	flags *flags.Follower
	// published counts alerts raised and cleared in the sweep under way,
	// for its one log line.
	published [2]int
	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	// looked is closed when the first sweep has been through every
	// child; firstLook guards it.
	looked    chan struct{}
	firstLook sync.Once
}

// Start rebuilds what was already alerted from the stream, runs a first
// sweep and keeps sweeping until Stop.
func Start(ctx context.Context, js jetstream.JetStream, src Source, cfg Config) (*Alerter, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	if cfg.Worklist == nil {
		cfg.Worklist = flags.NewWorklist(src, cfg.Rules)
	}
	a := &Alerter{js: js, cfg: cfg, said: map[string]said{}, flags: cfg.Worklist.Follow(), stop: make(chan struct{}), done: make(chan struct{}), looked: make(chan struct{})}
	if err := a.load(ctx); err != nil {
		return nil, err
	}
	go a.loop()
	return a, nil
}

// load replays the alerts stream: the last alert per flag says whether it
// is up, and their number how many changes it has had.
func (a *Alerter) load(ctx context.Context) error {
	list, err := List(ctx, a.js)
	if err != nil {
		return err
	}
	for _, al := range list {
		key := al.ChildID + "|" + al.FlagKey
		a.said[key] = said{up: al.Kind == "raised", raisedAt: al.RaisedAt, n: a.said[key].n + 1}
	}
	return nil
}

// List returns every alert in the stream, oldest first.
func List(ctx context.Context, js jetstream.JetStream) ([]Alert, error) {
	s, err := js.Stream(ctx, eventlog.AlertsStream)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	var out []Alert
	for seq := uint64(1); ; seq++ {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(eventlog.AlertsPrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("alerts: read %d: %w", seq, err)
		}
		var al Alert
		if err := json.Unmarshal(m.Data, &al); err == nil {
			out = append(out, al)
		}
		seq = m.Sequence
	}
}

func (a *Alerter) loop() {
	defer close(a.done)
	t := time.NewTimer(a.cfg.Interval)
	defer t.Stop()
	// A sweep in progress stops when the alerter does: shutting down does
	// not wait for every child to be evaluated (the next start sweeps).
	base, stopAll := context.WithCancel(context.Background())
	defer stopAll()
	go func() {
		select {
		case <-a.stop:
			stopAll()
		case <-base.Done():
		}
	}()
	for {
		ctx, cancel := context.WithTimeout(base, time.Minute)
		began := time.Now()
		if err := a.SweepIfDue(ctx); err != nil && base.Err() == nil {
			a.cfg.Log.Error("alerts: sweep failed; will retry", "err", err)
		}
		cancel()
		wait := pause(a.cfg.Interval, time.Since(began))
		if !a.cfg.Ready() {
			// Catching up after a start: look again soon, so the first
			// look follows the catch-up closely rather than an interval on.
			wait = min(wait, notReadyPoll)
		}
		t.Reset(wait)
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
	}
}

// sweepPace is how many times a sweep's length the alerter rests after it
// (Config.Interval at least): at most a quarter of a core goes to looking
// while sweeps are long. maxPause bounds the rest, so that an alert waits
// at most that long plus a sweep even after the first look at every child
// (tens of seconds at a million events).
const (
	sweepPace    = 3
	maxPause     = 10 * time.Second
	notReadyPoll = 50 * time.Millisecond
)

// pause is how long to wait after a sweep that took took.
func pause(interval, took time.Duration) time.Duration {
	return max(interval, min(sweepPace*took, maxPause))
}

// SweepIfDue sweeps once the read model has caught up with the log: no
// sweep runs before, or a half-built model would clear every flag.
func (a *Alerter) SweepIfDue(ctx context.Context) error {
	if !a.cfg.Ready() {
		return nil
	}
	return a.Sweep(ctx)
}

// Sweep brings the present flags up to now and publishes what changed
// since the last alert about each. The first sweep looks at every child
// with flags; later ones at the children re-evaluated since (touched by an
// event, a deadline come due, merged away).
func (a *Alerter) Sweep(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	changed, mark, err := a.flags.Changed(ctx, now)
	if err != nil {
		return err // stopping: the next start looks again
	}
	var out []pending
	seen := map[string]bool{}
	// In a stable order, so that a replay of the same log alerts alike.
	for _, id := range slices.Sorted(maps.Keys(changed)) {
		for _, f := range changed[id] {
			key := id + "|" + f.Key
			seen[key] = true
			up := a.said[key].up
			switch {
			case f.Active() && !up:
				out = append(out, pending{key, alertOf("raised", id, f, now)})
			case !f.Active() && up:
				out = append(out, pending{key, alertOf("cleared", id, f, now)})
			}
		}
	}
	for _, key := range slices.Sorted(maps.Keys(a.said)) {
		last := a.said[key]
		childID, flagKey, _ := strings.Cut(key, "|")
		if _, looked := changed[childID]; !looked || !last.up || seen[key] {
			continue
		}
		// The flag no longer exists at all: its evidence was corrected,
		// or the record was merged into another child. (A retraction does
		// not land here: the flag stays on the record, cleared by it, and
		// is alerted as such above.)
		code, _, _ := strings.Cut(flagKey, ":")
		cleared := now
		out = append(out, pending{key, Alert{Kind: "cleared", Code: code, ChildID: childID, FlagKey: flagKey, RaisedAt: last.raisedAt, ClearedAt: &cleared,
			ClearReason: "no longer holds on the current record (its evidence was corrected, or the record merged into another child)", EvaluatedAt: now}})
	}
	if err := a.publishAll(ctx, out); err != nil {
		return err // the mark stays: the next sweep looks at these children again
	}
	if raised, cleared := a.published[0], a.published[1]; raised+cleared > 0 {
		a.cfg.Log.Info("alerts published", "raised", raised, "cleared", cleared, "children", len(changed))
	}
	a.published = [2]int{}
	a.flags.Done(mark)
	a.firstLook.Do(func() { close(a.looked) })
	return nil
}

// pending is an alert to publish about the flag key.
type pending struct {
	key string
	al  Alert
}

func alertOf(kind, childID string, f flags.Flag, now time.Time) Alert {
	return Alert{Kind: kind, Code: f.Code, Title: f.Title, Severity: f.Severity, ChildID: childID, Reason: f.Reason,
		Evidence: f.Evidence, RaisedAt: f.RaisedAt, ClearedAt: f.ClearedAt, ClearReason: f.ClearReason, FlagKey: f.Key, EvaluatedAt: now}
}

// publishBatch bounds the alerts in flight at once: a bulk load of history
// can raise thousands in one sweep, and waiting for each acknowledgement in
// turn would hold the sweep (and every change after it) for minutes.
const publishBatch = 256

// publishAll stores the alerts, publishBatch at a time without waiting for
// each acknowledgement. Each alert's id is derived from the change: the
// flag, how many alerts about it came before, the kind and the raise time,
// so the same change published twice (a crash between publishing and
// remembering, or two alerters) is stored once, and two changes never
// share an id. What was acknowledged is remembered even when others fail.
func (a *Alerter) publishAll(ctx context.Context, out []pending) error {
	var errs []error
	for len(out) > 0 {
		batch := out[:min(publishBatch, len(out))]
		out = out[len(batch):]
		acks := make([]jetstream.PubAckFuture, len(batch))
		for i := range batch {
			p := &batch[i]
			n := a.said[p.key].n
			sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s|%s", p.key, n, p.al.Kind, p.al.RaisedAt.UTC().Format(time.RFC3339Nano)))
			p.al.ID = hex.EncodeToString(sum[:16])
			data, err := json.Marshal(p.al)
			if err != nil {
				errs = append(errs, fmt.Errorf("alert %s %s: %w", p.al.Kind, p.key, err))
				continue
			}
			m := nats.NewMsg(eventlog.AlertsPrefix + strings.ToLower(p.al.Code))
			m.Data = data
			m.Header.Set(jetstream.MsgIDHeader, p.al.ID)
			if acks[i], err = a.js.PublishMsgAsync(m); err != nil {
				errs = append(errs, fmt.Errorf("alert %s %s: %w", p.al.Kind, p.key, err))
			}
		}
		for i, ack := range acks {
			if ack == nil {
				continue
			}
			p := batch[i]
			select {
			case <-ack.Ok():
				a.said[p.key] = said{up: p.al.Kind == "raised", raisedAt: p.al.RaisedAt, n: a.said[p.key].n + 1}
				a.told(p.al)
			case err := <-ack.Err():
				errs = append(errs, fmt.Errorf("alert %s %s: %w", p.al.Kind, p.key, err))
			case <-ctx.Done():
				return errors.Join(append(errs, fmt.Errorf("alerts: %w", ctx.Err()))...)
			}
		}
	}
	return errors.Join(errs...)
}

// told counts one stored alert for the metrics and the sweep's log line.
func (a *Alerter) told(al Alert) {
	if a.cfg.Published != nil {
		a.cfg.Published(al.Kind, al.Code)
	}
	// One line per alert only at debug level: a bulk load of history can
	// raise and clear thousands; each sweep logs its totals at info.
	a.cfg.Log.Debug("alert", "kind", al.Kind, "code", al.Code, "child", al.ChildID)
	if al.Kind == "raised" {
		a.published[0]++
	} else {
		a.published[1]++
	}
}

// Looked is closed once the alerter has been through every child's flags
// (its first sweep, after the read model caught up): from then on each
// sweep costs what changed. A benchmark waits for it before timing reads
// "alone".
func (a *Alerter) Looked() <-chan struct{} { return a.looked }

// Stop ends the sweeps. Calling it again does nothing.
func (a *Alerter) Stop() {
	a.stopOnce.Do(func() { close(a.stop) })
	<-a.done
}
