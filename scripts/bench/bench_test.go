// Package bench measures Chronicle against raw JetStream on the same
// machine in the same run, and reports both rates and their ratio. Run with
//
//	go test -run '^$' -bench . -benchtime 3x ./scripts/bench
//
// Set CHRONICLE_BENCH_CHILDREN to change the data set (default 2,000
// children, about 50,000 events).
package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

var (
	dataOnce sync.Once
	dataEvs  []*events.Event
	dataRaw  [][]byte
	dataFile []byte
)

// data is the demo data set, encoded once per run.
func data(tb testing.TB) ([]*events.Event, [][]byte, []byte) {
	dataOnce.Do(func() {
		children := 2000
		if v, err := strconv.Atoi(os.Getenv("CHRONICLE_BENCH_CHILDREN")); err == nil && v > 0 {
			children = v
		}
		dataEvs = demodata.Generate(demodata.Config{Seed: 1, Children: children})
		var buf bytes.Buffer
		for _, e := range dataEvs {
			b, err := events.Encode(e)
			if err != nil {
				tb.Fatal(err)
			}
			dataRaw = append(dataRaw, b)
			buf.Write(b)
			buf.WriteByte('\n')
		}
		dataFile = buf.Bytes()
	})
	return dataEvs, dataRaw, dataFile
}

// server starts an embedded server on a fresh directory with Chronicle's
// streams.
func server(tb testing.TB, syncAlways bool) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	hub, err := nkeys.CreateUser()
	if err != nil {
		tb.Fatal(err)
	}
	pub, _ := hub.PublicKey()
	s, err := embedded.Start(embedded.Config{StoreDir: tb.TempDir(), SyncAlways: syncAlways, HubKey: pub})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Shutdown)
	nc, err := embedded.Connect(s, hub)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(eventlog.DefaultMaxInFlight))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := eventlog.EnsureStreams(context.Background(), js, eventlog.StreamConfig{}); err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// rawPublish sends the encoded events straight to JetStream with the same
// subject and Nats-Msg-Id, bounded in flight as chronicle import is.
func rawPublish(tb testing.TB, js jetstream.JetStream, evs []*events.Event, raw [][]byte) time.Duration {
	start := time.Now()
	for i, e := range evs {
		if _, err := js.PublishMsgAsync(eventlog.Message(e, raw[i]), jetstream.WithStallWait(time.Minute)); err != nil {
			tb.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		tb.Fatal("raw publish did not complete")
	}
	return time.Since(start)
}

func report(b *testing.B, n int, raw, ours time.Duration, oursName string) {
	rawRate, ourRate := float64(n)/raw.Seconds(), float64(n)/ours.Seconds()
	b.ReportMetric(rawRate, "raw_events/s")
	b.ReportMetric(ourRate, oursName+"_events/s")
	b.ReportMetric(ourRate/rawRate, "ratio")
}

// BenchmarkIngest: validated ingest through chronicle import (parse NDJSON,
// validate, encode, publish with bounded in-flight acks) against raw
// JetStream async publish of the same bytes, each into a fresh server.
func BenchmarkIngest(b *testing.B) {
	for _, mode := range []struct {
		name string
		sync bool
	}{{"sync_always", true}, {"sync_interval", false}} {
		b.Run(mode.name, func(b *testing.B) {
			evs, raw, file := data(b)
			var rawTotal, ourTotal time.Duration
			for b.Loop() {
				_, js := server(b, mode.sync)
				rawTotal += rawPublish(b, js, evs, raw)

				nc, _ := server(b, mode.sync)
				pub, err := eventlog.NewPublisher(nc, func() time.Time { return demodata.DefaultEnd.Add(time.Hour) })
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				sum, err := ingest.Import(context.Background(), pub, bytes.NewReader(file), int64(len(file)), io.Discard, ingest.ImportOptions{Format: "ndjson"})
				ourTotal += time.Since(start)
				if err != nil || sum.Accepted != len(evs) {
					b.Fatalf("import: %v %+v", err, sum)
				}
			}
			report(b, len(evs)*b.N, rawTotal, ourTotal, "import")
		})
	}
}

// BenchmarkReplay: rebuilding the read model from the stream (decode,
// validate, apply with identity resolution) against draining the same
// stream with a raw ordered consumer; and the same replay with identity
// resolution off, for the cost of joining identifiers.
func BenchmarkReplay(b *testing.B) {
	evs, raw, _ := data(b)
	_, js := server(b, false)
	rawPublish(b, js, evs, raw)
	ctx := context.Background()
	var rawTotal, ourTotal, noIdentTotal time.Duration
	for b.Loop() {
		rawTotal += drain(b, js, len(evs))
		res, err := runner.Replay(ctx, js, eventlog.EventsStream, nil)
		if err != nil || res.Model.Stats().Events != len(evs) {
			b.Fatalf("replay: %v %+v", err, res.Model.Stats())
		}
		ourTotal += res.Elapsed
		res, err = runner.ReplayInto(ctx, js, eventlog.EventsStream, nil, projections.NewModelWithoutIdentity())
		if err != nil {
			b.Fatal(err)
		}
		noIdentTotal += res.Elapsed
	}
	report(b, len(evs)*b.N, rawTotal, ourTotal, "replay")
	b.ReportMetric(float64(len(evs)*b.N)/noIdentTotal.Seconds(), "replay_no_identity_events/s")
	b.ReportMetric(noIdentTotal.Seconds()/ourTotal.Seconds(), "identity_on/off_ratio")
}

// drain reads n messages with an ordered consumer, as fast as JetStream
// delivers them.
func drain(tb testing.TB, js jetstream.JetStream, n int) time.Duration {
	start := time.Now()
	ctx := context.Background()
	s, err := js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		tb.Fatal(err)
	}
	defer it.Stop()
	for range n {
		if _, err := it.Next(); err != nil {
			tb.Fatal(err)
		}
	}
	return time.Since(start)
}

