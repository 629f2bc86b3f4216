package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/flags"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
	"github.com/chronicle-hub/chronicle/services/ingest/cin/xsdtest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// censusFile is a synthetic census of year y from cin/testdata: three
// children (a child protection episode, a referral closed with no further
// action, an unborn child with an open assessment) in that year's shape.
func censusFile(y int) string {
	return filepath.Join("cin", "testdata", fmt.Sprintf("census-%d.xml", y))
}

func importCensus(t *testing.T, h *hub, path string) ingest.StatutorySummary {
	t.Helper()
	sum, err := ingest.ImportCensusFile(context.Background(), h.pub, path, ingest.CensusOptions{})
	if err != nil {
		t.Fatalf("import %s: %v", path, err)
	}
	return sum
}

func TestCensusEveryYear(t *testing.T) {
	for y := 2017; y <= 2024; y++ {
		t.Run(fmt.Sprint(y), func(t *testing.T) {
			h := newHub(t)
			sum := importCensus(t, h, censusFile(y))
			// Child 1: details, referral and decision, assessment started
			// and authorised, Section 47, initial conference (given twice
			// in the file, stored once), plan start, review and end, and
			// closure; from 2022 a child in need plan's start and end.
			want := map[events.Type]int{
				"child.details_recorded": 3, "referral.received": 3, "referral.decided": 3, "case.closed": 2,
				"assessment.started": 2, "assessment.completed": 1, "section47.started": 1, "conference.held": 2,
				"plan.started": 1, "plan.ended": 1,
			}
			if y >= 2022 {
				want["plan.started"], want["plan.ended"] = 2, 2
			}
			total := 0
			for typ, n := range want {
				total += n
				if c := sum.ByType[typ]; c == nil || c.Stored != n {
					t.Errorf("%s: stored %+v, want %d", typ, c, n)
				}
			}
			if sum.Children != 3 || sum.ChildrenRejected != 0 || sum.Episodes != 3 || sum.Accepted != total || sum.NotStored() != 0 {
				t.Fatalf("summary:\n%s", sum)
			}
			if !strings.Contains(sum.Format, fmt.Sprintf("CIN census %d", y)) || !strings.Contains(sum.Format, fmt.Sprintf("%d schema", y)) {
				t.Errorf("format line %q does not say the year", sum.Format)
			}
			h.wantCount(t, uint64(total))
			for _, e := range h.all(t) {
				if e.SourceSystem != "cin-census" || !strings.HasPrefix(e.SourceRef, "cin-census/999/SYN") {
					t.Errorf("%s: source %s %s", e.Type, e.SourceSystem, e.SourceRef)
				}
				if l := e.OccurredAt.In(london(t)); l.Hour() != 0 || l.Minute() != 0 {
					t.Errorf("%s at %s: a census date is placed at the start of the London day", e.Type, e.OccurredAt)
				}
			}
			// The same file again stores nothing.
			again := importCensus(t, h, censusFile(y))
			if again.Accepted != 0 || again.Duplicates != total {
				t.Fatalf("second import:\n%s", again)
			}
			h.wantCount(t, uint64(total))
		})
	}
}

// The synthetic census files are valid against their year's XSD, so the
// import is tested on what a council's system would send.
func TestCensusFilesMatchTheirXSD(t *testing.T) {
	for _, y := range xsdtest.Years {
		t.Run(fmt.Sprint(y), func(t *testing.T) { xsdtest.Validate(t, censusFile(y), y) })
	}
}

