// Package browsertest opens a dashboard in a real headless browser for
// tests: Debian's chromium (apt-get install -y chromium) driven by
// chromedp. Only tests import it, so daemons do not link chromedp.
//
// A missing chromium fails the test: the dashboard is checked in a
// browser or not at all. COCOON_SKIP_BROWSER=1 turns that into a skip,
// for local runs on a machine without chromium.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// SkipEnv names the variable that lets a machine without chromium skip
// browser tests instead of failing them.
const SkipEnv = "COCOON_SKIP_BROWSER"

// ArtifactsEnv names a directory where screenshots are kept; without it
// they go to the test's artifact directory (go test -artifacts keeps it).
const ArtifactsEnv = "COCOON_TEST_ARTIFACTS"

// Chromium returns the browser's path, or fails (skips, with SkipEnv=1)
// the test.
func Chromium(t testing.TB) string {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: the dashboard's browser test is skipped", SkipEnv)
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("no chromium on PATH: install it (apt-get install -y chromium), or set %s=1 to skip the browser test", SkipEnv)
	return ""
}

// Page is one browser tab.
type Page struct {
	t   testing.TB
	ctx context.Context
}

// Open starts a fresh headless chromium (its own profile, no network
// beyond what the page asks for), loads url and waits until the dashboard
// has drawn its first data (body[data-state=ready]). The browser stops
// with the test.
func Open(t testing.TB, ctx context.Context, url string) *Page {
	t.Helper()
	exe := Chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(bctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`)),
	); err != nil {
		t.Fatalf("loading %s in chromium: %v", url, err)
	}
	return &Page{t: t, ctx: bctx}
}

// Text is the text of the first element matching a CSS selector, read in
// one step inside the page (the page may rebuild itself between two
// protocol calls), or "<none>" when nothing matches.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	return strings.TrimSpace(Eval[string](p, fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		return e ? e.textContent : "<none>";
	})()`, selector)))
}

// Eval evaluates a JavaScript expression.
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// Field is the value the page shows for a field key.
func (p *Page) Field(key string) string {
	p.t.Helper()
	return p.Text(fmt.Sprintf(`dd[data-key=%q] .value`, key))
}

// Warnings are the warnings shown, in order.
func (p *Page) Warnings() []string {
	p.t.Helper()
	return Eval[[]string](p, `Array.from(document.querySelectorAll("#warnings li"), li => li.textContent)`)
}

// ChartPixels counts the live chart's pixels drawn in a colour
// ("#1f9d55"): what a person sees, not what the script meant to draw.
func (p *Page) ChartPixels(colour string) int {
	p.t.Helper()
	return p.CanvasPixels("#chart", colour)
}

// HistoryPixels counts a history chart's pixels drawn in a colour.
func (p *Page) HistoryPixels(key, colour string) int {
	p.t.Helper()
	return p.CanvasPixels(fmt.Sprintf(`#histories [data-key=%q] canvas`, key), colour)
}

// CanvasPixels counts the pixels of the canvas matching a CSS selector
// drawn in a colour.
func (p *Page) CanvasPixels(selector, colour string) int {
	p.t.Helper()
	return Eval[int](p, fmt.Sprintf(`(() => {
		const c = document.querySelector(%q);
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		const want = %q.match(/[0-9a-f]{2}/gi).map(h => parseInt(h, 16));
		let n = 0;
		for (let i = 0; i < d.length; i += 4) {
			if (d[i] === want[0] && d[i+1] === want[1] && d[i+2] === want[2] && d[i+3] === 255) n++;
		}
		return n;
	})()`, selector, colour))
}

// WaitFor waits until a JavaScript expression is true: the page polls
// its data, so a change in the daemon shows after a poll.
func (p *Page) WaitFor(expr string) {
	p.t.Helper()
	if _, err := chromedp.Run(p.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		p.t.Fatalf("waiting for %s: %v", expr, err)
	}
}

// Screenshot keeps a full-page PNG as a test artifact (never in the
// repository) and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	dir := os.Getenv(ArtifactsEnv)
	if dir == "" {
		dir = p.t.ArtifactDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("screenshot directory: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("writing the screenshot: %v", err)
	}
	p.t.Logf("screenshot: %s (%d bytes)", path, len(png))
	return path
}
