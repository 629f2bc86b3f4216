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
// the command line wins. Flags may come before or after the arguments.
//
// Every verb prints its usage to stdout and exits 0 for -h or --help. Exit
// codes: 0 done; 1 the command ran and failed (events not stored, the
// server unreachable, a file missing); 2 the command line is wrong (an
// unknown verb or flag, a bad value, flags that exclude each other).
package main

import (
	"bytes"
	"context"
	"errors"
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

// Exit codes, the same for every verb.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed: some events not stored, the server unreachable, a file missing
	exitUsage   = 2 // the command line is wrong: an unknown verb or flag, a bad flag value, a missing argument
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
	if len(args) == 0 {
		usage(errw)
		return exitUsage
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(out)
		return exitOK
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

// newFlags returns a verb's flag set with the one usage format every verb
// shares: "usage: chronicle VERB [flags] ARGS", what the verb does, then its
// flags. Errors go to stderr; -h and --help print the usage to stdout (see
// parseFlags).
func newFlags(verb, synopsis, about string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet(verb, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		w := fs.Output()
		for i, line := range strings.Split(synopsis, "\n") {
			lead := "usage: "
			if i > 0 {
				lead = "       "
			}
			fmt.Fprintf(w, "%schronicle %s [flags]%s\n", lead, verb, strings.TrimRight(" "+line, " "))
		}
		fmt.Fprintf(w, "\n%s\n\nflags (each also CHRONICLE_<FLAG> in the environment):\n", about)
		fs.PrintDefaults()
	}
	return fs
}

// errBadFlags marks an error a verb finds in its flags after parsing them
// (two that exclude each other, a credentials file that is not one): the
// command line is wrong, so the exit is exitUsage (see exitOn).
var errBadFlags = errors.New("bad flags")

// exitOn is the exit code for a verb's error: exitUsage when the flags
// were wrong, exitFailure when the command ran and failed.
func exitOn(err error) int {
	if errors.Is(err, errBadFlags) {
		return exitUsage
	}
	return exitFailure
}

// errHelp is parseFlags' answer to -h and --help, after printing the usage
// to stdout: the verb exits 0.
var errHelp = flag.ErrHelp

// exitFor is the exit code after parseFlags fails: 0 for -h, else usage.
func exitFor(err error) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	return exitUsage
}

// parseFlags parses args, flags and arguments in any order (so that
// "import FILE --quiet" works as "import --quiet FILE"; "--" ends the
// flags), then fills every flag not given on the command line from its
// CHRONICLE_* environment variable. Errors are printed to stderr with the
// usage; -h and --help print the usage to stdout and return errHelp.
func parseFlags(fs *flag.FlagSet, args []string, std stdio) error {
	var help bytes.Buffer
	errw := fs.Output()
	fs.SetOutput(&help)
	err := fs.Parse(interspersed(fs, args))
	fs.SetOutput(errw)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(std.out)
		fs.Usage()
		fs.SetOutput(errw)
		return errHelp
	}
	if err != nil {
		io.Copy(errw, &help)
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || err != nil {
			return
		}
		name := "CHRONICLE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
				fmt.Fprintf(errw, "chronicle %s: %v\n", fs.Name(), err)
			}
		}
	})
	return err
}

// interspersed moves flags (with their values) before the arguments, as
// flag.Parse wants them, keeping each group's order.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(append(flags, "--"), rest...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
