package ingest_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// bodyOf returns e's decoded payload as a T, failing when it is not one.
func bodyOf[T events.Payload](tb testing.TB, e *events.Event) T {
	tb.Helper()
	b, ok := e.Body.(T)
	if !ok {
		tb.Fatalf("%s: body is %T", e.Type, e.Body)
	}
	return b
}

// TestImportCSVCells covers how single cells become event fields: payload
// dates, identifiers and the whole-payload column, unborn and adult
// subjects, cells the header has no column for, and the reasons a row is
// rejected. Each case is one row under the envelope columns below plus its
// own; a case either stores the row (check looks at the stored event) or
// rejects it (the reasons name every field in wantFields and mention
// every text in wantMention).
func TestImportCSVCells(t *testing.T) {
	const envelope = "type,agency,source_ref,occurred_at,recorded_at,sensitivity,reliability,summary"
	cells := func(typ, agency, ref string) string {
		return strings.Join([]string{typ, agency, ref, "2024-03-04 10:15", "04/03/2024 11:00", "standard", "direct", "Imported " + ref}, ",")
	}
	contact := func(ref string) string { return cells("contact.received", "social_care", ref) }
	tests := []struct {
		name        string
		header      string // after the envelope columns
		row         string // after the envelope cells
		envelope    string // the envelope cells; contact.received when empty
		check       func(tb testing.TB, e *events.Event)
		wantFields  []string
		wantMention []string
	}{
		{
			name: "payload date written DD/MM/YYYY", envelope: cells("serious_incident.notified", "social_care", "CC-1"),
			header: "subject.nhs_number,payload.kind,payload.notified", row: "9990000018,serious_harm,05/03/2024",
			check: func(tb testing.TB, e *events.Event) {
				if got := bodyOf[*events.SeriousIncident](tb, e).Notified; got != "2024-03-05" {
					tb.Errorf("notified %q, want 2024-03-05", got)
				}
			},
		},
		{
			name: "payload date written YYYY-MM-DD", envelope: cells("serious_incident.notified", "social_care", "CC-2"),
			header: "subject.nhs_number,payload.kind,payload.notified", row: "9990000018,serious_harm,2024-03-05",
			check: func(tb testing.TB, e *events.Event) {
				if got := bodyOf[*events.SeriousIncident](tb, e).Notified; got != "2024-03-05" {
					tb.Errorf("notified %q, want 2024-03-05", got)
				}
			},
		},
		{
			name: "payload date that is not a date", envelope: cells("serious_incident.notified", "social_care", "CC-3"),
			header: "subject.nhs_number,payload.kind,payload.notified", row: "9990000018,serious_harm,5th March",
			wantFields: []string{"payload.notified"}, wantMention: []string{`"5th March"`},
		},
		{
			name:   "a comma that should have been quoted",
			header: "subject.nhs_number,payload.concern", row: "9990000018,Arrived hungry, tired and cold",
			wantMention: []string{`" tired and cold"`, "11 cells", "the header 10"},
		},
		{
			name:   "empty cells past the header",
			header: "subject.nhs_number,payload.concern", row: "9990000018,Arrived hungry,,",
			check: func(tb testing.TB, e *events.Event) {
				if got := bodyOf[*events.ContactReceived](tb, e).Concern; got != "Arrived hungry" {
					tb.Errorf("concern %q", got)
				}
			},
		},
		{
			name:   "a short row leaves the missing cells empty",
			header: "subject.nhs_number,payload.concern,payload.channel", row: "9990000018,Arrived hungry",
			check: func(tb testing.TB, e *events.Event) {
				if got := *bodyOf[*events.ContactReceived](tb, e); got.Concern != "Arrived hungry" || got.Channel != "" {
					tb.Errorf("payload %+v", got)
				}
			},
		},
		{
			name:   "the whole payload in one column",
			header: "subject.nhs_number,payload", row: `9990000018,"{""concern"":""Arrived hungry"",""channel"":""email""}"`,
			check: func(tb testing.TB, e *events.Event) {
				if got := *bodyOf[*events.ContactReceived](tb, e); got.Concern != "Arrived hungry" || got.Channel != "email" {
					tb.Errorf("payload %+v", got)
				}
			},
		},
		{
			name:   "payload column and payload.<field> columns both",
			header: "subject.nhs_number,payload,payload.channel", row: `9990000018,"{""concern"":""Arrived hungry""}",email`,
			wantFields: []string{"payload"},
		},
		{
			name:   "payload column that is not JSON",
			header: "subject.nhs_number,payload", row: "9990000018,{concern: hungry}",
			wantFields: []string{"payload"}, wantMention: []string{"not valid JSON"},
		},
		{
			name:   "schema_version that is not a number",
			header: "schema_version,subject.nhs_number,payload.concern", row: "v1,9990000018,Arrived hungry",
			wantFields: []string{"schema_version"}, wantMention: []string{`"v1"`},
		},
		{
			name:   "payload field the type does not have",
			header: "subject.nhs_number,payload.concerns", row: "9990000018,Arrived hungry",
			wantFields: []string{"payload.concerns"},
		},
		{
			name:   "unborn child known by the mother's NHS number, written with spaces",
			header: "subject.kind,subject.expected_delivery_date,subject.mother.nhs_number,payload.concern", row: "unborn,01/09/2024,999 000 0026,Pre-birth concern",
			check: func(tb testing.TB, e *events.Event) {
				want := []events.Subject{{Kind: "unborn", ExpectedDeliveryDate: "2024-09-01", Mother: &events.Identifiers{NHSNumber: "9990000026"}}}
				if !reflect.DeepEqual(e.Subjects, want) {
					tb.Errorf("subjects %+v, want %+v", e.Subjects, want)
				}
			},
		},
		{
			name:   "an adult as the second subject",
			header: "subject.upn,subject2.kind,subject2.name,subject2.role,payload.concern", row: "B801200005001,adult,Pat Example,parent,Arrived hungry",
			check: func(tb testing.TB, e *events.Event) {
				want := []events.Subject{{Identifiers: events.Identifiers{UPN: "B801200005001"}}, {Kind: "adult", Name: "Pat Example", Role: "parent"}}
				if !reflect.DeepEqual(e.Subjects, want) {
					tb.Errorf("subjects %+v, want %+v", e.Subjects, want)
				}
			},
		},
		{
			name: "identifiers in the payload as scheme:value", envelope: cells("subjects.linked", "hub", "CC-14"),
			header: "subject.nhs_number,payload.a,payload.b,payload.reason", row: "9990000018,nhs_number:9990000018,upn:B801200005001,Same child",
			check: func(tb testing.TB, e *events.Event) {
				got := bodyOf[*events.SubjectsLinked](tb, e)
				if got.A != (events.Identifier{Scheme: events.SchemeNHSNumber, Value: "9990000018"}) || got.B != (events.Identifier{Scheme: events.SchemeUPN, Value: "B801200005001"}) {
					tb.Errorf("payload %+v", got)
				}
			},
		},
		{
			name: "identifier without a scheme", envelope: cells("subjects.linked", "hub", "CC-15"),
			header: "subject.nhs_number,payload.a,payload.b,payload.reason", row: "9990000018,9990000018,upn:B801200005001,Same child",
			wantFields: []string{"payload.a"}, wantMention: []string{"scheme:value"},
		},
		{
			name: "every cell that cannot be converted is reported", envelope: cells("assessment.completed", "social_care", "CC-16"),
			header: "subject.nhs_number,subject.date_of_birth,payload.kind,payload.level_of_need,payload.outcome", row: "9990000018,31/02/2012,early_help,3.5,early_help_plan",
			wantFields: []string{"subjects[0].date_of_birth", "payload.level_of_need"},
		},
		{
			name:   "every validation problem is reported",
			header: "subject.nhs_number,payload.concern,payload.channel", row: "9990000017,Arrived hungry,carrier pigeon",
			wantFields: []string{"subjects[0].identifiers.nhs_number", "payload.channel"},
		},
	}
	h := newHub(t)
	var stored uint64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.envelope
			if env == "" {
				env = contact(fmt.Sprintf("CONTACT-%d", i))
			}
			in := envelope + "," + tt.header + "\n" + env + "," + tt.row + "\n"
			var rejects bytes.Buffer
			sum, err := ingest.Import(context.Background(), h.pub, strings.NewReader(in), 0, &rejects, ingest.ImportOptions{Format: "csv"})
			if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				if sum.Accepted != 1 {
					t.Fatalf("summary %+v; rejects:\n%s", sum, rejects.String())
				}
				stored++
				h.wantCount(t, stored)
				tt.check(t, h.stored(t, stored))
				return
			}
			if sum.Rejected != 1 {
				t.Fatalf("summary %+v, want the row rejected", sum)
			}
			h.wantCount(t, stored)
			recs, err := csv.NewReader(&rejects).ReadAll()
			if err != nil || len(recs) != 2 {
				t.Fatalf("rejects %q (%v), want a header and the row", recs, err)
			}
			reasons := recs[1][len(recs[1])-1]
			for _, f := range tt.wantFields {
				if !strings.HasPrefix(reasons, f+": ") && !strings.Contains(reasons, "; "+f+": ") {
					t.Errorf("reasons %q do not name %s", reasons, f)
				}
			}
			for _, m := range tt.wantMention {
				if !strings.Contains(reasons, m) {
					t.Errorf("reasons %q do not mention %s", reasons, m)
				}
			}
		})
	}
}
