package docsection

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	p := filepath.Join(t.TempDir(), "docs", "PERF.md")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	// Someone else's section and prose survive every write.
	if err := os.WriteFile(p, []byte("# Performance\n\nintro\n\n<!-- other:start -->\nbench\n<!-- other:end -->\n\n## Notes\nkeep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, "a", "first A"); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, "b", "only B"); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, "a", "second A"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	doc := string(raw)
	for _, want := range []string{"# Performance", "intro", "<!-- other:start -->\nbench\n<!-- other:end -->", "## Notes\nkeep me", "<!-- a:start -->\nsecond A\n<!-- a:end -->", "<!-- b:start -->\nonly B\n<!-- b:end -->"} {
		if !strings.Contains(doc, want) {
			t.Errorf("document lacks %q:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "first A") || strings.Index(doc, "a:start") > strings.Index(doc, "b:start") {
		t.Errorf("section a was not replaced in place:\n%s", doc)
	}
	broken := filepath.Join(t.TempDir(), "x.md")
	os.WriteFile(broken, []byte("<!-- a:start -->\nno end"), 0o644)
	if err := Write(broken, "a", "x"); err == nil {
		t.Error("a file with one marker was rewritten")
	}
}

func TestWriteCreatesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "new.md")
	if err := Write(p, "x", "body"); err != nil {
		t.Fatal(err)
	}
	if raw, _ := os.ReadFile(p); !strings.HasPrefix(string(raw), "# Performance") || !strings.Contains(string(raw), "<!-- x:start -->\nbody\n<!-- x:end -->") {
		t.Fatalf("new file:\n%s", raw)
	}
}
