package quarantine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/runner"
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
	r := startProjector(t, srv.JS, "garbage")
	defer r.Stop()
	wantBad := 0
	for _, s := range sends {
		if s.bad {
			wantBad++
		}
	}
	recs := waitRecords(t, srv.JS, wantBad)
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
	// The projector got through everything, so it did not stop at the
	// first bad message, and applied the valid ones around them.
	if err := r.WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if got := r.Projection().(*projections.Model).Stats().Events; got != len(sends)-wantBad {
		t.Fatalf("the model holds %d events, want the %d valid ones", got, len(sends)-wantBad)
	}
}

// startProjector runs a projector that quarantines what it cannot apply,
// as serve's does.
func startProjector(t *testing.T, js jetstream.JetStream, name string) *runner.Runner {
	t.Helper()
	r, err := runner.Start(context.Background(), js, runner.Config{
		Stream: eventlog.EventsStream, Name: name,
		Reject: func(ctx context.Context, subject string, seq uint64, at time.Time, data []byte, reason error) error {
			return quarantine.Put(ctx, js, subject, seq, at, data, reason)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Quarantining the same event twice (a redelivery, a second replica, a
// replay long after the duplicate window) stores one record, and a
// projector started again from nothing quarantines only what is new.
func TestQuarantineStoresEachEventOnce(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	problem := &events.FieldError{Field: "id", Problem: "is required"}
	put := func() {
		t.Helper()
		if err := quarantine.Put(ctx, srv.JS, "chronicle.events.police.x", 7, time.Now(), []byte("{}"), problem); err != nil {
			t.Fatal(err)
		}
	}
	put()
	put()
	// Past the stream's duplicate window too: the record's own subject,
	// not a message id, is what keeps it once.
	q := mustStream(t, srv.JS, eventlog.QuarantineStream)
	cfg := q.CachedInfo().Config
	cfg.Duplicates = 100 * time.Millisecond
	if _, err := srv.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the window pass
	put()
	info, err := q.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("quarantine holds %d records (err %v), want 1", info.State.Msgs, err)
	}

	if _, err := srv.JS.Publish(ctx, "chronicle.events.police.police.incident", []byte("first")); err != nil {
		t.Fatal(err)
	}
	r1 := startProjector(t, srv.JS, "once")
	waitRecords(t, srv.JS, 2)
	r1.Stop()
	if _, err := srv.JS.Publish(ctx, "chronicle.events.police.police.incident", []byte("second")); err != nil {
		t.Fatal(err)
	}
	r2 := startProjector(t, srv.JS, "once") // no snapshot: replays from the start
	defer r2.Stop()
	if err := r2.WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
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
