package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/embedded"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// natsFlags are the connection flags shared by publish, import and replay.
type natsFlags struct {
	url, user, password, creds, data string
}

func (n *natsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&n.url, "nats-url", nats.DefaultURL, "NATS server to connect to (chronicle serve's embedded server listens on "+nats.DefaultURL+")")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials: a .creds file or an nkey user seed (an agency's, or the hub's)")
	fs.StringVar(&n.user, "nats-user", "", "NATS user (an agency account from serve --nats-users)")
	fs.StringVar(&n.password, "nats-password", "", "NATS password (better set as CHRONICLE_NATS_PASSWORD)")
	fs.StringVar(&n.data, "data", "./data", "chronicle serve's data directory: without --nats-creds or --nats-user, connect as Chronicle itself with the key serve keeps there")
}

// connect connects with the credentials given: --nats-creds, else
// --nats-user, else Chronicle's own key in --data when there is one, else
// none (a server that needs none, such as a developer's nats-server).
// What the server refuses later (an agency's account using the JetStream
// API) is written to errw, and refused, if not nil, is called: a refused
// request is never answered, so a caller that cannot go on without it
// stops waiting.
func (n *natsFlags) connect(name string, errw io.Writer, refused func()) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(name), nats.Timeout(5 * time.Second),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			fmt.Fprintf(errw, "%v\n", err)
			if refused != nil && errors.Is(err, nats.ErrPermissionViolation) {
				refused()
			}
		})}
	var as string
	switch {
	case n.creds != "" && n.user != "":
		return nil, fmt.Errorf("%w: give --nats-creds or --nats-user, not both", errBadFlags)
	case n.creds != "":
		creds, err := embedded.Credentials(n.creds)
		if err != nil {
			return nil, fmt.Errorf("%w: --nats-creds: %w", errBadFlags, err)
		}
		opts, as = append(opts, creds), "with --nats-creds "+n.creds
	case n.user != "":
		opts, as = append(opts, nats.UserInfo(n.user, n.password)), "as --nats-user "+n.user
	default:
		key := app.NATSKeyPath(n.data)
		creds, err := embedded.Credentials(key)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			as = "without credentials (no " + key + "; give --data or --nats-creds)"
		case err != nil:
			return nil, fmt.Errorf("--data %s: %w", n.data, err)
		default:
			opts, as = append(opts, creds), "as Chronicle with "+key
		}
	}
	nc, err := nats.Connect(n.url, opts...)
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		return nil, fmt.Errorf("connect to NATS at %s %s: %w", n.url, as, err)
	case err != nil:
		return nil, fmt.Errorf("connect to NATS at %s %s: %w (is chronicle serve running?)", n.url, as, err)
	}
	return nc, nil
}

// publisher connects and returns a publisher that also judges corrections
// and retractions (ingest.AmendmentCheck: against this run's earlier events,
// else by asking the hub), so that the CLI rejects a correction of an
// unknown or foreign event as the HTTP API does. When no hub answers, it
// says so on warn once.
func (n *natsFlags) publisher(warn io.Writer) (*eventlog.Publisher, func(), error) {
	nc, err := n.connect("chronicle-cli", warn, nil)
	if err != nil {
		return nil, nil, err
	}
	pub, err := eventlog.NewPublisher(nc, nil)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	pub.SetCheck(ingest.AmendmentCheck(nc, func(err error) { fmt.Fprintf(warn, "warning: %v\n", err) }))
	return pub, nc.Close, nil
}

