package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// replica names the bench's projector (its consumer and snapshot file).
const replica = "bench"

// appConfig is serve's configuration for the bench: its own data
// directory, free ports, and sync always unless relaxed.
func appConfig(dir string, relaxed bool, log *slog.Logger) app.Config {
	return app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: relaxed, Replica: replica, Logger: log}
}

// imported is what one import into a running serve measured.
type imported struct {
	elapsed time.Duration
	stored  int
	// rejected events were judged invalid by the import (the generated
	// data is valid, so each is a defect to report); reason is the first
	// one's.
	rejected int
	reason   string
	// behind is how many events the projector had still to apply when the
	// import ended, and catchUp how long it then took to apply them.
	behind  uint64
	catchUp time.Duration
}

// importInto imports ds into a running serve as `chronicle import` does:
// over a NATS client connection to serve's NATS with the credentials at
// credsPath, with the CLI's amendment check, bounded
// in-flight publishes and a rejects file. The projector keeps applying
// meanwhile. Every event must be stored or rejected with a reason.
func importInto(ctx context.Context, a *app.App, credsPath string, ds dataset, warn func(error)) (imported, error) {
	var res imported
	creds, err := embedded.Credentials(credsPath)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	nc, err := nats.Connect(a.NATSClientURL(), nats.Name("chronicle-cli"), nats.Timeout(5*time.Second), creds)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	defer nc.Close()
	pub, err := eventlog.NewPublisher(nc, nil)
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	pub.SetCheck(ingest.AmendmentCheck(nc, warn))
	sum, err := ingest.ImportFile(ctx, pub, ds.NDJSON, ingest.ImportOptions{Format: "ndjson", MaxInFlight: eventlog.DefaultMaxInFlight})
	res.elapsed, res.stored, res.rejected = sum.Elapsed, sum.Accepted, sum.Rejected
	if err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if sum.Accepted+sum.Rejected != ds.Events {
		return res, fmt.Errorf("import stored %d of %d events (%d duplicates, %d rejected, %d failed; reasons in %s)", sum.Accepted, ds.Events, sum.Duplicates, sum.Rejected, sum.Failed, sum.RejectsPath)
	}
	if sum.Rejected > 0 {
		res.reason = firstReason(sum.RejectsPath)
	}
	if res.behind, err = projectorBehind(ctx, a.JetStream()); err != nil {
		return res, err
	}
	start := time.Now()
	if err := a.Projector().WaitForLatest(ctx); err != nil {
		return res, fmt.Errorf("import: waiting for the projector: %w", err)
	}
	res.catchUp = time.Since(start)
	return res, nil
}

// firstReason is the reason given on the first line of a rejects file.
func firstReason(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var line struct {
		Reasons string `json:"reasons"`
	}
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &line) != nil {
		return "unreadable rejects file " + path
	}
	return line.Reasons
}

// logEvents is how many events the log holds.
func logEvents(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	s, err := js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return 0, fmt.Errorf("events stream: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("events stream: %w", err)
	}
	return info.State.Msgs, nil
}

// projectorBehind is how many events of the log the projector has not yet
// acknowledged, read from its durable consumer so that it does not depend
// on the read model's insides.
func projectorBehind(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	last, err := logEvents(ctx, js)
	if err != nil {
		return 0, fmt.Errorf("projector lag: %w", err)
	}
	c, err := js.Consumer(ctx, eventlog.EventsStream, runner.ConsumerName(replica))
	if err != nil {
		return 0, fmt.Errorf("projector lag: %w", err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("projector lag: %w", err)
	}
	if ci.AckFloor.Stream >= last {
		return 0, nil
	}
	return last - ci.AckFloor.Stream, nil
}

// restart stops a and starts serve again on the same data directory, and
// reports how long the stop took (it writes the final snapshot) and how
// long the new process took to be ready (snapshot loaded, tail replayed,
// caught up).
func restart(ctx context.Context, a *app.App, cfg app.Config) (*app.App, time.Duration, time.Duration, error) {
	start := time.Now()
	if err := a.Close(); err != nil {
		return nil, 0, 0, fmt.Errorf("stop: %w", err)
	}
	stopped := time.Since(start)
	start = time.Now()
	b := app.New(cfg)
	if err := b.Run(ctx); err != nil {
		return nil, stopped, 0, fmt.Errorf("restart: %w", err)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for b.Ready(ctx) != nil {
		select {
		case <-ctx.Done():
			return b, stopped, 0, fmt.Errorf("restart: not ready (%v): %w", b.Ready(context.Background()), ctx.Err())
		case <-tick.C:
		}
	}
	return b, stopped, time.Since(start), nil
}

// memory is the process's resident set and live heap after a full
// collection with freed memory returned to the system, and where the rest
// of the resident set is: heap spans in use beyond the live objects
// (fragmentation), goroutine stacks, the runtime's own metadata, and what
// is outside the Go runtime's accounts.
func memory() (rss, heap uint64, breakdown string, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, ms.HeapAlloc, "", fmt.Errorf("memory: %w", err)
	}
	rss, err = vmRSS(status)
	meta := ms.GCSys + ms.MSpanSys + ms.MCacheSys + ms.BuckHashSys + ms.OtherSys
	accounted := ms.HeapInuse + ms.StackInuse + meta
	outside := int64(rss) - int64(accounted)
	mb := func(n uint64) string { return group(int64(n >> 20)) }
	breakdown = fmt.Sprintf("heap spans in use %s MB (live %s), stacks %s MB, runtime metadata %s MB, outside the Go runtime %s MB",
		mb(ms.HeapInuse), mb(ms.HeapAlloc), mb(ms.StackInuse), mb(meta), group(outside>>20))
	return rss, ms.HeapAlloc, breakdown, err
}

// vmRSS reads the VmRSS line of /proc/<pid>/status, in bytes.
func vmRSS(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("memory: VmRSS line %q", sc.Text())
		}
		kb, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("memory: VmRSS: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("memory: no VmRSS in /proc/self/status")
}

// client asks serve's GraphQL endpoint what a practitioner's browser would:
// a bearer token, a purpose of access, and the access record each read
// writes to JetStream before the answer is released.
type client struct {
	base, token string // base is the hub's http://host:port
	http        *http.Client
}

func newClient(a *app.App) (*client, error) {
	// A manager sees every entry, so the page measured is the whole page
	// (redaction costs the same either way).
	tok, err := a.IssueToken("bench-manager", "Benchmark (synthetic)", auth.Manager, auth.HubAgency, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // the concurrent clients keep their connections
	return &client{base: "http://" + a.HTTPAddr(), token: tok, http: &http.Client{Transport: tr}}, nil
}

// query posts one GraphQL query and returns the body of a 200 answer
// without errors.
func (c *client) query(ctx context.Context, query string) ([]byte, error) {
	body, err := json.Marshal(map[string]string{"query": query})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	out, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("graphql: %w", err)
	}
	if bytes.Contains(out, []byte(`"errors"`)) {
		return nil, fmt.Errorf("graphql: %s", out[:min(len(out), 300)])
	}
	return out, nil
}

// get fetches path (an export) and returns the body of a 200 answer.
func (c *client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	out, err := c.do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	return out, nil
}

// do sends req with the client's token and purpose of access and returns
// the body of a 200 answer.
func (c *client) do(req *http.Request) ([]byte, error) {
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(access.HeaderPurpose, "quality_assurance")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%d %s", resp.StatusCode, out[:min(len(out), 300)])
	}
	return out, nil
}

