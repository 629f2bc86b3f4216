package web_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/gateway/web"
)

var screenshots = flag.Bool("screenshots", false, "write screenshots of the main pages to docs/ (TestInABrowser)")

// chromium finds Debian's chromium (apt-get install chromium), or another
// Chrome, or skips the test saying how to get one.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: the browser tests need it (Debian: apt-get install -y chromium; .ci/run installs it)")
	return ""
}

// axeScript finds axe-core's axe.min.js (a test tool, never in the
// binary): $CHRONICLE_AXE (the file, or a directory holding
// node_modules/axe-core), else where .ci/run installs it,
// $HOME/.cache/chronicle-axe. Empty when there is none.
func axeScript() (string, string) {
	var tried []string
	for _, p := range []string{os.Getenv("CHRONICLE_AXE"), filepath.Join(os.Getenv("HOME"), ".cache", "chronicle-axe")} {
		if p == "" {
			continue
		}
		for _, f := range []string{p, filepath.Join(p, "axe.min.js"), filepath.Join(p, "node_modules", "axe-core", "axe.min.js")} {
			if st, err := os.Stat(f); err == nil && !st.IsDir() {
				raw, err := os.ReadFile(f)
				if err == nil {
					return string(raw), ""
				}
			}
		}
		tried = append(tried, p)
	}
	return "", "no axe-core in " + strings.Join(tried, " or ") + ": install it with npm install --prefix \"$HOME/.cache/chronicle-axe\" axe-core@4.14.1 (.ci/run does), or set CHRONICLE_AXE"
}

// axeTags are the rules checked: WCAG 2.0, 2.1 and 2.2, levels A and AA.
var axeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// axeResults is what axe.run answers, as far as the test reads it.
type axeResults struct {
	TestEngine struct {
		Version string `json:"version"`
	} `json:"testEngine"`
	Violations []axeViolation `json:"violations"`
}

// axeViolation is a rule broken, with where.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// runAxe injects axe-core into the page the browser shows and runs the
// WCAG A and AA rules.
func runAxe(ctx context.Context, script string) (axeResults, error) {
	// The pages' Content-Security-Policy allows no scripts; the DevTools
	// protocol's own evaluation is not a page script, and axe is injected
	// only into this test's browser.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](script+"\n;true")); err != nil {
		return axeResults{}, fmt.Errorf("inject axe-core: %w", err)
	}
	tags, _ := json.Marshal(axeTags)
	run := "axe.run(document, {runOnly: {type: 'tag', values: " + string(tags) + "}, resultTypes: ['violations']})"
	res, err := chromedp.Run(ctx, chromedp.Evaluate[axeResults](run, chromedp.EvalAwaitPromise))
	if err != nil {
		return res, fmt.Errorf("axe.run: %w", err)
	}
	return res, nil
}

// checkAccessible runs axe-core on the page the browser shows and fails
// on every violation of the WCAG A and AA rules, naming the rule and the
// elements. Without axe-core it skips, saying why.
func checkAccessible(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	t.Run("axe "+page, func(t *testing.T) {
		script, why := axeScript()
		if script == "" {
			t.Skip(why)
		}
		res, err := runAxe(ctx, script)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Violations {
			for _, n := range v.Nodes {
				t.Errorf("%s: %s (%s, %s) at %v: %s", page, v.ID, v.Help, v.Impact, n.Target, n.Summary)
			}
		}
		if res.TestEngine.Version == "" {
			t.Errorf("%s: axe-core gave no result", page)
		}
	})
}

