package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// now is the reference clock for validation tests: after every example.
var now = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func TestEveryTypeRoundTripsAndValidates(t *testing.T) {
	if len(Catalogue()) < 40 {
		t.Fatalf("catalogue has %d types; the design names at least 40", len(Catalogue()))
	}
	for _, spec := range Catalogue() {
		t.Run(string(spec.Type), func(t *testing.T) {
			e := spec.ExampleEvent()
			data, err := Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Check(data, now)
			if err != nil {
				t.Fatalf("example does not validate: %v", err)
			}
			if !reflect.DeepEqual(got.Body, spec.Example) {
				t.Fatalf("payload did not round-trip:\n got %#v\nwant %#v", got.Body, spec.Example)
			}
			if got.ID != e.ID || got.Type != e.Type || !got.OccurredAt.Equal(e.OccurredAt) || !reflect.DeepEqual(got.Subjects, e.Subjects) {
				t.Fatalf("envelope did not round-trip: %+v", got)
			}
			again, err := Encode(got)
			if err != nil || string(again) != string(data) {
				t.Fatalf("re-encoding changed the bytes:\n%s\n%s", data, again)
			}
		})
	}
}

// mutate builds an encoded example event of type typ, changed by f working on
// the generic JSON form (so that tests can send what Go types cannot hold).
func mutate(t *testing.T, typ Type, f func(m map[string]any)) []byte {
	t.Helper()
	spec, ok := Lookup(typ)
	if !ok {
		t.Fatalf("unknown type %s", typ)
	}
	data, err := Encode(spec.ExampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func subject0(m map[string]any) map[string]any {
	return m["subjects"].([]any)[0].(map[string]any)
}

func payload(m map[string]any) map[string]any { return m["payload"].(map[string]any) }

func TestValidationRulesNameTheField(t *testing.T) {
	tests := []struct {
		name  string
		typ   Type
		f     func(m map[string]any)
		field string // the field path expected among the problems
	}{
		{"missing id", "contact.received", func(m map[string]any) { delete(m, "id") }, "id"},
		{"id not uuid", "contact.received", func(m map[string]any) { m["id"] = "abc" }, "id"},
		{"id uuid v4", "contact.received", func(m map[string]any) { m["id"] = "9b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d" }, "id"},
		{"unknown type", "contact.received", func(m map[string]any) { m["type"] = "contact.recieved" }, "type"},
		{"missing type", "contact.received", func(m map[string]any) { delete(m, "type") }, "type"},
		{"schema too new", "contact.received", func(m map[string]any) { m["schema_version"] = 9 }, "schema_version"},
		{"unknown agency", "contact.received", func(m map[string]any) { m["agency"] = "mi5" }, "agency"},
		{"agency not allowed for type", "police.notification", func(m map[string]any) { m["agency"] = "health" }, "agency"},
		{"no subjects", "contact.received", func(m map[string]any) { m["subjects"] = []any{} }, "subjects"},
		{"only an adult", "contact.received", func(m map[string]any) { subject0(m)["kind"] = "adult" }, "subjects"},
		{"child without identifiers", "contact.received", func(m map[string]any) { subject0(m)["identifiers"] = map[string]any{} }, "subjects[0].identifiers"},
		{"nhs check digit", "contact.received", func(m map[string]any) {
			subject0(m)["identifiers"] = map[string]any{"nhs_number": "9990000017"}
		}, "subjects[0].identifiers.nhs_number"},
		{"upn check letter", "contact.received", func(m map[string]any) {
			subject0(m)["identifiers"] = map[string]any{"upn": "A801200005001"}
		}, "subjects[0].identifiers.upn"},
		{"unknown subject kind", "contact.received", func(m map[string]any) { subject0(m)["kind"] = "pet" }, "subjects[0].kind"},
		{"bad date of birth", "contact.received", func(m map[string]any) { subject0(m)["date_of_birth"] = "17/04/2012" }, "subjects[0].date_of_birth"},
		{"unborn without mother", "contact.received", func(m map[string]any) {
			s := subject0(m)
			s["kind"], s["expected_delivery_date"] = "unborn", "2024-06-01"
			delete(s, "date_of_birth")
		}, "subjects[0].mother"},
		{"unborn without due date", "contact.received", func(m map[string]any) {
			s := subject0(m)
			s["kind"], s["mother"] = "unborn", map[string]any{"nhs_number": "9990000026"}
			delete(s, "date_of_birth")
		}, "subjects[0].expected_delivery_date"},
		{"mother on a child", "contact.received", func(m map[string]any) { subject0(m)["mother"] = map[string]any{"nhs_number": "9990000026"} }, "subjects[0].mother"},
		{"occurred after recorded", "contact.received", func(m map[string]any) { m["occurred_at"] = "2024-03-05T10:00:00Z" }, "occurred_at"},
		{"occurred in the future", "contact.received", func(m map[string]any) {
			m["occurred_at"], m["recorded_at"] = "2030-01-01T00:00:00Z", "2030-01-01T00:00:00Z"
		}, "recorded_at"},
		{"occurred_at not RFC 3339", "contact.received", func(m map[string]any) { m["occurred_at"] = "2024-03-04 10:15" }, "occurred_at"},
		{"recorded_at missing", "contact.received", func(m map[string]any) { delete(m, "recorded_at") }, "recorded_at"},
		{"unknown sensitivity", "contact.received", func(m map[string]any) { m["sensitivity"] = "secret" }, "sensitivity"},
		{"missing reliability", "contact.received", func(m map[string]any) { delete(m, "reliability") }, "reliability"},
		{"summary too long", "contact.received", func(m map[string]any) { m["summary"] = strings.Repeat("x", MaxSummary+1) }, "summary"},
		{"summary two lines", "contact.received", func(m map[string]any) { m["summary"] = "a\nb" }, "summary"},
		{"summary blank", "contact.received", func(m map[string]any) { m["summary"] = "  " }, "summary"},
		{"unknown envelope field", "contact.received", func(m map[string]any) { m["ocurred_at"] = "x" }, "ocurred_at"},
		{"wrong JSON type", "contact.received", func(m map[string]any) { m["schema_version"] = "one" }, "schema_version"},
		{"payload missing", "contact.received", func(m map[string]any) { delete(m, "payload") }, "payload.concern"},
		{"payload required field", "missing.reported", func(m map[string]any) { delete(payload(m), "episode_ref") }, "payload.episode_ref"},
		{"payload enum", "missing.reported", func(m map[string]any) { payload(m)["category"] = "lost" }, "payload.category"},
		{"payload unknown field", "missing.reported", func(m map[string]any) { payload(m)["colour"] = "red" }, "payload.colour"},
		{"payload wrong type", "education.exclusion", func(m map[string]any) { payload(m)["days"] = "three" }, "payload.days"},
		{"payload range", "education.exclusion", func(m map[string]any) { payload(m)["days"] = 60 }, "payload.days"},
		{"payload list item", "assessment.completed", func(m map[string]any) { payload(m)["factors"] = []any{"3B", "99Z"} }, "payload.factors[1]"},
		{"payload level of need", "need_level.changed", func(m map[string]any) { payload(m)["to"] = 5 }, "payload.to"},
		{"cp plan needs category", "plan.started", func(m map[string]any) { delete(payload(m), "category") }, "payload.category"},
		{"payload long text", "education.concern", func(m map[string]any) { payload(m)["concern"] = strings.Repeat("y", MaxLongText+1) }, "payload.concern"},
		{"correction ref", "record.corrected", func(m map[string]any) { payload(m)["event_id"] = "nope" }, "payload.event_id"},
		{"link to itself", "subjects.linked", func(m map[string]any) { payload(m)["b"] = payload(m)["a"] }, "payload.b"},
		{"link bad identifier", "subjects.linked", func(m map[string]any) {
			payload(m)["a"] = map[string]any{"scheme": "nhs_number", "value": "123"}
		}, "payload.a"},
		{"transfer LA code", "transfer.in", func(m map[string]any) { payload(m)["from_la"] = "Leeds" }, "payload.from_la"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Check(mutate(t, tt.typ, tt.f), now)
			if err == nil {
				t.Fatal("accepted an invalid event")
			}
			if KindOf(err) != KindInvalid {
				t.Fatalf("kind = %v, want INVALID", KindOf(err))
			}
			var fields []string
			for _, p := range Problems(err) {
				fields = append(fields, p.Field)
			}
			if !slices.Contains(fields, tt.field) {
				t.Fatalf("problems %v do not name %q (error: %v)", fields, tt.field, err)
			}
		})
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	data := mutate(t, "missing.reported", func(m map[string]any) {
		m["agency"] = "mi5"
		m["sensitivity"] = "secret"
		subject0(m)["identifiers"] = map[string]any{"nhs_number": "9990000017", "upn": "A801200005001"}
		payload(m)["category"] = "lost"
		delete(payload(m), "episode_ref")
	})
	_, err := Check(data, now)
	want := []string{"agency", "sensitivity", "subjects[0].identifiers.nhs_number", "subjects[0].identifiers.upn", "payload.category", "payload.episode_ref"}
	got := map[string]bool{}
	for _, p := range Problems(err) {
		got[p.Field] = true
	}
	for _, f := range want {
		if !got[f] {
			t.Errorf("missing problem for %s; got %v", f, Problems(err))
		}
	}
	if !strings.Contains(err.Error(), "subjects[0].identifiers.nhs_number: check digit does not match") {
		t.Errorf("error text does not read as the issue describes: %v", err)
	}
}

// A value of the wrong JSON type does not hide the other problems, and its
// path keeps the array index.
func TestTypeErrorsDoNotHideOtherProblems(t *testing.T) {
	data := mutate(t, "education.exclusion", func(m map[string]any) {
		m["sensitivity"] = "secret"
		m["schema_version"] = "one"
		subject0(m)["date_of_birth"] = 5
		subject0(m)["identifiers"] = map[string]any{"nhs_number": "9990000017"}
		payload(m)["days"] = "three"
		payload(m)["kind"] = "expelled"
		payload(m)["colour"] = "red"
	})
	_, err := Check(data, now)
	want := map[string]string{
		"sensitivity":                        "is not a known",
		"schema_version":                     "must be a JSON number, not string",
		"subjects[0].date_of_birth":          "must be a JSON string, not number",
		"subjects[0].identifiers.nhs_number": "check digit does not match",
		"payload.days":                       "must be a JSON number, not string",
		"payload.kind":                       "is not a known",
		"payload.colour":                     "unknown field",
	}
	got := map[string][]string{}
	for _, p := range Problems(err) {
		got[p.Field] = append(got[p.Field], p.Problem)
	}
	for field, problem := range want {
		if len(got[field]) == 0 || !strings.Contains(strings.Join(got[field], "|"), problem) {
			t.Errorf("%s: want a problem containing %q, got %q", field, problem, got[field])
		}
	}
	// A field that failed to decode is not also reported as missing.
	if len(got["payload.days"]) != 1 || len(got["subjects[0].date_of_birth"]) != 1 {
		t.Errorf("a decoding problem was repeated by validation: %v", got)
	}
}

// Times are required in Go-built events too, and the year 1 is not a date an
// agency recorded anything on.
func TestZeroAndAncientTimesAreRejected(t *testing.T) {
	spec, _ := Lookup("contact.received")
	e := spec.ExampleEvent()
	e.OccurredAt, e.RecordedAt = time.Time{}, time.Time{}
	fields := map[string]bool{}
	for _, p := range Problems(Validate(e, now)) {
		fields[p.Field] = true
	}
	if !fields["occurred_at"] || !fields["recorded_at"] {
		t.Fatalf("zero times accepted: %v", Problems(Validate(e, now)))
	}
	data := mutate(t, "contact.received", func(m map[string]any) {
		m["occurred_at"], m["recorded_at"] = "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"
	})
	_, err := Check(data, now)
	fields = map[string]bool{}
	for _, p := range Problems(err) {
		fields[p.Field] = true
	}
	if !fields["occurred_at"] || !fields["recorded_at"] {
		t.Fatalf("year-1 times accepted: %v", err)
	}
}

// A problem quotes only the start of a long bad value, so that a hostile
// value cannot make the reason enormous.
func TestProblemsQuoteLongValuesBriefly(t *testing.T) {
	long := strings.Repeat("Z", 5000)
	data := mutate(t, "contact.received", func(m map[string]any) { m["sensitivity"] = long })
	_, err := Check(data, now)
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "(5000 characters)") {
		t.Fatalf("got %d bytes: %.300s", len(fmt.Sprint(err)), err)
	}
}

func TestOversizedEventIsRejectedBeforeParsing(t *testing.T) {
	data := mutate(t, "education.concern", func(m map[string]any) {
		m["source_ref"] = strings.Repeat("z", MaxEventSize)
	})
	_, err := Check(data, now)
	if err == nil || !strings.Contains(err.Error(), "the limit is 65536") {
		t.Fatalf("got %v", err)
	}
}

func TestMalformedJSONIsOneClearProblem(t *testing.T) {
	for _, in := range []string{"", "{", "[1,2]", `{"id": }`, `{"a":1} {"b":2}`, "null"} {
		_, err := Check([]byte(in), now)
		if err == nil {
			t.Fatalf("%q accepted", in)
		}
		if len(Problems(err)) == 0 {
			t.Fatalf("%q: no field problems in %v", in, err)
		}
	}
}

func TestEveryCodedFieldIsValidated(t *testing.T) {
	for _, spec := range Catalogue() {
		rt := reflect.TypeOf(spec.Example).Elem()
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			list := f.Tag.Get("codes")
			if list == "" {
				continue
			}
			if codeListNamed(list) == nil {
				t.Errorf("%s.%s names unknown code list %q", spec.Type, f.Name, list)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			bad := any("ZZZ-not-a-code")
			switch f.Type.Kind() {
			case reflect.Int:
				bad = 99
			case reflect.Slice:
				bad = []any{"ZZZ-not-a-code"}
			}
			data := mutate(t, spec.Type, func(m map[string]any) { payload(m)[name] = bad })
			_, err := Check(data, now)
			found := false
			for _, p := range Problems(err) {
				if p.Field == "payload."+name || strings.HasPrefix(p.Field, "payload."+name+"[") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: payload.%s accepted %v though it is coded by %q", spec.Type, name, bad, list)
			}
		}
	}
}

func TestNormalizeDerivesStableIDs(t *testing.T) {
	spec, _ := Lookup("contact.received")
	a, b := spec.ExampleEvent(), spec.ExampleEvent()
	a.ID, b.ID = "", ""
	a.Normalize(func() string { t.Fatal("random id used although source_ref is set"); return "" })
	b.Normalize(nil)
	if a.ID != b.ID || Validate(a, now) != nil {
		t.Fatalf("derived ids differ or are invalid: %s %s %v", a.ID, b.ID, Validate(a, now))
	}
	if ts, ok := IDTime(a.ID); !ok || !ts.Equal(a.RecordedAt.Truncate(time.Millisecond)) {
		t.Fatalf("derived id time %v, want recorded_at %v", ts, a.RecordedAt)
	}
	c := spec.ExampleEvent()
	c.ID, c.SourceRef = "", ""
	c.Normalize(func() string { return "0190f3c4-0000-7000-8000-000000000001" })
	if c.ID != "0190f3c4-0000-7000-8000-000000000001" || c.SchemaVersion != 1 {
		t.Fatalf("without source_ref the generator must be used: %s", c.ID)
	}
}

func TestSubjectRoundTrip(t *testing.T) {
	agency, typ, ok := SplitSubject(SubjectFor("police", "police.notification"))
	if !ok || agency != "police" || typ != "police.notification" {
		t.Fatalf("got %s %s %v", agency, typ, ok)
	}
	for _, bad := range []string{"chronicle.events.police", "other.events.police.x", "chronicle.events..x"} {
		if _, _, ok := SplitSubject(bad); ok {
			t.Errorf("SplitSubject(%q) accepted", bad)
		}
	}
}

func TestUnbornKeysUseMother(t *testing.T) {
	s := Subject{Kind: "unborn", ExpectedDeliveryDate: "2024-09-01", Mother: &Identifiers{NHSNumber: "9990000026"}}
	keys := s.Keys()
	if len(keys) != 1 || keys[0] != (Identifier{SchemeUnbornOf, "nhs_number:9990000026"}) {
		t.Fatalf("keys %v", keys)
	}
	if err := ValidateIdentifier(keys[0]); err != nil {
		t.Fatal(err)
	}
}