// BenchmarkChronologyPage: one 1,000-entry chronology page over HTTP
// (GraphQL), against reading 1,000 messages from JetStream with an ordered
// consumer in the same process.
func BenchmarkChronologyPage(b *testing.B) {
	ctx := context.Background()
	a := app.New(app.Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true})
	if err := a.Run(ctx); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	// One child with 1,000 entries from three agencies.
	var evs []*events.Event
	agencies := []string{"health", "education", "police"}
	types := []events.Type{"health.concern", "education.concern", "police.notification"}
	for i := range 1000 {
		spec, _ := events.Lookup(types[i%3])
		e := spec.ExampleEvent()
		e.Agency, e.SourceRef = agencies[i%3], fmt.Sprintf("bench-%d", i)
		e.OccurredAt = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i*37%1000) * time.Hour)
		e.RecordedAt = e.OccurredAt.Add(time.Hour)
		e.ID = events.DeriveID(e)
		evs = append(evs, e)
	}
	raws := make([][]byte, len(evs))
	for i, e := range evs {
		raws[i], _ = events.Encode(e)
	}
	js := a.JetStream()
	for i, e := range evs {
		if _, err := js.PublishMsg(ctx, eventlog.Message(e, raws[i])); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		b.Fatal(err)
	}
	q := `{"query":"{ child(identifier:{scheme:NHS_NUMBER,value:\"9990000018\"}) { chronology(first: 1000) { totalCount edges { cursor node { id type agency summary reliability sensitivity occurredAt recordedAt receivedAt details { name value meaning } } } } } }"}`
	token := managerToken(b, a)
	var rawTotal, ourTotal time.Duration
	for b.Loop() {
		rawTotal += drain(b, js, 1000)
		start := time.Now()
		status, body := graphQL(b, a, token, q)
		ourTotal += time.Since(start)
		if status != 200 || !bytes.Contains(body, []byte(`"totalCount":1000`)) {
			b.Fatalf("%d %s", status, body[:min(len(body), 300)])
		}
	}
	b.ReportMetric(float64(ourTotal.Microseconds())/float64(b.N)/1000, "page_ms")
	b.ReportMetric(float64(rawTotal.Microseconds())/float64(b.N)/1000, "raw_1000_msgs_ms")
	b.ReportMetric(rawTotal.Seconds()/ourTotal.Seconds(), "ratio")
}

