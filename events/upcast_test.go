package events

import (
	"strings"
	"testing"
)

// A missing.reported event published with schema_version 1 (before police
// categories replaced the absent flag) is read as version 2.
func TestMissingReportedV1IsUpcast(t *testing.T) {
	for _, tt := range []struct {
		absent bool
		want   string
	}{{true, "absent"}, {false, "missing"}} {
		data := mutate(t, "missing.reported", func(m map[string]any) {
			m["schema_version"] = 1
			m["payload"] = map[string]any{"episode_ref": "MP/1", "absent": tt.absent, "risk_level": "low"}
		})
		e, err := Check(data, now)
		if err != nil {
			t.Fatal(err)
		}
		got := e.Body.(*MissingReported)
		if got.Category != tt.want || got.EpisodeRef != "MP/1" || got.RiskLevel != "low" {
			t.Fatalf("absent=%v upcast to %+v", tt.absent, got)
		}
		if !strings.Contains(string(e.Payload), `"absent"`) {
			t.Fatal("the stored payload must stay as sent")
		}
	}
	// Absent schema_version means 1, so the original publishers keep working.
	data := mutate(t, "missing.reported", func(m map[string]any) {
		delete(m, "schema_version")
		m["payload"] = map[string]any{"episode_ref": "MP/2", "absent": true}
	})
	if e, err := Check(data, now); err != nil || e.Body.(*MissingReported).Category != "absent" {
		t.Fatalf("implicit v1 not upcast: %v", err)
	}
	// A v1 payload with a v2 field is an error naming it.
	data = mutate(t, "missing.reported", func(m map[string]any) {
		m["schema_version"] = 1
		m["payload"] = map[string]any{"episode_ref": "MP/3", "category": "absent"}
	})
	if _, err := Check(data, now); err == nil || !strings.Contains(err.Error(), "payload.category: unknown field") {
		t.Fatalf("got %v", err)
	}
}
