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
	// What an agency did not record is left out, never shown as false or 0:
	// a declined interview and an unrecorded one read differently.
	for _, tt := range []struct {
		data string
		want []Field
	}{
		{`{"episode_ref":"M1","accepted":false}`, []Field{{Name: "episode_ref", Value: "M1"}, {Name: "accepted", Value: "false"}}},
		{`{"episode_ref":"M1"}`, []Field{{Name: "episode_ref", Value: "M1"}}},
	} {
		p, err := DecodePayload("return_interview.completed", []byte(tt.data))
		if err != nil || !reflect.DeepEqual(Fields(p), tt.want) {
			t.Fatalf("%s: %+v %v", tt.data, Fields(p), err)
		}
	}
	if p, err := DecodePayload("education.persistent_absence", []byte(`{"period":"autumn"}`)); err != nil || len(Fields(p)) != 1 {
		t.Fatalf("attendance not given: %+v %v", Fields(p), err)
	}
	if Fields(nil) != nil {
		t.Fatal("nil payload")
	}
}
