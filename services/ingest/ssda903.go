package ingest

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest/ssda903"
)

// ImportSSDA903Dir imports a directory of SSDA903 tables as CSV: the
// header, episodes, missing and reviews tables, recognised by their columns
// (any year's column set, any file name); other CSV files are skipped with a
// note. Each row is a unit: stored whole, or listed with its file, row and
// every reason in the directory's name with .rejects.csv, beside it. Rows
// are streamed; only each child's identifiers from the header table are
// held, for the other tables' events.
func ImportSSDA903Dir(ctx context.Context, pub *eventlog.Publisher, dir string, opts ImportOptions) (StatutorySummary, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return StatutorySummary{}, fmt.Errorf("import: %w", err)
	}
	type table struct {
		name string
		t    ssda903.Table
	}
	var (
		tables []table
		notes  []string
		size   int64
	)
	for _, de := range entries {
		name := de.Name()
		if de.IsDir() || !strings.EqualFold(filepath.Ext(name), ".csv") || strings.HasSuffix(strings.ToLower(name), ".rejects.csv") {
			continue
		}
		header, err := csvHeader(filepath.Join(dir, name))
		if err != nil {
			return StatutorySummary{}, fmt.Errorf("import %s: %w", name, err)
		}
		t, _, ok, err := ssda903.Detect(header)
		switch {
		case err != nil:
			return StatutorySummary{}, fmt.Errorf("import %s: %w", name, err)
		case !ok:
			notes = append(notes, fmt.Sprintf("%s skipped: not a header, episodes, missing or reviews table", name))
			continue
		}
		info, _ := de.Info()
		if info != nil {
			size += info.Size()
		}
		tables = append(tables, table{name: name, t: t})
	}
	if len(tables) == 0 {
		return StatutorySummary{}, fmt.Errorf("import %s: no SSDA903 header, episodes, missing or reviews table (CSV with the DfE column names) in the directory", dir)
	}
	order := map[ssda903.Table]int{}
	for i, t := range ssda903.Tables {
		order[t] = i
	}
	sort.SliceStable(tables, func(i, j int) bool { return order[tables[i].t] < order[tables[j].t] })

	m := &ssda903.Mapper{Zone: opts.Zone}
	counted := &countingReader{}
	var (
		i   = -1
		f   *os.File
		cr  *csv.Reader
		cur table
		col ssda903.Columns
	)
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	next := func() (Unit, error) {
		for {
			if cr == nil {
				if i++; i >= len(tables) {
					return Unit{}, io.EOF
				}
				cur = tables[i]
				var err error
				if f, err = os.Open(filepath.Join(dir, cur.name)); err != nil {
					return Unit{}, fmt.Errorf("import: %w", err)
				}
				counted.r = f
				cr = csv.NewReader(counted)
				cr.FieldsPerRecord = -1
				header, err := cr.Read()
				if err != nil {
					return Unit{}, fmt.Errorf("import %s: %w", cur.name, err)
				}
				_, col, _, _ = ssda903.Detect(header)
			}
			record, err := cr.Read()
			if errors.Is(err, io.EOF) {
				f.Close()
				f, cr = nil, nil
				continue
			}
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return Unit{File: cur.name, Line: pe.StartLine, Err: &events.FieldError{Problem: pe.Error()}}, nil
				}
				return Unit{}, fmt.Errorf("import %s: %w", cur.name, err)
			}
			line, _ := cr.FieldPos(0)
			child, evs, err := m.Row(cur.t, col, record)
			u := Unit{File: cur.name, Line: line, Child: child, Events: evs, Err: err}
			if cur.t == ssda903.Episodes && err == nil {
				u.Episodes = 1
			}
			return u, nil
		}
	}
	sum, err := withRejects(filepath.Clean(dir)+".rejects.csv", func(w io.Writer) (StatutorySummary, error) {
		return importUnits(ctx, pub, next, counted, size, w, opts)
	})
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = fmt.Sprintf("%s (%s)", t.name, t.t)
	}
	sum.Format = "SSDA903 tables: " + strings.Join(names, ", ")
	sum.Notes = append(sum.Notes, notes...)
	return sum, err
}

// csvHeader reads the first row of a CSV file.
func csvHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	h, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("header row: %w", err)
	}
	return h, nil
}
