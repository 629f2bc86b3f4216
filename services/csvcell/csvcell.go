// Package csvcell keeps the CSV files Chronicle writes from running as
// spreadsheet formulas, and reads them back unchanged.
//
// A cell beginning with =, +, -, @, tab or carriage return is taken by
// Excel, LibreOffice and Google Sheets as a formula when an analyst opens
// the file ("CSV injection": =HYPERLINK(...) sending data away, or worse).
// Following OWASP's guidance, such a cell is written with a leading
// apostrophe, which spreadsheets show as text. So that a rejects file can be
// fixed and imported again, the import undoes exactly that: a cell that is an
// apostrophe followed by what Cell would have neutralised loses the one
// apostrophe. A cell that already began with apostrophes before a formula
// character gains one more, so Uncell(Cell(v)) == v for every v; an
// apostrophe before anything else ("'til") is left alone both ways.
package csvcell

import (
	"encoding/csv"
	"io"
	"strings"
)

// formulaStart lists the characters that make a spreadsheet evaluate a cell.
const formulaStart = "=+-@\t\r"

// needsQuote reports whether v, after any apostrophes it starts with,
// begins with a formula character.
func needsQuote(v string) bool {
	rest := strings.TrimLeft(v, "'")
	return rest != "" && strings.ContainsRune(formulaStart, rune(rest[0]))
}

// Cell returns v as it is safe to write in a CSV cell.
func Cell(v string) string {
	if needsQuote(v) {
		return "'" + v
	}
	return v
}

// Uncell returns the value of a cell Cell wrote (or a person typed): one
// leading apostrophe before a formula character is dropped.
func Uncell(v string) string {
	if strings.HasPrefix(v, "'") && needsQuote(v[1:]) {
		return v[1:]
	}
	return v
}

// Writer is a csv.Writer whose every cell goes through Cell. It is the one
// way Chronicle writes CSV.
type Writer struct{ w *csv.Writer }

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one record, each cell made safe.
func (w *Writer) Write(record []string) error {
	safe := make([]string, len(record))
	for i, v := range record {
		safe[i] = Cell(v)
	}
	return w.w.Write(safe)
}

// Flush writes any buffered data; Error reports what went wrong.
func (w *Writer) Flush() { w.w.Flush() }

// Error reports any error from a previous Write or Flush.
func (w *Writer) Error() error { return w.w.Error() }
