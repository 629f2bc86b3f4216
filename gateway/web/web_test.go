package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// hub is a real Chronicle (embedded JetStream on a temporary directory)
// with a clock the test can move.
type hub struct {
	t    testing.TB
	app  *app.App
	base string
	skew atomic.Int64 // added to the real time
}

func startHub(t testing.TB) *hub { return startHubWith(t, nil) }

// startHubWith starts a hub whose configuration configure may change
// first (nil: none).
func startHubWith(t testing.TB, configure func(*app.Config)) *hub {
	t.Helper()
	h := &hub{t: t}
	now := func() time.Time { return time.Now().Add(time.Duration(h.skew.Load())) }
	cfg := app.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSListen: "127.0.0.1:0", NoSyncAlways: true, Now: now}
	if configure != nil {
		configure(&cfg)
	}
	a := app.New(cfg)
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h.app, h.base = a, "http://"+a.HTTPAddr()
	return h
}

func (h *hub) token(sub string, role auth.Role, agency string) string {
	h.t.Helper()
	tok, err := h.app.IssueToken(sub, "Synthetic "+sub, role, agency, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// publish stores events through the app's publisher and waits until the
// read model has them.
func (h *hub) publish(evs ...*events.Event) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.app.PublishAndApply(ctx, evs...); err != nil {
		h.t.Fatal(err)
	}
}

// event builds a valid event of typ about the child with identifiers ids.
func event(typ events.Type, agency, ref string, occurred time.Time, ids events.Identifiers, summary string) *events.Event {
	spec, _ := events.Lookup(typ)
	e := spec.ExampleEvent()
	e.Agency, e.SourceRef = agency, ref
	e.Subjects = []events.Subject{{Identifiers: ids, Name: "Robin Webtest", DateOfBirth: "2014-02-03"}}
	e.OccurredAt, e.RecordedAt = occurred, occurred.Add(time.Hour)
	if summary != "" {
		e.Summary = summary
	}
	e.ID = events.DeriveID(e)
	return e
}

// robin is a child known to health, education, police (one restricted
// notification whose text a health practitioner may not see) and social
// care (an active child protection plan, which flags them).
var robin = events.Identifiers{NHSNumber: "9990000018"}

const secret = "Zanzibar disclosure at the address"

func publishRobin(h *hub) {
	h.t.Helper()
	recent := time.Now().UTC().Add(-20 * 24 * time.Hour).Truncate(time.Minute)
	police := event("police.notification", "police", "web-p1", recent.Add(-48*time.Hour), robin, secret)
	police.Sensitivity = "restricted"
	police.ID = events.DeriveID(police)
	h.publish(
		event("health.concern", "health", "web-h1", recent.Add(-30*24*time.Hour), robin, "Health concern: missed appointments"),
		event("education.concern", "education", "web-e1", recent.Add(-10*24*time.Hour), robin, ""),
		police,
		event("plan.started", "social_care", "web-s1", recent, robin, "Child protection plan started (neglect)"),
	)
}

// browser is a person at a browser: cookies kept, redirects not followed,
// so each answer can be checked.
type browser struct {
	t      testing.TB
	base   string
	client *http.Client
}

func (h *hub) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: h.t, base: h.base, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type answer struct {
	status   int
	location string
	body     string
	header   http.Header
}

func (b *browser) do(req *http.Request) answer {
	b.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(raw), header: resp.Header}
}

func (b *browser) get(path string) answer {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the form token on a page.
func csrf(t testing.TB, page answer) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no CSRF token on the page (%d): %s", page.status, page.body)
	}
	return m[1]
}

// robinAs starts a hub holding robin's record and a browser signed in as
// sub, with the session's CSRF token.
func robinAs(t testing.TB, sub string, role auth.Role, agency string) (*hub, *browser, string) {
	t.Helper()
	h := startHub(t)
	publishRobin(h)
	b := h.browser()
	return h, b, b.signIn(h.token(sub, role, agency))
}

// signIn signs in with token and returns the CSRF token of the session's
// forms.
func (b *browser) signIn(token string) string {
	b.t.Helper()
	a := b.post("/signin", url.Values{"csrf": {csrf(b.t, b.get("/signin"))}, "token": {token}})
	if a.status != http.StatusSeeOther || a.location != "/" {
		b.t.Fatalf("sign-in: %d %s", a.status, a.body)
	}
	return csrf(b.t, b.get("/"))
}

