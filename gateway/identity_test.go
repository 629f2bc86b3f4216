package gateway_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
)

// get walks a decoded GraphQL response: get(data, "child", "id").
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func (h *hub) ok(q string, vars map[string]any) map[string]any {
	h.t.Helper()
	r := h.query(q, vars)
	if r.status != 200 || len(r.Errors) > 0 {
		h.t.Fatalf("%s\nstatus %d errors %+v", q, r.status, r.Errors)
	}
	return r.Data
}

const childByIdent = `query($s: IdentifierScheme!, $v: String!, $at: DateTime, $retracted: Boolean) {
  child(identifier: {scheme: $s, value: $v}, asKnownAt: $at) {
    id requestedId
    identifiers { scheme value establishedBy }
    chronology(first: 100, includeRetracted: $retracted) {
      totalCount
      nodes { id type summary version corrected retracted retractionReason receivedAt history { version summary correctionReason } }
    }
  }
}`

func entryTypes(data map[string]any) []string {
	var out []string
	for _, n := range get(data, "child", "chronology", "nodes").([]any) {
		out = append(out, n.(map[string]any)["type"].(string))
	}
	return out
}

func nodeByID(data map[string]any, id string) map[string]any {
	for _, n := range get(data, "child", "chronology", "nodes").([]any) {
		if n.(map[string]any)["id"] == id {
			return n.(map[string]any)
		}
	}
	return nil
}

func amend(typ events.Type, agency, ref string, body events.Payload, ids events.Identifiers) *events.Event {
	e := ev(typ, agency, ref, at(8, 1), ids)
	raw, _ := json.Marshal(body)
	e.Payload, e.Body = raw, body
	e.ID = events.DeriveID(e)
	return e
}

