// Command chronicle is the one Chronicle binary. Verbs:
//
//	chronicle serve    run the hub: embedded NATS (or --nats-url), ingest and query APIs
//	chronicle publish  validate and publish events from a file or stdin
//	chronicle import   bulk-import NDJSON or CSV history, with progress and a rejects file
//	chronicle replay   rebuild the read models as known at a time (practice reviews)
//	chronicle token    issue a bearer token signed with the local key
//	chronicle demo-data write the synthetic data set as NDJSON
//	chronicle export   Annex A lists or a CIN census file, from the running hub
//
// Every flag can also be set from the environment as CHRONICLE_<FLAG>, with
// dashes as underscores (--nats-url is CHRONICLE_NATS_URL). A flag given on
// the command line wins.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	_ "time/tzdata" // CSV import reads zone-less times as Europe/London on any machine
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit codes.
const (
	exitOK       = 0
	exitRejected = 1 // some events were not stored
	exitUsage    = 2 // bad flags, or the command could not run
)

type verb struct {
	name, summary string
	run           func(ctx context.Context, args []string, io stdio) int
}

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func verbs() []verb {
	return []verb{
		{"serve", "run Chronicle: NATS, the ingest API and the query API", serve},
		{"publish", "validate and publish events (a JSON event, a JSON array or NDJSON) from FILE or stdin", publish},
		{"import", "bulk-import an NDJSON or CSV FILE of history, with progress and a rejects file", importFile},
		{"replay", "rebuild the read models from the stream as known at a time, and summarise them", replay},
		{"token", "issue a bearer token signed with the data directory's key", token},
		{"demo-data", "write the synthetic demo data set as NDJSON", demoData},
		{"export", "ask the running hub for Annex A (annex-a) or a CIN census file (cin-census)", exportVerb},
	}
}

func run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	std := stdio{in: in, out: out, err: errw}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(errw)
		return exitUsage
	}
	for _, v := range verbs() {
		if v.name == args[0] {
			return v.run(ctx, args[1:], std)
		}
	}
	fmt.Fprintf(errw, "chronicle: unknown verb %q\n\n", args[0])
	usage(errw)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: chronicle <verb> [flags]\n\nverbs:")
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-10s %s\n", v.name, v.summary)
	}
	fmt.Fprintln(w, "\nRun chronicle <verb> -h for the verb's flags. Flags may also be set as CHRONICLE_<FLAG> environment variables.")
}

// parseFlags parses args, then fills every flag not given on the command line
// from its CHRONICLE_* environment variable. Errors are printed to the flag
// set's output.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := "CHRONICLE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
				fmt.Fprintf(fs.Output(), "%s: %v\n", fs.Name(), err)
			}
		}
	})
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
