package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The documentation this test keeps honest, relative to this package.
const docsRepoRoot = "../../.."

// TestDocumentedCommandsExist reads the fenced code blocks of README.md and
// docs/*.md and checks every `cocoon …` command line in them against
// newApp(): the subcommand path must exist and every --flag after it must be
// one the command (or the app) defines. It runs nothing.
func TestDocumentedCommandsExist(t *testing.T) {
	t.Run("parser", testDocCheckerFindsProblems)

	files := []string{filepath.Join(docsRepoRoot, "README.md")}
	docs, err := filepath.Glob(filepath.Join(docsRepoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no docs/*.md under %s", docsRepoRoot)
	}
	files = append(files, docs...)

	c := &docChecker{app: newApp()}
	for _, f := range files {
		md, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(docsRepoRoot, f)
		if err != nil {
			t.Fatal(err)
		}
		c.checkMarkdown(filepath.ToSlash(rel), string(md))
	}
	if c.checked == 0 {
		t.Fatal("found no cocoon command in the documentation's code blocks: the parser is broken")
	}
	t.Logf("checked %d cocoon invocations in %d files", c.checked, len(files))
	if len(c.problems) > 0 {
		t.Errorf("the documentation uses %d commands or flags the CLI does not have:\n%s",
			len(c.problems), strings.Join(c.problems, "\n"))
	}
}

// testDocCheckerFindsProblems runs the checker on a made-up document against
// a made-up app, so that the parser's rules are pinned down independently of
// the real documentation and CLI.
func testDocCheckerFindsProblems(t *testing.T) {
	app := &cli.App{
		Name:  "cocoon",
		Flags: []cli.Flag{&cli.StringFlag{Name: "log-level"}},
		Commands: []*cli.Command{
			{
				Name: "worker",
				Subcommands: []*cli.Command{
					{Name: "update", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "config", Aliases: []string{"c"}}}},
					{Name: "status", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "config"}, &cli.BoolFlag{Name: "json"}}},
					{Name: "attest", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "type"}, &cli.BoolFlag{Name: "gpu"}, &cli.BoolFlag{Name: "no-gpu"}}},
				},
			},
			{
				Name: "wallet",
				Subcommands: []*cli.Command{
					{Name: "address", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "wallet"}, &cli.BoolFlag{Name: "json"}}},
				},
			},
			{
				Name: "devnet",
				Subcommands: []*cli.Command{
					{Name: "faucet", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "network"}}},
				},
			},
			{
				Name: "job",
				Subcommands: []*cli.Command{
					{Name: "submit", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "prompt"}, &cli.StringFlag{Name: "prompt-file"}, &cli.StringFlag{Name: "policy"}}},
					{Name: "status", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "network"}}},
					{Name: "refund", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "network"}}},
				},
			},
			{Name: "gateway", Action: noAction, Flags: []cli.Flag{&cli.StringFlag{Name: "network"}, &cli.StringSliceFlag{Name: "model"}}},
		},
	}
	md := strings.Join([]string{
		"Prose mentioning cocoon workr --nope is not checked.",
		"```sh",
		"$ cocoon workr --x", // 3
		"FOO=bar cocoon worker update -c x --config=y --bogus   # --not-checked | cocoon nope", // 4
		"make build && ./bin/cocoon worker status --config c --json | jq --raw-output . > out.json 2>&1",
		"cocoon devnet faucet --network URL $(bin/cocoon wallet address --wallt w --json | jq -r .a) 1", // 6
		"cocoon job submit (--prompt TEXT | --prompt-file F|-) [--policy FILE] \\",
		"    --polcy FILE", // 8
		"cocoon job status JOB --network N | refund JOB --netwrk N | tee log",       // 9
		"cocoon worker attest --type dev|tdx|sevsnp [--gpu | --no-gpu] [--help] -h", // 10
		"cocoon gateway --network URL --model m \\",
		"  [--model …] [--depositt TON]", // 12
		"cocoon worker attest --type dev",
		"                     [--gpu] [--gpuu]",                              // 14
		"cocoon --log-level debug worker update --config c --log-level info", // 15
		"cocoon worker COMMAND",
		" cocoon worker run (in the TEE) ── watches ──┘   (a diagram)",
		"cocoon wallet addres --wallet w", // 18
		"```",
		"```json",
		`{"x": "cocoon worker --json-is-not-a-command"}`,
		"cocoon gateway --not-shell",
		"```",
		"```console",
		"$ curl -s localhost:8081 -d '{\"method\":\"x\"}'",
		"cocoon gateway --output-is-not-checked",
		"$ cocoon gateway --nettwork URL", // 27
		"```",
		"  ```",
		"  cocoon job refund JOB --network N --jsn", // 30
		"  ```",
	}, "\n")
	c := &docChecker{app: app}
	c.checkMarkdown("DOC.md", md)
	want := []string{
		`DOC.md:3: cocoon: unknown command "workr"`,
		`DOC.md:4: cocoon worker update: unknown flag --bogus`,
		`DOC.md:6: cocoon wallet address: unknown flag --wallt`,
		`DOC.md:8: cocoon job submit: unknown flag --polcy`,
		`DOC.md:9: cocoon job refund: unknown flag --netwrk`,
		`DOC.md:12: cocoon gateway: unknown flag --depositt`,
		`DOC.md:14: cocoon worker attest: unknown flag --gpuu`,
		`DOC.md:18: cocoon wallet: unknown command "addres"`,
		`DOC.md:27: cocoon gateway: unknown flag --nettwork`,
		`DOC.md:30: cocoon job refund: unknown flag --jsn`,
	}
	if got := strings.Join(c.problems, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	// 3, 4, 5, 6 (two), 7, 9 (two: status and its alternative refund), 10,
	// 11, 13, 15, 16, 18, 27, 30.
	if c.checked != 16 {
		t.Errorf("checked %d invocations, want 16", c.checked)
	}
}

func noAction(*cli.Context) error { return nil }

// docChecker collects the problems of the cocoon command lines in markdown
// files.
type docChecker struct {
	app      *cli.App
	checked  int      // cocoon invocations seen
	problems []string // "file:line: cocoon path: what is wrong"
}

func (c *docChecker) checkMarkdown(file, md string) {
	for _, b := range fencedBlocks(md) {
		if nonShellLanguages[b.lang] {
			continue
		}
		for _, l := range logicalLines(b) {
			c.checkLine(file, l)
		}
	}
}

// nonShellLanguages are the code block languages that hold no command lines.
var nonShellLanguages = map[string]bool{
	"json": true, "jsonc": true, "json5": true, "toml": true, "yaml": true, "yml": true, "ini": true,
	"go": true, "js": true, "javascript": true, "ts": true, "typescript": true, "python": true, "py": true,
	"rust": true, "c": true, "cpp": true, "tolk": true, "func": true, "fift": true, "solidity": true,
	"http": true, "html": true, "xml": true, "css": true, "sql": true, "diff": true, "proto": true,
	"mermaid": true, "dot": true,
}

// consoleLanguages mark blocks that mix commands ("$ …") with their output.
var consoleLanguages = map[string]bool{"console": true, "shell-session": true, "terminal": true}

type srcLine struct {
	num  int // 1-based line number in the file
	text string
}

type docBlock struct {
	lang  string // the first word of the info string, lower case
	lines []srcLine
}

// fencedBlocks returns the fenced code blocks (``` or ~~~, possibly
// indented) of a markdown document.
func fencedBlocks(md string) []docBlock {
	var (
		blocks []docBlock
		cur    *docBlock
		fence  string
	)
	for i, line := range strings.Split(md, "\n") {
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(line, " \t")
		f := fenceOf(trimmed)
		if cur == nil {
			if f != "" {
				info := strings.Fields(strings.Trim(trimmed[len(f):], " \t{}."))
				lang := ""
				if len(info) > 0 {
					lang = strings.ToLower(strings.TrimPrefix(info[0], "."))
				}
				cur, fence = &docBlock{lang: lang}, f
			}
			continue
		}
		if f != "" && f[0] == fence[0] && len(f) >= len(fence) && strings.TrimSpace(trimmed[len(f):]) == "" {
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		cur.lines = append(cur.lines, srcLine{num: i + 1, text: line})
	}
	return blocks // an unclosed block is not code
}

// fenceOf returns the run of three or more backticks or tildes s starts with.
func fenceOf(s string) string {
	for _, c := range []byte("`~") {
		n := 0
		for n < len(s) && s[n] == c {
			n++
		}
		if n >= 3 {
			return s[:n]
		}
	}
	return ""
}

// docLine is one logical command line: physical lines joined where one ends
// with a backslash, or where an indented line continues a cocoon usage
// synopsis ("cocoon x --a A\n      [--b B]").
type docLine struct {
	text   string
	starts []int // the offset in text where each physical line begins
	nums   []int // and its line number in the file
	indent int   // of the first physical line
}

func (l *docLine) lineAt(off int) int {
	i := sort.SearchInts(l.starts, off+1) - 1
	if i < 0 {
		i = 0
	}
	return l.nums[i]
}

func (l *docLine) add(sep string, s srcLine) {
	l.text += sep
	l.starts = append(l.starts, len(l.text))
	l.nums = append(l.nums, s.num)
	l.text += s.text
}

func logicalLines(b docBlock) []docLine {
	console := consoleLanguages[b.lang]
	var (
		out  []docLine
		cont bool // the last physical line ended with a backslash
	)
	for _, s := range b.lines {
		switch {
		case cont:
			out[len(out)-1].add("", s)
		case isDiagram(s.text):
			continue
		case !console && len(out) > 0 && continuesSynopsis(&out[len(out)-1], s.text):
			out[len(out)-1].add("\n", s)
		default:
			if console && !strings.HasPrefix(strings.TrimLeft(s.text, " \t"), "$ ") {
				continue // output
			}
			out = append(out, docLine{text: s.text, starts: []int{0}, nums: []int{s.num}, indent: indentOf(s.text)})
		}
		l := &out[len(out)-1]
		t := strings.TrimRight(l.text, " \t")
		cont = strings.HasSuffix(t, `\`) && !strings.HasSuffix(t, `\\`)
		if cont {
			l.text = t[:len(t)-1] + " "
		}
	}
	return out
}

func indentOf(s string) int {
	return len(s) - len(strings.TrimLeft(s, " \t"))
}

// continuesSynopsis tells whether line, more indented than prev and starting
// with an option ("[--x X]", "(--a | --b)", "--y"), goes on with prev's
// cocoon command though prev does not end with a backslash: usage synopses
// wrap like that.
func continuesSynopsis(prev *docLine, line string) bool {
	t := strings.TrimLeft(line, " \t")
	if indentOf(line) <= prev.indent || !(strings.HasPrefix(t, "[") || strings.HasPrefix(t, "(") || strings.HasPrefix(t, "--")) {
		return false
	}
	for _, cmd := range parseShell(prev.text) {
		if w := commandWords(cmd.words); len(w) > 0 && isCocoon(w[0].text) {
			return true
		}
	}
	return false
}

// isDiagram tells whether a line is part of a box-and-arrow drawing (box
// drawing characters or arrows outside a # comment) rather than a command.
func isDiagram(s string) bool {
	if i := strings.Index(s, " #"); i >= 0 {
		s = s[:i]
	}
	if strings.HasPrefix(strings.TrimLeft(s, " \t"), "#") {
		return false
	}
	for _, r := range s {
		if (r >= 0x2500 && r <= 0x257F) || (r >= 0x2190 && r <= 0x21FF) || (r >= 0x25B2 && r <= 0x25C4) {
			return true
		}
	}
	return false
}

// checkLine checks the cocoon invocations of one logical line.
func (c *docChecker) checkLine(file string, l docLine) {
	cmds := parseShell(l.text)
	type result struct {
		ok   bool
		path []*cli.Command
	}
	resolved := make([]result, len(cmds))
	for i, cmd := range cmds {
		words := commandWords(cmd.words)
		if len(words) == 0 {
			continue
		}
		var (
			start []*cli.Command
			args  []shellWord
		)
		switch {
		case isCocoon(words[0].text):
			args = words[1:]
		case cmd.pipedFrom >= 0 && resolved[cmd.pipedFrom].ok && len(resolved[cmd.pipedFrom].path) > 0 &&
			findCommand(c.subcommands(resolved[cmd.pipedFrom].path[:len(resolved[cmd.pipedFrom].path)-1]), words[0].text) != nil:
			// A synopsis listing alternatives: "cocoon job status JOB | refund JOB".
			p := resolved[cmd.pipedFrom].path
			start, args = p[:len(p)-1], words
		default:
			continue
		}
		c.checked++
		path, ok := c.check(file, &l, start, args)
		resolved[i] = result{ok: ok, path: path}
	}
}

// check resolves the subcommand path of args (below start) and checks the
// flags; it returns the path and whether it resolved.
func (c *docChecker) check(file string, l *docLine, start []*cli.Command, args []shellWord) ([]*cli.Command, bool) {
	path := append([]*cli.Command(nil), start...)
	i := 0
resolve:
	for ; i < len(args); i++ {
		raw := args[i].text
		w := stripSynopsis(raw)
		switch {
		case w == "--":
			return path, true // the rest are arguments
		case strings.HasPrefix(w, "-"):
			c.checkFlags(file, l, path, args[i])
			if name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "="); !hasValue && c.takesValue(path, name) &&
				i+1 < len(args) && !strings.HasPrefix(stripSynopsis(args[i+1].text), "-") {
				i++
			}
		case findCommand(c.subcommands(path), w) != nil:
			path = append(path, findCommand(c.subcommands(path), w))
		case (w == "help" || w == "h") && len(c.subcommands(path)) > 0:
			return path, true // the built-in help command; the rest name a command
		case len(c.subcommands(path)) > 0 && !c.hasAction(path) && !isPlaceholder(raw, w):
			c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: unknown command %q", file, l.lineAt(args[i].off), commandPath(path), w))
			return path, false
		default:
			break resolve // the first argument
		}
	}
	for ; i < len(args); i++ {
		if stripSynopsis(args[i].text) == "--" {
			break
		}
		c.checkFlags(file, l, path, args[i])
	}
	return path, true
}

// checkFlags checks the --flags of one word against the command at path.
func (c *docChecker) checkFlags(file string, l *docLine, path []*cli.Command, w shellWord) {
	for _, name := range flagNames(w.text) {
		if !c.knownFlag(path, name) {
			c.problems = append(c.problems, fmt.Sprintf("%s:%d: %s: unknown flag --%s", file, l.lineAt(w.off), commandPath(path), name))
		}
	}
}

var flagName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// flagNames returns the names of the --flags in a word, synopsis brackets,
// braces, parentheses and alternatives taken apart: "[--gpu|--no-gpu]" →
// gpu, no-gpu; "--type=dev" → type; "dev|tdx" → none.
func flagNames(word string) []string {
	var names []string
	for _, piece := range strings.Split(stripSynopsis(word), "|") {
		if !strings.HasPrefix(piece, "--") {
			continue
		}
		name, _, _ := strings.Cut(piece[2:], "=")
		name = strings.TrimRight(strings.TrimSuffix(strings.TrimSuffix(name, "…"), "..."), ",:")
		if flagName.MatchString(name) {
			names = append(names, name)
		}
	}
	return names
}

// stripSynopsis removes the brackets, braces and parentheses of usage
// synopses from a word.
func stripSynopsis(w string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune("[]{}()", r) {
			return -1
		}
		return r
	}, w)
}

// isPlaceholder tells whether a word in command position stands for a
// command rather than naming one: "COMMAND", "<cmd>", "[command]", "…".
func isPlaceholder(raw, w string) bool {
	if w == "" || strings.ContainsAny(raw[:1], "[<{($") || strings.Contains(w, "…") || strings.Contains(w, "...") {
		return true
	}
	return strings.ToUpper(w) == w
}

func commandPath(path []*cli.Command) string {
	s := "cocoon"
	for _, c := range path {
		s += " " + c.Name
	}
	return s
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func (c *docChecker) subcommands(path []*cli.Command) []*cli.Command {
	if len(path) == 0 {
		return c.app.Commands
	}
	return path[len(path)-1].Subcommands
}

func (c *docChecker) hasAction(path []*cli.Command) bool {
	if len(path) == 0 {
		return c.app.Action != nil
	}
	return path[len(path)-1].Action != nil
}

// flags returns the flags accepted at path: the command's, the app's global
// ones (accepted wherever they appear, though urfave/cli v2 takes them only
// before the first command) and the built-in --help (and --version on the
// app).
func (c *docChecker) flags(path []*cli.Command) []cli.Flag {
	fs := append([]cli.Flag(nil), c.app.Flags...)
	fs = append(fs, &cli.BoolFlag{Name: "help", Aliases: []string{"h"}})
	if len(path) == 0 {
		if c.app.Version != "" && !c.app.HideVersion {
			fs = append(fs, &cli.BoolFlag{Name: "version", Aliases: []string{"v"}})
		}
		return fs
	}
	return append(fs, path[len(path)-1].Flags...)
}

func (c *docChecker) lookupFlag(path []*cli.Command, name string) cli.Flag {
	for _, f := range c.flags(path) {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func (c *docChecker) knownFlag(path []*cli.Command, name string) bool {
	return c.lookupFlag(path, name) != nil
}

func (c *docChecker) takesValue(path []*cli.Command, name string) bool {
	f := c.lookupFlag(path, name)
	if f == nil {
		return false
	}
	if d, ok := f.(cli.DocGenerationFlag); ok {
		return d.TakesValue()
	}
	return true
}

func isCocoon(w string) bool {
	switch w {
	case "cocoon", "bin/cocoon", "./bin/cocoon", "./cocoon":
		return true
	}
	return false
}

var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// commandWords drops what comes before the command word: a "$" prompt,
// environment assignments and wrappers such as sudo.
func commandWords(words []shellWord) []shellWord {
	i := 0
	if i < len(words) && words[i].text == "$" {
		i++
	}
	for ; i < len(words); i++ {
		switch w := words[i].text; {
		case envAssignment.MatchString(w):
		case w == "sudo" || w == "env" || w == "exec" || w == "time" || w == "nohup" || w == "command":
		default:
			return words[i:]
		}
	}
	return nil
}

// shellWord is a word of a command line, quotes removed, a command
// substitution replaced by "$(…)".
type shellWord struct {
	text string
	off  int // the offset of its first character in the line
}

// shellCmd is a simple command: its words, redirections left out.
type shellCmd struct {
	words     []shellWord
	pipedFrom int // the index of the command piped into this one, or -1
}

// shellParser splits a line into simple commands the way a shell would,
// enough for documentation: quotes, backslashes, # comments, ; && || | &,
// redirections, and $(…) and `…`, whose commands it lists too. Usage
// synopsis notation survives: a | inside [ ] or ( ), or inside a word
// ("dev|tdx"), separates alternatives, not commands; "<file>" is a word.
type shellParser struct {
	s   string
	i   int
	out []shellCmd
}

func parseShell(s string) []shellCmd {
	p := &shellParser{s: s}
	p.list(0)
	return p.out
}

func (p *shellParser) peek(k int) byte {
	if p.i+k < len(p.s) {
		return p.s[p.i+k]
	}
	return 0
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// list parses commands up to the end of the line or, when closer is not 0,
// the closer of the command substitution it is in.
func (p *shellParser) list(closer byte) {
	cur := shellCmd{pipedFrom: -1}
	depth := 0 // synopsis brackets open in the current command
	end := func(piped bool) {
		next := shellCmd{pipedFrom: -1}
		if len(cur.words) > 0 {
			p.out = append(p.out, cur)
			if piped {
				next.pipedFrom = len(p.out) - 1
			}
		}
		cur, depth = next, 0
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case closer != 0 && c == closer && (closer == '`' || depth == 0):
			p.i++
			end(false)
			return
		case isBlank(c):
			p.i++
		case c == '#':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case c == ';':
			p.i++
			end(false)
		case c == '&' && p.peek(1) == '>':
			p.i++
			p.redirect(closer)
		case c == '&':
			p.i++
			if p.peek(0) == '&' {
				p.i++
			}
			end(false)
		case c == '|' && p.peek(1) == '|':
			p.i += 2
			end(false)
		case c == '|' && depth > 0:
			p.i++ // "[--gpu | --no-gpu]"
		case c == '|':
			p.i++
			end(true)
		case c == '<' || c == '>':
			if w, ok := p.angleWord(); ok {
				cur.words = append(cur.words, w)
				continue
			}
			p.redirect(closer)
		default:
			w := p.word(&depth, closer)
			if strings.Trim(w.text, "0123456789") == "" && (p.peek(0) == '>' || p.peek(0) == '<') {
				p.redirect(closer) // 2>file
				continue
			}
			cur.words = append(cur.words, w)
		}
	}
	end(false)
}

var angleWord = regexp.MustCompile(`^<[A-Za-z0-9_.:/-]+>`)

// angleWord reads a "<placeholder>" word.
func (p *shellParser) angleWord() (shellWord, bool) {
	m := angleWord.FindString(p.s[p.i:])
	if m == "" || (p.i+len(m) < len(p.s) && !isBlank(p.s[p.i+len(m)])) {
		return shellWord{}, false
	}
	w := shellWord{text: m, off: p.i}
	p.i += len(m)
	return w, true
}

// redirect skips a redirection operator and its target.
func (p *shellParser) redirect(closer byte) {
	for p.i < len(p.s) && strings.IndexByte("<>&|", p.s[p.i]) >= 0 {
		p.i++
	}
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
	if p.i < len(p.s) && !isBlank(p.s[p.i]) && strings.IndexByte(";&|<>", p.s[p.i]) < 0 {
		depth := 0
		p.word(&depth, closer)
	}
}

// substitution parses the commands of a $(…) or `…` whose opening p.i is
// just past, and returns the word that stands for it.
func (p *shellParser) substitution(closer byte) string {
	p.list(closer)
	return "$(…)"
}

// word reads one word, removing quotes and backslashes and counting the
// synopsis brackets it opens and closes in *depth.
func (p *shellParser) word(depth *int, closer byte) shellWord {
	w := shellWord{off: p.i}
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case isBlank(c) || c == ';' || c == '&' || c == '<' || c == '>':
			w.text = b.String()
			return w
		case c == '|' && (isBlank(p.peek(1)) || p.peek(1) == 0 || p.peek(1) == '|'):
			w.text = b.String()
			return w
		case c == closer && (closer == '`' || *depth == 0):
			w.text = b.String()
			return w
		case c == '\'':
			j := strings.IndexByte(p.s[p.i+1:], '\'')
			if j < 0 {
				j = len(p.s) - p.i - 1
			}
			b.WriteString(p.s[p.i+1 : p.i+1+j])
			p.i += j + 2
		case c == '"':
			p.i++
			for p.i < len(p.s) && p.s[p.i] != '"' {
				switch {
				case p.s[p.i] == '\\' && p.i+1 < len(p.s):
					b.WriteByte(p.s[p.i+1])
					p.i += 2
				case p.s[p.i] == '$' && p.peek(1) == '(':
					p.i += 2
					b.WriteString(p.substitution(')'))
				case p.s[p.i] == '`':
					p.i++
					b.WriteString(p.substitution('`'))
				default:
					b.WriteByte(p.s[p.i])
					p.i++
				}
			}
			p.i++
		case c == '\\':
			if p.i+1 < len(p.s) {
				b.WriteByte(p.s[p.i+1])
			}
			p.i += 2
		case c == '$' && p.peek(1) == '(':
			p.i += 2
			b.WriteString(p.substitution(')'))
		case c == '$' && p.peek(1) == '{':
			j := strings.IndexByte(p.s[p.i:], '}')
			if j < 0 {
				j = len(p.s) - p.i - 1
			}
			b.WriteString(p.s[p.i : p.i+j+1])
			p.i += j + 1
		case c == '`':
			p.i++
			b.WriteString(p.substitution('`'))
		default:
			switch c {
			case '[', '(', '{':
				*depth++
			case ']', ')', '}':
				if *depth > 0 {
					*depth--
				}
			}
			b.WriteByte(c)
			p.i++
		}
	}
	w.text = b.String()
	return w
}
