package ingest_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

func TestSSDA903EveryColumnSet(t *testing.T) {
	for _, dir := range []string{"ssda903-2018", "ssda903-2024"} {
		t.Run(dir, func(t *testing.T) {
			h := newHub(t)
			src := filepath.Join("ssda903", "testdata", dir)
			// A copy, so that no rejects file lands in testdata.
			tmp := filepath.Join(t.TempDir(), dir)
			copyDir(t, src, tmp)
			sum, err := ingest.ImportSSDA903Dir(context.Background(), h.pub, tmp, ingest.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[events.Type]int{
				"child.details_recorded": 2, "looked_after.started": 2, "looked_after.changed": 2, "looked_after.ended": 1,
				"missing.reported": 3, "missing.returned": 2, "looked_after.review_held": 2,
			}
			for typ, n := range want {
				if c := sum.ByType[typ]; c == nil || c.Stored != n {
					t.Errorf("%s: %+v, want %d stored", typ, c, n)
				}
			}
			if sum.Children != 2 || sum.ChildrenRejected != 0 || sum.Episodes != 4 || sum.Accepted != 14 || sum.NotStored() != 0 {
				t.Fatalf("summary:\n%s", sum)
			}
			if dir == "ssda903-2024" && !strings.Contains(strings.Join(sum.Notes, "\n"), "social_worker.csv skipped") {
				t.Errorf("notes %q do not say the social worker table was skipped", sum.Notes)
			}
			h.wantCount(t, 14)
			// M and A stay apart: an absence is recorded as an absence.
			var cats []string
			for _, e := range h.all(t) {
				if m, ok := e.Body.(*events.MissingReported); ok {
					cats = append(cats, m.LookedAfterCode+"="+m.Category)
				}
				if e.Subjects[0].Identifiers.LAPersonID == "LAC1" && e.Subjects[0].Identifiers.UPN != "Z201300012003" {
					t.Errorf("%s lacks the header's UPN: %+v", e.Type, e.Subjects[0])
				}
			}
			if got := strings.Join(cats, ","); got != "M=missing,A=absent,M=missing" {
				t.Errorf("missing categories %s", got)
			}
			again, err := ingest.ImportSSDA903Dir(context.Background(), h.pub, tmp, ingest.ImportOptions{})
			if err != nil || again.Accepted != 0 || again.Duplicates != 14 {
				t.Fatalf("second import (%v):\n%s", err, again)
			}
		})
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(from, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(to, de.Name()), string(b))
	}
}

func TestSSDA903BrokenRows(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		table string
		// rows are the rejects expected: child and a fragment of the reason.
		rows     map[string]string
		imported int // events stored
	}{
		{
			name: "episode ends before it starts", file: "episodes.csv",
			table:    "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC\nX1,01/05/2023,S,V2,N1,U4,PR1,01/04/2023,E13\nX2,01/05/2023,S,V2,N1,U4,PR1,,\n",
			rows:     map[string]string{"X1": "DEC: 2023-04-01 is before DECOM 2023-05-01"},
			imported: 1,
		},
		{
			name: "unknown codes", file: "episodes.csv",
			table:    "CHILD,DECOM,RNE,LS,CIN,PLACE\nX1,01/05/2023,S,Z9,N1,U4\nX2,01/05/2023,Q,V2,N1,U4\nX3,01/05/2023,S,V2,N1,U4\n",
			rows:     map[string]string{"X1": `LS: "Z9" is not a known SSDA903 LS code`, "X2": `RNE: "Q" is not a known`},
			imported: 1,
		},
		{
			name: "a row with no child", file: "missing.csv",
			table:    "CHILD,MISSING,MIS_START,MIS_END\n,M,01/08/2023,02/08/2023\nX1,A,01/08/2023,\n",
			rows:     map[string]string{"": "CHILD: is required"},
			imported: 1,
		},
		{
			name: "return before going missing", file: "missing.csv",
			table:    "CHILD,MISSING,MIS_START,MIS_END\nX1,M,01/08/2023,31/07/2023\n",
			rows:     map[string]string{"X1": "MIS_END: 2023-07-31 is before MIS_START 2023-08-01"},
			imported: 0,
		},
		{
			name: "malformed CSV and a truncated last row", file: "reviews.csv",
			table:    "CHILD,REVIEW,REVIEW_CODE\nX1,01/08/2023,PN1\nX2,\"01/08/2023,PN1\nX3,01/0",
			rows:     map[string]string{"": "extraneous or missing \" in quoted-field"},
			imported: 1,
		},
		{
			name: "truncated mid-date", file: "reviews.csv",
			table:    "CHILD,REVIEW,REVIEW_CODE\nX1,01/08/2023,PN1\nX3,01/0",
			rows:     map[string]string{"X3": `REVIEW: "01/0" is not a date`},
			imported: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			dir := filepath.Join(t.TempDir(), "return")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, tt.file), tt.table)
			sum, err := ingest.ImportSSDA903Dir(context.Background(), h.pub, dir, ingest.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Accepted != tt.imported || sum.UnitsRejected != len(tt.rows) || sum.RejectsPath != dir+".rejects.csv" {
				t.Fatalf("stored %d (want %d), rejected %d (want %d):\n%s", sum.Accepted, tt.imported, sum.UnitsRejected, len(tt.rows), sum)
			}
			rows := readCSV(t, sum.RejectsPath)
			for child, reason := range tt.rows {
				found := false
				for _, r := range rows[1:] {
					if r[0] == tt.file && r[1] == child && r[2] != "0" && strings.Contains(r[3], reason) {
						found = true
					}
				}
				if !found {
					t.Errorf("rejects lack %s row of child %q with %q:\n%q", tt.file, child, reason, rows)
				}
			}
			h.wantCount(t, uint64(tt.imported))
		})
	}
}

// An absence (SSDA903 A) is recorded as an absence, and a child imported
// from SSDA903 gets the flags its history calls for: looked after while the
// period of care is open.
func TestSSDA903ChildFlags(t *testing.T) {
	h := newHub(t)
	tmp := filepath.Join(t.TempDir(), "return")
	copyDir(t, filepath.Join("ssda903", "testdata", "ssda903-2024"), tmp)
	if _, err := ingest.ImportSSDA903Dir(context.Background(), h.pub, tmp, ingest.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	m := replayModel(t, h)
	for _, tt := range []struct {
		child       string
		lookedAfter bool
	}{{"LAC1", false}, {"LAC2", true}} {
		c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeLAPersonID, Value: tt.child}, nil)
		if !ok {
			t.Fatalf("%s not found", tt.child)
		}
		fs, _ := flags.ForChild(m, c.ID, nil, time.Now(), false, flags.DefaultConfig())
		active := false
		for _, f := range fs {
			if f.Code == "LOOKED_AFTER" && f.Active() {
				active = true
			}
		}
		if active != tt.lookedAfter {
			t.Errorf("%s: LOOKED_AFTER active %v, want %v (%+v)", tt.child, active, tt.lookedAfter, fs)
		}
	}
}