// open gives a purpose for a child and returns the child's page.
func (b *browser) open(tok, childID, reason, detail string) answer {
	b.t.Helper()
	a := b.post("/purpose", url.Values{"csrf": {tok}, "child": {childID}, "reason": {reason}, "detail": {detail}})
	if a.status != http.StatusSeeOther {
		b.t.Fatalf("purpose: %d %s", a.status, a.body)
	}
	page := b.get(a.location)
	if page.status != http.StatusOK {
		b.t.Fatalf("child page: %d %s", page.status, page.body)
	}
	return page
}

var childLink = regexp.MustCompile(`href="/children/([A-Za-z0-9_-]+)"`)

// find searches by NHS number and returns the first child's id.
func (b *browser) find(tok, nhs string) string {
	b.t.Helper()
	a := b.post("/search", url.Values{"csrf": {tok}, "scheme": {"NHS_NUMBER"}, "value": {nhs}, "reason": {"mash_enquiry"}})
	m := childLink.FindStringSubmatch(a.body)
	if a.status != http.StatusOK || m == nil {
		b.t.Fatalf("search: %d %s", a.status, a.body)
	}
	return m[1]
}

func TestSignInRefusedWithoutAValidToken(t *testing.T) {
	h := startHub(t)
	for _, tt := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"not a token", "eyJhbGciOiJFZERTQSJ9.bm90.aXQ", http.StatusUnauthorized},
		{"a role that reads no records", h.token("an-1", auth.Analyst, ""), http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := h.browser()
			a := b.post("/signin", url.Values{"csrf": {csrf(t, b.get("/signin"))}, "token": {tt.token}})
			if a.status != tt.status || !strings.Contains(a.body, "There is a problem") {
				t.Fatalf("sign-in answered %d, want %d: %s", a.status, tt.status, a.body)
			}
			if c := a.header.Get("Set-Cookie"); strings.Contains(c, "chronicle_session=") && !strings.Contains(c, "Max-Age=0") {
				t.Errorf("a session cookie was set: %s", c)
			}
			if a := b.get("/"); a.status != http.StatusSeeOther || a.location != "/signin" {
				t.Errorf("after a refused sign-in, / answered %d %s", a.status, a.location)
			}
		})
	}
	// A good token signs in, with a cookie a script cannot read and no
	// other site's page can send.
	b := h.browser()
	a := b.post("/signin", url.Values{"csrf": {csrf(t, b.get("/signin"))}, "token": {h.token("hub-1", auth.Hub, "hub")}})
	c := a.header.Get("Set-Cookie")
	if a.status != http.StatusSeeOther || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		t.Fatalf("sign-in: %d, cookie %q", a.status, c)
	}
	if page := b.get("/"); page.status != http.StatusOK || !strings.Contains(page.body, "Find a child") || page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("front page: %d %v %s", page.status, page.header, page.body)
	}
}

func TestPagesRefusedWithoutASession(t *testing.T) {
	h := startHub(t)
	publishRobin(h)
	b := h.browser()
	for _, path := range []string{"/", "/worklist", "/children/anything"} {
		if a := b.get(path); a.status != http.StatusSeeOther || a.location != "/signin" {
			t.Errorf("GET %s: %d %s, want a redirect to sign in", path, a.status, a.location)
		}
	}
	// A made-up session id is no session.
	u, _ := url.Parse(h.base)
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "chronicle_session", Value: "made-up"}})
	a := b.post("/search", url.Values{"csrf": {"x"}, "scheme": {"NHS_NUMBER"}, "value": {"9990000018"}, "reason": {"mash_enquiry"}})
	if a.status != http.StatusUnauthorized || strings.Contains(a.body, "Robin") {
		t.Errorf("search without a session: %d %s", a.status, a.body)
	}
	// Signing out ends the session on the server: its cookie no longer
	// opens anything.
	tok := b.signIn(h.token("hub-1", auth.Hub, "hub"))
	var sid string
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "chronicle_session" {
			sid = c.Value
		}
	}
	if a := b.post("/signout", url.Values{"csrf": {tok}}); a.status != http.StatusOK || !strings.Contains(a.body, "Signed out") {
		t.Fatalf("sign out: %d %s", a.status, a.body)
	}
	b.client.Jar.SetCookies(u, []*http.Cookie{{Name: "chronicle_session", Value: sid}})
	if a := b.get("/"); a.status != http.StatusSeeOther {
		t.Errorf("the signed-out session still opens /: %d", a.status)
	}
}

func TestSessionEndsAfterIdleTimeout(t *testing.T) {
	h := startHub(t)
	b := h.browser()
	b.signIn(h.token("hub-1", auth.Hub, "hub"))
	h.skew.Store(int64(29 * time.Minute))
	if a := b.get("/"); a.status != http.StatusOK {
		t.Fatalf("after 29 idle minutes: %d", a.status)
	}
	h.skew.Store(int64(29*time.Minute + 31*time.Minute))
	if a := b.get("/"); a.status != http.StatusSeeOther || a.location != "/signin" {
		t.Fatalf("after 31 idle minutes: %d %s, want a redirect to sign in", a.status, a.location)
	}
}

