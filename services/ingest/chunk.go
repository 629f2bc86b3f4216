package ingest

import (
	"context"
	"runtime"
	"sync"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// chunkSize is how many rows are validated together. Validation (JSON
// decoding, above all) is the import's main cost; spreading a chunk over the
// cores while keeping publish order is what lets import keep up with the log.
const chunkSize = 256

// row is one input row on its way to the log.
type row struct {
	line  int
	raw   []byte
	cells []string
	err   error // a read or conversion problem, or the validation result
	event *events.Event
	data  []byte
}

// chunker collects rows, validates each chunk in parallel, and hands the
// rows to publish in input order.
type chunker struct {
	ctx     context.Context
	pub     *eventlog.Publisher
	publish func(*row) error
	rows    []*row
	workers int
}

func newChunker(ctx context.Context, pub *eventlog.Publisher, publish func(*row) error) *chunker {
	return &chunker{ctx: ctx, pub: pub, publish: publish, workers: runtime.GOMAXPROCS(0)}
}

// offer queues one row; readErr marks a row that could not be read or
// converted and is rejected as it is.
func (c *chunker) offer(line int, raw []byte, cells []string, readErr error) error {
	c.rows = append(c.rows, &row{line: line, raw: raw, cells: cells, err: readErr})
	if len(c.rows) < chunkSize {
		return nil
	}
	return c.flush()
}

// flush validates the queued rows in parallel, then judges and publishes
// them in order.
func (c *chunker) flush() error {
	var wg sync.WaitGroup
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(c.rows); i += c.workers {
				r := c.rows[i]
				if r.err == nil {
					r.event, r.data, r.err = c.pub.Validate(r.raw)
				}
			}
		}()
	}
	wg.Wait()
	for _, r := range c.rows {
		// Once cancelled, publish nothing more: the batch would still send
		// an event whose Add then fails, storing it without reporting it.
		if err := c.ctx.Err(); err != nil {
			return err
		}
		// Judged here, in input order, not in the workers: a correction
		// must see the event it corrects however the chunk was spread.
		if r.err == nil {
			r.err = c.pub.Check(c.ctx, r.event)
		}
		if err := c.publish(r); err != nil {
			return err
		}
	}
	c.rows = c.rows[:0]
	return nil
}