// BenchmarkRuleEvaluation: every risk rule over every child of the demo
// data set (a full sweep, as the alerter and the worklist do), against
// draining the same events from JetStream.
func BenchmarkRuleEvaluation(b *testing.B) {
	evs, raw, _ := data(b)
	_, js := server(b, false)
	rawPublish(b, js, evs, raw)
	res, err := runner.Replay(context.Background(), js, eventlog.EventsStream, nil)
	if err != nil {
		b.Fatal(err)
	}
	m := res.Model
	at := time.Now() // after the events' receipt, as the server evaluates
	var rawTotal, ourTotal time.Duration
	flagged := 0
	for b.Loop() {
		rawTotal += drain(b, js, len(evs))
		start := time.Now()
		list, _ := flags.Sweep(m, nil, at, flags.DefaultConfig())
		ourTotal += time.Since(start)
		flagged = len(list)
	}
	if flagged == 0 {
		b.Fatal("no child flagged: the sweep evaluated nothing")
	}
	b.ReportMetric(float64(ourTotal.Milliseconds())/float64(b.N), "sweep_ms")
	b.ReportMetric(float64(m.Stats().Children), "children")
	b.ReportMetric(float64(flagged), "children_flagged")
	report(b, len(evs)*b.N, rawTotal, ourTotal, "sweep")
}

// BenchmarkFlaggedChildren: the worklist query over HTTP on the demo data,
// cold (after a new event, so the sweep runs) and warm (cached), against
// reading 50 messages from JetStream.
func BenchmarkFlaggedChildren(b *testing.B) {
	ctx := context.Background()
	a := app.New(app.Config{DataDir: b.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true})
	if err := a.Run(ctx); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	if _, err := a.LoadDemo(ctx, demodata.Config{Seed: 1}, io.Discard); err != nil {
		b.Fatal(err)
	}
	q := `{"query":"{ flaggedChildren(first: 50) { totalCount nodes { highestSeverity child { id names } flags { code severity reason raisedAt } } } }"}`
	token := managerToken(b, a)
	ask := func() time.Duration {
		start := time.Now()
		status, body := graphQL(b, a, token, q)
		if status != 200 || !bytes.Contains(body, []byte("totalCount")) || bytes.Contains(body, []byte(`"totalCount":0`)) {
			b.Fatalf("%d %s", status, body[:min(300, len(body))])
		}
		return time.Since(start)
	}
	spec, _ := events.Lookup("education.concern")
	var cold, warm, rawTotal time.Duration
	for i := 0; b.Loop(); i++ {
		e := spec.ExampleEvent() // a new event invalidates the cached worklist
		e.SourceRef = fmt.Sprintf("bench-wl-%d", i)
		e.ID = events.DeriveID(e)
		data, _ := events.Encode(e)
		if _, err := a.JetStream().PublishMsg(ctx, eventlog.Message(e, data)); err != nil {
			b.Fatal(err)
		}
		if err := a.Projector().WaitForLatest(ctx); err != nil {
			b.Fatal(err)
		}
		cold += ask()
		warm += ask()
		rawTotal += drain(b, a.JetStream(), 50)
	}
	n := float64(b.N)
	b.ReportMetric(float64(cold.Microseconds())/n/1000, "cold_ms")
	b.ReportMetric(float64(warm.Microseconds())/n/1000, "warm_ms")
	b.ReportMetric(float64(rawTotal.Microseconds())/n/1000, "raw_50_msgs_ms")
	b.ReportMetric(rawTotal.Seconds()/warm.Seconds(), "ratio_warm")
}

// managerToken issues a token that sees every entry, so that the page
// measured is the whole page (redaction costs the same either way).
func managerToken(b *testing.B, a *app.App) string {
	b.Helper()
	tok, err := a.IssueToken("bench-manager", "Benchmark (synthetic)", auth.Manager, "hub", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return tok
}

// graphQL posts one query as a practitioner's client does: bearer token and
// purpose of access. The access record each read writes to JetStream before
// the answer is released is part of what is measured.
func graphQL(b *testing.B, a *app.App, token, body string) (int, []byte) {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+a.HTTPAddr()+"/graphql", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Chronicle-Purpose", "quality_assurance")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, out
}
