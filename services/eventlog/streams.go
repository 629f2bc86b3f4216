// Package eventlog is Chronicle's source of truth on JetStream: the stream
// definitions and the one way events are published into them.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
)

// Stream names.
const (
	// EventsStream is the immutable log of agency events.
	EventsStream = "CHRONICLE_EVENTS"
	// QuarantineStream keeps events that reached the log without passing
	// validation (published straight to NATS), with the reason.
	QuarantineStream = "CHRONICLE_QUARANTINE"
	// QuarantinePrefix starts quarantine subjects: chronicle.quarantine.<agency>.<original sequence>.
	QuarantinePrefix = "chronicle.quarantine."
	// AlertsStream holds risk flag alerts: chronicle.alerts.<code>.
	AlertsStream = "CHRONICLE_ALERTS"
	// AlertsPrefix starts alert subjects.
	AlertsPrefix = "chronicle.alerts."
	// AuditStream is the access log: every read and change of a child's
	// record. Nothing in Chronicle can delete or purge it.
	AuditStream = "CHRONICLE_AUDIT"
	// AuditPrefix starts audit subjects: chronicle.audit.<action>.
	AuditPrefix = "chronicle.audit."
	// AmendmentCheckSubject is where the hub answers whether a correction
	// or retraction applies to the log as it has it, for tools without a
	// read model (chronicle import). Only the hub's own account reaches it.
	AmendmentCheckSubject = "chronicle.hub.amendments.check"
)

// StreamConfig holds the settings an operator may change. Zero values take
// the defaults.
type StreamConfig struct {
	// Replicas is the JetStream replication factor: 1 on one machine, 3 on a
	// three-node cluster.
	Replicas int
	// DuplicateWindow is how long a Nats-Msg-Id is remembered for
	// deduplication. Re-sends inside it are acknowledged as duplicates and
	// not stored; the projections are idempotent by event id beyond it.
	DuplicateWindow time.Duration
	// RecreateAudit lets EnsureStreams go on with an empty access log when
	// the one the store had was lost (deleted, or replaced by an empty one):
	// the operator's deliberate decision once the loss has been reported
	// (serve --recreate-audit-stream). Without it the loss stops start-up.
	RecreateAudit bool
}

// DefaultDuplicateWindow covers a day of retries and re-imports while
// keeping the server's id index to a day of traffic.
const DefaultDuplicateWindow = 24 * time.Hour

// MaxMessageSize is the events stream's limit: twice the validated event
// cap, so that an oversized event sent straight to NATS by an agency still
// lands (and is quarantined with the reason) up to this size, and beyond it
// is refused by the server.
const MaxMessageSize = 2 * events.MaxEventSize

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	return c
}

