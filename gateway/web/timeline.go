package web

import (
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"
)

// timelineInput is what the timeline draws.
type timelineInput struct {
	Entries  []timelineEntry
	Flags    []riskFlag
	Agencies []codeName
	Types    []eventType
	From, To *time.Time // the period asked for, if any
	End      time.Time  // now, or the "as known at" time: where open flags end
}

// legendItem explains one colour or shape of the timeline in words.
type legendItem struct {
	Class, Shape, Label string
}

// Kind colours, by catalogue area in catalogue order: dark enough for 3:1
// against white (WCAG 1.4.11), and never the only signal (each mark's
// title, the legend and the table say the kind in words).
var kindColours = []string{"#0b5ea8", "#1b7a4a", "#b34700", "#9c2f73", "#1f3a93", "#8b1e3f", "#6b5b00", "#4d4d4d", "#333333", "#5a3e9b"}

// Timeline geometry, in viewBox units.
const (
	tlWidth   = 1000
	tlLeft    = 200
	tlRight   = 16
	tlLane    = 30
	tlFlagRow = 18
	tlAxis    = 28
)

// drawTimeline renders the timeline as SVG: a band per risk flag from
// raised to cleared (or to the end, while active), then a swimlane per
// agency with one mark per entry at when it occurred. Shapes say how the
// agency knows it (filled: direct; hollow: reported; triangle: hearsay);
// hidden entries are grey squares, retracted ones crosses. Everything
// written into it is escaped here, as html/template cannot see into a
// template.HTML.
func drawTimeline(in timelineInput) (template.HTML, []legendItem) {
	esc := template.HTMLEscapeString
	areaOf := map[string]string{}
	var areas []string
	for _, t := range in.Types {
		areaOf[t.Type] = t.Area
		if !slices.Contains(areas, t.Area) {
			areas = append(areas, t.Area)
		}
	}
	colour := func(typ string) string {
		i := slices.Index(areas, areaOf[typ])
		if i < 0 {
			return "#4d4d4d"
		}
		return kindColours[i%len(kindColours)]
	}
	// Lanes: the agencies with entries, in the catalogue's order.
	var lanes []codeName
	for _, ag := range in.Agencies {
		if slices.ContainsFunc(in.Entries, func(e timelineEntry) bool { return e.Agency == ag.Code }) {
			lanes = append(lanes, ag)
		}
	}
	// The time axis: the period asked for, else what there is to draw.
	t0, t1 := in.End, in.End
	if len(in.Entries) > 0 {
		t0 = in.Entries[0].OccurredAt
	}
	for _, e := range in.Entries {
		t0, t1 = minTime(t0, e.OccurredAt), maxTime(t1, e.OccurredAt)
	}
	for _, f := range in.Flags {
		t0 = minTime(t0, f.RaisedAt)
		for _, e := range f.Evidence {
			t0 = minTime(t0, e.OccurredAt)
		}
	}
	if in.From != nil {
		t0 = *in.From
	}
	if in.To != nil {
		t1 = *in.To
	}
	if !t1.After(t0) {
		t1 = t0.Add(24 * time.Hour)
	}
	pad := t1.Sub(t0) / 50
	t0, t1 = t0.Add(-pad), t1.Add(pad)
	span := float64(t1.Sub(t0))
	x := func(t time.Time) float64 {
		v := tlLeft + float64(t.Sub(t0))/span*float64(tlWidth-tlLeft-tlRight)
		return max(float64(tlLeft), min(v, float64(tlWidth-tlRight)))
	}
	flagsShown := 0
	for _, f := range in.Flags {
		if f.ClearedAt == nil || f.ClearedAt.After(t0) {
			flagsShown++
		}
	}
	height := 8 + flagsShown*tlFlagRow + 8 + len(lanes)*tlLane + tlAxis

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="timeline" viewBox="0 0 %d %d" role="img" aria-labelledby="tl-title tl-desc" xmlns="http://www.w3.org/2000/svg">`, tlWidth, height)
	fmt.Fprintf(&b, `<title id="tl-title">Timeline: %d entries across %d agencies, and %d risk flags</title>`, len(in.Entries), len(lanes), flagsShown)
	fmt.Fprintf(&b, `<desc id="tl-desc">From %s to %s. The chronology table below lists the same entries in words.</desc>`, esc(fmtDate(t0)), esc(fmtDate(t1)))
	y := 8
	for _, f := range in.Flags {
		if f.ClearedAt != nil && !f.ClearedAt.After(t0) {
			continue
		}
		end := in.End
		state := "active"
		if f.ClearedAt != nil {
			end, state = *f.ClearedAt, "cleared "+fmtDate(*f.ClearedAt)
		}
		x0, x1 := x(f.RaisedAt), x(end)
		// With history loaded in bulk, the hub raises a flag long after
		// its evidence happened: a dashed line runs from the first
		// evidence to the band, which starts when the hub raised it.
		first := f.RaisedAt
		for _, e := range f.Evidence {
			first = minTime(first, e.OccurredAt)
		}
		fmt.Fprintf(&b, `<g class="flag sev-%s"><title>%s (%s severity): evidence from %s, raised %s, %s. %s</title>`,
			esc(f.Severity), esc(f.Title), esc(f.Severity), esc(fmtDate(first)), esc(fmtDate(f.RaisedAt)), esc(state), esc(f.Reason))
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="flag-label">%s</text>`, tlLeft-6, y+12, esc(capitalise(f.Severity)+": "+truncate(f.Title, 24)))
		if xf := x(first); xf < x0 {
			fmt.Fprintf(&b, `<line class="lead" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, xf, x0, y+8, y+8)
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%d" width="%.1f" height="%d" rx="3"/>`, x0, y+2, max(x1-x0, 3), tlFlagRow-5)
		b.WriteString(`</g>`)
		y += tlFlagRow
	}
	y += 8
	for i, lane := range lanes {
		cy := y + i*tlLane + tlLane/2
		fmt.Fprintf(&b, `<g class="lane"><text x="%d" y="%d" class="lane-label">%s</text><line x1="%d" x2="%d" y1="%d" y2="%d"/></g>`,
			tlLeft-6, cy+4, esc(agencyName(lane.Code)), tlLeft, tlWidth-tlRight, cy, cy)
		for _, e := range in.Entries {
			if e.Agency != lane.Code {
				continue
			}
			cx := x(e.OccurredAt)
			what := e.Title
			fmt.Fprintf(&b, `<g class="mark"><title>%s, %s: %s (%s)</title>`, esc(fmtTime(e.OccurredAt)), esc(agencyName(lane.Code)), esc(what), esc(markWords(e)))
			switch {
			case e.Redacted:
				fmt.Fprintf(&b, `<rect class="hidden" x="%.1f" y="%d" width="9" height="9"/>`, cx-4.5, cy-5)
			case e.Retracted:
				fmt.Fprintf(&b, `<path class="retracted" d="M%.1f %dl8 8m0 -8l-8 8"/>`, cx-4, cy-4)
			case e.Reliability == "hearsay":
				fmt.Fprintf(&b, `<path class="hearsay" stroke="%s" d="M%.1f %dl5.5 9.5h-11z"/>`, colour(e.Type), cx, cy-6)
			case e.Reliability == "reported":
				fmt.Fprintf(&b, `<circle class="reported" stroke="%s" cx="%.1f" cy="%d" r="4.5"/>`, colour(e.Type), cx, cy)
			default:
				fmt.Fprintf(&b, `<circle class="direct" fill="%s" cx="%.1f" cy="%d" r="5"/>`, colour(e.Type), cx, cy)
			}
			b.WriteString(`</g>`)
		}
	}
	y += len(lanes)*tlLane + 4
	fmt.Fprintf(&b, `<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>`, tlLeft, tlWidth-tlRight, y, y)
	for _, tk := range ticks(t0, t1) {
		tx := x(tk.at)
		fmt.Fprintf(&b, `<line class="tick" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text class="tick-label" x="%.1f" y="%d">%s</text>`, tx, tx, y, y+5, tx, y+18, esc(tk.label))
	}
	b.WriteString(`</svg>`)

	var legend []legendItem
	for i, area := range areas {
		legend = append(legend, legendItem{Class: fmt.Sprintf("kind-%d", i%len(kindColours)), Shape: "dot", Label: area})
	}
	legend = append(legend,
		legendItem{Class: "shape-lead", Shape: "lead", Label: "Dashed line: a flag's evidence before the hub raised it"},
		legendItem{Class: "shape-direct", Shape: "direct", Label: "Filled circle: known directly"},
		legendItem{Class: "shape-reported", Shape: "reported", Label: "Hollow circle: reported to the agency"},
		legendItem{Class: "shape-hearsay", Shape: "hearsay", Label: "Triangle: hearsay"},
		legendItem{Class: "shape-hidden", Shape: "hidden", Label: "Grey square: hidden from your role"},
		legendItem{Class: "shape-retracted", Shape: "retracted", Label: "Cross: retracted"},
	)
	return template.HTML(b.String()), legend
}

