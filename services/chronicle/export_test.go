package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/chronicle-hub/chronicle/services/app"
	"github.com/chronicle-hub/chronicle/services/ingest/cin"
	"github.com/chronicle-hub/chronicle/services/ingest/cin/xsdtest"
	"github.com/chronicle-hub/chronicle/services/jstest"
)

// statutoryHub is a running hub holding the synthetic 2023-24 census and
// SSDA903 return, imported with the CLI, and a token maker for it.
func statutoryHub(t *testing.T) (*app.App, func(role, agency string) string) {
	t.Helper()
	dir := t.TempDir()
	a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true})
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	for _, args := range [][]string{
		{"--format", "cin-census", filepath.Join("..", "ingest", "cin", "testdata", "census-2024.xml")},
		{"--format", "ssda903", copyTestdata(t, filepath.Join("..", "ingest", "ssda903", "testdata", "ssda903-2024"))},
	} {
		if code, out, errOut := runCLI(t, "", append([]string{"import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", dir}, args...)...); code != exitOK {
			t.Fatalf("import %v: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	tokenFor := func(role, agency string) string {
		args := []string{"token", "--data", dir, "--sub", "person-1", "--name", "Synthetic Person", "--role", role}
		if agency != "" {
			args = append(args, "--agency", agency)
		}
		code, out, errOut := runCLI(t, "", args...)
		if code != exitOK {
			t.Fatalf("token: %s", errOut)
		}
		return strings.TrimSpace(out)
	}
	// The read model catches up with the 35 events imported.
	waitForEvents(t, a, tokenFor("analyst", ""), 35)
	return a, tokenFor
}

// waitForEvents waits until the hub's read model holds n events, by
// counting the lines of the pseudonymised export.
func waitForEvents(t *testing.T, a *app.App, analyst string, n int) {
	t.Helper()
	jstest.Eventually(t, 10*time.Second, "the read model to hold the imports", func() bool {
		req, _ := http.NewRequest("GET", "http://"+a.HTTPAddr()+"/v1/export", nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		req.Header.Set("Chronicle-Purpose", "quality_assurance")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Count(string(b), "\n") == n
	})
}

func copyTestdata(t *testing.T, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	des, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		b, err := os.ReadFile(filepath.Join(src, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func readCSVFile(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// column returns the cells of the named column, in row order.
func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	for i, h := range rows[0] {
		if h == name {
			var out []string
			for _, r := range rows[1:] {
				out = append(out, r[i])
			}
			return out
		}
	}
	t.Fatalf("no column %q in %q", name, rows[0])
	return nil
}

func TestExportAnnexA(t *testing.T) {
	a, tokenFor := statutoryHub(t)
	server := "http://" + a.HTTPAddr()
	out := filepath.Join(t.TempDir(), "annex")
	t.Setenv("CHRONICLE_TOKEN", tokenFor("manager", "social_care"))
	code, stdout, errOut := runCLI(t, "", "export", "annex-a", "--server", server, "--purpose", "quality_assurance", "--from", "2023-04-01", "--to", "2024-03-31", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errOut)
	}
	if !strings.Contains(stdout, "Annex A, 2023-04-01 to 2024-03-31, with the LA's child ids") || !strings.Contains(stdout, "annex-a.xlsx") {
		t.Errorf("output:\n%s", stdout)
	}
	referrals := readCSVFile(t, filepath.Join(out, "list-3-referrals.csv"))
	if got := strings.Join(column(t, referrals, "Child Unique ID"), ","); got != "SYN202401,SYN202402,SYN202403" {
		t.Errorf("referrals of %s", got)
	}
	if got := strings.Join(column(t, referrals, "Referral NFA?"), ","); got != "b) No,a) Yes,b) No" {
		t.Errorf("NFA %s", got)
	}
	if got := strings.Join(column(t, referrals, "Referral Source"), ","); got != "q) 6: Police,p1) 5D: LA services,h) 3B: Health services" {
		t.Errorf("sources %s", got)
	}
	cp := readCSVFile(t, filepath.Join(out, "list-7-child-protection.csv"))
	if len(cp) != 2 || cp[1][0] != "SYN202401" || strings.Join(column(t, cp, "Latest Category of Abuse"), "") != "d) Emotional abuse" ||
		strings.Join(column(t, cp, "Child Protection Plan Start Date"), "") != "28/05/2023" || strings.Join(column(t, cp, "Date of latest review conference"), "") != "28/08/2023" {
		t.Errorf("child protection list:\n%q", cp)
	}
	s47 := readCSVFile(t, filepath.Join(out, "list-5-section-47-enquiries-and-icpcs.csv"))
	if len(s47) != 2 || strings.Join(column(t, s47, "Did the Initial Child Protection Conference Result in a Child Protection Plan"), "") != "a) Yes" {
		t.Errorf("section 47 list:\n%q", s47)
	}
	lac := readCSVFile(t, filepath.Join(out, "list-8-children-looked-after.csv"))
	if got := strings.Join(column(t, lac, "Child Unique ID"), ","); got != "LAC1,LAC2" {
		t.Fatalf("looked-after children %s:\n%q", got, lac)
	}
	if m, ab := column(t, lac, "Number of Missing Episodes in the Period"), column(t, lac, "Number of Absences in the Period"); m[0] != "1" || ab[0] != "1" || m[1] != "1" || ab[1] != "0" {
		t.Errorf("missing %q, absent %q: an absence is not a missing episode", m, ab)
	}
	if got := column(t, lac, "Placement Type"); got[0] != "U1" || got[1] != "K2" {
		t.Errorf("placements %q", got)
	}
	book, err := excelize.OpenFile(filepath.Join(out, "annex-a.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer book.Close()
	if sheets := book.GetSheetList(); len(sheets) != 8 || sheets[0] != "List 1" {
		t.Errorf("sheets %q", sheets)
	}
	if v, _ := book.GetCellValue("List 3", "A2"); v != "SYN202401" {
		t.Errorf("List 3 A2 %q", v)
	}

	// An analyst gets pseudonyms and no dates of birth.
	t.Setenv("CHRONICLE_TOKEN", tokenFor("analyst", ""))
	code, stdout, errOut = runCLI(t, "", "export", "annex-a", "--server", server, "--purpose", "quality_assurance", "--from", "2023-04-01", "--to", "2024-03-31", "--out", out)
	if code != exitOK || !strings.Contains(stdout, "pseudonymised") {
		t.Fatalf("analyst: exit %d\n%s\n%s", code, stdout, errOut)
	}
	referrals = readCSVFile(t, filepath.Join(out, "list-3-referrals.csv"))
	for i, id := range column(t, referrals, "Child Unique ID") {
		if !strings.HasPrefix(id, "P") || strings.Contains(id, "SYN") || column(t, referrals, "Date of Birth")[i] != "" {
			t.Errorf("analyst row %q", referrals[i+1])
		}
	}
	ages := column(t, referrals, "Age of Child (Years)")
	sort.Strings(ages)
	if got := strings.Join(ages, ","); got != ",2,6" { // the unborn child has no age
		t.Errorf("analyst ages %s", got)
	}

	// Who may not, and what is refused.
	for _, tt := range []struct {
		name, token, purpose, from, want string
	}{
		{"practitioner", tokenFor("practitioner", "health"), "quality_assurance", "2023-04-01", "may not export"},
		{"no purpose", tokenFor("analyst", ""), "", "2023-04-01", "purpose of access"},
		{"bad date", tokenFor("analyst", ""), "quality_assurance", "1 April", `from: "1 April" is not a date`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CHRONICLE_TOKEN", tt.token)
			code, _, errOut := runCLI(t, "", "export", "annex-a", "--server", server, "--purpose", tt.purpose, "--from", tt.from, "--to", "2024-03-31", "--out", t.TempDir())
			if code != exitFailure || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d: %s", code, errOut)
			}
		})
	}

	// Both exports are on the access log.
	req, _ := http.NewRequest("POST", server+"/graphql", strings.NewReader(`{"query":"{ accessLog { nodes { action role parts } } }"}`))
	req.Header.Set("Authorization", "Bearer "+tokenFor("auditor", ""))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	if n := strings.Count(b.String(), `"annex_a"`); n != 2 {
		t.Fatalf("access log has %d Annex A exports: %s", n, b.String())
	}
}

// censusEvents maps a census file to its events, by id, with their payloads
// and times: two files are equivalent when they give the same events.
func censusEvents(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := cin.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	year, _ := cin.SchemaYear(rd.Header.Year)
	m := &cin.Mapper{Year: year, LEA: rd.Header.LEA}
	out := map[string]string{}
	for {
		c, err := m.Next(rd)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: child %s at line %d: %v", path, c.ID, c.Line, err)
		}
		for _, e := range c.Events {
			out[e.ID] = fmt.Sprintf("%s %s %s %s", e.Type, e.OccurredAt.UTC().Format(time.RFC3339), e.SourceRef, e.Payload)
		}
	}
}

// TestExportCensusRoundTrip imports each year's census, exports that year
// again and checks the two files are equivalent: the exported file reads
// cleanly in its year's shape (every element in the schema's order, every
// code in the year's lists), is valid against the DfE's XSD for the year,
// and maps to exactly the same events.
func TestExportCensusRoundTrip(t *testing.T) {
	for y := 2017; y <= 2024; y++ {
		t.Run(fmt.Sprint(y), func(t *testing.T) {
			dir := t.TempDir()
			a := app.New(app.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true})
			if err := a.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			in := filepath.Join("..", "ingest", "cin", "testdata", fmt.Sprintf("census-%d.xml", y))
			want := censusEvents(t, in)
			if code, out, errOut := runCLI(t, "", "import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", dir, "--format", "cin-census", in); code != exitOK {
				t.Fatalf("import: %d\n%s\n%s", code, out, errOut)
			}
			token := func(role, agency string) string {
				args := []string{"token", "--data", dir, "--sub", "p1", "--name", "Synthetic", "--role", role}
				if agency != "" {
					args = append(args, "--agency", agency)
				}
				_, out, _ := runCLI(t, "", args...)
				return strings.TrimSpace(out)
			}
			waitForEvents(t, a, token("analyst", ""), len(want))
			t.Setenv("CHRONICLE_TOKEN", token("manager", "social_care"))
			path := filepath.Join(dir, "out.xml")
			code, out, errOut := runCLI(t, "", "export", "cin-census", "--server", "http://"+a.HTTPAddr(), "--purpose", "quality_assurance", "--year", fmt.Sprint(y), "--la", "999", "--out", path)
			if code != exitOK {
				t.Fatalf("export: %d\n%s\n%s", code, out, errOut)
			}
			xsdtest.Validate(t, path, y)
			got := censusEvents(t, path)
			for id, e := range want {
				if got[id] != e {
					t.Errorf("the export lost or changed %s\n want %s\n got  %s", id, e, got[id])
				}
			}
			for id, e := range got {
				if _, ok := want[id]; !ok {
					t.Errorf("the export added %s", e)
				}
			}
			if t.Failed() {
				b, _ := os.ReadFile(path)
				t.Logf("exported:\n%s", b)
			}
			// A census names children: an analyst may not have one.
			t.Setenv("CHRONICLE_TOKEN", token("analyst", ""))
			if code, _, errOut := runCLI(t, "", "export", "cin-census", "--server", "http://"+a.HTTPAddr(), "--purpose", "quality_assurance", "--year", fmt.Sprint(y), "--out", path); code != exitFailure || !strings.Contains(errOut, "pseudonymised") {
				t.Fatalf("analyst census export: %d %s", code, errOut)
			}
		})
	}
}

// postGraphQL posts a GraphQL request with token and returns the body.
func postGraphQL(t *testing.T, a *app.App, token string, request []byte) string {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+a.HTTPAddr()+"/graphql", bytes.NewReader(request))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The Annex A counts and levels of need are in GraphQL statistics for
// analysts, with missing episodes and absences apart.
func TestStatutoryStatistics(t *testing.T) {
	a, tokenFor := statutoryHub(t)
	analyst := tokenFor("analyst", "")
	query := func(args string) string {
		t.Helper()
		q, _ := json.Marshal(map[string]string{"query": "{ statutoryStatistics(period: YEAR, from: \"2023-04-01T00:00:00Z\"" + args + ") { period measure count } }"})
		return postGraphQL(t, a, analyst, q)
	}
	// The present is summed from the counters kept as events arrive; as
	// known at a time after every event, from the entries shown then: the
	// two agree.
	body := query("")
	if past := query(", asKnownAt: \"" + time.Now().Add(time.Minute).UTC().Format(time.RFC3339) + "\""); past != body {
		t.Errorf("from the counters:\n%s\nfrom the entries:\n%s", body, past)
	}
	for _, want := range []string{
		`{"count":3,"measure":"annex_a_referrals","period":"2023"}`,
		`{"count":1,"measure":"annex_a_child_protection_plans_started","period":"2023"}`,
		`{"count":1,"measure":"annex_a_started_to_be_looked_after","period":"2023"}`,
		`{"count":1,"measure":"annex_a_started_to_be_looked_after","period":"2024"}`,
		`{"count":1,"measure":"missing_episodes","period":"2023"}`,
		`{"count":1,"measure":"absences","period":"2023"}`,
		`{"count":1,"measure":"missing_episodes","period":"2024"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("statutoryStatistics lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "SYN") || strings.Contains(body, "LAC1") {
		t.Errorf("statistics name a child: %s", body)
	}
}