// financialYear is the last whole April-to-March year of the generated
// history, as Annex A is asked for before an inspection.
func financialYear() (from, to string) {
	y := demodata.DefaultEnd.Year()
	if demodata.DefaultEnd.Month() < time.April {
		y--
	}
	return fmt.Sprintf("%d-04-01", y-1), fmt.Sprintf("%d-03-31", y)
}

// annexARows counts the rows of an Annex A answer.
func annexARows(body []byte) (int, error) {
	var r gateway.AnnexAResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("annex a: %w", err)
	}
	n := 0
	for _, l := range r.Lists {
		n += len(l.Rows)
	}
	return n, nil
}

// statutoryStatsQuery asks for every statutory count of the data set by
// quarter.
const statutoryStatsQuery = `{ statutoryStatistics(period: QUARTER) { period measure count } }`

// chronologyQuery asks for the first entries of a child's chronology, with
// every field the chronology view shows.
func chronologyQuery(child string, first int) string {
	return fmt.Sprintf(`{ child(identifier:{scheme:LA_PERSON_ID,value:%q}) { chronology(first: %d) { totalCount edges { cursor node { id type agency summary reliability sensitivity occurredAt recordedAt receivedAt details { name value meaning } } } } } }`, child, first)
}

// flaggedQuery is the worklist's first page.
const flaggedQuery = `{ flaggedChildren(first: 50) { totalCount nodes { highestSeverity child { id names } flags { code severity reason raisedAt } } } }`

// pageEntries checks one chronology answer and returns how many entries it
// holds and the child's total.
func pageEntries(body []byte) (entries, total int, err error) {
	var resp struct {
		Data struct {
			Child *struct {
				Chronology struct {
					TotalCount int               `json:"totalCount"`
					Edges      []json.RawMessage `json:"edges"`
				} `json:"chronology"`
			} `json:"child"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, 0, fmt.Errorf("chronology answer: %w", err)
	}
	if resp.Data.Child == nil {
		return 0, 0, errors.New("chronology answer: no such child")
	}
	return len(resp.Data.Child.Chronology.Edges), resp.Data.Child.Chronology.TotalCount, nil
}

// flaggedCount checks one worklist answer and returns how many children it
// lists.
func flaggedCount(body []byte) (int, error) {
	var resp struct {
		Data struct {
			Flagged *struct {
				TotalCount int `json:"totalCount"`
			} `json:"flaggedChildren"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		return 0, fmt.Errorf("worklist answer: %w", err)
	}
	if resp.Data.Flagged == nil {
		return 0, errors.New("worklist answer: no flaggedChildren")
	}
	return resp.Data.Flagged.TotalCount, nil
}

// publishNew publishes one new event about the long-history child through
// serve's validating publisher and waits until the projector has applied
// it: what a worklist asked for right after new events has to take in.
func publishNew(ctx context.Context, a *app.App, i int) error {
	e, err := longEvent(i)
	if err != nil {
		return err
	}
	data, err := a.Publisher().PrepareEvent(ctx, e)
	if err != nil {
		return fmt.Errorf("new event: %w", err)
	}
	res, err := a.Publisher().PublishOne(ctx, e, data)
	if err != nil {
		return fmt.Errorf("new event: %w", err)
	}
	if res.Status != eventlog.Accepted {
		return fmt.Errorf("new event: %s %s", res.Status, res.Error)
	}
	return a.Projector().WaitFor(ctx, res.Sequence)
}

// replay rebuilds the read model from the whole stream with a fresh
// projector and returns how many events it read and how long it took.
func replay(ctx context.Context, js jetstream.JetStream) (int, time.Duration, error) {
	res, err := runner.Replay(ctx, js, eventlog.EventsStream, nil)
	if err != nil {
		return 0, 0, err
	}
	return res.Read, res.Elapsed, nil
}
