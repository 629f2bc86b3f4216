package ingest

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/csvcell"
	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// ImportOptions tune an import. The zero value imports NDJSON or CSV by file
// extension with the default in-flight bound and no progress display.
type ImportOptions struct {
	// Format is "ndjson" or "csv"; empty picks by extension (.csv is CSV,
	// anything else NDJSON).
	Format string
	// MaxInFlight bounds unacknowledged publishes.
	MaxInFlight int
	// Progress receives the progress display (count, rate, ETA); nil for
	// none. The caller prints the Summary.
	Progress io.Writer
	// Interactive redraws one progress line (a terminal); otherwise a line
	// is printed every few seconds.
	Interactive bool
	// ProgressEvery is how often the display updates; zero means every
	// 200 ms on a terminal and every 5 seconds otherwise (a log file).
	ProgressEvery time.Duration
	// Rename maps CSV header names to envelope fields ("NHS No" to
	// "subject.nhs_number").
	Rename map[string]string
	// Zone reads CSV times written without a zone; nil means Europe/London.
	Zone *time.Location
}

// Summary is the outcome of an import.
type Summary struct {
	Rows        int           `json:"rows"`
	Accepted    int           `json:"accepted"`
	Duplicates  int           `json:"duplicates"`
	Rejected    int           `json:"rejected"`
	Failed      int           `json:"failed"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	RejectsPath string        `json:"rejects_path,omitempty"`
}

// NotStored is the number of rows that were not stored.
func (s Summary) NotStored() int { return s.Rejected + s.Failed }

// RejectsPath names the rejects file next to an input: people.csv gives
// people.rejects.csv.
func RejectsPath(input string) string {
	ext := filepath.Ext(input)
	if ext == "" {
		ext = ".ndjson"
	}
	return strings.TrimSuffix(input, filepath.Ext(input)) + ".rejects" + ext
}

// ImportFile imports an NDJSON or CSV file. Rows that are not stored are
// written, with their reasons, to RejectsPath(path); the file is removed when
// there are none. The error is for the import as a whole (unreadable file,
// bad CSV header, cancelled); per-row outcomes are in the Summary.
func ImportFile(ctx context.Context, pub *eventlog.Publisher, path string, opts ImportOptions) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	if opts.Format == "" {
		opts.Format = "ndjson"
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			opts.Format = "csv"
		}
	}
	rejectsPath := RejectsPath(path)
	rf, err := os.Create(rejectsPath)
	if err != nil {
		return Summary{}, fmt.Errorf("import: rejects file: %w", err)
	}
	sum, err := Import(ctx, pub, f, size, rf, opts)
	if cerr := rf.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("import: rejects file: %w", cerr)
	}
	if sum.NotStored() > 0 {
		sum.RejectsPath = rejectsPath
	} else {
		_ = os.Remove(rejectsPath)
	}
	return sum, err
}

// Import reads rows from r (size bytes, 0 when unknown, for the ETA),
// validates them, publishes the valid ones asynchronously, and writes every
// row that was not stored to rejects with its reasons.
func Import(ctx context.Context, pub *eventlog.Publisher, r io.Reader, size int64, rejects io.Writer, opts ImportOptions) (Summary, error) {
	if opts.Zone == nil {
		zone, err := time.LoadLocation("Europe/London")
		if err != nil {
			return Summary{}, fmt.Errorf("import: time zone: %w", err)
		}
		opts.Zone = zone
	}
	counted := &countingReader{r: r}
	im := &importer{opts: opts, start: time.Now(), size: size, read: counted, pending: map[int]heldRow{}}
	switch opts.Format {
	case "csv":
		im.rejects = &csvRejects{w: csvcell.NewWriter(rejects)}
	case "ndjson", "":
		im.rejects = &ndjsonRejects{w: bufio.NewWriter(rejects)}
	default:
		return Summary{}, fmt.Errorf("import: unknown format %q (want ndjson or csv)", opts.Format)
	}
	var err error
	stop := im.showProgress()
	batch := pub.NewBatch(opts.MaxInFlight, im.report)
	chunk := newChunker(ctx, pub, func(r *row) error {
		im.hold(r.line, r.cells, r.raw)
		if r.err != nil {
			return batch.Reject(ctx, r.line, r.event, r.err)
		}
		if err := batch.Add(ctx, r.line, r.event, r.data); err != nil {
			if errors.Is(err, eventlog.ErrUnreachable) || errors.Is(err, eventlog.ErrRefused) {
				return fmt.Errorf("stopped at line %d: %w; that row and those after it were not sent: import the file again to finish (an event already stored is stored once)", r.line, err)
			}
			return err
		}
		return nil
	})
	offer := chunk.offer
	if opts.Format == "csv" {
		err = readCSV(counted, opts, im.rejects.(*csvRejects), offer)
	} else {
		err = readNDJSON(counted, func(line int, raw []byte, lineErr error) error {
			if lineErr != nil {
				lineErr = &events.FieldError{Problem: lineErr.Error()}
			}
			return offer(line, unwrapReject(raw), nil, lineErr)
		})
	}
	if ferr := chunk.flush(); err == nil {
		err = ferr
	}
	batch.Close()
	stop()
	if ferr := im.rejects.flush(); err == nil {
		err = ferr
	}
	im.sum.Elapsed = time.Since(im.start)
	return im.sum, err
}

// readCSV reads the header, then offers each row converted to event JSON.
func readCSV(r io.Reader, opts ImportOptions, rej *csvRejects, offer func(int, []byte, []string, error) error) error {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("import: CSV header: %w", err)
	}
	mapper, err := newCSVMapper(header, opts.Rename, opts.Zone)
	if err != nil {
		return fmt.Errorf("import: CSV header: %w", err)
	}
	if err := rej.writeHeader(header); err != nil {
		return err
	}
	for {
		record, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("import: read CSV: %w", err)
			}
			if oerr := offer(pe.StartLine, nil, record, &events.FieldError{Problem: pe.Error()}); oerr != nil {
				return oerr
			}
			continue
		}
		// FieldPos only after a clean read: a parse error in the first
		// field leaves no positions, and FieldPos(0) would panic.
		line, _ := cr.FieldPos(0)
		for i := range record {
			record[i] = csvcell.Uncell(record[i]) // a rejects file's neutralised cells read as written
		}
		raw, convErr := mapper.row(record)
		if err := offer(line, raw, record, convErr); err != nil {
			return err
		}
	}
}

// importer holds one import's running state.
type importer struct {
	opts    ImportOptions
	start   time.Time
	size    int64
	read    *countingReader
	rejects rejectWriter
	// samples are the progress display's recent history (its goroutine's
	// own).
	samples []progressSample

	mu      sync.Mutex
	sum     Summary
	pending map[int]heldRow // rows in flight, kept until their outcome is known
}

// heldRow is an input row as read: CSV cells, or an NDJSON line.
type heldRow struct {
	cells []string
	raw   []byte
}

func (im *importer) hold(line int, cells []string, raw []byte) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.pending[line] = heldRow{cells: cells, raw: raw}
}

func (im *importer) report(r eventlog.Result) {
	im.mu.Lock()
	defer im.mu.Unlock()
	im.sum.Rows++
	row := im.pending[r.Key]
	delete(im.pending, r.Key)
	switch r.Status {
	case eventlog.Accepted:
		im.sum.Accepted++
		return
	case eventlog.Duplicate:
		im.sum.Duplicates++
		return
	case eventlog.Rejected:
		im.sum.Rejected++
	case eventlog.Failed:
		im.sum.Failed++
		r.Problems = []events.FieldError{{Problem: "not stored: " + r.Error + " (safe to import again)"}}
	}
	im.rejects.write(r.Key, reasons(r.Problems), row.cells, row.raw)
}

func reasons(probs []events.FieldError) string {
	parts := make([]string, len(probs))
	for i := range probs {
		parts[i] = probs[i].Error()
	}
	return strings.Join(parts, "; ")
}

// showProgress draws count, rate and ETA until the returned stop is called,
// which clears an interactive line.
func (im *importer) showProgress() (stop func()) {
	w := im.opts.Progress
	if w == nil {
		return func() {}
	}
	every := im.opts.ProgressEvery
	switch {
	case every > 0:
	case im.opts.Interactive:
		every = 200 * time.Millisecond
	default:
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				line := im.progressLine()
				if im.opts.Interactive {
					fmt.Fprintf(w, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(w, line)
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if im.opts.Interactive {
			fmt.Fprint(w, "\r\033[K")
		}
	}
}

// progressWindow is how far back the progress display looks for its rate
// and ETA: the recent rate, not one from a start that included connecting
// and warming up, nor one that hides a server slowing down.
const progressWindow = 30 * time.Second

// progressSample is what was done by a moment, for the recent rate.
type progressSample struct {
	at         time.Time
	rows, read int64
}

func (im *importer) progressLine() string {
	im.mu.Lock()
	rows, notStored := im.sum.Rows, im.sum.NotStored()
	im.mu.Unlock()
	now := progressSample{at: time.Now(), rows: int64(rows), read: im.read.n.Load()}
	im.samples = append(im.samples, now)
	for len(im.samples) > 2 && now.at.Sub(im.samples[1].at) >= progressWindow {
		im.samples = im.samples[1:]
	}
	from := im.samples[0]
	if len(im.samples) == 1 {
		from = progressSample{at: im.start}
	}
	secs := max(now.at.Sub(from.at).Seconds(), 1e-9)
	rate := float64(now.rows-from.rows) / secs
	line := fmt.Sprintf("%s rows  %s/s  %d not stored", group(rows), group(int(rate)), notStored)
	if im.size > 0 && now.read > 0 {
		frac := float64(now.read) / float64(im.size)
		line += fmt.Sprintf("  %3.0f%%", 100*frac)
		if byteRate := float64(now.read-from.read) / secs; byteRate > 0 {
			eta := time.Duration(float64(im.size-now.read) / byteRate * float64(time.Second)).Round(time.Second)
			line += fmt.Sprintf("  ETA %s", eta)
		} else {
			line += "  ETA unknown (no progress)"
		}
	}
	return line
}

// group writes n with thousands separators.
func group(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// String renders the summary for people.
func (s Summary) String() string {
	rate := float64(s.Rows) / max(s.Elapsed.Seconds(), 1e-9)
	out := fmt.Sprintf("%s rows in %s (%s/s): %s accepted, %s duplicates, %s rejected, %s failed",
		group(s.Rows), s.Elapsed.Round(time.Millisecond), group(int(rate)), group(s.Accepted), group(s.Duplicates), group(s.Rejected), group(s.Failed))
	if s.RejectsPath != "" {
		out += "\nrows not stored, with reasons: " + s.RejectsPath
	}
	return out
}

// rejectWriter records rows that were not stored.
type rejectWriter interface {
	write(line int, reasons string, cells []string, raw []byte)
	flush() error
}

// ndjsonRejects writes {"line":..,"reasons":..,"input":..} per rejected line.
type ndjsonRejects struct {
	w   *bufio.Writer
	err error
}

func (n *ndjsonRejects) write(line int, reasons string, _ []string, raw []byte) {
	rec := struct {
		Line    int             `json:"line"`
		Reasons string          `json:"reasons"`
		Input   json.RawMessage `json:"input,omitempty"`
		Text    string          `json:"input_text,omitempty"`
	}{Line: line, Reasons: reasons}
	if json.Valid(raw) {
		rec.Input = raw
	} else {
		rec.Text = string(raw)
	}
	b, err := json.Marshal(rec)
	if err == nil {
		b = append(b, '\n')
		_, err = n.w.Write(b)
	}
	if n.err == nil {
		n.err = err
	}
}

func (n *ndjsonRejects) flush() error {
	if n.err != nil {
		return fmt.Errorf("write rejects: %w", n.err)
	}
	return n.w.Flush()
}

// csvRejects writes the original columns plus _line and _reasons, so the
// file can be corrected and imported again as it is.
type csvRejects struct {
	w    *csvcell.Writer
	cols int
}

func (c *csvRejects) writeHeader(header []string) error {
	c.cols = len(header)
	return c.w.Write(append(append([]string{}, header...), "_line", "_reasons"))
}

func (c *csvRejects) write(line int, reasons string, cells []string, _ []byte) {
	row := make([]string, c.cols, c.cols+2)
	copy(row, cells)
	_ = c.w.Write(append(row, strconv.Itoa(line), reasons))
}

func (c *csvRejects) flush() error {
	c.w.Flush()
	if err := c.w.Error(); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return nil
}
