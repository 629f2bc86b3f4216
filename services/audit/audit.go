// Package audit keeps Chronicle's access log on its own JetStream stream:
// every read of a child's record, every link, unlink, correction and export.
// A record is stored before the answer it describes is released; reading
// the log back is served from an index built from the stream.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// Log is the access log.
type Log struct {
	js jetstream.JetStream
	cc jetstream.ConsumeContext
	// created is when the stream this Log opened was created: a stream of
	// the same name created later is another one.
	created time.Time

	mu    sync.RWMutex
	bySeq map[uint64]access.Record
	seqs  []uint64

	// Concurrent requests' records wait here for the committer, which
	// stores all that are waiting as one atomic batch (see Record).
	queue   chan *write
	quit    chan struct{}
	stopped sync.Once
	flushes atomic.Int64 // batches stored, for the grouping test
}

// write is one request's records on their way to the stream.
type write struct {
	msgs []*nats.Msg
	recs []access.Record
	done chan error // buffered: the committer never waits on it
}

var _ access.Auditor = (*Log)(nil)

// Open starts indexing the audit stream from its beginning, and the
// committer that stores records.
func Open(ctx context.Context, js jetstream.JetStream) (*Log, error) {
	l, err := open(ctx, js)
	if err != nil {
		return nil, err
	}
	go l.commit()
	return l, nil
}

// open is Open without the committer.
func open(ctx context.Context, js jetstream.JetStream) (*Log, error) {
	l := &Log{js: js, bySeq: map[uint64]access.Record{}, queue: make(chan *write, 1024), quit: make(chan struct{})}
	s, err := js.Stream(ctx, eventlog.AuditStream)
	if err != nil {
		return nil, fmt.Errorf("audit: stream %s: %w", eventlog.AuditStream, err)
	}
	l.created = s.CachedInfo().Created
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("audit index: %w", err)
	}
	l.cc, err = cons.Consume(func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return
		}
		var r access.Record
		if json.Unmarshal(m.Data(), &r) == nil {
			l.add(meta.Sequence.Stream, r)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("audit index: %w", err)
	}
	return l, nil
}

func (l *Log) add(seq uint64, r access.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.bySeq[seq]; ok {
		return
	}
	l.bySeq[seq] = r
	i := sort.Search(len(l.seqs), func(i int) bool { return l.seqs[i] > seq })
	l.seqs = append(l.seqs, 0)
	copy(l.seqs[i+1:], l.seqs[i:])
	l.seqs[i] = seq
}

// RecordWithin bounds how long Record waits for the stream to acknowledge
// a request's records. A stream without a leader (a cluster that has lost
// its quorum, or is electing) takes a publish and never answers it; the
// read waiting on it is refused after this long, well inside a GraphQL
// request's own limit (gateway.DefaultGraphQLTimeout), so the caller is
// told the access log is unavailable rather than left waiting. A healthy
// stream answers in milliseconds; an election takes a few seconds.
const RecordWithin = 5 * time.Second

// Record stores every record, waiting for the stream's acknowledgement
// (at most RecordWithin); an error means the read must not be answered.
// The records of one request are stored in one JetStream atomic batch: all
// of them or none, so a failure never leaves part of a request's reads on
// the log. Requests that arrive while a batch is being stored wait for the
// next, and all of them go in it together (group commit): under fsync
// always, eight practitioners reading at once cost one sync, not eight in
// a queue. (A request with more than eventlog.MaxAtomicBatch records, which
// no page makes, is stored alone in atomic batches of that size.) A request
// that gives up waiting may still have its records stored: the log then
// holds a read that was refused, never the reverse.
func (l *Log) Record(ctx context.Context, recs []access.Record) error {
	ctx, cancel := context.WithTimeout(ctx, RecordWithin)
	defer cancel()
	if len(recs) > eventlog.MaxAtomicBatch {
		for from := 0; from < len(recs); from += eventlog.MaxAtomicBatch {
			part := recs[from:min(from+eventlog.MaxAtomicBatch, len(recs))]
			msgs, err := messages(from, part)
			if err != nil {
				return err
			}
			if err := l.store(ctx, []*write{{msgs: msgs, recs: part}}); err != nil {
				return err
			}
		}
		return nil
	}
	msgs, err := messages(0, recs)
	if err != nil {
		return err
	}
	w := &write{msgs: msgs, recs: recs, done: make(chan error, 1)}
	select {
	case l.queue <- w:
	case <-l.quit:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("audit: store access records: %w", ctx.Err())
	}
	select {
	case err := <-w.done:
		return err
	case <-l.quit:
		return errClosed
	case <-ctx.Done():
		return fmt.Errorf("audit: store access records: %w", ctx.Err())
	}
}