func london(t *testing.T) *time.Location {
	t.Helper()
	l, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// goodChild is census-2023's first child, for building broken files.
func goodChild(t *testing.T, id string) string {
	t.Helper()
	b, err := os.ReadFile(censusFile(2023))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start, end := strings.Index(s, "    <Child>"), strings.Index(s, "    </Child>")+len("    </Child>\n")
	return strings.ReplaceAll(s[start:end], "SYN202301", id)
}

func censusWith(children ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>CIN</Collection><Year>2023</Year><ReferenceDate>2023-03-31</ReferenceDate></CollectionDetails>
    <Source><LEA>999</LEA></Source>
  </Header>
  <Children>
` + strings.Join(children, "") + `  </Children>
</Message>
`
}

func TestCensusBrokenFiles(t *testing.T) {
	tests := []struct {
		name string
		// file builds the census from a good child with the given id.
		file func(good func(id string) string) string
		// rejected are the children expected in the rejects file, each
		// with a fragment of its reason.
		rejected map[string]string
		imported int
		note     string
	}{
		{
			name: "malformed XML in the second child",
			file: func(good func(string) string) string {
				bad := strings.Replace(good("BAD"), "<ReferralSource>6</ReferralSource>", "<ReferralSource>6</ReferalSource>", 1)
				return censusWith(good("OK1"), bad, good("NEVER"))
			},
			rejected: map[string]string{"BAD": "malformed XML at line"}, imported: 1,
		},
		{
			name: "truncated file",
			file: func(good func(string) string) string {
				full := censusWith(good("OK1"), good("CUT"))
				return full[:strings.Index(full, "CUT")+200]
			},
			rejected: map[string]string{"CUT": "truncated"}, imported: 1,
		},
		{
			name: "unknown codes",
			file: func(good func(string) string) string {
				return censusWith(
					strings.Replace(good("SRC"), "<ReferralSource>6<", "<ReferralSource>6X<", 1),
					strings.Replace(good("OLDFACTOR"), "<AssessmentFactors>18C<", "<AssessmentFactors>18A<", 1),
					good("OK1"))
			},
			rejected: map[string]string{
				"SRC":       `CINdetails[1]/ReferralSource: "6X" is not a referral source code`,
				"OLDFACTOR": `AssessmentFactors[2]: "18A" is not a assessment factor code in the 2023 census`,
			},
			imported: 1,
		},
		{
			name: "contradictory dates",
			file: func(good func(string) string) string {
				return censusWith(
					strings.Replace(good("AUTH"), "<AssessmentAuthorisationDate>2022-06-20<", "<AssessmentAuthorisationDate>2022-05-01<", 1),
					strings.Replace(good("PLAN"), "<CPPendDate>2022-11-30<", "<CPPendDate>2022-05-01<", 1),
					strings.Replace(good("CLOSED"), "<CINclosureDate>2023-03-10<", "<CINclosureDate>2022-04-01<", 1),
					good("OK1"))
			},
			rejected: map[string]string{
				"AUTH":   "Assessments[1]/AssessmentAuthorisationDate: 2022-05-01 is before AssessmentActualStartDate 2022-05-03",
				"PLAN":   "ChildProtectionPlans[1]/CPPendDate: 2022-05-01 is before CPPstartDate 2022-05-28",
				"CLOSED": "CINdetails[1]/CINclosureDate: 2022-04-01 is before CINreferralDate 2022-05-02",
			},
			imported: 1,
		},
		{
			name: "a child with no identifiers",
			file: func(good func(string) string) string {
				return censusWith(strings.Replace(good("NOID"), "<LAchildID>NOID</LAchildID>", "<LAchildID></LAchildID>", 1), good("OK1"))
			},
			rejected: map[string]string{"": "ChildIdentifiers/LAchildID: is required"}, imported: 1,
		},
		{
			name: "elements and codes of a later schema",
			file: func(good func(string) string) string {
				return strings.Replace(censusWith(good("NEWER")), "<Year>2023</Year>", "<Year>2021</Year>", 1)
			},
			rejected: map[string]string{"NEWER": "CINPlanDates: is not an element of CINdetails in the 2021 census schema"},
		},
		{
			name: "elements out of the schema's order",
			file: func(good func(string) string) string {
				return censusWith(strings.Replace(good("ORDER"), "<ReferralSource>6</ReferralSource>\n        <PrimaryNeedCode>N1</PrimaryNeedCode>", "<PrimaryNeedCode>N1</PrimaryNeedCode>\n        <ReferralSource>6</ReferralSource>", 1), good("OK1"))
			},
			rejected: map[string]string{"ORDER": "CINdetails[1]/ReferralSource: is out of the schema's order: it comes before PrimaryNeedCode"},
			imported: 1,
		},
		{
			name: "a date in the future",
			file: func(good func(string) string) string {
				future := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
				return censusWith(strings.Replace(good("FUTURE"), "<CINclosureDate>2023-03-10<", "<CINclosureDate>"+future+"<", 1), good("OK1"))
			},
			rejected: map[string]string{"FUTURE": "case.closed on " + time.Now().AddDate(1, 0, 0).Format(time.DateOnly) + ": occurred_at"},
			imported: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			path := filepath.Join(t.TempDir(), "census.xml")
			writeFile(t, path, tt.file(func(id string) string { return goodChild(t, id) }))
			sum, err := ingest.ImportCensusFile(context.Background(), h.pub, path, ingest.CensusOptions{})
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if got := sum.Children - sum.ChildrenRejected; got != tt.imported || sum.ChildrenRejected != len(tt.rejected) {
				t.Fatalf("imported %d children (want %d), rejected %d (want %d):\n%s", got, tt.imported, sum.ChildrenRejected, len(tt.rejected), sum)
			}
			if sum.RejectsPath == "" {
				t.Fatalf("no rejects file:\n%s", sum)
			}
			rows := readCSV(t, sum.RejectsPath)
			if strings.Join(rows[0], ",") != "file,child,_line,_reasons" {
				t.Fatalf("rejects header %q", rows[0])
			}
			for child, reason := range tt.rejected {
				found := false
				for _, r := range rows[1:] {
					if r[1] == child && strings.Contains(r[3], reason) && r[2] != "0" && r[0] == "census.xml" {
						found = true
					}
				}
				if !found {
					t.Errorf("rejects lack child %q with %q:\n%q", child, reason, rows)
				}
			}
			// What was imported is whole: every stored event belongs to an
			// imported child, and the count matches the summary.
			h.wantCount(t, uint64(sum.Accepted))
			for _, e := range h.all(t) {
				if _, bad := tt.rejected[e.Subjects[0].Identifiers.LAPersonID]; bad {
					t.Errorf("an event of rejected child %s was stored: %s", e.Subjects[0].Identifiers.LAPersonID, e.Type)
				}
			}
		})
	}
}

// A census import shows the same progress as an NDJSON import: events
// (rows) stored, rate, share of the file read and ETA. The file pauses half
// way until a progress line has been drawn, so the test sees one
// mid-import however fast the machine is.
func TestCensusImportShowsProgress(t *testing.T) {
	line := regexp.MustCompile(`[\d,]+ rows  [\d,]+/s  0 not stored  +\d+%  ETA \d+s`)
	h := newHub(t)
	var children []string
	for i := range 200 {
		children = append(children, goodChild(t, fmt.Sprintf("PROG%03d", i)))
	}
	all := censusWith(children...)
	half := strings.Index(all[len(all)/2:], "\n") + len(all)/2 + 1
	var progress jstest.Buffer
	in := &pausingReader{t: t, first: strings.NewReader(all[:half]), rest: strings.NewReader(all[half:]),
		until: func() bool { return line.MatchString(progress.String()) }}
	var rejects bytes.Buffer
	sum, err := ingest.ImportCensus(context.Background(), h.pub, in, int64(len(all)), "census.xml", &rejects,
		ingest.CensusOptions{ImportOptions: ingest.ImportOptions{Progress: &progress, MaxInFlight: 64, ProgressEvery: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Children != 200 || sum.NotStored() != 0 {
		t.Fatalf("summary:\n%s\nrejects:\n%s", sum, rejects.String())
	}
	if out := progress.String(); !line.MatchString(out) || strings.Contains(out, "\r") {
		t.Errorf("no progress line with count, rate, share read and ETA: %q", out)
	}
}

func TestCensusNotACensus(t *testing.T) {
	h := newHub(t)
	for name, content := range map[string]string{
		"not XML":     "hello",
		"another XML": "<html><body/></html>",
		"no year":     "<Message><Children></Children></Message>",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.xml")
			writeFile(t, path, content)
			if _, err := ingest.ImportCensusFile(context.Background(), h.pub, path, ingest.CensusOptions{}); err == nil {
				t.Fatal("imported without complaint")
			}
		})
	}
}

// Next year's census repeats this year's open episode: what it repeats is
// stored once, and what is new (the closure) is added.
func TestCensusNextYearRepeatsEpisodes(t *testing.T) {
	h := newHub(t)
	open := strings.NewReplacer(
		"        <CINclosureDate>2023-03-10</CINclosureDate>\n", "",
		"        <ReasonForClosure>RC7</ReasonForClosure>\n", "",
	)
	dir := t.TempDir()
	this, next := filepath.Join(dir, "2023.xml"), filepath.Join(dir, "2024.xml")
	writeFile(t, this, open.Replace(censusWith(goodChild(t, "SAME"))))
	later := strings.Replace(censusWith(goodChild(t, "SAME")), "<CINclosureDate>2023-03-10<", "<CINclosureDate>2023-06-10<", 1)
	writeFile(t, next, strings.Replace(strings.Replace(later, "<Year>2023</Year>", "<Year>2024</Year>", 1), "2023-03-31</ReferenceDate>", "2024-03-31</ReferenceDate>", 1))
	first := importCensus(t, h, this)
	second := importCensus(t, h, next)
	if second.Accepted != 1 || second.ByType["case.closed"] == nil || second.ByType["case.closed"].Stored != 1 || second.Duplicates != first.Accepted {
		t.Fatalf("first:\n%s\nsecond:\n%s", first, second)
	}
	h.wantCount(t, uint64(first.Accepted+1))
}

// A census child's history gives the deadline rules the same answers as
// events published as they happened: a date without a time is the start of
// that London day, and an assessment authorised on its 45th working day is
// in time.
func TestCensusChildFlags(t *testing.T) {
	// 2 May 2022 + 45 working days (with the 2 June and 3 June bank
	// holidays of the Platinum Jubilee) is 6 July 2022.
	tests := []struct {
		name       string
		authorised string
		wantFlag   bool
	}{
		{"authorised on the 45th working day", "2022-07-06", false},
		// Overdue from 00:00 on 7 July, the first day after the 45th; an
		// authorisation known only by its date is placed at 00:00 that
		// day, so the flag would have held for no time at all and none is
		// raised. A day later it held for the whole of 7 July.
		{"authorised on the 46th working day, date only", "2022-07-07", false},
		{"authorised on the 47th working day", "2022-07-08", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t)
			child := strings.Replace(goodChild(t, "FLAGS"), "<AssessmentActualStartDate>2022-05-03<", "<AssessmentActualStartDate>2022-05-02<", 1)
			child = strings.Replace(child, "<AssessmentAuthorisationDate>2022-06-20<", "<AssessmentAuthorisationDate>"+tt.authorised+"<", 1)
			path := filepath.Join(t.TempDir(), "census.xml")
			writeFile(t, path, censusWith(child))
			if sum := importCensus(t, h, path); sum.ChildrenRejected != 0 {
				t.Fatalf("%s", sum)
			}
			m := replayModel(t, h)
			c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeLAPersonID, Value: "FLAGS"}, nil)
			if !ok {
				t.Fatal("child not found by LA child id")
			}
			if _, ok := m.FindChild(events.Identifier{Scheme: events.SchemeUPN, Value: "K201300012002"}, nil); !ok {
				t.Fatal("child not found by former UPN")
			}
			for _, hindsight := range []bool{false, true} {
				fs, _ := flags.ForChild(m, c.ID, nil, time.Now(), hindsight, flags.DefaultConfig())
				var got *flags.Flag
				for i := range fs {
					if fs[i].Code == "ASSESSMENT_OVERDUE" {
						got = &fs[i]
					}
				}
				switch {
				case !hindsight && got != nil:
					// As the hub learnt it, the authorisation arrived with
					// the start: the import publishes endings first.
					t.Errorf("as received: %s raised %s: %s", got.Code, got.RaisedAt, got.Reason)
				case hindsight && tt.wantFlag && got == nil:
					t.Errorf("with hindsight: no ASSESSMENT_OVERDUE for an assessment authorised on %s", tt.authorised)
				case hindsight && !tt.wantFlag && got != nil:
					t.Errorf("with hindsight: %s raised %s, cleared %v: %s", got.Code, got.RaisedAt, got.ClearedAt, got.Reason)
				}
			}
		})
	}
}

func replayModel(t *testing.T, h *hub) *projections.Model {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := runner.Replay(ctx, h.srv.JS, eventlog.EventsStream, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.Model
}

// sameChildCensus is one child's 2023-24 census: a referral from police,
// an assessment authorised late (past 45 working days), a Section 47
// enquiry, a child protection plan whose first review conference came
// late (past 3 months), a child in need plan after it, and the closure.
const sameChildCensus = `<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails><Collection>CIN</Collection><Year>2024</Year><ReferenceDate>2024-03-31</ReferenceDate></CollectionDetails>
    <Source><SourceLevel>L</SourceLevel><LEA>999</LEA><SoftwareCode>Synthetic</SoftwareCode><Release>1</Release><SerialNo>001</SerialNo><DateTime>2024-05-01T10:00:00</DateTime></Source>
  </Header>
  <Children>
    <Child>
      <ChildIdentifiers>
        <LAchildID>SAME1</LAchildID>
        <UPN>W201300012001</UPN>
        <PersonBirthDate>2016-05-14</PersonBirthDate>
        <GenderCurrent>2</GenderCurrent>
      </ChildIdentifiers>
      <ChildCharacteristics><Ethnicity>WBRI</Ethnicity></ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2023-05-02</CINreferralDate>
        <ReferralSource>6</ReferralSource>
        <PrimaryNeedCode>N1</PrimaryNeedCode>
        <CINclosureDate>2024-03-10</CINclosureDate>
        <ReasonForClosure>RC7</ReasonForClosure>
        <DateOfInitialCPC>2023-06-20</DateOfInitialCPC>
        <Assessments>
          <AssessmentActualStartDate>2023-05-03</AssessmentActualStartDate>
          <AssessmentAuthorisationDate>2023-07-20</AssessmentAuthorisationDate>
          <FactorsIdentifiedAtAssessment><AssessmentFactors>3B</AssessmentFactors></FactorsIdentifiedAtAssessment>
        </Assessments>
        <CINPlanDates><CINPlanStartDate>2023-12-02</CINPlanStartDate><CINPlanEndDate>2024-03-01</CINPlanEndDate></CINPlanDates>
        <Section47>
          <S47ActualStartDate>2023-05-10</S47ActualStartDate>
          <InitialCPCtarget>2023-05-31</InitialCPCtarget>
          <DateOfInitialCPC>2023-06-20</DateOfInitialCPC>
          <ICPCnotRequired>false</ICPCnotRequired>
        </Section47>
        <ReferralNFA>false</ReferralNFA>
        <ChildProtectionPlans>
          <CPPstartDate>2023-06-20</CPPstartDate>
          <CPPendDate>2023-12-01</CPPendDate>
          <InitialCategoryOfAbuse>NEG</InitialCategoryOfAbuse>
          <LatestCategoryOfAbuse>NEG</LatestCategoryOfAbuse>
          <NumberOfPreviousCPP>0</NumberOfPreviousCPP>
          <Reviews><CPPreviewDate>2023-10-05</CPPreviewDate></Reviews>
        </ChildProtectionPlans>
      </CINdetails>
    </Child>
  </Children>
</Message>
`

// sameChildEvents is the same history as the case management system
// published it as things happened: at times of day, in time order.
func sameChildEvents(t *testing.T) []byte {
	t.Helper()
	london := london(t)
	at := func(date string, hour int) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, date, london)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(time.Duration(hour)*time.Hour + 30*time.Minute)
	}
	var raws [][]byte
	add := func(typ events.Type, date string, hour int, body events.Payload) {
		spec, _ := events.Lookup(typ)
		e := spec.ExampleEvent()
		e.Agency, e.SourceSystem, e.SourceRef = "social_care", "case-management", fmt.Sprintf("SAME1/%s/%s", typ, date)
		e.Subjects = []events.Subject{{Identifiers: events.Identifiers{LAPersonID: "SAME1", UPN: "W201300012001"}, DateOfBirth: "2016-05-14"}}
		e.OccurredAt = at(date, hour)
		e.RecordedAt = e.OccurredAt.Add(time.Hour)
		e.Summary = spec.Title
		e.Body = body
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		e.Payload = raw
		e.ID = events.DeriveID(e)
		raws = append(raws, encode(t, e))
	}
	add("referral.received", "2023-05-02", 9, &events.ReferralReceived{Source: "6", PrimaryNeed: "N1"})
	add("referral.decided", "2023-05-02", 15, &events.ReferralDecided{Decision: "assessment"})
	add("assessment.started", "2023-05-03", 10, &events.AssessmentStarted{Kind: "child_and_family", AssessmentRef: "A-1"})
	add("section47.started", "2023-05-10", 11, &events.Section47Started{ConferenceDue: "2023-05-31"})
	add("conference.held", "2023-06-20", 14, &events.Conference{Kind: "initial", Outcome: "plan_started", Category: "NEG"})
	add("plan.started", "2023-06-20", 16, &events.PlanStarted{Kind: "child_protection", Category: "NEG"})
	add("assessment.completed", "2023-07-20", 12, &events.AssessmentCompleted{Kind: "child_and_family", AssessmentRef: "A-1", Factors: []string{"3B"}, Outcome: "child_in_need_plan"})
	add("conference.held", "2023-10-05", 13, &events.Conference{Kind: "review", Outcome: "plan_continued"})
	add("plan.ended", "2023-12-01", 10, &events.PlanEnded{Kind: "child_protection"})
	add("plan.started", "2023-12-02", 9, &events.PlanStarted{Kind: "child_in_need"})
	add("plan.ended", "2024-03-01", 16, &events.PlanEnded{Kind: "child_in_need"})
	add("case.closed", "2024-03-10", 11, &events.CaseClosed{Reason: "RC7"})
	return array(t, raws...)
}

// flagLines describes a child's flags with hindsight, by London date, for
// comparing two histories that differ in times of day: code, raised,
// cleared, and the types of the evidence. As received, a flag is raised
// when the hub learnt enough, which depends on when and in what order each
// import arrived, not on the history; so only the flags open now are
// compared as received (open).
func flagLines(t *testing.T, m *projections.Model) (withHindsight, open []string) {
	t.Helper()
	c, ok := m.FindChild(events.Identifier{Scheme: events.SchemeLAPersonID, Value: "SAME1"}, nil)
	if !ok {
		t.Fatal("child SAME1 not found")
	}
	entries, _ := m.Chronology(c.ID, nil, true)
	typeOf := map[string]events.Type{}
	for _, e := range entries {
		typeOf[e.EventID] = e.Type
	}
	london := london(t)
	day := func(at *time.Time) string {
		if at == nil {
			return "open"
		}
		return at.In(london).Format(time.DateOnly)
	}
	now := time.Now()
	fs, _ := flags.ForChild(m, c.ID, nil, now, true, flags.DefaultConfig())
	for _, f := range fs {
		var types []string
		for _, id := range f.Evidence {
			types = append(types, string(typeOf[id]))
		}
		sort.Strings(types)
		withHindsight = append(withHindsight, fmt.Sprintf("%s raised %s cleared %s evidence %s", f.Code, day(&f.RaisedAt), day(f.ClearedAt), strings.Join(slices.Compact(types), ",")))
	}
	fs, _ = flags.ForChild(m, c.ID, nil, now, false, flags.DefaultConfig())
	for _, f := range fs {
		if f.ClearedAt == nil {
			open = append(open, f.Code)
		}
	}
	sort.Strings(withHindsight)
	sort.Strings(open)
	return withHindsight, open
}

// The rules give the same flags for a child whether its history came as
// events published as things happened (over HTTP, at times of day) or as a
// census file (dates only): the same codes, raised and cleared on the same
// London dates, resting on the same kinds of evidence.
func TestSameFlagsFromCensusAndEvents(t *testing.T) {
	fromEvents := newHub(t)
	ts := ingestServer(t, fromEvents)
	if r := post(t, ts, "application/json", sameChildEvents(t), http.StatusOK); r.Accepted != 12 {
		t.Fatalf("HTTP ingest: %+v", r)
	}
	fromCensus := newHub(t)
	path := filepath.Join(t.TempDir(), "census-2024.xml")
	writeFile(t, path, sameChildCensus)
	if sum := importCensus(t, fromCensus, path); sum.NotStored() != 0 {
		t.Fatalf("census import:\n%s", sum)
	}
	want, wantOpen := flagLines(t, replayModel(t, fromEvents))
	got, gotOpen := flagLines(t, replayModel(t, fromCensus))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the flags differ\nfrom the census:\n  %s\nfrom events:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if fmt.Sprint(gotOpen) != fmt.Sprint(wantOpen) {
		t.Errorf("open now: %v from the census, %v from events", gotOpen, wantOpen)
	}
	t.Logf("flags with hindsight:\n  %s", strings.Join(want, "\n  "))
	// The history is meant to raise and clear these; a test that compared
	// two empty lists would prove nothing.
	for _, code := range []string{"ASSESSMENT_OVERDUE", "CP_PLAN_ACTIVE", "REVIEW_CONFERENCE_OVERDUE"} {
		if !strings.Contains(strings.Join(want, "\n"), code+" raised") {
			t.Errorf("no %s with hindsight", code)
		}
	}
}