func publish(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("publish", "[FILE | -]", "Validates and publishes the events in FILE (one JSON event, a JSON array, or NDJSON; - or nothing reads stdin),\nprinting one line per event. Events not stored are written with their reasons beside FILE.", std)
	var conn natsFlags
	conn.register(fs)
	asJSON := fs.Bool("json", false, "print the full per-event results as JSON")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	var body []byte
	name := fs.Arg(0)
	if name == "" || name == "-" {
		var err error
		body, err = io.ReadAll(io.LimitReader(std.in, ingest.MaxBody+1))
		if err != nil {
			fmt.Fprintf(std.err, "publish: %v\n", err)
			return exitUsage
		}
		if len(body) > ingest.MaxBody {
			fmt.Fprintf(std.err, "publish: more than %d bytes: use chronicle import for large files\n", ingest.MaxBody)
			return exitUsage
		}
		name = ""
	}
	pub, closeConn, err := conn.publisher(std.err)
	if err != nil {
		fmt.Fprintf(std.err, "publish: %v\n", err)
		return exitOn(err)
	}
	defer closeConn()
	var resp *ingest.Response
	rejectsPath := ""
	if name == "" {
		resp, err = ingest.PublishBody(ctx, pub, body)
	} else {
		resp, rejectsPath, err = ingest.PublishFile(ctx, pub, name)
	}
	if err != nil {
		fmt.Fprintf(std.err, "publish: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(resp)
	} else {
		for _, r := range resp.Results {
			line := fmt.Sprintf("#%d %-9s %s", r.Key, r.Status, r.ID)
			if r.Sequence > 0 {
				line += fmt.Sprintf(" seq=%d", r.Sequence)
			}
			fmt.Fprintln(std.out, strings.TrimSpace(line))
			for _, p := range r.Problems {
				fmt.Fprintf(std.out, "    %s\n", p.Error())
			}
			if r.Error != "" {
				fmt.Fprintf(std.out, "    %s\n", r.Error)
			}
			if r.Error == jetstream.ErrNoStreamResponse.Error() {
				fmt.Fprintln(std.out, "    (nothing takes this event's subject for these credentials: an agency's NATS account may publish only under its own agency)")
			}
		}
		fmt.Fprintf(std.err, "%d accepted, %d duplicates, %d rejected, %d failed\n", resp.Accepted, resp.Duplicates, resp.Rejected, resp.Failed)
	}
	if rejectsPath != "" {
		fmt.Fprintf(std.err, "events not stored, with reasons: %s\n", rejectsPath)
	}
	if resp.Rejected+resp.Failed > 0 {
		return exitFailure
	}
	return exitOK
}

func importFile(ctx context.Context, args []string, std stdio) int {
	fs := newFlags("import", "FILE\n--format cin-census FILE.xml\n--format ssda903 DIR", "Imports FILE of any size: NDJSON (one event per line) or CSV with a header row (see README: CSV columns),\nor a statutory return. Rows not stored are written with their reasons to FILE's name with .rejects before the\nextension; that file, once fixed, imports as it is.", std)
	var conn natsFlags
	conn.register(fs)
	format := fs.String("format", "", "ndjson or csv (default: by extension); cin-census for a Children in Need census XML FILE, ssda903 for a DIR of SSDA903 CSV tables")
	year := fs.Int("year", 0, "cin-census: the census year, when the file does not say")
	rename := fs.String("map", "", "CSV header renames, comma-separated: \"NHS No=subject.nhs_number,Date=occurred_at\"")
	zone := fs.String("zone", "Europe/London", "time zone for CSV times written without one")
	inFlight := fs.Int("max-in-flight", eventlog.DefaultMaxInFlight, "most events awaiting acknowledgement at once")
	quiet := fs.Bool("quiet", false, "no progress display")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	if _, err := os.Stat(fs.Arg(0)); err != nil {
		fmt.Fprintf(std.err, "import: %v\n", err)
		return exitFailure
	}
	opts := ingest.ImportOptions{Format: *format, MaxInFlight: *inFlight, Rename: map[string]string{}}
	if *rename != "" {
		for _, pair := range strings.Split(*rename, ",") {
			from, to, ok := strings.Cut(pair, "=")
			if !ok {
				fmt.Fprintf(std.err, "import: --map %q: want from=to\n", pair)
				return exitUsage
			}
			opts.Rename[strings.TrimSpace(from)] = strings.TrimSpace(to)
		}
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		fmt.Fprintf(std.err, "import: --zone: %v\n", err)
		return exitUsage
	}
	opts.Zone = loc
	if !*quiet {
		opts.Progress, opts.Interactive = std.err, isTerminal(std.err)
	}
	if statutoryFormat(*format) {
		return importStatutory(ctx, conn, *format, fs.Arg(0), *year, opts, std)
	}
	pub, closeConn, err := conn.publisher(std.err)
	if err != nil {
		fmt.Fprintf(std.err, "import: %v\n", err)
		return exitOn(err)
	}
	defer closeConn()
	sum, err := ingest.ImportFile(ctx, pub, fs.Arg(0), opts)
	if sum.Rows > 0 || err == nil {
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