// errClosed refuses records after Close.
var errClosed = errors.New("audit: the access log is closed")

// messages are a request's records as stream messages; from is the index
// of the first in the request, for their message ids.
func messages(from int, recs []access.Record) ([]*nats.Msg, error) {
	msgs := make([]*nats.Msg, len(recs))
	for i, r := range recs {
		data, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		m := nats.NewMsg(eventlog.AuditPrefix + r.Action)
		m.Data = data
		m.Header.Set(jetstream.ExpectedStreamHeader, eventlog.AuditStream)
		if r.RequestID != "" {
			m.Header.Set(jetstream.MsgIDHeader, r.RequestID+"-"+strconv.Itoa(from+i)+"-"+r.At.Format(time.RFC3339Nano))
		}
		msgs[i] = m
	}
	return msgs, nil
}

// commit stores what is waiting, as one batch, until Close: it takes the
// first request to come and every other already waiting, up to
// eventlog.MaxAtomicBatch records.
func (l *Log) commit() {
	var next *write
	for {
		if next == nil {
			select {
			case next = <-l.queue:
			case <-l.quit:
				return
			}
		}
		group, n := []*write{next}, len(next.msgs)
		next = nil
	gather:
		for {
			select {
			case w := <-l.queue:
				if n+len(w.msgs) > eventlog.MaxAtomicBatch {
					next = w // the first of the next batch
					break gather
				}
				group, n = append(group, w), n+len(w.msgs)
			default:
				break gather
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), RecordWithin)
		err := l.store(ctx, group)
		cancel()
		for _, w := range group {
			w.done <- err
		}
	}
}

// store stores the group's records as one atomic batch, in order, and
// indexes them.
func (l *Log) store(ctx context.Context, group []*write) error {
	var msgs []*nats.Msg
	for _, w := range group {
		msgs = append(msgs, w.msgs...)
	}
	var ack *jetstream.PubAck
	var err error
	if len(msgs) == 1 {
		ack, err = l.js.PublishMsg(ctx, msgs[0])
	} else {
		ack, err = eventlog.PublishAtomic(ctx, l.js, msgs)
	}
	if err != nil {
		return fmt.Errorf("audit: store access records: %w", err)
	}
	l.flushes.Add(1)
	seq := ack.Sequence - uint64(len(msgs)) + 1
	for _, w := range group {
		for _, r := range w.recs {
			l.add(seq, r) // read your own writes
			seq++
		}
	}
	return nil
}

