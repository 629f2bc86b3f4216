package eventlog_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// EnsureStreams never creates the event log or the access log empty over
// a history that existed, tells a new store (or one a second process is
// creating at the same moment) from one that lost a stream, and creates the
// access log over a lost one only when told to.
func TestEnsureStreamsNeverRecreatesHistory(t *testing.T) {
	all := []string{eventlog.AuditStream, eventlog.EventsStream, eventlog.QuarantineStream, eventlog.AlertsStream}
	tests := []struct {
		name          string
		records       bool     // the access log holds a record
		remove        []string // streams lost before EnsureStreams runs again
		recreateAudit bool
		wantErr       string // in an ErrHistoryMissing; "" for none
		wantRecreated bool
	}{
		{name: "nothing lost"},
		{name: "a new store", remove: all},
		{name: "a second process creating the streams at the same moment", remove: all[1:]},
		{name: "access log deleted", records: true, remove: []string{eventlog.AuditStream},
			wantErr: "CHRONICLE_AUDIT (the access log) is missing while CHRONICLE_EVENTS holds 0 events, so it was deleted"},
		{name: "access log deleted before anything was read", remove: []string{eventlog.AuditStream},
			wantErr: "CHRONICLE_AUDIT (the access log) is missing"},
		{name: "access log deleted, recreation allowed", records: true, remove: []string{eventlog.AuditStream}, recreateAudit: true, wantRecreated: true},
		{name: "event log deleted", remove: []string{eventlog.EventsStream},
			wantErr: "CHRONICLE_EVENTS (the event log) is missing while CHRONICLE_QUARANTINE and CHRONICLE_ALERTS exist"},
		{name: "event log deleted with those after it", records: true, remove: all[1:],
			wantErr: "CHRONICLE_EVENTS (the event log) is missing while CHRONICLE_AUDIT (1 records) exists"},
		{name: "recreating the access log does not excuse a lost event log", remove: all[1:2], recreateAudit: true,
			wantErr: "CHRONICLE_EVENTS (the event log) is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := jstest.Run(t)
			ctx := context.Background()
			if tt.records {
				m := nats.NewMsg(eventlog.AuditPrefix + "read")
				m.Data = []byte(`{"action":"read"}`)
				if _, err := srv.JS.PublishMsg(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range tt.remove {
				if err := srv.JS.DeleteStream(ctx, name); err != nil {
					t.Fatal(err)
				}
			}
			recreated, err := eventlog.EnsureStreams(ctx, srv.JS, eventlog.StreamConfig{RecreateAudit: tt.recreateAudit})
			if tt.wantErr != "" {
				if !errors.Is(err, eventlog.ErrHistoryMissing) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want ErrHistoryMissing with %q", err, tt.wantErr)
				}
				for _, name := range tt.remove {
					if _, err := srv.JS.Stream(ctx, name); !errors.Is(err, jetstream.ErrStreamNotFound) {
						t.Errorf("%s was created after all: %v", name, err)
					}
				}
				return
			}
			if err != nil || recreated != tt.wantRecreated {
				t.Fatalf("EnsureStreams: recreated %v, %v; want %v", recreated, err, tt.wantRecreated)
			}
			names := srv.JS.StreamNames(ctx)
			var got []string
			for n := range names.Name() {
				got = append(got, n)
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(all))
			if !slices.Equal(got, want) {
				t.Fatalf("streams %v, want %v", got, want)
			}
		})
	}
}

// An access log created later than the event log replaced one that was
// lost, unless it holds the record that says it was accepted.
func TestEnsureStreamsNoticesAReplacedAccessLog(t *testing.T) {
	srv := jstest.Run(t)
	ctx := context.Background()
	s, err := srv.JS.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		t.Fatal(err)
	}
	created := s.CachedInfo().Created
	jstest.Eventually(t, 10*eventlog.CreatedTogether, "time to pass since the streams were created", func() bool {
		return time.Since(created) > eventlog.CreatedTogether
	})
	audit := eventlog.Streams(eventlog.StreamConfig{})[0]
	if err := srv.JS.DeleteStream(ctx, audit.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.JS.CreateStream(ctx, audit); err != nil {
		t.Fatal(err)
	}
	if _, err := eventlog.EnsureStreams(ctx, srv.JS, eventlog.StreamConfig{}); !errors.Is(err, eventlog.ErrHistoryMissing) || !strings.Contains(err.Error(), "replaced one that was lost") {
		t.Fatalf("a replaced access log: %v", err)
	}
	recreated, err := eventlog.EnsureStreams(ctx, srv.JS, eventlog.StreamConfig{RecreateAudit: true})
	if err != nil || !recreated {
		t.Fatalf("with RecreateAudit: %v %v", recreated, err)
	}
	m := nats.NewMsg(eventlog.AuditPrefix + eventlog.AuditRecreated)
	m.Data = []byte(`{"action":"log_recreated"}`)
	if _, err := srv.JS.PublishMsg(ctx, m); err != nil {
		t.Fatal(err)
	}
	if recreated, err := eventlog.EnsureStreams(ctx, srv.JS, eventlog.StreamConfig{}); err != nil || recreated {
		t.Fatalf("once the recreation is on record: %v %v", recreated, err)
	}
}
