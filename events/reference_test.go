package events

import (
	"bytes"
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files and docs/events.md")

const referencePath = "../docs/events.md"

// The catalogue reference is generated from the Go types; this fails when
// they drift. Refresh with: go test ./events -run TestReference -update
func TestReferenceUpToDate(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(referencePath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v (run go test ./events -run TestReference -update)", err)
	}
	if !bytes.Equal(have, b.Bytes()) {
		t.Fatalf("%s is out of date with the Go types: run go test ./events -run TestReference -update", referencePath)
	}
	for _, spec := range Catalogue() {
		if !bytes.Contains(have, []byte("### `"+string(spec.Type)+"`")) {
			t.Errorf("reference lacks %s", spec.Type)
		}
	}
}
