package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// onCluster configures the app against the cluster, as serve --nats-url
// with every node's URL, --nats-creds and --replicas 3, under the given
// replica name.
func onCluster(c *jstest.Cluster, replica string) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.NATSURL, cfg.NATSCreds, cfg.Replica = c.URLs(), c.SeedFile, replica
		cfg.Streams.Replicas = 3
	}
}

// startOnCluster runs the app against the cluster (onCluster) on a fresh
// data directory.
func startOnCluster(t *testing.T, c *jstest.Cluster, replica string, change ...func(*app.Config)) *app.App {
	t.Helper()
	return start(t, t.TempDir(), append([]func(*app.Config){onCluster(c, replica)}, change...)...)
}

// loadGen publishes events through a Chronicle publisher without pause,
// in requests of loadBatch events as HTTP ingest does, until stopped. An
// event reported failed (not confirmed: the retryable outcome) is sent
// again in the next request; anything else that is not stored fails the
// test.
type loadGen struct {
	t    *testing.T
	pub  *eventlog.Publisher
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	acked    map[string]bool // event ids acknowledged (accepted or duplicate)
	failures int             // failed outcomes seen, each retried
	problems []string        // outcomes a client could not retry
}

const loadBatch = 20

func startLoad(t *testing.T, pub *eventlog.Publisher) *loadGen {
	g := &loadGen{t: t, pub: pub, stop: make(chan struct{}), done: make(chan struct{}), acked: map[string]bool{}}
	go g.run()
	t.Cleanup(g.Stop)
	return g
}

func (g *loadGen) run() {
	defer close(g.done)
	spec, _ := events.Lookup("health.concern")
	var retry []*events.Event
	for n := 0; ; {
		select {
		case <-g.stop:
			if len(retry) == 0 {
				return
			}
		default:
		}
		batch := retry
		retry = nil
		for len(batch) < loadBatch {
			e := spec.ExampleEvent()
			e.SourceRef = "LOAD-" + strconv.Itoa(n)
			// Spread over 500 children: one child with thousands of entries
			// makes an alert sweep of it take tens of seconds.
			e.Subjects = []events.Subject{{Kind: "child", Identifiers: events.Identifiers{LAPersonID: "LA-LOAD-" + strconv.Itoa(n%500)}}}
			e.ID = events.DeriveID(e)
			batch = append(batch, e)
			n++
		}
		body, _ := json.Marshal(batch)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		resp, err := ingest.PublishBody(ctx, g.pub, body)
		cancel()
		if err != nil {
			g.problem(fmt.Sprintf("request refused: %v", err))
			return
		}
		g.mu.Lock()
		for i, r := range resp.Results {
			switch r.Status {
			case eventlog.Accepted, eventlog.Duplicate:
				g.acked[r.ID] = true
			case eventlog.Failed:
				g.failures++
				retry = append(retry, batch[i])
			default:
				g.problems = append(g.problems, fmt.Sprintf("%s: %s %v", r.ID, r.Status, r.Problems))
			}
		}
		g.mu.Unlock()
	}
}

func (g *loadGen) problem(p string) {
	g.mu.Lock()
	g.problems = append(g.problems, p)
	g.mu.Unlock()
}

// Acked is how many events have been acknowledged so far.
func (g *loadGen) Acked() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.acked)
}

// WaitMore waits until n more events than now have been acknowledged: the
// cluster is taking writes.
func (g *loadGen) WaitMore(n int, while string) {
	g.t.Helper()
	target := g.Acked() + n
	jstest.Eventually(g.t, 45*time.Second, fmt.Sprintf("%d events acknowledged %s", target, while), func() bool { return g.Acked() >= target })
}

// Stop ends the load once every failed event has been sent again and
// stored, and reports what a client could not have retried.
func (g *loadGen) Stop() {
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
	<-g.done
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.problems {
		g.t.Errorf("publishing: %s", p)
	}
}