// One child known by four schemes; a merge and an unmerge by mutation; a
// conflict listed; a correction and a retraction with history; and an
// asKnownAt answer that differs from the present by an event not yet
// received, a correction not yet made and a link not yet made.
func TestIdentityCorrectionsAndAsKnownAtThroughGraphQL(t *testing.T) {
	h := startHub(t, t.TempDir())
	nhs := events.Identifiers{NHSNumber: "9990000018"}
	health := ev("health.concern", "health", "h1", at(1, 10), nhs)
	school := ev("education.concern", "education", "s1", at(2, 10), events.Identifiers{UPN: "B801200005001", NHSNumber: "9990000018"})
	csc := ev("contact.received", "social_care", "c1", at(3, 10), events.Identifiers{LAPersonID: "LA-1", NHSNumber: "9990000018"})
	police := ev("police.notification", "police", "p1", at(4, 10), events.Identifiers{PolicePersonID: "PP-9"})
	h.publish(health, school, csc, police)

	// Four schemes: three find the same child; the police record is a
	// separate child until a practitioner links it.
	ids := map[string]string{}
	for _, k := range [][2]string{{"NHS_NUMBER", "9990000018"}, {"UPN", "B801200005001"}, {"LA_PERSON_ID", "LA-1"}, {"POLICE_PERSON_ID", "PP-9"}} {
		ids[k[0]] = get(h.ok(childByIdent, map[string]any{"s": k[0], "v": k[1]}), "child", "id").(string)
	}
	if ids["NHS_NUMBER"] != ids["UPN"] || ids["UPN"] != ids["LA_PERSON_ID"] || ids["POLICE_PERSON_ID"] == ids["NHS_NUMBER"] {
		t.Fatalf("ids by scheme: %v", ids)
	}
	// The cut-off is when the police event arrived: after every original,
	// before the link, the correction, the retraction and the housing event.
	cutoff := nodeByID(h.ok(childByIdent, map[string]any{"s": "POLICE_PERSON_ID", "v": "PP-9"}), police.ID)["receivedAt"].(string)

	// Merge.
	link := `mutation($a: IdentifierInput!, $b: IdentifierInput!, $r: String!) { linkChildren(a: $a, b: $b, reason: $r) { id identifiers { scheme value } } }`
	unlink := strings.Replace(link, "linkChildren", "unlinkChildren", 1)
	pair := map[string]any{
		"a": map[string]any{"scheme": "POLICE_PERSON_ID", "value": "PP-9"},
		"b": map[string]any{"scheme": "LA_PERSON_ID", "value": "LA-1"},
		"r": "Confirmed with the police MASH officer",
	}
	merged := h.ok(link, pair)
	if get(merged, "linkChildren", "id") != ids["NHS_NUMBER"] || len(get(merged, "linkChildren", "identifiers").([]any)) != 4 {
		t.Fatalf("merge: %v (survivor should be %s, the earliest record)", merged, ids["NHS_NUMBER"])
	}
	redirect := h.ok(`query($id: ID!) { child(id: $id) { id requestedId } }`, map[string]any{"id": ids["POLICE_PERSON_ID"]})
	if get(redirect, "child", "id") != ids["NHS_NUMBER"] || get(redirect, "child", "requestedId") != ids["POLICE_PERSON_ID"] {
		t.Fatalf("merged-away id: %v", redirect)
	}

	// Correction by the original agency, retraction by the hub, and an event
	// received after the cut-off.
	h.publish(
		amend("record.corrected", "education", "fix1", &events.RecordCorrected{EventID: school.ID, Reason: "Wrong pupil's note attached", Summary: "School concern: attendance only"}, nhs),
		amend("record.retracted", "hub", "ret1", &events.RecordRetracted{EventID: health.ID, Reason: "Recorded against the wrong child"}, nhs),
		ev("housing.concern", "housing", "x1", at(7, 1), events.Identifiers{LAPersonID: "LA-1"}),
	)
	now := h.ok(childByIdent, map[string]any{"s": "NHS_NUMBER", "v": "9990000018", "retracted": true})
	if n := get(now, "child", "chronology", "totalCount"); n != 6.0 { // 4 originals, the link, housing
		t.Fatalf("present with retracted: %v entries: %v", n, entryTypes(now))
	}
	corrected := nodeByID(now, school.ID)
	if corrected["summary"] != "School concern: attendance only" || corrected["version"] != 2.0 || !corrected["corrected"].(bool) ||
		len(corrected["history"].([]any)) != 2 || get(corrected, "history", 1, "correctionReason") != "Wrong pupil's note attached" {
		t.Fatalf("correction: %v", corrected)
	}
	if r := nodeByID(now, health.ID); !r["retracted"].(bool) || r["retractionReason"] != "Recorded against the wrong child" {
		t.Fatalf("retraction: %v", r)
	}
	if hidden := h.ok(childByIdent, map[string]any{"s": "NHS_NUMBER", "v": "9990000018"}); nodeByID(hidden, health.ID) != nil {
		t.Fatal("retracted entry shown without includeRetracted")
	}

	// As known at the cut-off: no housing event, the original school
	// summary, the health entry not retracted, the police record not linked
	// (though the hub already had it, as a child of its own).
	policeThen := h.ok(childByIdent, map[string]any{"s": "POLICE_PERSON_ID", "v": "PP-9", "at": cutoff})
	if get(policeThen, "child", "id") != ids["POLICE_PERSON_ID"] || !slices.Equal(entryTypes(policeThen), []string{"police.notification"}) {
		t.Fatalf("as known at %s the police record was its own child with its own entry: %v", cutoff, policeThen)
	}
	then := h.ok(childByIdent, map[string]any{"s": "NHS_NUMBER", "v": "9990000018", "at": cutoff, "retracted": true})
	types := entryTypes(then)
	if slices.Contains(types, "housing.concern") || slices.Contains(types, "police.notification") || slices.Contains(types, "subjects.linked") {
		t.Fatalf("as known at %s: %v", cutoff, types)
	}
	if s := nodeByID(then, school.ID); s["summary"] == "School concern: attendance only" || s["version"] != 1.0 {
		t.Fatalf("correction visible before it was made: %v", s)
	}
	if r := nodeByID(then, health.ID); r["retracted"].(bool) {
		t.Fatal("retraction visible before it was made")
	}
	if n := len(get(then, "child", "identifiers").([]any)); n != 3 {
		t.Fatalf("as known then the child had %d identifiers, want 3", n)
	}

	// Unmerge: the police record gets back exactly its own entry and id.
	split := h.ok(unlink, pair)
	if get(split, "unlinkChildren", "id") != ids["POLICE_PERSON_ID"] {
		t.Fatalf("unlink: %v", split)
	}
	policeChild := h.ok(childByIdent, map[string]any{"s": "POLICE_PERSON_ID", "v": "PP-9"})
	pt := entryTypes(policeChild)
	if !slices.Contains(pt, "police.notification") || slices.Contains(pt, "contact.received") {
		t.Fatalf("police record after unlink: %v", pt)
	}
	if slices.Contains(entryTypes(h.ok(childByIdent, map[string]any{"s": "NHS_NUMBER", "v": "9990000018"})), "police.notification") {
		t.Fatal("the police entry stayed with the other child after unlink")
	}

	// A conflict: a school sends the same UPN with another child's NHS number.
	wrong := ev("education.concern", "education", "s2", at(8, 20), events.Identifiers{UPN: "B801200005001", NHSNumber: "9990000026"})
	h.publish(wrong)
	conflicts := h.ok(`{ identityConflicts { totalCount nodes { kind reason identifiers { scheme value } events { id } child { id } } } }`, nil)
	found := false
	for _, c := range get(conflicts, "identityConflicts", "nodes").([]any) {
		c := c.(map[string]any)
		if c["kind"] == "different_nhs_numbers" {
			found = true
			evIDs := []string{}
			for _, e := range c["events"].([]any) {
				evIDs = append(evIDs, e.(map[string]any)["id"].(string))
			}
			if !slices.Contains(evIDs, wrong.ID) {
				t.Fatalf("conflict evidence %v lacks %s", evIDs, wrong.ID)
			}
		}
	}
	if !found {
		t.Fatalf("no NHS conflict listed: %v", conflicts)
	}

	// Bad mutations name the field.
	r := h.query(link, map[string]any{"a": map[string]any{"scheme": "NHS_NUMBER", "value": "123"}, "b": pair["b"], "r": "x"})
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "INVALID" || !strings.Contains(r.Errors[0].Message, "a.value") {
		t.Fatalf("bad identifier: %+v", r.Errors)
	}
	r = h.query(link, map[string]any{"a": map[string]any{"scheme": "NHS_NUMBER", "value": "9990000034"}, "b": pair["b"], "r": "x"})
	if len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "NOT_FOUND" {
		t.Fatalf("unknown identifier: %+v", r.Errors)
	}
}
