package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// A publish the server's permissions refuse is reported as refused, at
// once, not as an acknowledgement that never came (which is how it read
// after 30 s before), and the batch stops: nothing more would be stored.
// Events on subjects the credentials may use are still stored.
func TestRefusedPublishIsReportedAsRefused(t *testing.T) {
	// A NATS deployment of the operator's own (as on a cluster): one
	// account, a user that may publish police events only.
	opts := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Users: []*server.User{
			{Username: "admin", Password: "synthetic-admin-pw"},
			{Username: "police", Password: "synthetic-police-pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{events.SubjectPrefix + "police.>", "$JS.API.INFO"}},
				Subscribe: &server.SubjectPermission{Allow: []string{nats.InboxPrefix + ">"}},
			}},
		}}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(s.Shutdown)
	admin, err := nats.Connect(s.ClientURL(), nats.UserInfo("admin", "synthetic-admin-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	js, _ := jetstream.New(admin)
	ctx := context.Background()
	if _, err := eventlog.EnsureStreams(ctx, js, eventlog.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("police", "synthetic-police-pw"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	pub, err := eventlog.NewPublisher(nc, nil, eventlog.WithAckTimeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	own, ownData := prepared(t, pub, "police.notification", "own-1")
	foreign, foreignData := prepared(t, pub, "health.concern", "foreign-1")
	var results []eventlog.Result
	// In flight 2: each event is sent as it is added (atomic batches of
	// one), so the refusal is seen before the next Add. Refusal inside an
	// atomic batch: at the end.
	b := pub.NewBatch(2, func(r eventlog.Result) { results = append(results, r) })
	if err := b.Add(ctx, 0, own, ownData); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, 1, foreign, foreignData); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, "the server's refusal", func() bool { return nc.LastError() != nil })
	// Once refused, the batch takes nothing more.
	if err := b.Add(ctx, 2, own, ownData); !errors.Is(err, eventlog.ErrRefused) {
		t.Fatalf("after a refusal, Add: %v", err)
	}
	b.Close()
	if len(results) != 2 || results[0].Status != eventlog.Accepted {
		t.Fatalf("own event: %+v", results)
	}
	if r := results[1]; r.Status != eventlog.Failed || !strings.Contains(r.Error, "refused by the server: these credentials may not publish to chronicle.events.health.health.concern") {
		t.Fatalf("foreign event: %+v", r)
	}
	// A new batch on the same connection is not refused for the old error.
	b = pub.NewBatch(0, func(r eventlog.Result) { results = append(results, r) })
	other, otherData := prepared(t, pub, "police.notification", "own-2")
	if err := b.Add(ctx, 3, other, otherData); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if last := results[len(results)-1]; last.Status != eventlog.Accepted {
		t.Fatalf("a later batch: %+v", last)
	}

	// In one atomic batch, the refused event is reported refused and the
	// others stored: the server never sees the refused one, so the batch is
	// incomplete and goes again event by event.
	results = nil
	b = pub.NewBatch(0, func(r eventlog.Result) { results = append(results, r) })
	mixed := []string{"police.notification", "health.concern", "police.notification"}
	for i, typ := range mixed {
		e, d := prepared(t, pub, events.Type(typ), fmt.Sprintf("mixed-%d", i))
		if err := b.Add(ctx, i, e, d); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	if len(results) != 3 || results[0].Status != eventlog.Accepted || results[2].Status != eventlog.Accepted ||
		results[1].Status != eventlog.Failed || !strings.Contains(results[1].Error, "refused by the server") {
		t.Fatalf("an atomic batch with a refused event: %+v", results)
	}
}
