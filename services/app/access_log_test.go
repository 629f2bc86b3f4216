package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// No anonymous client of the embedded server gets anything, in the default
// configuration as with agency accounts: it cannot connect, so it cannot
// send $JS.API.STREAM.DELETE.CHRONICLE_AUDIT, which erased the access log
// when the default server let anyone on the machine in. Nor can a client
// with a key the server does not know.
func TestAnonymousNATSClientGetsNothing(t *testing.T) {
	tests := []struct {
		name  string
		start func(*testing.T) *app.App
	}{
		{"default configuration", func(t *testing.T) *app.App { return startWith(t, app.Config{}) }},
		{"with --nats-users", startWithAgencies},
	}
	stranger, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	strangerKey, _ := stranger.PublicKey()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.start(t)
			if code, resp := readChild(t, a); code != 200 {
				t.Fatalf("GraphQL read: %d %s", code, resp)
			}
			records := streamMsgs(t, a, eventlog.AuditStream)
			if records == 0 {
				t.Fatal("the read left no access record")
			}
			for who, opts := range map[string][]nats.Option{
				"anonymous":               nil,
				"an unknown key":          {nats.Nkey(strangerKey, stranger.Sign)},
				"a guessed user":          {nats.UserInfo("chronicle", "chronicle")},
				"the old in-process user": {nats.UserInfo("chronicle-internal", "")},
			} {
				nc, err := nats.Connect(a.NATSClientURL(), append(opts, nats.Timeout(5*time.Second))...)
				if err == nil {
					m, rerr := nc.Request("$JS.API.STREAM.DELETE."+eventlog.AuditStream, nil, 2*time.Second)
					nc.Close()
					if rerr == nil {
						t.Errorf("%s connected and asked to delete the access log: %s", who, m.Data)
					} else {
						t.Errorf("%s connected (the request failed: %v)", who, rerr)
					}
					continue
				}
				if !errors.Is(err, nats.ErrAuthorization) {
					t.Errorf("%s: %v, want an authorization violation", who, err)
				}
			}
			if n := streamMsgs(t, a, eventlog.AuditStream); n != records {
				t.Fatalf("the access log holds %d records, had %d", n, records)
			}
			waitReadyz(t, a, 200, "ready")
		})
	}
}

