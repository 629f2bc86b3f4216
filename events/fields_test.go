package events

import (
	"reflect"
	"testing"
)

func TestFieldsExplainCodes(t *testing.T) {
	got := Fields(&AssessmentCompleted{Kind: "early_help", LevelOfNeed: 3, Factors: []string{"3B", "4B"}, Outcome: "early_help_plan"})
	want := []Field{
		{"kind", "early_help", "Early Help Assessment (formerly CAF), by any agency"},
		{"level_of_need", "3", "Increasing concerns: targeted or multi-agency early help"},
		{"factors", "3B; 4B", "Domestic abuse: parent or carer; Mental health: parent or carer"},
		{"outcome", "early_help_plan", "Early help plan"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
	if f := Fields(&Injury{Description: "x", ExplanationConsistent: ptr(false)}); len(f) != 2 || f[1].Value != "false" {
		t.Fatalf("pointer bool: %+v", f)
	}
	if Fields(nil) != nil {
		t.Fatal("nil payload")
	}
}
