package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// Agency users for the embedded server, as an operator writes them.
const (
	policeUser, policePassword       = "police-rms", "synthetic-police-password"
	educationUser, educationPassword = "school-mis", "synthetic-school-password"
)

// startWithAgencies runs the app as `serve --nats-users users.json` would,
// with a police and an education system.
func startWithAgencies(t *testing.T) *app.App {
	t.Helper()
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	body := fmt.Sprintf(`{"users": [{"user": %q, "password": %q, "agency": "police"}, {"user": %q, "password": %q, "agency": "education"}]}`,
		policeUser, policePassword, educationUser, educationPassword)
	if err := os.WriteFile(users, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return startWith(t, app.Config{DataDir: dir, NATSUsersFile: users, AlertInterval: 10 * time.Millisecond})
}

// agencyConn connects over the client port as an agency user, as its
// system would; asynchronous errors (permissions refused) go to errs.
func agencyConn(t *testing.T, a *app.App, user, password string, errs *asyncErrors) *nats.Conn {
	t.Helper()
	opts := []nats.Option{nats.UserInfo(user, password), nats.Timeout(5 * time.Second)}
	if errs != nil {
		opts = append(opts, nats.ErrorHandler(errs.add))
	}
	nc, err := nats.Connect(a.NATSClientURL(), opts...)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// asyncErrors keeps the errors the server sends a connection on its own
// (a publish or subscription refused), so a test can wait for a refusal
// rather than for a timeout.
type asyncErrors struct {
	mu      sync.Mutex
	errs    []string
	changed chan struct{}
}

func (e *asyncErrors) add(_ *nats.Conn, _ *nats.Subscription, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err.Error())
	if e.changed != nil {
		close(e.changed)
		e.changed = nil
	}
}

// refused waits until an error naming subject has come, or ctx ends.
func (e *asyncErrors) refused(ctx context.Context, subject string) bool {
	for {
		e.mu.Lock()
		for _, s := range e.errs {
			if strings.Contains(s, "Permissions Violation") && strings.Contains(s, `"`+subject+`"`) {
				e.mu.Unlock()
				return true
			}
		}
		if e.changed == nil {
			e.changed = make(chan struct{})
		}
		changed := e.changed
		e.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return false
		}
	}
}

// agencyEvent is an example event of typ for agency, told apart by ref.
func agencyEvent(t *testing.T, typ events.Type, agency, ref string) (*events.Event, []byte) {
	t.Helper()
	spec, ok := events.Lookup(typ)
	if !ok {
		t.Fatalf("no event type %s", typ)
	}
	e := spec.ExampleEvent()
	e.Agency, e.SourceRef = agency, ref
	e.ID = events.DeriveID(e)
	data, err := events.Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	return e, data
}

// httpDo sends a request to the app with a bearer token and returns the
// status and body.
func httpDo(t *testing.T, a *app.App, method, path, token string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	return httpDoWith(t, http.DefaultClient, a, method, path, token, header, body)
}