// An access log lost while Chronicle runs (deleted, or deleted and created
// again empty, by someone holding the hub's own credentials, which no
// anonymous client has) makes /readyz 503 and reads fail closed; a restart
// refuses to go on with an empty one over the history that existed, naming
// the flag that does; started once with the flag, the log then holds a
// record saying it was recreated, and later starts need no flag. Before,
// /readyz stayed 200 and a restart brought the stream back empty,
// unnoticed.
func TestLostAccessLogIsNeverRecreatedEmpty(t *testing.T) {
	tests := []struct {
		name   string
		lose   func(context.Context, jetstream.JetStream) error
		status string
	}{
		{"deleted", func(ctx context.Context, js jetstream.JetStream) error {
			return js.DeleteStream(ctx, eventlog.AuditStream)
		}, "missing"},
		{"replaced by an empty one", func(ctx context.Context, js jetstream.JetStream) error {
			s, err := js.Stream(ctx, eventlog.AuditStream)
			if err != nil {
				return err
			}
			if err := js.DeleteStream(ctx, eventlog.AuditStream); err != nil {
				return err
			}
			_, err = js.CreateStream(ctx, s.CachedInfo().Config)
			return err
		}, "replaced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			a := startWith(t, app.Config{DataDir: dir})
			publishExample(t, a, "before")
			if err := a.Projector().WaitForLatest(ctx); err != nil {
				t.Fatal(err)
			}
			if code, resp := readChild(t, a); code != 200 {
				t.Fatalf("GraphQL read: %d %s", code, resp)
			}
			// The first access log was created with the event log; the
			// replacement comes later than that, by more than the allowance
			// for clocks.
			if tt.status == "replaced" {
				jstest.Eventually(t, 10*eventlog.CreatedTogether, "time to pass since the streams were created", func() bool {
					return time.Since(streamCreated(t, a, eventlog.EventsStream)) > eventlog.CreatedTogether
				})
			}
			if err := tt.lose(ctx, a.JetStream()); err != nil {
				t.Fatal(err)
			}
			waitReadyz(t, a, 503, "access log unavailable")
			if code, resp := readChild(t, a); tt.status == "missing" && (code != 503 || !strings.Contains(resp, "AUDIT_UNAVAILABLE")) {
				t.Fatalf("a read with the access log gone: %d %s", code, resp)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}

			restart := func(recreate bool) (*app.App, error) {
				b := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true,
					Streams: eventlog.StreamConfig{RecreateAudit: recreate}})
				err := b.Run(ctx)
				if err == nil {
					t.Cleanup(func() { b.Close() })
				}
				return b, err
			}
			_, err := restart(false)
			if !errors.Is(err, eventlog.ErrHistoryMissing) || !strings.Contains(err.Error(), eventlog.AuditStream) ||
				!strings.Contains(err.Error(), tt.status) || !strings.Contains(err.Error(), "--recreate-audit-stream") {
				t.Fatalf("restart over a lost access log: %v; want ErrHistoryMissing naming %s, %q and --recreate-audit-stream", err, eventlog.AuditStream, tt.status)
			}

			b, err := restart(true)
			if err != nil {
				t.Fatalf("restart with --recreate-audit-stream: %v", err)
			}
			if recs := accessRecords(t, b); len(recs) == 0 || recs[len(recs)-1].Action != eventlog.AuditRecreated || recs[len(recs)-1].Role != "system" {
				t.Fatalf("the access log holds %+v, want a last record saying it was recreated", recs)
			}
			waitReadyz(t, b, 200, "ready")
			if code, resp := readChild(t, b); code != 200 {
				t.Fatalf("GraphQL read after recreation: %d %s", code, resp)
			}
			held := accessRecords(t, b)
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}

			c, err := restart(false)
			if err != nil {
				t.Fatalf("a later restart without the flag: %v", err)
			}
			if now := accessRecords(t, c); len(now) != len(held) || len(held) < 2 {
				t.Fatalf("the access log holds %d records after restart, had %d", len(now), len(held))
			}
		})
	}
}

// accessRecords reads the access log's stream, oldest first.
func accessRecords(t *testing.T, a *app.App) []struct{ Action, Role string } {
	t.Helper()
	ctx := context.Background()
	s, err := a.JetStream().Stream(ctx, eventlog.AuditStream)
	if err != nil {
		t.Fatal(err)
	}
	st := s.CachedInfo().State
	var out []struct{ Action, Role string }
	for seq := st.FirstSeq; st.Msgs > 0 && seq <= st.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Action, Role string }
		if err := json.Unmarshal(m.Data, &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

func streamCreated(t *testing.T, a *app.App, name string) time.Time {
	t.Helper()
	s, err := a.JetStream().Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().Created
}

// /readyz is 503 while the access log's stream cannot keep what is written
// to it, whatever made it so, and says why.
func TestReadyzWhenAccessLogCannotKeepRecords(t *testing.T) {
	tests := []struct {
		name   string
		change func(*jetstream.StreamConfig)
		reason string
	}{
		{"sealed", func(c *jetstream.StreamConfig) { c.Sealed = true }, "sealed"},
		{"takes other subjects", func(c *jetstream.StreamConfig) { c.Subjects = []string{"elsewhere.>"} }, "no longer takes"},
		{"records expire", func(c *jetstream.StreamConfig) { c.MaxAge = 30 * 24 * time.Hour }, "would discard records"},
		{"records limited", func(c *jetstream.StreamConfig) { c.MaxMsgs = 1000 }, "would discard records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startWith(t, app.Config{})
			waitReadyz(t, a, 200, "ready")
			ctx := context.Background()
			s, err := a.JetStream().Stream(ctx, eventlog.AuditStream)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			tt.change(&cfg)
			if _, err := a.JetStream().UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("update the access log stream: %v", err)
			}
			waitReadyz(t, a, 503, "access log unavailable")
			if _, body := readyz(t, a); !strings.Contains(body["reason"].(string), tt.reason) {
				t.Fatalf("reason %q lacks %q", body["reason"], tt.reason)
			}
		})
	}
}

