package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// A publisher without a read model (the CLI) still rejects a correction of
// an unknown event, of another agency's event, or of a link, judged against
// the log and against what it published earlier in the same run.
func TestAmendmentCheckAgainstTheLog(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	var warned error
	h.pub.SetCheck(ingest.AmendmentCheck(h.srv.JS, func(err error) { warned = err }))

	inLog := event(t, "education.concern", "AM-1") // published by education
	if resp, err := ingest.PublishBody(ctx, h.pub, encode(t, inLog)); err != nil || resp.Accepted != 1 {
		t.Fatalf("original: %+v %v", resp, err)
	}
	amend := func(agency, ref string, target string) *events.Event {
		e := event(t, "record.corrected", ref)
		body := &events.RecordCorrected{EventID: target, Reason: "typo", Summary: "Corrected summary"}
		raw, _ := json.Marshal(body)
		e.Agency, e.Payload, e.Body = agency, raw, body
		e.ID = events.DeriveID(e)
		return e
	}
	sameRun := event(t, "health.concern", "AM-2")
	tests := []struct {
		name string
		e    *events.Event
		want error // nil: accepted
	}{
		{"the original agency corrects an event in the log", amend("education", "AM-c1", inLog.ID), nil},
		{"the hub corrects it", amend("hub", "AM-c2", inLog.ID), nil},
		{"another agency may not", amend("police", "AM-c3", inLog.ID), projections.ErrForeignTarget},
		{"an unknown event", amend("education", "AM-c4", "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f"), projections.ErrUnknownTarget},
		{"an event earlier in the same run", amend("health", "AM-c5", sameRun.ID), nil},
	}
	body := []byte("[" + string(encode(t, sameRun)))
	for _, tt := range tests {
		body = append(append(body, ','), encode(t, tt.e)...)
	}
	body = append(body, ']')
	resp, err := ingest.PublishBody(ctx, h.pub, body)
	if err != nil {
		t.Fatal(err)
	}
	if warned != nil {
		t.Fatalf("the log was readable, yet: %v", warned)
	}
	for i, tt := range tests {
		r := resp.Results[i+1]
		if tt.want == nil && r.Status != "accepted" {
			t.Errorf("%s: %s %v %s", tt.name, r.Status, r.Problems, r.Error)
		}
		if tt.want != nil && r.Status != "rejected" {
			t.Errorf("%s: %s, want rejected for %v", tt.name, r.Status, tt.want)
		}
	}
	// The same rule as the projector's, so the reasons read the same.
	foreign := amend("police", "AM-c6", inLog.ID)
	if err := projections.JudgeAmendment(foreign, inLog); !errors.Is(err, projections.ErrForeignTarget) {
		t.Fatalf("JudgeAmendment: %v", err)
	}
}
