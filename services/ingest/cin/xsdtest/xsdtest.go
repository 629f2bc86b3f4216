// Package xsdtest validates Children in Need census files against the
// Department for Education's XSD for their year with xmllint, for tests.
// The XSDs are in ../testdata/xsd (where they came from is in the README
// there).
package xsdtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Years are the census years with an XSD in testdata.
var Years = []int{2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024}

// previousCPP is the one declaration the tests widen: the element is
// mandatory on every child protection plan, and xs:positiveInteger would
// make a child's first plan (0 previous plans) impossible to return. See
// the README beside the XSDs.
const (
	previousCPP        = `<xs:element name="NumberOfPreviousCPP" type="xs:positiveInteger"`
	previousCPPWidened = `<xs:element name="NumberOfPreviousCPP" type="xs:nonNegativeInteger"`
)

// Dir is the folder holding CIN_schema_YYYY.xsd.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "xsd")
}

// Validate runs xmllint --schema on file with year's XSD and fails tb with
// xmllint's report when the file is not valid. It skips, saying why, where
// xmllint is not installed (Debian: apt-get install libxml2-utils; .ci/run
// installs it).
func Validate(tb testing.TB, file string, year int) {
	tb.Helper()
	lint, err := exec.LookPath("xmllint")
	if err != nil {
		tb.Skip("no xmllint on PATH: validating a census against the DfE's XSD needs it (Debian: apt-get install -y libxml2-utils; .ci/run installs it)")
	}
	xsd, err := os.ReadFile(filepath.Join(Dir(), fmt.Sprintf("CIN_schema_%d.xsd", year)))
	if err != nil {
		tb.Fatalf("the %d census XSD: %v", year, err)
	}
	if n := bytes.Count(xsd, []byte(previousCPP)); n != 1 {
		tb.Fatalf("the %d census XSD declares NumberOfPreviousCPP %d times as the tests expect, not once: look at the README in %s", year, n, Dir())
	}
	xsd = bytes.Replace(xsd, []byte(previousCPP), []byte(previousCPPWidened), 1)
	schema := filepath.Join(tb.TempDir(), fmt.Sprintf("CIN_schema_%d.xsd", year))
	if err := os.WriteFile(schema, xsd, 0o600); err != nil {
		tb.Fatal(err)
	}
	out, err := exec.Command(lint, "--noout", "--nonet", "--schema", schema, file).CombinedOutput()
	if err != nil {
		tb.Errorf("%s is not valid against the %d census XSD (%v):\n%s", file, year, err, strings.TrimSpace(string(out)))
	}
}
