package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// demoData writes the synthetic data set as NDJSON, for chronicle import or
// for an agency's test system.
func demoData(_ context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("demo-data", flag.ContinueOnError)
	fs.SetOutput(std.err)
	var cfg demodata.Config
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed: the same seed gives the same events")
	fs.IntVar(&cfg.Children, "children", 2000, "number of children")
	fs.IntVar(&cfg.Years, "years", 3, "years of history")
	out := fs.String("out", "-", "output file (- for stdout)")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	w := std.out
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(std.err, "demo-data: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		w = f
	}
	evs := demodata.Generate(cfg)
	if err := demodata.WriteNDJSON(w, evs); err != nil {
		fmt.Fprintf(std.err, "demo-data: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(std.err, "wrote %d events about %d children\n", len(evs), cfg.Children)
	return exitOK
}
