package events

import (
	"fmt"
	"strings"
	"testing"
)

// example is a valid police notification as an agency would send it; the
// cases below change one piece of its text.
const example = `{"id":"018e0920-ac40-787e-88c0-d37e5c2b0907","type":"police.notification","schema_version":1,"agency":"police","source_system":"example-system","source_ref":"REF-police-notification","subjects":[{"kind":"child","identifiers":{"nhs_number":"9990000018","la_person_id":"LA-000123"},"name":"Alex Example","date_of_birth":"2012-04-17"}],"occurred_at":"2024-03-04T10:15:00Z","recorded_at":"2024-03-04T11:02:00Z","sensitivity":"standard","reliability":"direct","summary":"Police notification (example)","payload":{"category":"domestic_abuse","child_role":"household_member","risk_level":"medium","crime_ref":"PPN/24/5531"}}`

func TestCheckRefusesRepeatedNamesAndForbiddenText(t *testing.T) {
	tests := []struct {
		name      string
		old, new  string // replaced once in example
		wantField string // "" means the event is valid
		wantIn    string
	}{
		{"valid as sent", "", "", "", ""},
		{"sensitivity twice, the second hiding the first", `"sensitivity":"standard"`, `"sensitivity":"restricted","summary":"x","sensitivity":"standard"`, "sensitivity", "more than once"},
		{"agency twice", `"agency":"police"`, `"agency":"police","agency":"health"`, "agency", "more than once"},
		{"an identifier twice", `"nhs_number":"9990000018"`, `"nhs_number":"9990000018","nhs_number":"9990000026"`, "subjects[0].identifiers.nhs_number", "more than once"},
		{"a payload field twice", `"risk_level":"medium"`, `"risk_level":"high","risk_level":"medium"`, "payload.risk_level", "more than once"},
		{"the same name spelt with an escape", `"agency":"police"`, `"agency":"police","\u0061gency":"police"`, "agency", "more than once"},
		{"a name repeated within one subject", `"name":"Alex Example"`, `"name":"Alex Example","kind":"child"`, "subjects[0].kind", "more than once"},
		{"invalid UTF-8 in a summary", `(example)`, "(ex\xffample)", "summary", "not valid UTF-8"},
		{"invalid UTF-8 in a name", `Alex Example`, "Alex \xc3Example", "subjects[0].name", "not valid UTF-8"},
		{"an escaped lone surrogate", `(example)`, `(ex\ud800ample)`, "summary", "lone surrogate"},
		{"a low surrogate alone", `(example)`, `(ex\udc00ample)`, "summary", "lone surrogate"},
		{"an escaped NUL", `(example)`, `(ex\u0000ample)`, "summary", "U+0000"},
		{"an escaped bell", `Alex Example`, `Alex\u0007Example`, "subjects[0].name", "U+0007"},
		{"a backspace escape", `(example)`, `(ex\bample)`, "summary", "U+0008"},
		{"DEL", `(example)`, "(ex\x7fample)", "summary", "U+007F"},
		{"a C1 control, raw", `(example)`, "(ex\u0085ample)", "summary", "U+0085"},
		{"a right-to-left override, raw", `Alex Example`, "Alex \u202eelpmaxE", "subjects[0].name", "bidirectional"},
		{"a right-to-left isolate, escaped", `PPN/24/5531`, `PPN/\u206724/5531`, "payload.crime_ref", "bidirectional"},
		{"in a member name", `"kind":"child"`, `"kind":"child","k\u202eey":"x"`, "subjects[0].k\u202eey", "bidirectional"},
		{"letters of any script are text", `Alex Example`, `Zoë Ó Ceallaigh 李`, "", ""},
		{"an escaped surrogate pair is a character", `(example)`, `(example \ud83d\ude00)`, "", ""},
		{"a quote and a backslash escaped", `(example)`, `(\"example\" \\ 1)`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := example
			if tt.old != "" {
				if !strings.Contains(data, tt.old) {
					t.Fatalf("example lacks %q", tt.old)
				}
				data = strings.Replace(data, tt.old, tt.new, 1)
			}
			_, err := Check([]byte(data), now)
			var got *FieldError
			for _, p := range Problems(err) {
				if p.Field == tt.wantField && (got == nil || strings.Contains(p.Problem, tt.wantIn)) {
					got = &p
				}
			}
			switch {
			case tt.wantField == "" && err != nil:
				t.Fatalf("refused a valid event: %v", err)
			case tt.wantField != "" && got == nil:
				t.Fatalf("no problem at %s; got %v", tt.wantField, err)
			case tt.wantField != "" && !strings.Contains(got.Problem, tt.wantIn):
				t.Fatalf("%s: %q does not say %q", got.Field, got.Problem, tt.wantIn)
			}
		})
	}
}

// Nothing but the stored bytes is ever what was validated: an event whose
// text encoding/json would have rewritten is refused, never stored changed.
func TestCheckJSONTextOnOtherDocuments(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"a GraphQL body's query twice", `{"query":"{a}","query":"{b}"}`, "query"},
		{"inside an array of objects", `[{"a":1},{"a":1,"b":2,"b":3}]`, "[1].b"},
		{"deep in arrays", `{"x":[[1],[2,{"y":"\u202d"}]]}`, "x[1][1].y"},
		{"malformed documents are left to the decoder", `{"a":"b`, ""},
		{"an empty object", `{}`, ""},
		{"the same name in two objects", `{"a":{"b":1},"c":{"b":2},"d":[{"b":3},{"b":4}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckJSONText([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			ps := Problems(err)
			if len(ps) != 1 || ps[0].Field != tt.want {
				t.Fatalf("got %v, want one problem at %s", ps, tt.want)
			}
		})
	}
}

func BenchmarkCheckJSONText(b *testing.B) {
	data := []byte(example)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := CheckJSONText(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(example)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

// A hostile document of many names costs linear time: the names of a big
// object move to a set.
func TestCheckJSONTextManyNames(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%q:1", fmt.Sprintf("k%d", i))
	}
	b.WriteString(`,"k4999":2,"k0":3}`)
	ps := Problems(CheckJSONText([]byte(b.String())))
	if len(ps) != 2 || ps[0].Field != "k4999" || ps[1].Field != "k0" {
		t.Fatalf("got %v", ps)
	}
}
