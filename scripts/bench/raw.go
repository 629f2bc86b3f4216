package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// rawServer is a bare embedded JetStream server with Chronicle's events
// stream, set up as serve sets up its own (same store settings, same stream
// configuration, direct gets allowed), for the baselines: what JetStream
// does with the same bytes when nothing validates, projects or audits them.
type rawServer struct {
	s     *server.Server
	key   nkeys.KeyPair // the one user the server lets in, as serve's own key
	local *nats.Conn    // in process, as the projector reads
	js    jetstream.JetStream
}

func startRaw(ctx context.Context, dir string, syncAlways bool) (*rawServer, error) {
	key, err := nkeys.CreateUser()
	if err != nil {
		return nil, fmt.Errorf("raw server: %w", err)
	}
	pub, err := key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("raw server: %w", err)
	}
	s, err := embedded.StartContext(ctx, embedded.Config{StoreDir: dir, Listen: "127.0.0.1:0", SyncAlways: syncAlways, HubKey: pub})
	if err != nil {
		return nil, fmt.Errorf("raw server: %w", err)
	}
	r := &rawServer{s: s, key: key}
	if r.local, err = embedded.Connect(s, key); err != nil {
		r.close()
		return nil, err
	}
	if r.js, err = jetstream.New(r.local); err != nil {
		r.close()
		return nil, fmt.Errorf("raw server: %w", err)
	}
	var cfg jetstream.StreamConfig
	for _, c := range eventlog.Streams(eventlog.StreamConfig{}) {
		if c.Name == eventlog.EventsStream {
			cfg = c
		}
	}
	cfg.AllowDirect = true
	if _, err := r.js.CreateStream(ctx, cfg); err != nil {
		r.close()
		return nil, fmt.Errorf("raw server: stream: %w", err)
	}
	return r, nil
}

func (r *rawServer) close() {
	if r.local != nil {
		r.local.Close()
	}
	r.s.Shutdown()
	r.s.WaitForShutdown()
}

// placed is where one of the measured child's events landed.
type placed struct {
	at  time.Time
	seq uint64
}

// rawPublish publishes every event of ds asynchronously over a loopback
// TCP connection, as chronicle import does (same subject, Nats-Msg-Id and
// expected-stream header, same bound on unacknowledged messages), and
// returns how long it took and the stream sequences of ds.Child's events,
// in occurred order. Every event must be stored. When ctx ends first, it
// returns how many were stored by then and in how long, with ctx's error.
func (r *rawServer) publish(ctx context.Context, ds dataset, within time.Duration) (int, time.Duration, []uint64, error) {
	auth, err := embedded.KeyAuth(r.key)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("raw publish: %w", err)
	}
	nc, err := nats.Connect(r.s.ClientURL(), nats.Name("bench-raw"), auth)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("raw publish: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(eventlog.DefaultMaxInFlight))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("raw publish: %w", err)
	}
	type mine struct {
		at time.Time
		f  jetstream.PubAckFuture
	}
	var child []mine
	start := time.Now()
	err = ds.each(ctx, func(raw []byte, rt route) error {
		m := nats.NewMsg(rt.Subject)
		m.Data = raw
		m.Header.Set(jetstream.MsgIDHeader, rt.ID)
		m.Header.Set(jetstream.ExpectedStreamHeader, eventlog.EventsStream)
		f, err := js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
		if err != nil {
			return fmt.Errorf("raw publish %s: %w", rt.ID, err)
		}
		if slices.Contains(rt.Children, ds.Child) {
			child = append(child, mine{rt.OccurredAt, f})
		}
		if within > 0 && time.Since(start) > within {
			return errBudget
		}
		return nil
	})
	spent := errors.Is(err, errBudget)
	if spent {
		err = nil
	}
	if err == nil {
		select {
		case <-js.PublishAsyncComplete():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	elapsed := time.Since(start)
	if err != nil {
		stored, _ := r.stored(context.WithoutCancel(ctx))
		return stored, elapsed, nil, fmt.Errorf("raw publish: %w", err)
	}
	var seqs []placed
	for _, m := range child {
		select {
		case ack := <-m.f.Ok():
			seqs = append(seqs, placed{m.at, ack.Sequence})
		case err := <-m.f.Err():
			return 0, elapsed, nil, fmt.Errorf("raw publish: %w", err)
		}
	}
	stored, err := r.stored(ctx)
	if err != nil {
		return 0, elapsed, nil, err
	}
	if stored != ds.Events && !spent {
		return stored, elapsed, nil, fmt.Errorf("raw: the stream holds %d messages, want %d", stored, ds.Events)
	}
	slices.SortStableFunc(seqs, func(a, b placed) int { return a.at.Compare(b.at) })
	out := make([]uint64, len(seqs))
	for i, p := range seqs {
		out[i] = p.seq
	}
	return stored, elapsed, out, nil
}

// errBudget stops a publish that has used its time: a rate measured on
// the events sent by then.
var errBudget = errors.New("time budget spent")

// stored is how many messages the stream holds.
func (r *rawServer) stored(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return 0, fmt.Errorf("raw: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("raw: %w", err)
	}
	return int(info.State.Msgs), nil
}

// drain reads n messages with an ordered consumer, as fast as JetStream
// delivers them in process.
func drain(ctx context.Context, js jetstream.JetStream, stream string, n int) (time.Duration, error) {
	start := time.Now()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return 0, fmt.Errorf("drain: %w", err)
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, fmt.Errorf("drain: %w", err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return 0, fmt.Errorf("drain: %w", err)
	}
	defer it.Stop()
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for i := range n {
		if _, err := it.Next(); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return 0, fmt.Errorf("drain: message %d of %d: %w", i+1, n, err)
		}
	}
	return time.Since(start), nil
}

// directGetter fetches messages by sequence with JetStream's direct get,
// every request of a page sent before the first answer is awaited: the
// least a read model that keeps bodies in the stream pays for a page.
type directGetter struct {
	nc     *nats.Conn
	sub    *nats.Subscription
	inbox  string
	stream string
}

func newDirectGetter(nc *nats.Conn, stream string) (*directGetter, error) {
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox + ".*")
	if err != nil {
		return nil, fmt.Errorf("direct get: %w", err)
	}
	return &directGetter{nc: nc, sub: sub, inbox: inbox, stream: stream}, nil
}

func (d *directGetter) close() { d.sub.Unsubscribe() }

// page fetches the messages at seqs and checks that every one was found.
func (d *directGetter) page(ctx context.Context, seqs []uint64) error {
	subject := "$JS.API.DIRECT.GET." + d.stream
	for i, seq := range seqs {
		req := []byte(`{"seq":` + strconv.FormatUint(seq, 10) + `}`)
		if err := d.nc.PublishRequest(subject, d.inbox+"."+strconv.Itoa(i), req); err != nil {
			return fmt.Errorf("direct get %d: %w", seq, err)
		}
	}
	for range seqs {
		m, err := d.sub.NextMsgWithContext(ctx)
		if err != nil {
			return fmt.Errorf("direct get: %w", err)
		}
		if status := m.Header.Get("Status"); status != "" {
			return fmt.Errorf("direct get %s: status %s %s", m.Subject, status, m.Header.Get("Description"))
		}
		if len(m.Data) == 0 {
			return errors.New("direct get: empty message")
		}
	}
	return nil
}