// httpDoWith is httpDo through client.
func httpDoWith(t *testing.T, client *http.Client, a *app.App, method, path, token string, header map[string]string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.HTTPAddr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postEvents sends evs to the HTTP ingest API with a publisher token of
// agency, and fails unless all are stored.
func postEvents(t *testing.T, a *app.App, agency string, evs []*events.Event) {
	t.Helper()
	body, _ := json.Marshal(evs)
	tok, err := a.IssueToken(agency+"-system", "Synthetic "+agency+" system", auth.Publisher, agency, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := httpDo(t, a, "POST", "/v1/events", tok, map[string]string{"Content-Type": "application/json"}, body); code != 200 {
		t.Fatalf("HTTP ingest as %s: %d %s", agency, code, resp)
	}
}

// readChild reads the example child's chronology as a hub practitioner
// with a purpose, so that an access record is written.
func readChild(t *testing.T, a *app.App) (int, string) {
	t.Helper()
	return readChildWith(t, http.DefaultClient, a)
}

// readChildWith is readChild through client.
func readChildWith(t *testing.T, client *http.Client, a *app.App) (int, string) {
	t.Helper()
	tok, err := a.IssueToken("jo.hub", "Jo Hub", auth.Hub, "hub", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(map[string]string{"query": `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { id chronology(first: 5) { totalCount } } }`})
	return httpDoWith(t, client, a, "POST", "/graphql", tok, map[string]string{"Content-Type": "application/json", "Chronicle-Purpose": "mash_enquiry"}, q)
}

// streamMsgs is how many messages a stream holds.
func streamMsgs(t *testing.T, a *app.App, name string) uint64 {
	t.Helper()
	s, err := a.JetStream().Stream(context.Background(), name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	return s.CachedInfo().State.Msgs
}

// An agency account subscribing to everything its permissions allow sees
// nothing but the replies to its own requests, while the hub ingests over
// HTTP and from another agency over NATS, projects, quarantines, audits a
// read and alerts. Before the hub had an account of its own, the same
// subscription to _INBOX.> received other agencies' event bodies, their
// acknowledgements and access records.
func TestAgencyAccountSeesOnlyItsOwnReplies(t *testing.T) {
	a := startWithAgencies(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var refused asyncErrors
	edu := agencyConn(t, a, educationUser, educationPassword, &refused)
	// One channel for every subscription keeps what arrives in the order
	// the server sent it, so a last reply of its own marks the end.
	seen := make(chan *nats.Msg, 1<<16)
	everything := []string{">", "_INBOX.>", "_R_.>", "$JS.>", "$JS.API.>", "$JS.ACK.>", "$JS.EVENT.>", "$JS.FC.>",
		"$SYS.>", "$KV.>", "$O.>", "chronicle.>", "chronicle.events.>", "chronicle.audit.>", "chronicle.alerts.>", "chronicle.quarantine.>"}
	for _, subj := range everything {
		if _, err := edu.ChanSubscribe(subj, seen); err != nil {
			t.Fatalf("subscribe %s: %v", subj, err)
		}
	}
	if err := edu.Flush(); err != nil {
		t.Fatal(err)
	}
	eduJS, _ := jetstream.New(edu)
	own := map[uint64]bool{}
	publishOwn := func(ref string) uint64 {
		e, data := agencyEvent(t, "education.concern", "education", ref)
		ack, err := eduJS.PublishMsg(ctx, eventlog.Message(e, data))
		if err != nil {
			t.Fatalf("education publishes its own event: %v", err)
		}
		own[ack.Sequence] = true
		return ack.Sequence
	}
	for i := range 3 {
		publishOwn(fmt.Sprintf("EDU-OWN-%d", i))
	}

	// Police publish straight to NATS: restricted notifications, and one
	// the hub quarantines.
	police := agencyConn(t, a, policeUser, policePassword, nil)
	policeJS, _ := jetstream.New(police)
	for i := range 20 {
		e, data := agencyEvent(t, "police.notification", "police", fmt.Sprintf("POL-%d", i))
		e.Sensitivity = "restricted"
		data, _ = events.Encode(e)
		if _, err := policeJS.PublishMsg(ctx, eventlog.Message(e, data)); err != nil {
			t.Fatalf("police publish %d: %v", i, err)
		}
	}
	bad, badData := agencyEvent(t, "police.notification", "police", "POL-BAD")
	badData = bytes.Replace(badData, []byte("9990000018"), []byte("9990000017"), 1)
	if _, err := policeJS.PublishMsg(ctx, eventlog.Message(bad, badData)); err != nil {
		t.Fatalf("police publish (invalid body): %v", err)
	}

	// Health publish over HTTP; social care's child protection plan
	// raises a flag, so the alerter has something to say.
	var batch []*events.Event
	for i := range 20 {
		e, _ := agencyEvent(t, "health.concern", "health", fmt.Sprintf("HEALTH-%d", i))
		batch = append(batch, e)
	}
	postEvents(t, a, "health", batch)
	plan, _ := agencyEvent(t, "plan.started", "social_care", "CP-1")
	postEvents(t, a, "social_care", []*events.Event{plan})

	// The hub projects, quarantines, answers a read (and audits it) and
	// sweeps for alerts.
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	jstest.Eventually(t, 10*time.Second, "the invalid police event in quarantine", func() bool {
		return streamMsgs(t, a, eventlog.QuarantineStream) == 1
	})
	if code, resp := readChild(t, a); code != 200 || !strings.Contains(resp, "totalCount") {
		t.Fatalf("GraphQL read: %d %s", code, resp)
	}
	if n := streamMsgs(t, a, eventlog.AuditStream); n == 0 {
		t.Fatal("the read left no access record")
	}
	if err := a.Alerter().Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, a, eventlog.AlertsStream); n == 0 {
		t.Fatal("the alerter raised nothing")
	}

	last := publishOwn("EDU-OWN-LAST")
	var got []*nats.Msg
	for done := false; !done; {
		select {
		case m := <-seen:
			got = append(got, m)
			var ack jetstream.PubAck
			done = json.Unmarshal(m.Data, &ack) == nil && ack.Stream == eventlog.EventsStream && ack.Sequence == last
		case <-ctx.Done():
			t.Fatalf("the last reply of its own never arrived; got %d messages", len(got))
		}
	}
	inbox := edu.NewRespInbox()
	mine := inbox[:strings.LastIndexByte(inbox, '.')+1]
	acked := map[uint64]bool{}
	for _, m := range got {
		var ack jetstream.PubAck
		if !strings.HasPrefix(m.Subject, mine) || json.Unmarshal(m.Data, &ack) != nil || ack.Stream != eventlog.EventsStream || !own[ack.Sequence] {
			t.Errorf("the education account received %q (subscription %q): %.300s", m.Subject, m.Sub.Subject, m.Data)
			continue
		}
		acked[ack.Sequence] = true
	}
	if len(acked) != len(own) || len(got) != len(own) {
		t.Errorf("received %d messages acknowledging %d of its %d publishes; want exactly its own acknowledgements", len(got), len(acked), len(own))
	}
	refused.mu.Lock()
	t.Logf("permitted subscriptions saw only %d own acknowledgements; refused: %v", len(got), refused.errs)
	refused.mu.Unlock()
}

// An agency account cannot use the JetStream API: the server refuses it
// listing, reading, purging or deleting streams, reading messages and
// creating consumers, and the streams are untouched afterwards.
func TestAgencyAccountCannotUseJetStreamAPI(t *testing.T) {
	a := startWithAgencies(t)
	if code, resp := readChild(t, a); code != 200 {
		t.Fatalf("GraphQL read: %d %s", code, resp)
	}
	var refusals asyncErrors
	police := agencyConn(t, a, policeUser, policePassword, &refusals)
	e, data := agencyEvent(t, "police.notification", "police", "POL-1")
	js, _ := jetstream.New(police)
	ctx := context.Background()
	if _, err := js.PublishMsg(ctx, eventlog.Message(e, data)); err != nil {
		t.Fatal(err)
	}
	eventsBefore, auditBefore := streamMsgs(t, a, eventlog.EventsStream), streamMsgs(t, a, eventlog.AuditStream)
	if auditBefore == 0 {
		t.Fatal("no access records to protect")
	}
	request := func(subject, body string) func(context.Context) error {
		return func(ctx context.Context) error {
			m, err := police.RequestWithContext(ctx, subject, []byte(body))
			if err != nil {
				return err
			}
			return fmt.Errorf("answered: %.200s", m.Data)
		}
	}
	api := "$JS.API."
	tests := []struct {
		name, subject string
		try           func(context.Context) error
	}{
		{"account info", api + "INFO", func(ctx context.Context) error { _, err := js.AccountInfo(ctx); return err }},
		{"list streams", api + "STREAM.NAMES", func(ctx context.Context) error {
			names := js.StreamNames(ctx)
			for n := range names.Name() {
				return fmt.Errorf("answered: %s", n)
			}
			return names.Err()
		}},
		{"event log info", api + "STREAM.INFO." + eventlog.EventsStream, func(ctx context.Context) error { _, err := js.Stream(ctx, eventlog.EventsStream); return err }},
		{"delete the access log", api + "STREAM.DELETE." + eventlog.AuditStream, func(ctx context.Context) error { return js.DeleteStream(ctx, eventlog.AuditStream) }},
		{"purge the event log", api + "STREAM.PURGE." + eventlog.EventsStream, request(api+"STREAM.PURGE."+eventlog.EventsStream, "")},
		{"read a message", api + "STREAM.MSG.GET." + eventlog.EventsStream, request(api+"STREAM.MSG.GET."+eventlog.EventsStream, `{"seq":1}`)},
		{"direct get", api + "DIRECT.GET." + eventlog.EventsStream, request(api+"DIRECT.GET."+eventlog.EventsStream, `{"seq":1}`)},
		{"create a consumer", api + "CONSUMER.CREATE." + eventlog.EventsStream + ".agency", func(ctx context.Context) error {
			_, err := js.CreateConsumer(ctx, eventlog.EventsStream, jetstream.ConsumerConfig{Durable: "agency"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A refused request is never answered: stop waiting once the
			// server has said it refused it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			go func() {
				if refusals.refused(ctx, tt.subject) {
					cancel()
				}
			}()
			err := tt.try(ctx)
			if err == nil || strings.HasPrefix(err.Error(), "answered") {
				t.Fatalf("allowed: %v", err)
			}
			if !refusals.refused(context.Background(), tt.subject) {
				t.Fatalf("failed (%v), but the server did not refuse %s", err, tt.subject)
			}
		})
	}
	if n := streamMsgs(t, a, eventlog.EventsStream); n != eventsBefore {
		t.Errorf("event log holds %d, had %d", n, eventsBefore)
	}
	if n := streamMsgs(t, a, eventlog.AuditStream); n < auditBefore {
		t.Errorf("access log holds %d, had %d", n, auditBefore)
	}
	if _, err := a.JetStream().Consumer(ctx, eventlog.EventsStream, "agency"); err == nil {
		t.Error("the agency created a consumer")
	}
}