// An access log that refuses records once full (a message or byte limit
// with discard new: nothing it holds is deleted) fails reads closed when
// it is full: the read that does not fit is refused 503 AUDIT_UNAVAILABLE
// at once, /readyz is 503 saying it is full (and nothing about a child)
// from the moment it is, and both recover when the operator raises the
// limit. Before, any limit read as "would discard records", full or not.
func TestFullAccessLogFailsReadsClosedUntilItHasRoom(t *testing.T) {
	tests := []struct {
		name string
		// limit leaves room for room more records, when the log holds
		// msgs records of bytes in all.
		limit func(c *jetstream.StreamConfig, st jetstream.StreamState, room uint64)
		// oneMore: the limit leaves room for one read before it is full.
		oneMore bool
	}{
		{"message limit", func(c *jetstream.StreamConfig, st jetstream.StreamState, room uint64) {
			c.MaxMsgs = int64(st.Msgs + room)
		}, true},
		{"byte limit", func(c *jetstream.StreamConfig, st jetstream.StreamState, _ uint64) {
			c.MaxBytes = int64(st.Bytes) + 100 // less than one record
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := startWith(t, app.Config{})
			ctx := context.Background()
			perRead := recordsPerRead(t, a)

			s, err := a.JetStream().Stream(ctx, eventlog.AuditStream)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			cfg.Discard = jetstream.DiscardNew
			tt.limit(&cfg, s.CachedInfo().State, perRead)
			if _, err := a.JetStream().UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("limit the access log: %v", err)
			}
			if tt.oneMore {
				waitReadyz(t, a, 200, "ready") // room for one more read
				if code, resp := readChild(t, a); code != 200 {
					t.Fatalf("the read that fills the access log: %d %s", code, resp)
				}
			}
			full := streamMsgs(t, a, eventlog.AuditStream)
			waitReadyz(t, a, 503, "access log unavailable")
			_, body := readyz(t, a)
			if reason, _ := body["reason"].(string); !strings.Contains(reason, "full") || strings.Contains(reason, "9990000018") {
				t.Fatalf("/readyz reason %q: want it to say full, and nothing about a child", reason)
			}
			if code, resp := readChild(t, a); code != 503 || !strings.Contains(resp, "AUDIT_UNAVAILABLE") || strings.Contains(resp, "9990000018") {
				t.Fatalf("a read with the access log full: %d %s", code, resp)
			}
			if n := streamMsgs(t, a, eventlog.AuditStream); n != full {
				t.Fatalf("the full access log went from %d to %d records", full, n)
			}

			cfg.MaxMsgs, cfg.MaxBytes = -1, -1
			if _, err := a.JetStream().UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("lift the access log's limit: %v", err)
			}
			waitReadyz(t, a, 200, "ready")
			if code, resp := readChild(t, a); code != 200 {
				t.Fatalf("a read once the access log has room: %d %s", code, resp)
			}
			if n := streamMsgs(t, a, eventlog.AuditStream); n != full+perRead {
				t.Fatalf("after the read the access log holds %d records, want %d", n, full+perRead)
			}
		})
	}
}

// recordsPerRead publishes the example child's event, reads the child
// once (readChild) and returns how many access records the read stored.
func recordsPerRead(t *testing.T, a *app.App) uint64 {
	t.Helper()
	publishExample(t, a, "before")
	if err := a.Projector().WaitForLatest(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := streamMsgs(t, a, eventlog.AuditStream)
	if code, resp := readChild(t, a); code != 200 {
		t.Fatalf("GraphQL read: %d %s", code, resp)
	}
	return streamMsgs(t, a, eventlog.AuditStream) - before
}
