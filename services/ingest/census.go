package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest/cin"
)

// CensusOptions tune a census import.
type CensusOptions struct {
	ImportOptions
	// Year is the census year to assume when the file does not say (no
	// CollectionDetails Year or ReferenceDate); zero means the file must.
	Year int
}

// ImportCensusFile imports a Children in Need census XML file, child by
// child (see ImportCensus). Children not stored are listed, with the XML
// line they start on and every reason, in the file's name with
// .rejects.csv; the file is removed when there are none.
func ImportCensusFile(ctx context.Context, pub *eventlog.Publisher, path string, opts CensusOptions) (StatutorySummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return StatutorySummary{}, fmt.Errorf("import: %w", err)
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return withRejects(strings.TrimSuffix(path, filepath.Ext(path))+".rejects.csv", func(w io.Writer) (StatutorySummary, error) {
		return ImportCensus(ctx, pub, f, size, filepath.Base(path), w, opts)
	})
}

// ImportCensus imports a Children in Need census read from r (size bytes,
// 0 when not known, for the progress display's share read and ETA), child
// by child (see cin.Mapper for what each child becomes), and writes the
// children not stored to rejects as CSV, each with name, the XML line it
// starts on and every reason. Progress is shown as for an NDJSON import
// (opts.Progress). The error is for the file as a whole (unreadable, not a
// census, no year): malformed or truncated XML rejects the child being
// read, and the summary says the rest of the file was not read.
func ImportCensus(ctx context.Context, pub *eventlog.Publisher, r io.Reader, size int64, name string, rejects io.Writer, opts CensusOptions) (StatutorySummary, error) {
	counted := &countingReader{r: r}
	rd, err := cin.NewReader(counted)
	if err != nil {
		return StatutorySummary{}, fmt.Errorf("import %s: %w", name, err)
	}
	year := rd.Header.Year
	if year == 0 {
		year = opts.Year
	}
	if year == 0 {
		return StatutorySummary{}, fmt.Errorf("import %s: the file does not say its census year (no Header CollectionDetails Year or ReferenceDate): give --year", name)
	}
	schema, note := cin.SchemaYear(year)
	m := &cin.Mapper{Year: schema, LEA: rd.Header.LEA, Zone: opts.Zone}
	next := func() (Unit, error) {
		c, err := m.Next(rd)
		u := Unit{File: name, Line: c.Line, Child: c.ID, Episodes: c.Episodes, Events: c.Events}
		var se *cin.SyntaxError
		switch {
		case errors.As(err, &se):
			if u.Line == 0 {
				u.Line = se.Line
			}
			return u, err
		case errors.Is(err, io.EOF):
			return u, err
		case err != nil:
			u.Err = err
		}
		return u, nil
	}
	sum, err := importUnits(ctx, pub, next, counted, size, rejects, opts.ImportOptions)
	sum.Format = fmt.Sprintf("CIN census %d (the %d-%02d collection), read with the %d schema", year, year-1, year%100, schema)
	if rd.Header.LEA != "" {
		sum.Format += ", LA " + rd.Header.LEA
	}
	if note != "" {
		sum.Notes = append(sum.Notes, note)
	}
	return sum, err
}
