package main

import (
	"context"
	"fmt"

	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

func statutoryFormat(f string) bool { return f == "cin-census" || f == "ssda903" }

// importStatutory imports a statutory return: a census file or an SSDA903
// directory. The exit code is 1 when any child or event was not stored.
func importStatutory(ctx context.Context, conn natsFlags, format, path string, year int, opts ingest.ImportOptions, std stdio) int {
	// A return holds no corrections or retractions, so the amendment check
	// (which remembers every event published) has nothing to judge.
	nc, err := conn.connect("chronicle-cli", std.err, nil)
	if err != nil {
		fmt.Fprintf(std.err, "import: connect to NATS at %s: %v (is chronicle serve running?)\n", conn.url, err)
		return exitOn(err)
	}
	defer nc.Close()
	pub, err := eventlog.NewPublisher(nc, nil)
	if err != nil {
		fmt.Fprintf(std.err, "import: %v\n", err)
		return exitFailure
	}
	var sum ingest.StatutorySummary
	switch format {
	case "cin-census":
		sum, err = ingest.ImportCensusFile(ctx, pub, path, ingest.CensusOptions{ImportOptions: opts, Year: year})
	default:
		sum, err = ingest.ImportSSDA903Dir(ctx, pub, path, opts)
	}
	if sum.Children > 0 {
		fmt.Fprintln(std.out, sum)
	}
	if err != nil {
		fmt.Fprintf(std.err, "import: %v\n", err)
		return exitFailure
	}
	if sum.NotStored() > 0 {
		return exitFailure
	}
	return exitOK
}
