package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/projections"
	"github.com/chronicle-hub/chronicle/projections/runner"
	"github.com/chronicle-hub/chronicle/services/eventlog"
	"github.com/chronicle-hub/chronicle/services/ingest"
)

// answerAsHub answers amendment checks as the hub does, from a read model
// of the stream as it stands (rebuilt for each question: a test's log is
// small). It counts the questions.
func answerAsHub(t *testing.T, h *hub) *int {
	t.Helper()
	asked := new(int)
	sub, err := ingest.AnswerAmendmentChecks(h.srv.NC, func(ctx context.Context, e *events.Event) error {
		*asked++
		res, err := runner.Replay(ctx, h.srv.JS, eventlog.EventsStream, nil)
		if err != nil {
			return err
		}
		return res.Model.CheckAmendment(e)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	return asked
}

func amendment(t *testing.T, agency, ref, target string) *events.Event {
	t.Helper()
	e := event(t, "record.corrected", ref)
	body := &events.RecordCorrected{EventID: target, Reason: "typo", Summary: "Corrected summary"}
	raw, _ := json.Marshal(body)
	e.Agency, e.Payload, e.Body = agency, raw, body
	e.ID = events.DeriveID(e)
	return e
}

// A publisher without a read model (the CLI) still rejects a correction of
// an unknown event, of another agency's event, or of a link: judged against
// what it published earlier in the same run, and otherwise by the hub.
func TestAmendmentCheckAgainstTheLog(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	asked := answerAsHub(t, h)
	var warned error
	h.pub.SetCheck(ingest.AmendmentCheck(h.srv.NC, func(err error) { warned = err }))

	// Published by education's own system, not by this run.
	inLog := event(t, "education.concern", "AM-1")
	other, err := eventlog.NewPublisher(h.srv.NC, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := ingest.PublishBody(ctx, other, encode(t, inLog)); err != nil || resp.Accepted != 1 {
		t.Fatalf("original: %+v %v", resp, err)
	}
	sameRun := event(t, "health.concern", "AM-2")
	tests := []struct {
		name string
		e    *events.Event
		want bool // accepted
	}{
		{"the original agency corrects an event in the log", amendment(t, "education", "AM-c1", inLog.ID), true},
		{"the hub corrects it", amendment(t, "hub", "AM-c2", inLog.ID), true},
		{"another agency may not", amendment(t, "police", "AM-c3", inLog.ID), false},
		{"an unknown event", amendment(t, "education", "AM-c4", "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f"), false},
		{"an event earlier in the same run", amendment(t, "health", "AM-c5", sameRun.ID), true},
		{"another agency's, earlier in the same run", amendment(t, "police", "AM-c6", sameRun.ID), false},
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
		t.Fatalf("the hub answered, yet: %v", warned)
	}
	for i, tt := range tests {
		r := resp.Results[i+1]
		if tt.want && r.Status != "accepted" {
			t.Errorf("%s: %s %v %s", tt.name, r.Status, r.Problems, r.Error)
		}
		if !tt.want && r.Status != "rejected" {
			t.Errorf("%s: %s, want rejected", tt.name, r.Status)
		}
	}
	// The hub is asked only about targets not published in this run.
	if *asked != 4 {
		t.Errorf("the hub was asked %d times, want 4", *asked)
	}
	// The same rule as the projector's, so the reasons read the same.
	if err := projections.JudgeAmendment(amendment(t, "police", "AM-c7", inLog.ID), inLog); !errors.Is(err, projections.ErrForeignTarget) {
		t.Fatalf("JudgeAmendment: %v", err)
	}
}

// With no hub to ask (none running, or an agency's credentials), the CLI
// says so once and lets amendments through; the hub's consumer-side check
// quarantines any that do not apply.
func TestAmendmentCheckWithoutAHub(t *testing.T) {
	h := newHub(t)
	var warnings []error
	h.pub.SetCheck(ingest.AmendmentCheck(h.srv.NC, func(err error) { warnings = append(warnings, err) }))
	body := "[" + string(encode(t, amendment(t, "education", "NH-1", "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e9f"))) + "," +
		string(encode(t, amendment(t, "education", "NH-2", "0190f3c4-8a1b-7c2d-9e3f-4a5b6c7d8e90"))) + "]"
	resp, err := ingest.PublishBody(context.Background(), h.pub, []byte(body))
	if err != nil || resp.Accepted != 2 {
		t.Fatalf("%+v %v", resp, err)
	}
	if len(warnings) != 1 || !errors.Is(warnings[0], ingest.ErrNoHub) {
		t.Fatalf("warnings %v, want one saying no hub answered", warnings)
	}
}

// Importing Chronicle's own kind of file, where corrections follow their
// targets, stores every correction whatever chunk the target fell in and
// however the validation work was spread: the same file gives the same
// answer every time, and a second import (a restart) judges corrections of
// the first one's events by asking the hub.
func TestImportJudgesCorrectionsInFileOrder(t *testing.T) {
	h := newHub(t)
	asked := answerAsHub(t, h)
	h.pub.SetCheck(ingest.AmendmentCheck(h.srv.NC, nil))

	// 600 events; corrections of targets in the same chunk (at 10, of 5),
	// across the first chunk boundary (at 258, of 250), two chunks on (at
	// 590, of 22), and right after their target many times over.
	var lines []string
	var first []*events.Event
	for i := range 600 {
		var e *events.Event
		switch {
		case i == 10:
			e = amendment(t, "education", fmt.Sprintf("FO-c%d", i), first[5].ID)
		case i == 258:
			e = amendment(t, "education", fmt.Sprintf("FO-c%d", i), first[250].ID)
		case i == 590:
			e = amendment(t, "education", fmt.Sprintf("FO-c%d", i), first[22].ID)
		case i%7 == 6:
			e = amendment(t, "education", fmt.Sprintf("FO-c%d", i), first[i-1].ID)
		default:
			e = event(t, "education.concern", fmt.Sprintf("FO-%d", i))
		}
		first = append(first, e)
		lines = append(lines, string(encode(t, e)))
	}
	path := filepath.Join(t.TempDir(), "history.ndjson")
	writeFile(t, path, strings.Join(lines, "\n")+"\n")
	sum := importFile(t, h, path, ingest.ImportOptions{MaxInFlight: 64})
	if sum.Rejected != 0 || sum.Accepted != 600 {
		t.Fatalf("first import: %+v\n%v", sum, readRejects(t, sum.RejectsPath))
	}
	if *asked != 0 {
		t.Fatalf("the hub was asked %d times about targets in the same file", *asked)
	}

	// A second file corrects the first's events: the hub judges them.
	var second []string
	for i, e := range first {
		if e.Type == "education.concern" && len(second) < 40 {
			second = append(second, string(encode(t, amendment(t, "education", fmt.Sprintf("FO-r%d", i), e.ID))))
		}
	}
	second = append(second, string(encode(t, amendment(t, "police", "FO-foreign", first[0].ID))))
	path2 := filepath.Join(t.TempDir(), "later.ndjson")
	writeFile(t, path2, strings.Join(second, "\n")+"\n")
	sum = importFile(t, h, path2, ingest.ImportOptions{MaxInFlight: 64})
	if sum.Accepted != 40 || sum.Rejected != 1 {
		t.Fatalf("second import: %+v", sum)
	}
}
