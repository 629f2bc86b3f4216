package quarantine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
	"github.com/chronicle-hub/chronicle/services/quarantine"
)

func validEvent(t *testing.T, typ events.Type, ref string) (*events.Event, []byte) {
	t.Helper()
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	e.SourceRef = ref
	e.ID = events.DeriveID(e)
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return e, data
}

// An agency publishing straight to NATS bypasses ingest validation. Invalid
// messages are copied to the quarantine with the reason and the original
// bytes; valid ones around them are not; nothing stops.
func TestGarbageStraightToTheSubjectIsQuarantined(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	_, good1 := validEvent(t, "contact.received", "good-1")
	_, good2 := validEvent(t, "contact.received", "good-2")
	_, good3 := validEvent(t, "contact.received", "good-3")
	spoof, _ := validEvent(t, "police.notification", "spoof")
	spoofData, _ := events.Encode(spoof) // a police event published under the health token
	// A hostile event whose bad values are huge: every problem quoting its
	// value in full would make a reason bigger than the quarantine stream
	// takes, and the record could never be stored.
	huge := strings.Repeat("\x7f", 20000)
	hostile := []byte(`{"id":"` + huge + `","type":"health.concern","agency":"` + huge + `","sensitivity":"` + huge + `"}`)

	sends := []struct {
		name    string
		subject string
		data    []byte
		bad     bool
		reason  string
	}{
		{"valid before", events.SubjectFor("social_care", "contact.received"), good1, false, ""},
		{"not json", "chronicle.events.police.police.notification", []byte("\x00\xffgarbage{"), true, "malformed JSON"},
		{"empty", "chronicle.events.health.health.concern", []byte{}, true, "empty or truncated JSON"},
		{"json but invalid", "chronicle.events.health.health.concern", []byte(`{"type":"health.concern","agency":"health"}`), true, "id: is required"},
		{"spoofed agency", events.SubjectFor("health", "police.notification"), spoofData, true, `agency: "police" does not match the subject's agency "health"`},
		{"not an event subject shape", "chronicle.events.nosuchagency", []byte(`{}`), true, "is not chronicle.events.<agency>.<type>"},
		{"huge hostile values", "chronicle.events.health.health.concern", hostile, true, "(20000 characters)"},
		// A name given twice: encoding/json keeps the last, so the agency
		// check would see one value and the read model store the other.
		{"agency twice", events.SubjectFor("social_care", "contact.received"), []byte(strings.Replace(string(good3), `"agency":"social_care"`, `"agency":"social_care","agency":"police"`, 1)), true, "agency: appears more than once"},
		{"valid after", events.SubjectFor("social_care", "contact.received"), good2, false, ""},
	}
	for _, s := range sends {
		if _, err := srv.JS.Publish(ctx, s.subject, s.data); err != nil {
			t.Fatalf("%s: raw publish: %v", s.name, err)
		}
	}
	checker, err := quarantine.Start(ctx, srv.JS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Stop()

	wantBad := 0
	for _, s := range sends {
		if s.bad {
			wantBad++
		}
	}
	var recs []quarantine.Record
	jstest.Eventually(t, 10*time.Second, "quarantine records", func() bool {
		recs, err = quarantine.List(ctx, srv.JS, 1, 100)
		return err == nil && len(recs) == wantBad
	})
	i := 0
	for seq, s := range sends {
		if !s.bad {
			continue
		}
		r := recs[i]
		i++
		if r.OriginalSequence != uint64(seq+1) || r.OriginalSubject != s.subject {
			t.Errorf("%s: record points at %s #%d, want %s #%d", s.name, r.OriginalSubject, r.OriginalSequence, s.subject, seq+1)
		}
		if string(r.Data) != string(s.data) {
			t.Errorf("%s: original bytes not kept: %q", s.name, r.Data)
		}
		if !strings.Contains(r.Reason, s.reason) {
			t.Errorf("%s: reason %q does not contain %q", s.name, r.Reason, s.reason)
		}
		if r.ReceivedAt.IsZero() {
			t.Errorf("%s: no receipt time", s.name)
		}
	}
	// The durable consumer got through everything, so it did not stop at
	// the first bad message.
	jstest.Eventually(t, 5*time.Second, "consumer to ack all", func() bool {
		c, err := srv.JS.Consumer(ctx, eventlog.EventsStream, quarantine.ConsumerName)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.AckFloor.Stream == uint64(len(sends)) && info.NumAckPending == 0
	})
}

// Checking the same message twice (a redelivery, or two replicas) stores
// one quarantine record, and a restarted checker resumes where it was.
func TestQuarantineIsIdempotentAndResumes(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	problem := &events.FieldError{Field: "id", Problem: "is required"}
	for range 2 {
		if err := quarantine.Put(ctx, srv.JS, "chronicle.events.police.x", 7, time.Now(), []byte("{}"), problem); err != nil {
			t.Fatal(err)
		}
	}
	info, err := mustStream(t, srv.JS, eventlog.QuarantineStream).Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("quarantine holds %d records (err %v), want 1", info.State.Msgs, err)
	}

	if _, err := srv.JS.Publish(ctx, "chronicle.events.police.police.incident", []byte("first")); err != nil {
		t.Fatal(err)
	}
	c1, err := quarantine.Start(ctx, srv.JS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	waitRecords(t, srv.JS, 2)
	c1.Stop()
	if _, err := srv.JS.Publish(ctx, "chronicle.events.police.police.incident", []byte("second")); err != nil {
		t.Fatal(err)
	}
	c2, err := quarantine.Start(ctx, srv.JS, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Stop()
	recs := waitRecords(t, srv.JS, 3)
	if string(recs[2].Data) != "second" {
		t.Fatalf("after restart got %q", recs[2].Data)
	}
}

func waitRecords(t *testing.T, js jetstream.JetStream, n int) []quarantine.Record {
	t.Helper()
	var recs []quarantine.Record
	jstest.Eventually(t, 10*time.Second, "quarantine records", func() bool {
		var err error
		recs, err = quarantine.List(context.Background(), js, 1, 100)
		return err == nil && len(recs) == n
	})
	return recs
}

func mustStream(t *testing.T, js jetstream.JetStream, name string) jetstream.Stream {
	t.Helper()
	s, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// However many problems there are, the reason fits its cap and says how many
// were left out.
func TestReasonIsCapped(t *testing.T) {
	var errs []error
	for i := range 2000 {
		errs = append(errs, &events.FieldError{Field: fmt.Sprintf("payload.items[%d]", i), Problem: "must be a JSON string, not number"})
	}
	got := quarantine.Reason(errors.Join(errs...))
	if len(got) > quarantine.MaxReason {
		t.Fatalf("reason is %d bytes, cap %d", len(got), quarantine.MaxReason)
	}
	if !strings.HasPrefix(got, "payload.items[0]: ") || !strings.Contains(got, "more problems") {
		t.Fatalf("reason does not start with the first problem and count the rest: %.200q", got)
	}
	one := quarantine.Reason(&events.FieldError{Field: "summary", Problem: strings.Repeat("é", quarantine.MaxReason)})
	if len(one) > quarantine.MaxReason+len("…") || !utf8.ValidString(one) {
		t.Fatalf("one long problem: %d bytes, valid UTF-8 %v", len(one), utf8.ValidString(one))
	}
}

// Reason stays on one line whatever the problem text holds.
func TestReasonIsOneHeaderSafeLine(t *testing.T) {
	err := &events.FieldError{Field: "summary", Problem: "bad\r\nInjected-Header: x"}
	got := quarantine.Reason(err)
	if strings.ContainsAny(got, "\r\n") {
		t.Fatalf("reason has a line break: %q", got)
	}
	b, _ := json.Marshal(got)
	if !strings.Contains(string(b), "Injected-Header") {
		t.Fatal("reason lost its text")
	}
}
