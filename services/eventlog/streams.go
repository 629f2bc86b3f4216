// Package eventlog is Chronicle's source of truth on JetStream: the stream
// definitions and the one way events are published into them.
package eventlog

import (
	"context"
	"fmt"
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
	// QuarantinePrefix starts quarantine subjects: chronicle.quarantine.<agency>.
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

// Streams returns the configurations of every stream Chronicle uses.
func Streams(c StreamConfig) []jetstream.StreamConfig {
	c = c.withDefaults()
	return []jetstream.StreamConfig{
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
			Name:        AuditStream,
			Description: "Chronicle: access log of every read and change of a child's record",
			Subjects:    []string{AuditPrefix + ">"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			Duplicates:  c.DuplicateWindow,
			Replicas:    c.Replicas,
			DenyDelete:  true,
			DenyPurge:   true,
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

// EnsureStreams creates Chronicle's streams, or updates them to the current
// configuration; running it again changes nothing.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c StreamConfig) error {
	for _, sc := range Streams(c) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}
