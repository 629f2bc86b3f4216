package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// replaySummary is what chronicle replay prints.
type replaySummary struct {
	AsKnownAt        string  `json:"as_known_at"`
	Read             int     `json:"messages_read"`
	Invalid          int     `json:"invalid_passed_over"`
	Rejected         int     `json:"not_applicable"`
	Events           int     `json:"events_applied"`
	Entries          int     `json:"chronology_entries"`
	Corrections      int     `json:"corrections"`
	Retractions      int     `json:"retractions"`
	Children         int     `json:"children"`
	Identifiers      int     `json:"identifiers"`
	Conflicts        int     `json:"identity_conflicts"`
	PossibleMatches  int     `json:"possible_matches"`
	Digest           string  `json:"digest"`
	Seconds          float64 `json:"seconds"`
	EventsPerSecond  float64 `json:"events_per_second"`
	LastSeq          uint64  `json:"last_sequence"`
	LastReceivedTime string  `json:"last_received"`
}

// replay rebuilds the read models from the stream as the hub knew it at a
// time, for a practice review, and prints a summary. The digest identifies
// the rebuilt model: two replays to the same time give the same digest.
func replay(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("replay", "", "Rebuilds the read models from the stream, as known at a time if asked, and summarises them (practice reviews).", std)
	var conn natsFlags
	conn.register(fs)
	asOf := fs.String("as-known-at", "", "rebuild from what the hub had received by this RFC 3339 time (default: everything)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	var at *time.Time
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339, *asOf)
		if err != nil {
			fmt.Fprintf(std.err, "replay: --as-known-at %q: want an RFC 3339 time like 2025-03-01T00:00:00Z\n", *asOf)
			return exitUsage
		}
		at = &t
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	nc, err := conn.connect("chronicle-replay", std.err, stop)
	if err != nil {
		fmt.Fprintf(std.err, "replay: %v\n", err)
		return exitOn(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		fmt.Fprintf(std.err, "replay: %v\n", err)
		return exitFailure
	}
	res, err := runner.Replay(ctx, js, eventlog.EventsStream, at)
	if err != nil {
		fmt.Fprintf(std.err, "replay: %v\n", err)
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(std.err, "replay: the server refused these credentials the log (an agency's NATS account may only publish)")
		}
		return exitFailure
	}
	st := res.Model.Stats()
	sum := replaySummary{
		AsKnownAt: "now", Read: res.Read, Invalid: res.Invalid, Rejected: res.Rejected,
		Events: st.Events, Entries: st.Entries, Corrections: st.Corrections, Retractions: st.Retractions,
		Children: st.Children, Identifiers: st.Identifiers,
		Conflicts: len(res.Model.Conflicts(nil)), PossibleMatches: len(res.Model.PossibleMatches(nil)),
		Digest: res.Model.Digest(), Seconds: res.Elapsed.Seconds(), EventsPerSecond: float64(res.Read) / res.Elapsed.Seconds(),
		LastSeq: st.LastSeq,
	}
	if at != nil {
		sum.AsKnownAt = at.UTC().Format(time.RFC3339)
	}
	if !st.LastEvent.IsZero() {
		sum.LastReceivedTime = st.LastEvent.UTC().Format(time.RFC3339)
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
		return exitOK
	}
	fmt.Fprintf(std.out, "Replayed the log as known at %s: %d messages in %.2fs (%.0f/s)\n", sum.AsKnownAt, sum.Read, sum.Seconds, sum.EventsPerSecond)
	fmt.Fprintf(std.out, "  events applied      %d (last received %s, sequence %d)\n", sum.Events, sum.LastReceivedTime, sum.LastSeq)
	fmt.Fprintf(std.out, "  chronology entries  %d, with %d corrections and %d retractions\n", sum.Entries, sum.Corrections, sum.Retractions)
	fmt.Fprintf(std.out, "  children            %d, known by %d identifiers\n", sum.Children, sum.Identifiers)
	fmt.Fprintf(std.out, "  identity conflicts  %d; possible matches %d\n", sum.Conflicts, sum.PossibleMatches)
	fmt.Fprintf(std.out, "  passed over         %d invalid (see the quarantine), %d not applicable\n", sum.Invalid, sum.Rejected)
	fmt.Fprintf(std.out, "  digest              %s\n", sum.Digest)
	return exitOK
}
