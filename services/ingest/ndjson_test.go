package ingest

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// record is what readNDJSON passed to its callback for one line.
type record struct {
	Line    int
	Raw     string
	TooLong bool
}

func readAll(tb testing.TB, r io.Reader) []record {
	tb.Helper()
	var got []record
	err := readNDJSON(r, func(line int, raw []byte, err error) error {
		switch {
		case err == nil:
		case errors.Is(err, errLineTooLong):
			if len(raw) != 0 {
				tb.Errorf("line %d: too long, yet %d bytes passed on", line, len(raw))
			}
		default:
			tb.Fatalf("line %d: unexpected error %v", line, err)
		}
		got = append(got, record{Line: line, Raw: string(raw), TooLong: err != nil})
		return nil
	})
	if err != nil {
		tb.Fatalf("readNDJSON: %v", err)
	}
	return got
}

func TestReadNDJSON(t *testing.T) {
	exact := strings.Repeat("x", maxLine)
	over := strings.Repeat("y", maxLine+1)
	tests := []struct {
		name string
		in   string
		want []record
	}{
		{name: "empty", in: "", want: nil},
		{name: "only blank lines", in: "\n\r\n  \t\n", want: nil},
		{name: "LF", in: "a\nb\n", want: []record{{1, "a", false}, {2, "b", false}}},
		{name: "CRLF", in: "a\r\nb\r\n", want: []record{{1, "a", false}, {2, "b", false}}},
		{name: "last line without newline", in: "a\nb", want: []record{{1, "a", false}, {2, "b", false}}},
		{name: "last line CR only", in: "a\r\nb\r", want: []record{{1, "a", false}, {2, "b", false}}},
		{name: "blank lines keep their numbers", in: "\n\na\n  \n b \n\n", want: []record{{3, "a", false}, {5, "b", false}}},
		{name: "over-long line then a normal one", in: over + "\n{}\n", want: []record{{1, "", true}, {2, "{}", false}}},
		{name: "over-long CRLF line then a normal one", in: "{}\r\n" + over + "\r\n{}\r\n", want: []record{{1, "{}", false}, {2, "", true}, {3, "{}", false}}},
		{name: "many buffers long", in: strings.Repeat("z", 5*maxLine) + "\nlast", want: []record{{1, "", true}, {2, "last", false}}},
		{name: "over-long last line", in: "{}\n" + over, want: []record{{1, "{}", false}, {2, "", true}}},
		{name: "exactly maxLine, last", in: exact, want: []record{{1, exact, false}}},
		{name: "exactly maxLine then LF", in: exact + "\n{}", want: []record{{1, exact, false}, {2, "{}", false}}},
		{name: "exactly maxLine then CRLF", in: exact + "\r\n{}", want: []record{{1, exact, false}, {2, "{}", false}}},
		{name: "maxLine+1 then LF", in: over + "\n", want: []record{{1, "", true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, strings.NewReader(tt.in))
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %s\nwant %s", summarize(got), summarize(tt.want))
			}
			// The same input arriving a byte at a time reads the same.
			if got := readAll(t, iotest.OneByteReader(strings.NewReader(tt.in))); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("one byte at a time: got %s\nwant %s", summarize(got), summarize(tt.want))
			}
		})
	}
}

// summarize keeps failure messages short when lines are tens of kilobytes.
func summarize(rs []record) string {
	var b strings.Builder
	for _, r := range rs {
		raw := r.Raw
		if len(raw) > 20 {
			raw = fmt.Sprintf("%s... (%d bytes)", raw[:20], len(r.Raw))
		}
		fmt.Fprintf(&b, "{line %d %q too long %v} ", r.Line, raw, r.TooLong)
	}
	return b.String()
}

func TestReadNDJSONStops(t *testing.T) {
	t.Run("callback error", func(t *testing.T) {
		stop := errors.New("stop")
		var lines []int
		err := readNDJSON(strings.NewReader("a\nb\nc\n"), func(line int, _ []byte, _ error) error {
			lines = append(lines, line)
			if line == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || !reflect.DeepEqual(lines, []int{1, 2}) {
			t.Fatalf("err %v after lines %v; want the callback's error after line 2", err, lines)
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk gone")
		var lines []string
		err := readNDJSON(io.MultiReader(strings.NewReader("a\nb"), iotest.ErrReader(boom)), func(_ int, raw []byte, _ error) error {
			lines = append(lines, string(raw))
			return nil
		})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), "line 2") {
			t.Fatalf("err %v, want the read error at line 2", err)
		}
		if !reflect.DeepEqual(lines, []string{"a", "b"}) {
			t.Fatalf("lines %q", lines)
		}
	})
}
