package main

import (
	"context"
	"fmt"
	"os"

	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// demoData writes the synthetic data set as NDJSON, for chronicle import or
// for an agency's test system. It streams: memory stays flat at any size
// (sorted runs are spilled under --temp-dir and removed at the end).
func demoData(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("demo-data", "", "Writes the synthetic demo data set as NDJSON, in flat memory (for chronicle import, or an agency's test system).", std)
	var cfg demodata.Config
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed: the same seed gives the same events")
	fs.IntVar(&cfg.Children, "children", 2000, "number of children")
	fs.IntVar(&cfg.Years, "years", 3, "years of history")
	fs.StringVar(&cfg.TempDir, "temp-dir", "", "where to spill sorted runs while generating (default the system's temporary directory)")
	out := fs.String("out", "-", "output file (- for stdout)")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	w := std.out
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(std.err, "demo-data: %v\n", err)
			return exitFailure
		}
		defer f.Close()
		w = f
	}
	n, err := demodata.StreamNDJSON(ctx, w, cfg)
	if err != nil {
		fmt.Fprintf(std.err, "demo-data: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(std.err, "wrote %d events about %d children\n", n, cfg.Children)
	return exitOK
}