func TestFormsRefusedWithoutTheirCSRFToken(t *testing.T) {
	h, b, tok := robinAs(t, "hub-1", auth.Hub, "hub")
	search := url.Values{"scheme": {"NHS_NUMBER"}, "value": {"9990000018"}, "reason": {"mash_enquiry"}}
	for _, bad := range []string{"", "not-the-token"} {
		search.Set("csrf", bad)
		if a := b.post("/search", search); a.status != http.StatusForbidden || strings.Contains(a.body, "Robin") {
			t.Errorf("csrf %q: %d %s", bad, a.status, a.body)
		}
	}
	// The right token from another site's page.
	search.Set("csrf", tok)
	req, _ := http.NewRequest(http.MethodPost, h.base+"/search", strings.NewReader(search.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://elsewhere.example")
	if a := b.do(req); a.status != http.StatusForbidden {
		t.Errorf("from another origin: %d", a.status)
	}
	// The sign-in form's token must match its cookie.
	other := h.browser()
	other.get("/signin")
	if a := other.post("/signin", url.Values{"csrf": {"guessed"}, "token": {h.token("hub-2", auth.Hub, "hub")}}); a.status != http.StatusForbidden {
		t.Errorf("sign-in with a wrong CSRF token: %d", a.status)
	}
	// And the session still works with its token.
	if a := b.post("/search", search); a.status != http.StatusOK || !strings.Contains(a.body, "Robin Webtest") {
		t.Errorf("search with the token: %d %s", a.status, a.body)
	}
}

func TestHealthPractitionerPageHoldsNoHiddenText(t *testing.T) {
	h := startHub(t)
	publishRobin(h)
	// The hub sees the restricted police entry: the scenario holds the
	// secret.
	hubBrowser := h.browser()
	tok := hubBrowser.signIn(h.token("hub-1", auth.Hub, "hub"))
	id := hubBrowser.find(tok, "9990000018")
	if page := hubBrowser.open(tok, id, "mash_enquiry", ""); !strings.Contains(page.body, secret) {
		t.Fatalf("the hub's page lacks the restricted entry: %s", page.body)
	}
	nurse := h.browser()
	tok = nurse.signIn(h.token("nurse-1", auth.Practitioner, "health"))
	page := nurse.open(tok, nurse.find(tok, "9990000018"), "direct_work", "")
	for _, s := range []string{secret, "Zanzibar", "web-p1"} {
		if strings.Contains(page.body, s) {
			t.Errorf("the health practitioner's page holds %q", s)
		}
	}
	for _, s := range []string{"Restricted entry from police: hidden from your role", "1 restricted entry from police", "Hidden"} {
		if !strings.Contains(page.body, s) {
			t.Errorf("the page should show the placeholder %q: %s", s, page.body)
		}
	}
}

func TestOpeningAChildIsOnTheAccessLogWithItsPurpose(t *testing.T) {
	h, b, tok := robinAs(t, "hub-7", auth.Hub, "hub")
	id := b.find(tok, "9990000018")
	// Before a purpose is given, the record does not open and nothing of
	// it is read.
	before := b.get("/children/" + id)
	if before.status != http.StatusOK || !strings.Contains(before.body, "Why are you opening this record?") || strings.Contains(before.body, "Robin") {
		t.Fatalf("without a purpose: %d %s", before.status, before.body)
	}
	if n := len(accessLog(t, h, id, "conference")); n != 0 {
		t.Fatalf("%d conference reads before the record was opened", n)
	}
	page := b.open(tok, id, "conference", "Initial conference 3 June")
	if !strings.Contains(page.body, "Child protection conference or core group: Initial conference 3 June") {
		t.Errorf("the page does not show the purpose: %s", page.body)
	}
	recs := accessLog(t, h, id, "conference")
	if len(recs) != 1 {
		t.Fatalf("access records for the child with purpose conference: %+v", recs)
	}
	r := recs[0]
	if r["subject"] != "hub-7" || r["purposeDetail"] != "Initial conference 3 June" || r["action"] != "read" || !strings.Contains(strings.Join(toStrings(r["parts"]), ","), "chronology") {
		t.Errorf("access record: %+v", r)
	}
	// The purpose is remembered for the child: opening again asks nothing.
	if again := b.get("/children/" + id); again.status != http.StatusOK || !strings.Contains(again.body, "Chronology") {
		t.Errorf("second opening: %d", again.status)
	}
}

// accessLog reads the child's access records with the given purpose, as
// an auditor, through GraphQL.
func accessLog(t *testing.T, h *hub, childID, purpose string) []map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": `query($id: ID) { accessLog(childId: $id, first: 1000) { nodes { subject action purpose purposeDetail parts childId asKnownAt } } }`,
		"variables": map[string]any{"id": childID}})
	req, _ := http.NewRequest(http.MethodPost, h.base+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+h.token("aud-1", auth.Auditor, ""))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			AccessLog struct {
				Nodes []map[string]any `json:"nodes"`
			} `json:"accessLog"`
		} `json:"data"`
		Errors []any `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("access log: %v %v", err, out.Errors)
	}
	var recs []map[string]any
	for _, n := range out.Data.AccessLog.Nodes {
		if n["purpose"] == purpose {
			recs = append(recs, n)
		}
	}
	return recs
}

// Printing for conference is on the access log as itself: the print view
// reads the record as action print, with the child, the purpose and as
// known at, and the copy says what a conference copy must (the marking,
// who printed it, when, why, as known at). Before a purpose it prints
// nothing and records nothing.
func TestPrintingIsOnTheAccessLogAsItself(t *testing.T) {
	h, b, tok := robinAs(t, "hub-9", auth.Hub, "hub")
	id := b.find(tok, "9990000018")
	if a := b.get("/children/" + id + "/print"); a.status != http.StatusOK || !strings.Contains(a.body, "Why are you opening this record?") || strings.Contains(a.body, "Robin") {
		t.Fatalf("the print view before a purpose: %d %s", a.status, a.body)
	}
	page := b.open(tok, id, "conference", "Review conference 9 July")
	if !strings.Contains(page.body, `href="/children/`+id+`/print"`) || !strings.Contains(page.body, "Print for conference") {
		t.Fatalf("the child's page has no link to print for conference: %s", page.body)
	}
	if n := countAction(accessLog(t, h, id, "conference"), "print"); n != 0 {
		t.Fatalf("%d print records before anything was printed", n)
	}
	// As known at the end of today: everything the hub has, with the date on.
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Now().In(london).Format("2006-01-02")
	printed := b.get("/children/" + id + "/print?asof=" + asOf)
	if printed.status != http.StatusOK {
		t.Fatalf("print view: %d %s", printed.status, printed.body)
	}
	for _, want := range []string{"OFFICIAL-SENSITIVE", "Printed by <span id=\"printed-by\">Synthetic hub-9 (hub, hub)</span>",
		"Child protection conference or core group: Review conference 9 July", "As known at the end of", "Robin Webtest", secret} {
		if !strings.Contains(printed.body, want) {
			t.Errorf("the print view lacks %q", want)
		}
	}
	recs := accessLog(t, h, id, "conference")
	if n := countAction(recs, "print"); n != 1 {
		t.Fatalf("%d print records, want 1: %+v", n, recs)
	}
	for _, r := range recs {
		if r["action"] != "print" {
			continue
		}
		if r["subject"] != "hub-9" || r["childId"] != id || r["purposeDetail"] != "Review conference 9 July" || r["asKnownAt"] == nil ||
			!strings.Contains(strings.Join(toStrings(r["parts"]), ","), "chronology") {
			t.Errorf("print record: %+v", r)
		}
	}
	// Reading on screen is still a read, not a print.
	if n := countAction(recs, "read"); n != 1 {
		t.Errorf("%d read records, want the one opening: %+v", n, recs)
	}
}

func countAction(recs []map[string]any, action string) int {
	n := 0
	for _, r := range recs {
		if r["action"] == action {
			n++
		}
	}
	return n
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

func TestWorklistListsAFlaggedChild(t *testing.T) {
	_, b, tok := robinAs(t, "hub-1", auth.Hub, "hub")
	if a := b.get("/worklist"); a.status != http.StatusOK || !strings.Contains(a.body, "Why are you opening the worklist?") {
		t.Fatalf("worklist before a purpose: %d %s", a.status, a.body)
	}
	if a := b.post("/purpose", url.Values{"csrf": {tok}, "reason": {"mash_enquiry"}}); a.status != http.StatusSeeOther || a.location != "/worklist" {
		t.Fatalf("purpose: %d %s", a.status, a.body)
	}
	page := b.get("/worklist")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Robin Webtest") || !strings.Contains(page.body, "Child protection plan") {
		t.Fatalf("worklist: %d %s", page.status, page.body)
	}
}

// The worklist says how late a missed statutory deadline is, and its
// filters by flag and severity keep and drop children as GraphQL's do.
func TestWorklistSaysHowLateADeadlineIs(t *testing.T) {
	h, b, tok := robinAs(t, "hub-1", auth.Hub, "hub")
	// Sam came home five days ago and has had no return home interview: 72
	// hours are up two days ago.
	sam := events.Identifiers{NHSNumber: "9990000026"}
	returned := event("missing.returned", "police", "web-m1", time.Now().UTC().Add(-5*24*time.Hour), sam, "Returned home after a missing episode")
	returned.Subjects[0].Name = "Sam Overdue"
	returned.ID = events.DeriveID(returned)
	h.publish(returned)
	if a := b.post("/purpose", url.Values{"csrf": {tok}, "reason": {"mash_enquiry"}}); a.status != http.StatusSeeOther {
		t.Fatalf("purpose: %d %s", a.status, a.body)
	}
	page := b.get("/worklist")
	if page.status != http.StatusOK || !strings.Contains(page.body, "Sam Overdue") || !strings.Contains(page.body, "Return home interview overdue</strong> <strong class=\"overdue\">overdue by 2 days</strong>") {
		t.Fatalf("worklist: %d %s", page.status, page.body)
	}
	// Robin's plan is not a deadline: no lateness on it.
	if !strings.Contains(page.body, "<strong>Child protection plan</strong>: child protection plan") {
		t.Errorf("lateness shown on a flag that is not a deadline: %s", page.body)
	}
	for _, tt := range []struct {
		name, query string
		sam, robin  bool
	}{
		{"by flag", "?code=RHI_OVERDUE", true, false},
		{"by severity", "?severity=high", false, true},
		{"by both", "?severity=medium&code=CP_PLAN_ACTIVE", false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := b.get("/worklist" + tt.query)
			if a.status != http.StatusOK || strings.Contains(a.body, "Sam Overdue") != tt.sam || strings.Contains(a.body, "Robin Webtest") != tt.robin {
				t.Errorf("worklist%s: %d, Sam %v (want %v), Robin %v (want %v)", tt.query, a.status,
					strings.Contains(a.body, "Sam Overdue"), tt.sam, strings.Contains(a.body, "Robin Webtest"), tt.robin)
			}
		})
	}
	// The child's page says it too.
	id := b.find(tok, "9990000026")
	if child := b.open(tok, id, "mash_enquiry", ""); !strings.Contains(child.body, "Overdue by 2 days") {
		t.Errorf("the child's page does not say how late the interview is: %s", child.body)
	}
}

// What an outsider, or a careless client, sends the pages: a form larger
// than a form can be, search values with control characters and of absurd
// length, child addresses that are not ids, as known at dates that are
// not dates. Each gets a refusal or an empty answer, never a 500 or
// another child, and the server goes on answering.
func TestHostileInputToThePages(t *testing.T) {
	_, b, tok := robinAs(t, "hub-1", auth.Hub, "hub")
	huge := url.Values{"csrf": {tok}, "scheme": {"NHS_NUMBER"}, "value": {strings.Repeat("9", 200<<10)}, "reason": {"mash_enquiry"}}
	if a := b.post("/search", huge); a.status < 400 || a.status >= 500 {
		t.Errorf("a 200 KiB form: %d", a.status)
	}
	for _, value := range []string{"999\x00000018", "\u202e8100000999", strings.Repeat("Robin ", 2000), "' OR 1=1 --", "{{.}}"} {
		a := b.post("/search", url.Values{"csrf": {tok}, "scheme": {"NHS_NUMBER"}, "value": {value}, "reason": {"mash_enquiry"}})
		if a.status >= 500 || strings.Contains(a.body, "Robin Webtest") {
			t.Errorf("search for %.40q: %d, or it found Robin", value, a.status)
		}
	}
	for _, path := range []string{"/children/..%2f..%2fetc%2fpasswd", "/children/%00", "/children/" + strings.Repeat("x", 5000),
		"/children/nobody?asKnownAt=not-a-date", "/worklist?severity=%3Cscript%3E&code=" + strings.Repeat("A", 3000)} {
		if a := b.get(path); a.status >= 500 || strings.Contains(a.body, "<script>") {
			t.Errorf("GET %.60s: %d", path, a.status)
		}
	}
	if a := b.post("/search", url.Values{"csrf": {tok}, "scheme": {"NHS_NUMBER"}, "value": {"9990000018"}, "reason": {"mash_enquiry"}}); a.status != http.StatusOK || !strings.Contains(a.body, "Robin Webtest") {
		t.Fatalf("after the hostile requests a real search: %d", a.status)
	}
}