// TestInABrowser drives headless Chromium through the pages as a person
// would: sign in by pasting a token, find a child, give a purpose, see the
// timeline and the chronology, print to PDF, sign out; and as a health
// practitioner, the page source holds no hidden text.
func TestInABrowser(t *testing.T) {
	exe := chromium(t)
	h := startHub(t)
	publishRobin(h)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1280, 1000), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true))

	// The browser starts on the first run in this context, which must
	// carry no timeout (it would stop the browser); each visit gets one.
	// Debian's chromium now and then exits at start on a loaded machine
	// ("chrome failed to start"): three tries before that fails the test.
	var browserCtx context.Context
	var err error
	for try := 1; try <= 3; try++ {
		actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancelB := chromedp.NewContext(actx)
		if err = chromedp.Do(ctx, chromedp.Navigate("about:blank")); err == nil {
			browserCtx = ctx
			defer cancel()
			defer cancelB()
			break
		}
		cancelB()
		cancel()
		t.Logf("start chromium, try %d: %v", try, err)
	}
	if browserCtx == nil {
		t.Fatalf("start chromium: %v", err)
	}

	visit := func(t *testing.T, role auth.Role, agency, reason string) (context.Context, string) {
		ctx, cancel := chromedp.NewContext(browserCtx)
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
		t.Cleanup(cancelT)
		steps := []struct {
			what string
			do   chromedp.Action[chromedp.Void]
			axe  string // the page to check with axe-core after the step, if any
		}{
			{"open the front page", chromedp.Navigate(h.base + "/"), ""},
			{"see the sign-in form", chromedp.WaitVisible(`#token`), "sign-in"},
			{"paste a token", chromedp.SendKeys(`#token`, h.token("browser-"+string(role), role, agency)), ""},
			{"sign in", chromedp.Click(`#signin`), ""},
			{"see the search form", chromedp.WaitVisible(`#value`), "find a child"},
			{"type the NHS number", chromedp.SendKeys(`#value`, "9990000018"), ""},
			{"choose a purpose", chromedp.SetValue(`#reason`, reason), ""},
			{"search", chromedp.Click(`#search`), ""},
			{"see the results", chromedp.WaitVisible(`table.results a`), "search results"},
			{"open the record", chromedp.Click(`table.results a`), ""},
			{"see the purpose form", chromedp.WaitVisible(`#open`), "purpose"},
			{"give the purpose", chromedp.Click(`#open`), ""},
			{"see the timeline", chromedp.WaitVisible(`svg.timeline`), "child as " + string(role)},
		}
		for _, st := range steps {
			if err := chromedp.Do(ctx, st.do); err != nil {
				loc, _ := chromedp.Run(ctx, chromedp.Location())
				t.Fatalf("as %s: %s (at %s): %v", role, st.what, loc, err)
			}
			if st.axe != "" && (role == auth.Hub || strings.HasPrefix(st.axe, "child")) {
				checkAccessible(t, ctx, st.axe)
			}
		}
		html, err := chromedp.Run(ctx, chromedp.OuterHTML(`html`))
		if err != nil {
			t.Fatal(err)
		}
		return ctx, html
	}

	t.Run("hub", func(t *testing.T) {
		ctx, html := visit(t, auth.Hub, "hub", "conference")
		for _, want := range []string{secret, "Child protection plan", "Chronology", "Child protection conference or core group", `class="timeline"`} {
			if !strings.Contains(html, want) {
				t.Errorf("the child's page lacks %q", want)
			}
		}
		shoot(t, ctx, "web-child.png")
		// Print for conference: the print view, printed to PDF, and the
		// copy on the access log as printing.
		if err := chromedp.Do(ctx, chromedp.Click(`p.print-link a`), chromedp.WaitVisible(`.print-view-header`)); err != nil {
			t.Fatalf("open the print view: %v", err)
		}
		loc, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		childID := strings.TrimSuffix(strings.TrimPrefix(loc, h.base+"/children/"), "/print")
		pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPreferCSSPageSize(), chromedp.PDFLandscape(), chromedp.PDFPaper(chromedp.PaperA4)))
		if err != nil || len(pdf) < 1000 || !strings.HasPrefix(string(pdf), "%PDF") {
			t.Fatalf("print to PDF: %v (%d bytes)", err, len(pdf))
		}
		if n := countAction(accessLog(t, h, childID, "conference"), "print"); n != 1 {
			t.Errorf("%d print records on the access log for %s, want 1", n, childID)
		}
		checkAccessible(t, ctx, "print view")
		shoot(t, ctx, "web-print.png")
		if err := chromedp.Do(ctx, chromedp.Navigate(h.base+"/worklist"), chromedp.WaitVisible(`table.worklist`)); err != nil {
			t.Fatalf("worklist: %v", err)
		}
		if html, err = chromedp.Run(ctx, chromedp.OuterHTML(`html`)); err != nil || !strings.Contains(html, "Robin Webtest") {
			t.Errorf("the worklist lacks the flagged child (%v)", err)
		}
		checkAccessible(t, ctx, "worklist")
		// The check can fail: an image with no text alternative, put into
		// the page, is a violation axe-core reports.
		t.Run("axe finds a violation", func(t *testing.T) {
			script, why := axeScript()
			if script == "" {
				t.Skip(why)
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("main").insertAdjacentHTML("beforeend", "<img src=\"/static/none.png\">"); true`)); err != nil {
				t.Fatal(err)
			}
			res, err := runAxe(ctx, script)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(res.Violations, func(v axeViolation) bool { return v.ID == "image-alt" }) {
				t.Errorf("axe-core did not report an image without alt text: %+v", res.Violations)
			}
		})
		shoot(t, ctx, "web-worklist.png")
		// Sign out, and the pages are gone.
		if err := chromedp.Do(ctx, chromedp.Click(`header button.link`), chromedp.WaitVisible(`#signed-out`),
			chromedp.Navigate(h.base+"/worklist"), chromedp.WaitVisible(`#token`)); err != nil {
			t.Fatalf("sign out: %v", err)
		}
		if url, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(url, "/signin") {
			t.Errorf("after sign-out the worklist went to %s (%v)", url, err)
		}
	})
	t.Run("health practitioner", func(t *testing.T) {
		ctx, html := visit(t, auth.Practitioner, "health", "direct_work")
		if strings.Contains(html, "Zanzibar") || !strings.Contains(html, "hidden from your role") {
			t.Errorf("the page should show a placeholder and no hidden text")
		}
		shoot(t, ctx, "web-child-redacted.png")
	})
}

