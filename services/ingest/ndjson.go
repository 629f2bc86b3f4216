package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/chronicle-hub/chronicle/events"
)

// maxLine bounds one NDJSON line. Longer lines are reported as too large
// (and skipped) rather than read into memory.
const maxLine = events.MaxEventSize + 1024

// errLineTooLong marks a line over maxLine; the caller rejects that record.
var errLineTooLong = fmt.Errorf("line is longer than %d bytes", maxLine)

// utf8BOM starts files saved by some Windows tools; it is not part of the
// first event (the CSV header drops it too).
var utf8BOM = []byte("\ufeff")

// readNDJSON calls fn for every non-blank line of r with its 1-based line
// number. A line over maxLine is passed with errLineTooLong and its bytes
// discarded. A byte order mark before the first line is dropped. fn's error
// stops the read.
func readNDJSON(r io.Reader, fn func(line int, raw []byte, err error) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	for line := 1; ; line++ {
		raw, tooLong, err := readLine(br)
		if line == 1 {
			raw = bytes.TrimPrefix(raw, utf8BOM)
		}
		if len(bytes.TrimSpace(raw)) > 0 || tooLong {
			var lineErr error
			if tooLong {
				lineErr = errLineTooLong
			}
			if ferr := fn(line, bytes.TrimSpace(raw), lineErr); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read line %d: %w", line, err)
		}
	}
}

// readLine returns the next line without its newline. When the line exceeds
// maxLine the rest of it is consumed and tooLong is set.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			// The limit is on the line, not its terminator: otherwise the
			// same line passes as the last line and fails before a "\n"
			// (and CRLF files get a smaller limit).
			if len(bytes.TrimRight(buf, "\r\n")) > maxLine {
				tooLong, buf = true, nil
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(buf, "\r\n"), tooLong, err
	}
}

// rejectsLinePrefix starts every line of a rejects file Chronicle wrote
// ({"line": N, "reasons": "...", "input": {...}}); no event has a "line"
// field, so no event is mistaken for one.
var rejectsLinePrefix = []byte(`{"line":`)

// unwrapReject returns the event a rejects-file line holds, so that a
// rejects file, once its events are fixed, imports as it is, as the CSV one
// does: the line's own input (or input_text, for a line that was not JSON)
// is what is imported; line and reasons are what it said last time. Any
// other line comes back as it is.
func unwrapReject(raw []byte) []byte {
	if !bytes.HasPrefix(raw, rejectsLinePrefix) {
		return raw
	}
	var rec struct {
		Line    int             `json:"line"`
		Reasons string          `json:"reasons"`
		Input   json.RawMessage `json:"input"`
		Text    *string         `json:"input_text"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil {
		return raw
	}
	switch {
	case len(rec.Input) > 0:
		return bytes.TrimSpace(rec.Input)
	case rec.Text != nil:
		return bytes.TrimSpace([]byte(*rec.Text))
	}
	return raw
}
