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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections"
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

// Source is the read model with its position in the log.
type Source interface {
	flags.Source
	LastSeq() uint64
	ChangedSince(seq uint64) []string
}

// Config configures the alerter.
type Config struct {
	Rules flags.Config
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Interval is how often to check whether anything changed (a new event
	// applied, or a deadline passed). Default 2 seconds; a sweep runs only
	// when something could have changed.
	Interval time.Duration
	// FullSweepEvery bounds how long a change the incremental sweeps cannot
	// see (a record merged away) may go unalerted. Default 10 minutes.
	FullSweepEvery time.Duration
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
	src Source
	cfg Config

	mu       sync.Mutex
	said     map[string]said // child|flag key -> the last alert about it
	lastSeq  uint64
	next     time.Time
	swept    bool
	lastFull time.Time
	nextBy   map[string]time.Time // child -> when its flags could next change with no event
	// published counts alerts raised and cleared in the sweep under way,
	// for its one log line.
	published [2]int
	stop      chan struct{}
	done      chan struct{}
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
	if cfg.FullSweepEvery <= 0 {
		cfg.FullSweepEvery = 10 * time.Minute
	}
	if cfg.Ready == nil {
		cfg.Ready = func() bool { return true }
	}
	a := &Alerter{js: js, src: src, cfg: cfg, said: map[string]said{}, nextBy: map[string]time.Time{}, stop: make(chan struct{}), done: make(chan struct{})}
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
	t := time.NewTicker(a.cfg.Interval)
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
		if err := a.SweepIfDue(ctx); err != nil && base.Err() == nil {
			a.cfg.Log.Error("alerts: sweep failed; will retry", "err", err)
		}
		cancel()
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
	}
}

// SweepIfDue re-evaluates what could have changed: the children touched by
// events applied since the last sweep and those whose next deadline has
// come; every FullSweepEvery, everyone.
func (a *Alerter) SweepIfDue(ctx context.Context) error {
	if !a.cfg.Ready() {
		return nil
	}
	a.mu.Lock()
	now := a.cfg.Now()
	full := !a.swept || now.Sub(a.lastFull) >= a.cfg.FullSweepEvery || now.Before(a.lastFull)
	due := a.src.LastSeq() != a.lastSeq || (!a.next.IsZero() && !now.Before(a.next))
	a.mu.Unlock()
	switch {
	case full:
		return a.Sweep(ctx)
	case due:
		return a.sweep(ctx, false)
	}
	return nil
}

// Sweep evaluates every child now and publishes what changed since the
// last alert about each flag.
func (a *Alerter) Sweep(ctx context.Context) error { return a.sweep(ctx, true) }

func (a *Alerter) sweep(ctx context.Context, full bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	seq := a.src.LastSeq()
	var children []string
	if full {
		for _, c := range a.src.Children(projections.ChildFilter{}, nil) {
			children = append(children, c.ID)
		}
	} else {
		children = a.src.ChangedSince(a.lastSeq)
		for id, n := range a.nextBy {
			if !n.IsZero() && !now.Before(n) && !slices.Contains(children, id) {
				children = append(children, id)
			}
		}
	}
	seen := map[string]bool{}
	evaluated := map[string]bool{}
	var errs []error
	for _, id := range children {
		if err := ctx.Err(); err != nil {
			return err // not marked swept: the next sweep starts again
		}
		fs, ok, n := a.evaluate(id, now)
		if !ok {
			continue
		}
		evaluated[id] = true
		if n.IsZero() {
			delete(a.nextBy, id)
		} else {
			a.nextBy[id] = n
		}
		for _, f := range fs {
			key := id + "|" + f.Key
			seen[key] = true
			up := a.said[key].up
			switch {
			case f.Active() && !up:
				errs = append(errs, a.publish(ctx, key, alertOf("raised", id, f, now)))
			case !f.Active() && up:
				errs = append(errs, a.publish(ctx, key, alertOf("cleared", id, f, now)))
			}
		}
	}
	for key, last := range a.said {
		childID, _, _ := strings.Cut(key, "|")
		if last.up && !seen[key] && (full || evaluated[childID]) {
			// The flag no longer exists at all: its evidence was corrected,
			// or the record was merged into another child. (A retraction
			// does not land here: the flag stays on the record, cleared by
			// it, and is alerted as such above.)
			_, flagKey, _ := strings.Cut(key, "|")
			code, _, _ := strings.Cut(flagKey, ":")
			cleared := now
			errs = append(errs, a.publish(ctx, key, Alert{Kind: "cleared", Code: code, ChildID: childID, FlagKey: flagKey, RaisedAt: last.raisedAt, ClearedAt: &cleared,
				ClearReason: "no longer holds on the current record (its evidence was corrected, or the record merged into another child)", EvaluatedAt: now}))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err // not marked swept: the next tick tries again
	}
	if raised, cleared := a.published[0], a.published[1]; raised+cleared > 0 {
		a.cfg.Log.Info("alerts published", "raised", raised, "cleared", cleared, "children", len(children), "full_sweep", full)
	}
	a.published = [2]int{}
	a.swept, a.lastSeq = true, seq
	if full {
		a.lastFull = now
	}
	a.next = time.Time{}
	for _, n := range a.nextBy {
		if a.next.IsZero() || n.Before(a.next) {
			a.next = n
		}
	}
	return nil
}

// evaluate builds the child's history the way every reader does
// (flags.HistoryOf: retracted evidence included, with when it was
// retracted), so an alert tells the same raise and clear, times and reasons,
// as riskFlags and a replay.
func (a *Alerter) evaluate(childID string, now time.Time) ([]flags.Flag, bool, time.Time) {
	h, ok := flags.HistoryOf(a.src, childID, nil)
	if !ok {
		return nil, false, time.Time{}
	}
	fs, next := flags.Evaluate(h, now, a.cfg.Rules)
	return fs, true, next
}

func alertOf(kind, childID string, f flags.Flag, now time.Time) Alert {
	return Alert{Kind: kind, Code: f.Code, Title: f.Title, Severity: f.Severity, ChildID: childID, Reason: f.Reason,
		Evidence: f.Evidence, RaisedAt: f.RaisedAt, ClearedAt: f.ClearedAt, ClearReason: f.ClearReason, FlagKey: f.Key, EvaluatedAt: now}
}

// publish stores one alert with an id derived from the change: the flag,
// how many alerts about it came before, the kind and the raise time. The
// same change published twice (a crash between publishing and remembering,
// or two alerters) is stored once; two changes never share an id.
func (a *Alerter) publish(ctx context.Context, key string, al Alert) error {
	n := a.said[key].n
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%d|%s|%s", key, n, al.Kind, al.RaisedAt.UTC().Format(time.RFC3339Nano)))
	al.ID = hex.EncodeToString(sum[:16])
	data, err := json.Marshal(al)
	if err != nil {
		return err
	}
	m := nats.NewMsg(eventlog.AlertsPrefix + strings.ToLower(al.Code))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, al.ID)
	if _, err := a.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("alert %s %s: %w", al.Kind, key, err)
	}
	a.said[key] = said{up: al.Kind == "raised", raisedAt: al.RaisedAt, n: n + 1}
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
	return nil
}

// Stop ends the sweeps.
func (a *Alerter) Stop() {
	close(a.stop)
	<-a.done
}