// Streams returns the configurations of every stream Chronicle uses, in the
// order EnsureStreams creates them. The access log comes before the event
// log, so that an event log without an access log can only mean that the
// access log was deleted, however many processes started at once.
func Streams(c StreamConfig) []jetstream.StreamConfig {
	c = c.withDefaults()
	return []jetstream.StreamConfig{
		{
			Name:        AuditStream,
			Description: "Chronicle: access log of every read and change of a child's record",
			Subjects:    []string{AuditPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  c.DuplicateWindow,
			Replicas:    c.Replicas,
			DenyDelete:  true,
			DenyPurge:   true,
			// One request's access records are stored together or not at
			// all (see audit.Log.Record).
			AllowAtomicPublish: true,
		},
		{
			Name:        EventsStream,
			Description: "Chronicle: immutable log of multi-agency safeguarding events",
			Subjects:    []string{events.SubjectPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			Duplicates:  c.DuplicateWindow,
			MaxMsgSize:  MaxMessageSize,
			Replicas:    c.Replicas,
			DenyDelete:  true,
			DenyPurge:   true,
			// Imports send events in atomic batches: one sync to disk per
			// batch under SyncAlways (see Batch).
			AllowAtomicPublish: true,
		},
		{
			Name:        QuarantineStream,
			Description: "Chronicle: events that failed validation after reaching the log, with the reason",
			Subjects:    []string{QuarantinePrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  c.DuplicateWindow,
			MaxMsgSize:  2 * MaxMessageSize,
			Replicas:    c.Replicas,
			DenyDelete:  true,
		},
		{
			Name:        AlertsStream,
			Description: "Chronicle: risk flags raised and cleared, once per change",
			Subjects:    []string{AlertsPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  c.DuplicateWindow,
			Replicas:    c.Replicas,
			DenyDelete:  true,
		},
	}
}

// ErrHistoryMissing is returned by EnsureStreams when a stream that holds
// history (the event log or the access log) is missing from a store where
// Chronicle has run before, or has been replaced by an empty one. Creating
// or accepting it would hide the loss.
var ErrHistoryMissing = errors.New("eventlog: a stream holding history is missing")

// AuditRecreated is the action of the access record (on subject
// chronicle.audit.log_recreated) that a Chronicle started with
// StreamConfig.RecreateAudit writes into an access log it created or
// accepted over one that was lost. Its presence is how EnsureStreams knows
// later that an access log younger than the event log was accepted
// deliberately.
const AuditRecreated = "log_recreated"

// CreatedTogether bounds how much later than the event log the first
// access log can have been created. Chronicle creates the access log first;
// the bound allows for the clocks of a cluster's nodes and for stores made
// before that order, when it came a few milliseconds after the event log.
const CreatedTogether = 2 * time.Second

// EnsureStreams creates Chronicle's streams, or updates them to the current
// configuration; running it again changes nothing. It never creates or
// accepts an access log empty over a history that existed: when the event
// log exists and the access log is missing, or was created later than the
// event log with no record that this was accepted (AuditRecreated), it
// returns ErrHistoryMissing, unless StreamConfig.RecreateAudit allows it; it
// then reports true, and the caller must write the AuditRecreated record.
// A missing event log while the access log holds records or the other
// streams exist is ErrHistoryMissing too, with no flag to accept it.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c StreamConfig) (auditRecreated bool, err error) {
	all := Streams(c)
	found := map[string]jetstream.Stream{}
	for _, sc := range all {
		s, err := js.Stream(ctx, sc.Name)
		switch {
		case errors.Is(err, jetstream.ErrStreamNotFound):
		case err != nil:
			return false, fmt.Errorf("look up stream %s: %w", sc.Name, err)
		default:
			found[sc.Name] = s
		}
	}
	lost, err := auditLost(ctx, found)
	if err != nil {
		return false, err
	}
	if lost != "" && !c.RecreateAudit {
		return false, fmt.Errorf("%w: %s; going on would hide that. Restore it from a backup, or start once with "+
			"--recreate-audit-stream to go on with an empty one: a record in it then says so", ErrHistoryMissing, lost)
	}
	if err := eventsLost(found); err != nil {
		return false, err
	}
	for _, sc := range all {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return false, fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return lost != "", nil
}

// auditLost says how the access log was lost, or "" when it was not (see
// Streams for why the order of creation settles it).
func auditLost(ctx context.Context, found map[string]jetstream.Stream) (string, error) {
	events, audit := found[EventsStream], found[AuditStream]
	if events == nil {
		return "", nil
	}
	ev := events.CachedInfo()
	if audit == nil {
		return fmt.Sprintf("%s (the access log) is missing while %s holds %d events, so it was deleted", AuditStream, EventsStream, ev.State.Msgs), nil
	}
	au := audit.CachedInfo()
	later := au.Created.Sub(ev.Created)
	if later <= CreatedTogether {
		return "", nil
	}
	_, err := audit.GetLastMsgForSubject(ctx, AuditPrefix+AuditRecreated)
	switch {
	case err == nil:
		return "", nil
	case !errors.Is(err, jetstream.ErrMsgNotFound):
		return "", fmt.Errorf("look for %s in %s: %w", AuditRecreated, AuditStream, err)
	}
	return fmt.Sprintf("%s (the access log) was created %s, %s after %s, and holds no record that it was recreated, so it replaced one that was lost",
		AuditStream, au.Created.UTC().Format(time.RFC3339), later.Round(time.Second), EventsStream), nil
}

// eventsLost refuses to create the event log when the access log holds
// records or the streams created after it exist: it was deleted.
func eventsLost(found map[string]jetstream.Stream) error {
	if found[EventsStream] != nil {
		return nil
	}
	var others []string
	if audit := found[AuditStream]; audit != nil && audit.CachedInfo().State.LastSeq > 0 {
		others = append(others, fmt.Sprintf("%s (%d records)", AuditStream, audit.CachedInfo().State.Msgs))
	}
	for _, name := range []string{QuarantineStream, AlertsStream} {
		if found[name] != nil {
			others = append(others, name)
		}
	}
	if len(others) == 0 {
		return nil
	}
	verb := "exists"
	if len(others) > 1 {
		verb = "exist"
	}
	return fmt.Errorf("%w: %s (the event log) is missing while %s %s, so it was deleted; "+
		"restore it from a backup (nats stream restore), or delete the other streams too to start a new hub",
		ErrHistoryMissing, EventsStream, strings.Join(others, " and "), verb)
}
