package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// demoMarker records, in the data directory, which demo data set a store
// holds and whether its load finished: so that a load interrupted by
// Ctrl-C is finished by the next serve --demo, and a store of real events
// (which has no marker) is never mixed with synthetic ones.
type demoMarker struct {
	Seed     int64 `json:"seed"`
	Children int   `json:"children"`
	Complete bool  `json:"complete"`
}

// DemoMarkerPath is where the demo marker lives.
func DemoMarkerPath(dataDir string) string { return filepath.Join(dataDir, "demo.json") }

func readDemoMarker(path string) (demoMarker, bool, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return demoMarker{}, false, nil
	}
	if err != nil {
		return demoMarker{}, false, fmt.Errorf("demo: %w", err)
	}
	var m demoMarker
	if err := json.Unmarshal(raw, &m); err != nil {
		return demoMarker{}, false, fmt.Errorf("demo: %s: %w", path, err)
	}
	return m, true, nil
}

func writeDemoMarker(path string, m demoMarker) error {
	raw, _ := json.Marshal(m)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// LoadDemo publishes a synthetic data set through the validating publisher
// and waits until the projector has applied it. An empty store gets the
// whole set; a store whose earlier load was interrupted gets the rest (the
// events' ids make re-sending the last few harmless); a store that holds
// the set already, or holds events that are not the demo's, is left
// alone. It reports whether it published anything. Until it returns
// successfully, a process started with Config.Demo is not ready: a script
// waiting on /readyz would otherwise read part of the data. Either way the
// store is then taken to be synthetic, and GraphiQL's opening query names
// the example child, so that pasting a token and pressing run shows a
// chronology. (Without --demo the page names no real child: it is public.)
func (a *App) LoadDemo(ctx context.Context, cfg demodata.Config, progress io.Writer) (bool, error) {
	loaded, err := a.loadDemo(ctx, cfg, progress)
	if err == nil {
		if nhs, ok := a.ExampleChild(); ok {
			a.example.Store(nhs)
		}
		a.demoPending.Store(false)
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
	path := DemoMarkerPath(a.cfg.DataDir)
	marker, found, err := readDemoMarker(path)
	if err != nil {
		return false, err
	}
	want := demoMarker{Seed: cfg.Seed, Children: cfg.Children}
	switch {
	case found && marker.Complete:
		return false, nil
	case found && (marker.Seed != want.Seed || marker.Children != want.Children):
		return false, fmt.Errorf("demo: this store holds part of the demo data set with seed %d and %d children; run serve --demo --demo-seed %d --demo-children %d to finish it", marker.Seed, marker.Children, marker.Seed, marker.Children)
	case !found && info.State.Msgs > 0:
		fmt.Fprintf(progress, "The store already holds %d events that are not the demo's; loading no demo data.\n", info.State.Msgs)
		return false, nil
	}
	if err := writeDemoMarker(path, want); err != nil {
		return false, err
	}
	// The demo's events were published in order on one connection, so the
	// stream holds a prefix of them; the last in-flight window is sent
	// again, and their ids keep it from being stored twice.
	skip := 0
	if found {
		skip = max(0, int(info.State.Msgs)-2*eventlog.DefaultMaxInFlight)
		fmt.Fprintf(progress, "Finishing an interrupted demo load (%d events stored)...\n", info.State.Msgs)
	}
	started := time.Now()
	fmt.Fprintf(progress, "Loading synthetic events about %d children (seed %d)...\n", cfg.Children, cfg.Seed)
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
	i := 0
	err = demodata.Stream(ctx, cfg, func(r demodata.Record) error {
		defer func() { i++ }()
		if i < skip {
			return nil
		}
		e, err := r.Event()
		if err != nil {
			return err
		}
		if err := batch.Add(ctx, i, e, r.Raw); err != nil {
			return err
		}
		select {
		case <-tick.C:
			rate := float64(i-skip) / time.Since(started).Seconds()
			fmt.Fprintf(progress, "  %d events  %.0f/s\n", i, rate)
		default:
		}
		return nil
	})
	batch.Close()
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	if failed > 0 {
		return true, fmt.Errorf("demo: %d events not stored (first: %s)", failed, firstErr)
	}
	if err := a.proj.WaitForLatest(ctx); err != nil {
		return true, err
	}
	want.Complete = true
	if err := writeDemoMarker(path, want); err != nil {
		return true, err
	}
	fmt.Fprintf(progress, "Loaded %d events in %s.\n", stored, time.Since(started).Round(100*time.Millisecond))
	return true, nil
}

// ExampleChild returns an NHS number of the child with the longest
// chronology, for the example query printed at start.
func (a *App) ExampleChild() (string, bool) {
	m := a.model
	if m == nil {
		return "", false // an ingest process has no read model
	}
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