// streamIDs reads the whole events stream with an ordered consumer and
// returns the stream sequences at which each event id (Nats-Msg-Id) is
// stored. A read that fails (a leader just changed) is started again.
func streamIDs(t *testing.T, js jetstream.JetStream) map[string][]uint64 {
	t.Helper()
	var ids map[string][]uint64
	var last error
	jstest.Eventually(t, 30*time.Second, "a whole read of the events stream", func() bool {
		ids, last = readIDs(js)
		if last != nil {
			t.Logf("reading the stream: %v; again", last)
		}
		return last == nil
	})
	return ids
}

func readIDs(js jetstream.JetStream) (map[string][]uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	ids := map[string][]uint64{}
	if info.State.Msgs == 0 {
		return ids, nil
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, err
	}
	for read := uint64(0); read < info.State.Msgs; {
		batch, err := cons.Fetch(int(min(1000, info.State.Msgs-read)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, err
		}
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				return nil, err
			}
			id := m.Headers().Get(jetstream.MsgIDHeader)
			ids[id] = append(ids[id], meta.Sequence.Stream)
			read++
		}
		if err := batch.Error(); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// checkExactlyOnce checks that every acknowledged event is in the stream
// once, that no event is there twice, and that each gateway's read model,
// caught up with the stream, holds every acknowledged event and one entry
// per stored event.
func checkExactlyOnce(t *testing.T, g *loadGen, js jetstream.JetStream, gateways ...*app.App) {
	t.Helper()
	ids := streamIDs(t, js)
	g.mu.Lock()
	acked := g.acked
	failures := g.failures
	g.mu.Unlock()
	t.Logf("%d events acknowledged (%d failed outcomes retried); the stream holds %d", len(acked), failures, len(ids))
	for id, seqs := range ids {
		if len(seqs) != 1 {
			t.Errorf("event %s is in the stream %d times, at %v", id, len(seqs), seqs)
		}
	}
	missing := 0
	for id := range acked {
		if len(ids[id]) == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged events are not in the stream", missing)
	}
	var gaps []string
	for i, gw := range gateways {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := gw.Projector().WaitForLatest(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		var lost []uint64
		for id, seqs := range ids {
			if _, _, ok := gw.Model().Event(id, nil); !ok {
				lost = append(lost, seqs...)
			}
		}
		slices.Sort(lost)
		if got := gw.Model().Stats().Entries; got+len(lost) != len(ids) {
			t.Errorf("gateway %d's read model has %d entries for %d events in the stream, %d of them missing", i+1, got, len(ids), len(lost))
		}
		if len(lost) > 0 {
			gaps = append(gaps, fmt.Sprintf("gateway %d lacks %d events in the stream, at sequences %v", i+1, len(lost), lost))
		}
	}
	if len(gaps) > 0 {
		// When a node holding the projector consumer's leader goes down,
		// the deliveries it had in flight are lost while the replicated
		// consumer state counts them delivered; the runner must notice the
		// gap and refetch (TestGapInDeliveryIsRefetched shows it alone).
		t.Fatalf("events acknowledged but missing from a gateway's read model: %s", strings.Join(gaps, "; "))
	}
}

// One node of three, the leader of the events stream, is shut down while
// events are published without pause, the cluster goes on taking them on
// two nodes, and the node comes back: every acknowledged event is in the
// stream once and in both gateways' read models once, and the only
// errors a client saw were retryable ones.
func TestClusterNodeDownAndBack(t *testing.T) {
	c := jstest.RunCluster(t)
	gw1 := startOnCluster(t, c, "gw1")
	gw2 := startOnCluster(t, c, "gw2")
	_, js := c.Connect()
	load := startLoad(t, gw1.Publisher())
	load.WaitMore(200, "before the fault")

	down := c.StreamLeader(eventlog.EventsStream)
	c.Stop(down)
	load.WaitMore(200, "with a node down")
	c.Start(down)
	load.WaitMore(200, "after the node came back")
	load.Stop()
	c.WaitStreamCurrent(eventlog.EventsStream)
	checkExactlyOnce(t, load, js, gw1, gw2)
}

// The events stream's leader steps down while events are published; then
// a follower is stopped, its store directory removed, and it rejoins
// empty; made the leader once it has caught up, it serves every
// acknowledged event: nothing acknowledged was lost.
func TestClusterStepDownAndEmptyRejoin(t *testing.T) {
	c := jstest.RunCluster(t)
	gw := startOnCluster(t, c, "gw1")
	nc, js := c.Connect()
	load := startLoad(t, gw.Publisher())
	load.WaitMore(200, "before the step-down")
	leader := c.StepDown(nc, eventlog.EventsStream, "")
	load.WaitMore(200, "after the leader stepped down")

	wiped := (leader + 1) % len(c.Nodes)
	c.Stop(wiped)
	c.Wipe(wiped)
	load.WaitMore(200, "with a node down and its store gone")
	c.Start(wiped)
	load.WaitMore(200, "after the node rejoined empty")
	load.Stop()
	c.WaitStreamCurrent(eventlog.EventsStream)
	c.StepDown(nc, eventlog.EventsStream, c.Nodes[wiped].Name)
	checkExactlyOnce(t, load, js, gw)
}

// Two gateways over one cluster build identical read models from the same
// log, and a third, started later from a copy of one's snapshot, reaches
// the same digest replaying only what came after it.
func TestClusterGatewaysAgree(t *testing.T) {
	c := jstest.RunCluster(t)
	dir1 := t.TempDir()
	gw1 := start(t, dir1, onCluster(c, "gw1"))
	gw2 := startOnCluster(t, c, "gw2")
	ctx := context.Background()
	if _, err := gw1.LoadDemo(ctx, demodata.Config{Seed: 7, Children: 40}, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, gw := range []*app.App{gw1, gw2} {
		if err := gw.Projector().WaitForLatest(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d1, d2 := gw1.Model().Digest(), gw2.Model().Digest()
	if d1 != d2 || gw1.Model().Stats().Entries == 0 {
		t.Fatalf("gateways differ: %s (%d entries) and %s (%d entries)", d1, gw1.Model().Stats().Entries, d2, gw2.Model().Stats().Entries)
	}

	// gw1 stops (writing its snapshot); more events arrive through gw2.
	if err := gw1.Close(); err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(filepath.Join(dir1, "snapshots", "projections-gw1.snap"))
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := events.Lookup("education.concern")
	for i := range 5 {
		e := spec.ExampleEvent()
		e.SourceRef = "LATER-" + strconv.Itoa(i)
		e.ID = events.DeriveID(e)
		raw, _ := json.Marshal(e)
		if r, err := ingest.PublishBody(ctx, gw2.Publisher(), raw); err != nil || r.Accepted != 1 {
			t.Fatalf("publish: %v %+v", err, r)
		}
	}
	dir3 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir3, "snapshots"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir3, "snapshots", "projections-gw3.snap"), snap, 0o600); err != nil {
		t.Fatal(err)
	}
	gw3 := start(t, dir3, onCluster(c, "gw3"))
	for _, gw := range []*app.App{gw2, gw3} {
		if err := gw.Projector().WaitForLatest(ctx); err != nil {
			t.Fatal(err)
		}
	}
	samples, _ := scrape(t, gw3)
	want(t, samples, map[string]float64{`chronicle_snapshot_duration_seconds_count{op="restore"}`: 1})
	if d2, d3 := gw2.Model().Digest(), gw3.Model().Digest(); d2 != d3 || d2 == d1 {
		t.Fatalf("after 5 more events: gw2 %s, gw3 (from gw1's snapshot) %s, before %s", d2, d3, d1)
	}
}

// Separate roles on one cluster: events taken by an ingest process (no
// read model) are read through a gateway (no HTTP ingest); a correction
// sent to the ingest process is judged by the gateway; each serves only
// its own routes, and both are ready.
func TestClusterRoles(t *testing.T) {
	c := jstest.RunCluster(t)
	in := startOnCluster(t, c, "ingest-1", func(cfg *app.Config) { cfg.Role = app.RoleIngest })
	gw := startOnCluster(t, c, "gw1", func(cfg *app.Config) { cfg.Role = app.RoleGateway })
	if in.Projector() != nil || in.Model() != nil {
		t.Fatal("an ingest process runs a projector")
	}
	tok, err := in.IssueToken("health-system", "Synthetic health system", auth.Publisher, "health", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := events.Lookup("health.concern")
	e := spec.ExampleEvent()
	body, _ := json.Marshal(e)
	hdr := map[string]string{"Content-Type": "application/json"}
	if code, resp := httpDo(t, in, "POST", "/v1/events", tok, hdr, body); code != 200 {
		t.Fatalf("ingest: %d %s", code, resp)
	}
	if code, _ := httpDo(t, gw, "POST", "/v1/events", tok, hdr, body); code != 404 {
		t.Fatalf("a gateway took events over HTTP: %d", code)
	}
	if code, _ := httpDo(t, in, "POST", "/graphql", tok, hdr, []byte(`{"query":"{__typename}"}`)); code != 404 {
		t.Fatalf("an ingest process answered GraphQL: %d", code)
	}
	ctx := context.Background()
	if err := gw.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := gw.Model().Event(e.ID, nil); !ok {
		t.Fatal("the event taken by the ingest process is not in the gateway's read model")
	}
	// A correction of an event the hub does not have: the gateway says so.
	cspec, _ := events.Lookup("record.corrected")
	corr := cspec.ExampleEvent()
	corr.Agency = "health"
	corr.ID = events.DeriveID(corr)
	body, _ = json.Marshal(corr)
	code, resp := httpDo(t, in, "POST", "/v1/events", tok, hdr, body)
	if code != 422 || !strings.Contains(resp, "payload.event_id") {
		t.Fatalf("a correction of an unknown event through the ingest process: %d %s", code, resp)
	}
	// Ready, both: a consumer heartbeat lost on a loaded machine makes a
	// gateway not ready until its projector has repaired the consumer,
	// which is right, so readiness is waited for, not sampled once.
	for _, a := range []*app.App{in, gw} {
		jstest.Eventually(t, 20*time.Second, "/readyz 200 on "+a.HTTPAddr(), func() bool {
			code, _ := get(t, "http://"+a.HTTPAddr()+"/readyz")
			return code == 200
		})
	}
	samples, _ := scrape(t, in)
	if _, ok := samples["chronicle_projector_applied_sequence"]; ok {
		t.Error("an ingest process reports a projector")
	}
	want(t, samples, map[string]float64{`chronicle_ingest_events_total{agency="health",outcome="accepted"}`: 1})
}

// Three replicas asked of one server that is not in a cluster: start-up
// stops with an error naming --replicas; and the embedded server is
// refused it before anything starts.
func TestReplicasTheServersCannotGive(t *testing.T) {
	srv := jstest.Run(t)
	creds := srv.SeedFile(t)
	for name, cfg := range map[string]app.Config{
		"one server":   {NATSURL: srv.ClientURL(), NATSCreds: creds},
		"the embedded": {},
	} {
		cfg.DataDir, cfg.HTTPAddr, cfg.NATSListen, cfg.Replica = t.TempDir(), "127.0.0.1:0", "127.0.0.1:0", "r3"
		cfg.Streams.Replicas = 3
		a := app.New(cfg)
		err := a.Run(context.Background())
		a.Close()
		if err == nil || !strings.Contains(err.Error(), "--replicas 3") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The access log's stream on a cluster, first briefly unavailable (its
// leader stopped: nothing takes records until another node is elected),
// then slow and unavailable (the two other nodes down: no quorum; its
// leader takes records and never answers, then steps down). A read is
// never answered without its access record stored: it is either answered
// with its record on the log, or refused 503 AUDIT_UNAVAILABLE, when
// nothing answers at once or audit.RecordWithin has passed, not left to
// the request's own 30 s limit (TIMEOUT). /readyz is 503 "access log unavailable" while
// there is no quorum, saying nothing about a child, and reads and
// readiness come back with the nodes.
func TestClusterAccessLogSlowOrUnavailable(t *testing.T) {
	c := jstest.RunCluster(t)
	gw := startOnCluster(t, c, "gw1")
	ctx := context.Background()
	perRead := recordsPerRead(t, gw)
	// records counts the access log's records, asking again while the
	// stream has no leader to answer.
	records := func() uint64 {
		t.Helper()
		var n uint64
		jstest.Eventually(t, time.Minute, "the access log's record count", func() bool {
			s, err := gw.JetStream().Stream(ctx, eventlog.AuditStream)
			if err == nil {
				n = s.CachedInfo().State.Msgs
			}
			return err == nil
		})
		return n
	}
	refusedClosed := func(code int, resp string) bool {
		return code == 503 && strings.Contains(resp, "AUDIT_UNAVAILABLE") && !strings.Contains(resp, "9990000018")
	}

	// readUntilAnswered reads until a read is answered; every other
	// answer must be a refusal. A refused read's records may be stored
	// too (its acknowledgement lost in an election): the log holds at
	// least the answered reads' records, never fewer.
	readUntilAnswered := func(while string) {
		t.Helper()
		before := records()
		answered, refused := 0, 0
		jstest.Eventually(t, time.Minute, "a read answered "+while, func() bool {
			code, resp := readChild(t, gw)
			switch {
			case code == 200:
				answered++
			case refusedClosed(code, resp):
				refused++
			default:
				t.Fatalf("a read %s: %d %s", while, code, resp)
			}
			return answered > 0
		})
		if n := records() - before; n < uint64(answered)*perRead {
			t.Fatalf("%d reads answered (%d refused) %s, but only %d access records stored", answered, refused, while, n)
		}
		t.Logf("%s: %d refused before one was answered", while, refused)
	}

	// Slow: the leader stopped; reads go on until one is answered again.
	leader := c.StreamLeader(eventlog.AuditStream)
	c.Stop(leader)
	readUntilAnswered("after the access log's leader stopped")
	c.Start(leader)
	c.WaitStreamCurrent(eventlog.AuditStream)

	// No quorum: the two nodes that do not lead the access log stop. Its
	// leader still takes a read's records but cannot commit them, and
	// never answers: the read is refused once audit.RecordWithin has
	// passed. Then the leader steps down and nothing answers at all.
	leader = c.StreamLeader(eventlog.AuditStream)
	down := []int{(leader + 1) % len(c.Nodes), (leader + 2) % len(c.Nodes)}
	for _, i := range down {
		c.Stop(i)
	}
	// The client gives up well before the request's own 30 s limit, so
	// a read left waiting on the stream (no bound) fails the test.
	within := &http.Client{Timeout: gateway.DefaultGraphQLTimeout * 2 / 3}
	if code, resp := readChildWith(t, within, gw); !refusedClosed(code, resp) {
		t.Fatalf("a read with no quorum: %d %s; want 503 AUDIT_UNAVAILABLE", code, resp)
	}
	waitReadyz(t, gw, 503, "access log unavailable")
	if _, body := readyz(t, gw); strings.Contains(fmt.Sprint(body), "9990000018") {
		t.Fatalf("/readyz names a child: %v", body)
	}
	for _, i := range down {
		c.Start(i)
	}
	c.WaitStreamCurrent(eventlog.AuditStream)
	jstest.Eventually(t, time.Minute, "/readyz 200 with the nodes back", func() bool {
		code, _ := readyz(t, gw)
		return code == 200
	})
	// The stream's new leader may drop the first publish it is sent
	// (JetStream answers "no response from stream" once): refused, then
	// answered.
	readUntilAnswered("with the nodes back")
}
