// Package quarantine keeps the events that reached the log but could not be
// applied to the read model, with the reason and the original bytes, in the
// quarantine stream. Agencies that publish straight to NATS bypass ingest
// validation; the projector, which validates every event it applies, puts
// their mistakes here (see runner.Config.Reject) without stopping anything.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Headers on a quarantined message. The data is the original bytes.
const (
	HeaderReason          = "Chronicle-Quarantine-Reason"
	HeaderOriginalSubject = "Chronicle-Original-Subject"
	HeaderOriginalSeq     = "Chronicle-Original-Sequence"
	HeaderOriginalTime    = "Chronicle-Original-Time"
)

// Put stores one quarantine record. Each original event has a subject of
// its own (chronicle.quarantine.<agency>.<sequence>) and is stored only
// while that subject is empty, so putting the same event again (on a
// redelivery, on another replica, or on a replay long after the duplicate
// window) stores nothing more.
func Put(ctx context.Context, js jetstream.JetStream, subject string, seq uint64, at time.Time, data []byte, problem error) error {
	agency, _, ok := events.SplitSubject(subject)
	if !ok || !events.Agencies.Has(agency) {
		agency = "unknown"
	}
	m := nats.NewMsg(eventlog.QuarantinePrefix + agency + "." + strconv.FormatUint(seq, 10))
	m.Data = data
	m.Header.Set(HeaderReason, Reason(problem))
	m.Header.Set(HeaderOriginalSubject, subject)
	m.Header.Set(HeaderOriginalSeq, strconv.FormatUint(seq, 10))
	m.Header.Set(HeaderOriginalTime, at.UTC().Format(time.RFC3339Nano))
	_, err := js.PublishMsg(ctx, m, jetstream.WithExpectLastSequencePerSubject(0))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return nil // already quarantined
	}
	if err != nil {
		return fmt.Errorf("quarantine event %d: %w", seq, err)
	}
	return nil
}

// MaxReason caps the reason header, in bytes. Problems quote at most a short
// prefix of an offending value, but an event can have hundreds of problems;
// the record must still fit the quarantine stream beside the original bytes,
// or it could never be stored and the checker would retry it for ever.
const MaxReason = 8 << 10

// Reason renders every problem on one header-safe line of at most MaxReason
// bytes; when they do not all fit it ends by saying how many were left out.
func Reason(err error) string {
	probs := events.Problems(err)
	if len(probs) == 0 {
		return truncate(oneLine(err.Error()), MaxReason)
	}
	const room = 32 // for "; and N more problems"
	var b strings.Builder
	for i, p := range probs {
		part := oneLine(p.Error())
		if i > 0 {
			part = "; " + part
		}
		if b.Len()+len(part) > MaxReason-room {
			if i == 0 { // the first problem alone is too long: cut it
				b.WriteString(truncate(part, MaxReason-room))
				i++
			}
			if left := len(probs) - i; left > 0 {
				fmt.Fprintf(&b, "; and %d more problems", left)
			}
			break
		}
		b.WriteString(part)
	}
	return b.String()
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Record is one quarantined event as read back.
type Record struct {
	Sequence         uint64    `json:"sequence"`
	OriginalSubject  string    `json:"original_subject"`
	OriginalSequence uint64    `json:"original_sequence"`
	ReceivedAt       time.Time `json:"received_at"`
	Reason           string    `json:"reason"`
	Data             []byte    `json:"data"`
}

// List returns up to limit quarantine records starting at stream sequence
// from (1 for the beginning).
func List(ctx context.Context, js jetstream.JetStream, from uint64, limit int) ([]Record, error) {
	s, err := js.Stream(ctx, eventlog.QuarantineStream)
	if err != nil {
		return nil, fmt.Errorf("quarantine list: %w", err)
	}
	var out []Record
	for seq := max(from, 1); len(out) < limit; seq++ {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(eventlog.QuarantinePrefix+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("quarantine list at %d: %w", seq, err)
		}
		orig, _ := strconv.ParseUint(m.Header.Get(HeaderOriginalSeq), 10, 64)
		at, _ := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderOriginalTime))
		out = append(out, Record{
			Sequence: m.Sequence, OriginalSubject: m.Header.Get(HeaderOriginalSubject), OriginalSequence: orig,
			ReceivedAt: at, Reason: m.Header.Get(HeaderReason), Data: m.Data,
		})
		seq = m.Sequence
	}
	return out, nil
}
