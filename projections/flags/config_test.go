package flags

import (
	"slices"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
)

// The readings a hub may choose (absences, concerns, deadlines) load from
// the rules config, and every bad value is named by rule and field.
func TestLoadConfigOptions(t *testing.T) {
	cfg, err := LoadConfig(strings.NewReader(`{"rules": {
		"REPEAT_MISSING": {"count_absences": true},
		"MULTI_AGENCY_CONCERNS": {"concerns": ["health.concern", "education.persistent_absence"]},
		"ICPC_OVERDUE": {"deadline": "clock"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	rule := func(code string) Rule {
		rules := cfg.Rules()
		return rules[slices.IndexFunc(rules, func(r Rule) bool { return r.Code == code })]
	}
	if !rule("REPEAT_MISSING").Options.CountAbsences || rule("MISSING_AND_EXPLOITATION").Options.CountAbsences {
		t.Error("count_absences should apply to the rule named, and only to it")
	}
	if got := rule("MULTI_AGENCY_CONCERNS").Options.Concerns; !slices.Equal(got, []events.Type{"health.concern", "education.persistent_absence"}) {
		t.Errorf("concerns %v", got)
	}
	if rule("ICPC_OVERDUE").Options.Deadline != DeadlineClock || rule("ASSESSMENT_OVERDUE").Options.Deadline != DeadlineDate {
		t.Error("deadline should apply to the rule named, and only to it")
	}
	if got := rule("ICPC_OVERDUE").Settings(); !slices.Equal(got, []Setting{{"deadline", "clock"}}) {
		t.Errorf("settings %v", got)
	}

	bad := []struct{ name, config, want string }{
		{"misspelt type", `{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": ["health.concern", "educaton.concern"]}}}`,
			`MULTI_AGENCY_CONCERNS.concerns[1]: "educaton.concern" is not an event type`},
		{"record-keeping", `{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": ["record.retracted"]}}}`,
			`MULTI_AGENCY_CONCERNS.concerns[0]: "record.retracted" is the hub's own record-keeping`},
		{"twice", `{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": ["health.concern", "health.concern"]}}}`,
			`MULTI_AGENCY_CONCERNS.concerns[1]: "health.concern" is listed twice`},
		{"empty", `{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": []}}}`, "MULTI_AGENCY_CONCERNS.concerns: must name at least one event type"},
		{"not a list", `{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": "health.concern"}}}`, "MULTI_AGENCY_CONCERNS: json: cannot unmarshal string into Go struct field ruleOverride.concerns"},
		{"concerns elsewhere", `{"rules": {"REPEAT_MISSING": {"concerns": ["health.concern"]}}}`, "REPEAT_MISSING.concerns: not used by this rule"},
		{"absences where there are none", `{"rules": {"ICPC_OVERDUE": {"count_absences": true}}}`, "ICPC_OVERDUE.count_absences: not used by this rule (it uses working_days, deadline)"},
		{"absences as text", `{"rules": {"RHI_OVERDUE": {"count_absences": "yes"}}}`, "RHI_OVERDUE: json: cannot unmarshal string into Go struct field ruleOverride.count_absences"},
		{"unknown reading", `{"rules": {"REFERRAL_UNDECIDED": {"deadline": "end_of_day"}}}`, `REFERRAL_UNDECIDED.deadline: "end_of_day" is not date or clock`},
		{"a deadline on a window", `{"rules": {"REPEAT_MISSING": {"deadline": "clock"}}}`, "REPEAT_MISSING.deadline: not used by this rule"},
		{"a deadline on the 72 hours", `{"rules": {"RHI_OVERDUE": {"deadline": "date"}}}`, "RHI_OVERDUE.deadline: not used by this rule"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			_, err := LoadConfig(strings.NewReader(b.config))
			if err == nil || !strings.Contains(err.Error(), b.want) {
				t.Errorf("got %v, want %q", err, b.want)
			}
		})
	}
	// Every problem at once, each named.
	_, err = LoadConfig(strings.NewReader(`{"rules": {"MULTI_AGENCY_CONCERNS": {"concerns": ["nope", "subjects.linked"]}, "ICPC_OVERDUE": {"deadline": "soon"}}}`))
	for _, want := range []string{"concerns[0]", "concerns[1]", "ICPC_OVERDUE.deadline"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("all problems: %v, missing %s", err, want)
		}
	}
}

// Every event type in the catalogue has a decision in the concerns table,
// with a reason, so a new type is a choice rather than an omission; the
// rationale lists the defaults.
func TestConcernsTableCoversTheCatalogue(t *testing.T) {
	for _, spec := range events.Catalogue() {
		i := slices.IndexFunc(concernTable, func(k concernKind) bool { return k.typ == spec.Type })
		if i < 0 {
			t.Errorf("%s: no decision in the concerns table", spec.Type)
			continue
		}
		if concernTable[i].why == "" {
			t.Errorf("%s: no reason given", spec.Type)
		}
	}
	for _, k := range concernTable {
		if _, ok := events.Lookup(k.typ); !ok {
			t.Errorf("%s: in the concerns table but not the catalogue", k.typ)
		}
	}
	r := concernsRationale()
	for _, typ := range defaultConcerns() {
		if !strings.Contains(r, string(typ)+" (") {
			t.Errorf("rationale does not explain %s", typ)
		}
	}
	if strings.Contains(r, "record.retracted") {
		t.Error("the rationale lists the hub's record-keeping as a decision")
	}
}
