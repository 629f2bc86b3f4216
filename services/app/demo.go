package app

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// LoadDemo publishes a synthetic data set through the validating publisher
// when the log is empty, and waits until the projector has applied it. It
// reports whether it loaded anything; a store that already holds events is
// left alone, so a second `serve --demo` reuses the data. Either way the
// store is then taken to be synthetic, and GraphiQL's opening query names
// the example child, so that pasting a token and pressing run shows a
// chronology. (Without --demo the page names no real child: it is public.)
func (a *App) LoadDemo(ctx context.Context, cfg demodata.Config, progress io.Writer) (bool, error) {
	loaded, err := a.loadDemo(ctx, cfg, progress)
	if err == nil {
		if nhs, ok := a.ExampleChild(); ok {
			a.example.Store(nhs)
		}
	}
	return loaded, err
}

func (a *App) loadDemo(ctx context.Context, cfg demodata.Config, progress io.Writer) (bool, error) {
	s, err := a.js.Stream(ctx, eventlog.EventsStream)
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	if info.State.Msgs > 0 {
		return false, nil
	}
	started := time.Now()
	evs := demodata.Generate(cfg)
	fmt.Fprintf(progress, "Loading %d synthetic events about %d children (seed %d)...\n", len(evs), cfg.Children, cfg.Seed)
	var stored, failed int
	var firstErr string
	batch := a.pub.NewBatch(0, func(r eventlog.Result) {
		switch r.Status {
		case eventlog.Accepted, eventlog.Duplicate:
			stored++
		default:
			failed++
			if firstErr == "" {
				firstErr = fmt.Sprintf("%s %v %s", r.Status, r.Problems, r.Error)
			}
		}
	})
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i, e := range evs {
		data, err := events.Encode(e)
		if err == nil {
			err = batch.Add(ctx, i, e, data)
		}
		if err != nil {
			batch.Close()
			return false, fmt.Errorf("demo: %w", err)
		}
		select {
		case <-tick.C:
			rate := float64(i) / time.Since(started).Seconds()
			fmt.Fprintf(progress, "  %d/%d events  %.0f/s  ETA %s\n", i, len(evs), rate, (time.Duration(float64(len(evs)-i)/rate) * time.Second).Round(time.Second))
		default:
		}
	}
	batch.Close()
	if failed > 0 {
		return true, fmt.Errorf("demo: %d events not stored (first: %s)", failed, firstErr)
	}
	if err := a.proj.WaitForLatest(ctx); err != nil {
		return true, err
	}
	fmt.Fprintf(progress, "Loaded %d events in %s.\n", stored, time.Since(started).Round(100*time.Millisecond))
	return true, nil
}

// ExampleChild returns an NHS number of the child with the longest
// chronology, for the example query printed at start.
func (a *App) ExampleChild() (string, bool) {
	m := a.proj.Model()
	best, bestN := "", 0
	for _, c := range m.Children(projections.ChildFilter{}, nil) {
		entries, _ := m.Chronology(c.ID, nil, false)
		if len(entries) <= bestN {
			continue
		}
		for _, k := range c.Identifiers {
			if k.Scheme == events.SchemeNHSNumber {
				best, bestN = k.Value, len(entries)
				break
			}
		}
	}
	return best, best != ""
}