// markWords says in words what a mark's shape says.
func markWords(e timelineEntry) string {
	switch {
	case e.Redacted:
		return "hidden from your role"
	case e.Retracted:
		return "retracted"
	}
	return e.Reliability
}

type tick struct {
	at    time.Time
	label string
}

// ticks marks years, quarters or months along the axis, whichever gives a
// readable number of them.
func ticks(t0, t1 time.Time) []tick {
	a, b := t0.In(london), t1.In(london)
	step, format := 1, "Jan 2006"
	switch span := b.Sub(a); {
	case span > 6*365*24*time.Hour:
		step, format = 12, "2006"
	case span > 3*365*24*time.Hour:
		step, format = 6, "Jan 2006"
	case span > 18*30*24*time.Hour:
		step = 3
	case span < 45*24*time.Hour:
		return dayTicks(a, b)
	}
	m := time.Date(a.Year(), a.Month(), 1, 0, 0, 0, 0, london).AddDate(0, 1, 0)
	for (int(m.Month())-1)%step != 0 {
		m = m.AddDate(0, 1, 0)
	}
	var out []tick
	for ; m.Before(b); m = m.AddDate(0, step, 0) {
		out = append(out, tick{m, m.Format(format)})
	}
	return out
}

func dayTicks(a, b time.Time) []tick {
	d := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, london).AddDate(0, 0, 1)
	step := max(1, int(b.Sub(a).Hours()/24/8))
	var out []tick
	for ; d.Before(b); d = d.AddDate(0, 0, step) {
		out = append(out, tick{d, d.Format("2 Jan")})
	}
	return out
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// agencyName is an agency's short name, from its code: "social_care" is
// "Social care". The catalogue's names are descriptions, too long for a
// lane or a table cell.
func agencyName(code string) string { return capitalise(strings.ReplaceAll(code, "_", " ")) }

// capitalise writes a word with a capital first letter: "high" is "High".
func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
