package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCensusVerb imports a census with the CLI against a running hub,
// as a new user would, then the same file with a child broken.
func TestImportCensusVerb(t *testing.T) {
	a := startApp(t)
	good := filepath.Join("..", "ingest", "cin", "testdata", "census-2024.xml")
	code, out, errOut := runCLI(t, "", "import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--format", "cin-census", good)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"CIN census 2024 (the 2023-24 collection), read with the 2024 schema, LA 999", "children: 3 read, 3 imported, 0 with something not stored; episodes: 3", "21 stored", "referral.received"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "census.xml")
	bad := strings.Replace(string(b), "<CPPendDate>2023-11-30<", "<CPPendDate>2023-01-30<", 1)
	if err := os.WriteFile(broken, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, "", "import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--format", "cin-census", broken)
	if code != exitFailure || !strings.Contains(out, "children: 3 read, 2 imported, 1 with something not stored") || !strings.Contains(out, "census.rejects.csv") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	rej, err := os.ReadFile(filepath.Join(filepath.Dir(broken), "census.rejects.csv"))
	if err != nil || !strings.Contains(string(rej), "SYN202401") || !strings.Contains(string(rej), "CPPendDate: 2023-01-30 is before CPPstartDate 2023-05-28") {
		t.Fatalf("rejects file (%v):\n%s", err, rej)
	}
	code, out, errOut = runCLI(t, "", "import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--format", "cin-census", filepath.Join(t.TempDir(), "none.xml"))
	if code != exitFailure || !strings.Contains(errOut, "no such file") || strings.Count(errOut, "no such file") != 1 || out != "" {
		t.Fatalf("missing file: exit %d, %s", code, errOut)
	}
}

func TestImportSSDA903Verb(t *testing.T) {
	a := startApp(t)
	src := filepath.Join("..", "ingest", "ssda903", "testdata", "ssda903-2024")
	dir := filepath.Join(t.TempDir(), "ssda903-2024")
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
		if de.Name() == "reviews.csv" {
			b = append(b, []byte("LAC2,01/01/2008,01/02/2024,PN9\n")...)
		}
		if err := os.WriteFile(filepath.Join(dir, de.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := runCLI(t, "", "import", "--quiet", "--nats-url", a.NATSClientURL(), "--data", a.dir, "--format", "ssda903", dir)
	if code != exitFailure {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"SSDA903 tables: header.csv (header), episodes.csv (episodes), missing.csv (missing), reviews.csv (reviews)",
		"note: social_worker.csv skipped", "children: 2 read, 1 imported, 1 with something not stored; episodes: 4", "14 stored", dir + ".rejects.csv"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rej, err := os.ReadFile(dir + ".rejects.csv")
	if err != nil || !strings.Contains(string(rej), `reviews.csv,LAC2,4,"REVIEW_CODE: ""PN9"" is not a known SSDA903 REVIEW_CODE code"`) {
		t.Fatalf("rejects (%v):\n%s", err, rej)
	}
}