// TestOpenIDConnectSignInInABrowser signs in through the provider in
// headless Chromium, with the provider on another site (localhost, the
// hub on 127.0.0.1): the sign-in page's form must be allowed to lead to
// the provider (form-action), and the browser, sent back by a form on the
// provider's site, must still send the session cookie (SameSite=Strict)
// with the next page.
func TestOpenIDConnectSignInInABrowser(t *testing.T) {
	exe := chromium(t)
	p := startProvider(t)
	p.base = strings.Replace(p.srv.URL, "127.0.0.1", "localhost", 1)
	p.consent = true
	// The redirect URL is registered before the hub starts, so the hub
	// needs a known port: one the kernel just gave and took back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p.redirect = "http://" + addr + web.CallbackPath
	h := startOIDCHub(t, p, addr)
	p.signsIn(map[string]any{"sub": "oidc-hub-2", "name": "Hollis Hub", "groups": []string{"mash-team"}}, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Skipf("chromium would not start: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	defer cancelT()
	if err := chromedp.Do(ctx, chromedp.Navigate(h.base+"/"), chromedp.WaitVisible(`#signin-oidc`)); err != nil {
		t.Fatalf("sign-in page: %v", err)
	}
	checkAccessible(t, ctx, "sign-in with a provider")
	step, cancelS := context.WithTimeout(ctx, 20*time.Second)
	defer cancelS()
	if err := chromedp.Do(step, chromedp.Click(`#signin-oidc`), chromedp.WaitVisible(`#approve`), chromedp.Click(`#approve`), chromedp.WaitVisible(`#value`)); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(`html`))
		t.Fatalf("sign in through the provider (at %s): %v\n%s", loc, err, html)
	}
	html, err := chromedp.Run(ctx, chromedp.OuterHTML(`header`))
	if err != nil || !strings.Contains(html, "Hollis Hub (hub, hub)") {
		t.Errorf("signed in as whom? %v %s", err, html)
	}
}

// shoot writes a full-page screenshot to docs/ when -screenshots is given.
func shoot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !*screenshots {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
