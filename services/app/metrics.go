package app

import (
	"context"
	"time"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/services/audit"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/metrics"
)

// metricsState is what a scrape of /metrics reads from the process (see
// metrics.State): the NATS connection, the quarantine stream's count and,
// where this process runs a projector, its position and its read model's
// size. A request that fails leaves its metrics out of that scrape.
func (a *App) metricsState(ctx context.Context) metrics.State {
	var s metrics.State
	if nc := a.nc; nc != nil {
		s.NATSConnected = nc.IsConnected()
		s.Reconnects = nc.Stats().Reconnects
	}
	if a.js == nil {
		return s
	}
	if q, err := a.js.Stream(ctx, eventlog.QuarantineStream); err == nil {
		n := q.CachedInfo().State.Msgs
		s.Quarantined = &n
	}
	if a.proj == nil {
		return s
	}
	stream, err := a.js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return s
	}
	info := stream.CachedInfo().State
	stats := a.model.Stats()
	p := &metrics.Projector{StreamSeq: info.LastSeq, AppliedSeq: stats.LastSeq, Children: stats.Children, Entries: stats.Entries, Bytes: a.model.Bytes()}
	if p.AppliedSeq < p.StreamSeq {
		// The oldest event not applied yet is the next one; should it be
		// unreadable, the newest gives a lower bound.
		waiting := info.LastTime
		if m, err := stream.GetMsg(ctx, p.AppliedSeq+1); err == nil {
			waiting = m.Time
		}
		p.LagSeconds = max(0, time.Since(waiting).Seconds())
	}
	s.Projector = p
	return s
}

// countedAudit counts the access records written and failed.
type countedAudit struct {
	*audit.Log
	m *metrics.Metrics
}

var _ gateway.Auditor = countedAudit{}

// Record implements gateway.Auditor.
func (c countedAudit) Record(ctx context.Context, recs []gateway.AccessRecord) error {
	err := c.Log.Record(ctx, recs)
	c.m.AccessRecords(len(recs), err)
	return err
}