// Query returns matching records, oldest first.
func (l *Log) Query(f access.Filter) []access.Record {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var out []access.Record
	for _, seq := range l.seqs {
		r := l.bySeq[seq]
		if f.ChildID != "" && !containsChild(r.ChildID, f.ChildID) {
			continue
		}
		if f.Subject != "" && r.Subject != f.Subject {
			continue
		}
		if (f.From != nil && r.At.Before(*f.From)) || (f.To != nil && r.At.After(*f.To)) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// containsChild matches a record's child id, which for an event read may
// list several children separated by commas.
func containsChild(field, id string) bool {
	for start := 0; start <= len(field); {
		end := start
		for end < len(field) && field[end] != ',' {
			end++
		}
		if field[start:end] == id {
			return true
		}
		start = end + 1
	}
	return false
}

// ErrUnavailable wraps every reason the access log cannot be relied on:
// its stream missing or replaced, sealed, or set to lose what is written
// to it.
var ErrUnavailable = errors.New("audit: access log unavailable")

// Check returns nil when the access log's stream is the one Open found and
// keeps every record written to it; otherwise an error wrapping
// ErrUnavailable that says what is wrong. Record fails closed on its own
// when the stream is gone; Check lets readiness say so before anyone asks
// for a record, and notices a stream deleted and created again, or changed
// so that it would take records and then lose them.
func (l *Log) Check(ctx context.Context) error {
	s, err := l.js.Stream(ctx, eventlog.AuditStream)
	if err != nil {
		return fmt.Errorf("%w: stream %s: %w", ErrUnavailable, eventlog.AuditStream, err)
	}
	info := s.CachedInfo()
	c := info.Config
	var problems []string
	if !info.Created.Equal(l.created) {
		problems = append(problems, fmt.Sprintf("it was replaced (created %s, after Chronicle started): the records it held are gone", info.Created.UTC().Format(time.RFC3339)))
	}
	if c.Sealed {
		problems = append(problems, "it is sealed and takes no more records")
	}
	if !slices.Contains(c.Subjects, eventlog.AuditPrefix+">") {
		problems = append(problems, "it no longer takes "+eventlog.AuditPrefix+">")
	}
	// A limit with the default discard policy (old) deletes the oldest
	// records to make room; with discard new the stream refuses records
	// once full instead, which fails reads closed but loses nothing, so it
	// is a problem only when reached. An age limit always deletes, and a
	// per-subject limit does unless the refusal is per subject too.
	discardNew := c.Discard == jetstream.DiscardNew
	if c.MaxAge > 0 || (!discardNew && (c.MaxMsgs > 0 || c.MaxBytes > 0)) || (c.MaxMsgsPerSubject > 0 && !(discardNew && c.DiscardNewPerSubject)) {
		problems = append(problems, "its limits (age, messages or bytes) would discard records")
	} else if full := fullness(info.State, c); full != "" {
		problems = append(problems, full)
	}
	if q := quorum(info.Cluster); q != "" {
		problems = append(problems, q)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: stream %s: %s", ErrUnavailable, eventlog.AuditStream, strings.Join(problems, "; "))
	}
	return nil
}

// Close stops indexing and storing: records offered after it, or still
// waiting for a batch, are refused.
func (l *Log) Close() {
	l.cc.Stop()
	l.stopped.Do(func() { close(l.quit) })
}

// fullRoom is the room below its byte limit at which an access log that
// refuses records when full (discard new) is reported full: a worklist
// page's records, the largest one request writes, are about 50 KiB.
const fullRoom = 64 << 10

// fullness says why a stream that refuses records once full (discard new)
// cannot take a request's records now, or "" when it can.
func fullness(st jetstream.StreamState, c jetstream.StreamConfig) string {
	switch {
	case c.MaxMsgs > 0 && st.Msgs >= uint64(c.MaxMsgs):
		return fmt.Sprintf("it is full (%d records, its limit) and refuses more: raise or remove its message limit", st.Msgs)
	case c.MaxBytes > 0 && st.Bytes+fullRoom > uint64(c.MaxBytes):
		return fmt.Sprintf("it is full (%d of its %d bytes) and refuses more: raise or remove its byte limit", st.Bytes, c.MaxBytes)
	}
	return ""
}

// quorum says why a replicated stream cannot commit what is written to it
// now, or "" when it can (or is not replicated). Its info is answered by a
// node that still believes it leads after the others have gone, so an
// answer is not enough: a majority of the replicas, the leader among them,
// must be online. A record sent meanwhile would be taken and never
// acknowledged (see RecordWithin).
func quorum(c *jetstream.ClusterInfo) string {
	if c == nil || len(c.Replicas) == 0 {
		return ""
	}
	if c.Leader == "" {
		return "it has no leader (an election, or too few nodes up)"
	}
	online := 1 // the leader
	for _, p := range c.Replicas {
		if !p.Offline {
			online++
		}
	}
	if all := len(c.Replicas) + 1; 2*online <= all {
		return fmt.Sprintf("only %d of its %d replicas are online, too few to store a record", online, all)
	}
	return ""
}
