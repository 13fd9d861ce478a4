// Package docsection rewrites one marked section of a Markdown file (such
// as docs/PERFORMANCE.md), leaving the sections other tools own untouched.
package docsection

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// header starts a file that does not exist yet.
const header = "# Performance\n\nEvery number here comes from a command in the repository; rerun it to refresh the section.\n"

// Markers returns the start and end markers of the section named name.
func Markers(name string) (start, end string) {
	return "<!-- " + name + ":start -->", "<!-- " + name + ":end -->"
}

// Write replaces the text between name's markers in path with body (which
// must not contain the markers), or appends the marked section when the
// file has none.
func Write(path, name, body string) error {
	start, end := Markers(name)
	section := start + "\n" + strings.Trim(body, "\n") + "\n" + end
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(old)
	if doc == "" {
		doc = header
	}
	i, j := strings.Index(doc, start), strings.Index(doc, end)
	switch {
	case i >= 0 && j > i:
		doc = doc[:i] + section + doc[j+len(end):]
	case i >= 0 || j >= 0:
		return fmt.Errorf("%s has only one of the markers %s and %s", path, start, end)
	default:
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section + "\n"
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}
