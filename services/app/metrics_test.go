package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/alerts"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// scrape reads /metrics without a token and returns each sample by its
// name and labels as written ("name{a=\"x\",b=\"y\"}"), with the raw text.
func scrape(t *testing.T, a *app.App) (map[string]float64, string) {
	t.Helper()
	code, body := get(t, "http://"+a.HTTPAddr()+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples, body
}

// want checks samples against exact values.
func want(t *testing.T, samples map[string]float64, exact map[string]float64) {
	t.Helper()
	for k, v := range exact {
		got, ok := samples[k]
		if !ok {
			t.Errorf("%s: missing", k)
		} else if got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
}

// A known workload, then /metrics scraped without a token: the counters
// are exact, the gauges agree with the streams and the read model, and
// nothing in the text names a child. A restart then shows the snapshot
// restored and the start-up replay timed.
func TestMetricsAfterKnownWorkload(t *testing.T) {
	dir := t.TempDir()
	a := start(t, dir)
	ctx := context.Background()

	// Four health concerns and one without a summary, over HTTP as the
	// health system; then one of the four again.
	spec, _ := events.Lookup("health.concern")
	var batch []*events.Event
	for i := range 4 {
		e := spec.ExampleEvent()
		e.SourceRef = "M-" + strconv.Itoa(i)
		e.ID = events.DeriveID(e)
		batch = append(batch, e)
	}
	bad := spec.ExampleEvent()
	bad.SourceRef, bad.Summary = "M-bad", ""
	bad.ID = events.DeriveID(bad)
	tok, err := a.IssueToken("health-system", "Synthetic health system", auth.Publisher, "health", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(append(batch, bad))
	if code, resp := httpDo(t, a, "POST", "/v1/events", tok, map[string]string{"Content-Type": "application/json"}, body); code != 207 {
		t.Fatalf("ingest: %d %s", code, resp)
	}
	again, _ := json.Marshal(batch[0])
	if code, resp := httpDo(t, a, "POST", "/v1/events", tok, map[string]string{"Content-Type": "application/json"}, again); code != 200 {
		t.Fatalf("ingest again: %d %s", code, resp)
	}
	// A child protection plan, through the same publisher from the
	// process (one token is one agency), raises an alert.
	plan, _ := events.Lookup("plan.started")
	pe := plan.ExampleEvent()
	raw, _ := json.Marshal(pe)
	if r, err := ingest.PublishBody(ctx, a.Publisher(), raw); err != nil || r.Accepted != 1 {
		t.Fatalf("plan: %v %+v", err, r)
	}
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		t.Fatal(err)
	}
	var published int
	jstest.Eventually(t, 20*time.Second, "an alert", func() bool {
		list, err := alerts.List(ctx, a.JetStream())
		published = len(list)
		return err == nil && published > 0
	})
	// One read of the child, and one request with an empty bearer token:
	// refused on its headers, before its operation is known.
	if code, resp := readChild(t, a); code != 200 || strings.Contains(resp, `"errors"`) {
		t.Fatalf("read: %d %s", code, resp)
	}
	q, _ := json.Marshal(map[string]string{"query": `{ child(identifier: {scheme: NHS_NUMBER, value: "9990000018"}) { id } }`})
	if code, _ := httpDo(t, a, "POST", "/graphql", "", map[string]string{"Content-Type": "application/json"}, q); code != 401 {
		t.Fatalf("no token: %d", code)
	}

	samples, text := scrape(t, a)
	stats := a.Model().Stats()
	want(t, samples, map[string]float64{
		`chronicle_ingest_events_total{agency="health",outcome="accepted"}`:               4,
		`chronicle_ingest_events_total{agency="health",outcome="rejected"}`:               1,
		`chronicle_ingest_events_total{agency="health",outcome="duplicate"}`:              1,
		`chronicle_ingest_events_total{agency="` + pe.Agency + `",outcome="accepted"}`:    1,
		`chronicle_graphql_request_duration_seconds_count{kind="query",outcome="ok"}`:     1,
		`chronicle_graphql_request_duration_seconds_count{kind="none",outcome="refused"}`: 1,
		`chronicle_access_records_total{result="written"}`:                                float64(streamMsgs(t, a, eventlog.AuditStream)),
		`chronicle_access_records_total{result="failed"}`:                                 0,
		`chronicle_events_stream_last_sequence`:                                           5,
		`chronicle_projector_applied_sequence`:                                            5,
		`chronicle_projector_lag_events`:                                                  0,
		`chronicle_projector_lag_seconds`:                                                 0,
		`chronicle_read_model_children`:                                                   float64(stats.Children),
		`chronicle_read_model_entries`:                                                    5,
		`chronicle_quarantine_events`:                                                     0,
		`chronicle_nats_connected`:                                                        1,
		`chronicle_nats_reconnects_total`:                                                 0,
		`chronicle_alerts_published_total{code="CP_PLAN_ACTIVE",kind="raised"}`:           1,
	})
	// The read model's estimated size is the model's own, and plausible
	// for five entries of a few hundred bytes each with their child and
	// identifiers (projections' TestBytesEstimatesTheModelsHeap checks the
	// estimate against the heap).
	if got, est := samples["chronicle_read_model_bytes"], a.Model().Bytes(); got != float64(est) || est < 5*200 || est > 5*20000 {
		t.Errorf("chronicle_read_model_bytes %v, the model estimates %d B for 5 entries", got, est)
	}
	var alertsTotal float64
	for k, v := range samples {
		if strings.HasPrefix(k, "chronicle_alerts_published_total{") {
			alertsTotal += v
		}
	}
	if alertsTotal != float64(published) || stats.Children == 0 || samples[`chronicle_access_records_total{result="written"}`] == 0 {
		t.Errorf("alerts %v of %d stored; children %d; access records %v", alertsTotal, published, stats.Children, samples[`chronicle_access_records_total{result="written"}`])
	}
	// Readiness and metrics are public: nothing in them may name a child.
	child, _ := a.Model().FindChild(events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}, nil)
	_, ready := get(t, "http://"+a.HTTPAddr()+"/readyz")
	for _, secret := range []string{"9990000018", "LA-000123", "Alex", "2012-04-17", child.ID, "M-0", bad.ID} {
		if strings.Contains(text, secret) || strings.Contains(ready, secret) {
			t.Errorf("/metrics or /readyz holds %q", secret)
		}
	}

	// Restarted on the same directory: the snapshot written at Close is
	// restored, and the replay after it is timed.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := start(t, dir)
	jstest.Eventually(t, 20*time.Second, "the replay timed", func() bool {
		s, _ := scrape(t, b)
		_, ok := s["chronicle_projector_replay_seconds"]
		return ok
	})
	samples, _ = scrape(t, b)
	want(t, samples, map[string]float64{
		`chronicle_snapshot_duration_seconds_count{op="restore"}`: 1,
		`chronicle_projector_applied_sequence`:                    5,
	})
}
