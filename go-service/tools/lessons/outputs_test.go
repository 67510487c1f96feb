package lessons

import (
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/internal/money"
)

// An example output is a fenced block that shows what a program prints. Each
// one is tied to what produces it, on the line before the block:
//
//	<!-- expect -->              after a <!-- run --> block: that block's real output
//	                             (checked with LESSONS_RUN=1, see run_test.go)
//	<!-- output: lines -->       lines our code prints, each checked against it (below)
//	<!-- output: lines: lessons/code/05 -->  the same, against the code under that
//	                             folder instead (a build-track snapshot, or lessons/checks
//	                             for a checkpoint's report)
//	<!-- output: unchecked: why -->  another program's output (grpcurl, kcat, the go
//	                             tool, a stack dump), or figures from one machine: said
//	                             so, and counted, not checked
//
// In an "output: lines" block every line must be one of:
//
//	...                                 any lines (also "...." or blank)
//	[LOG] Payment: id | $5.00 USD | STRIPE | COMPLETED
//	                                    the client's line: the amount is re-formatted by
//	                                    node-service/src/format.ts (via npx tsx) from its
//	                                    digits and must read the same; gateway and status
//	                                    must be the contract's names
//	[PRODUCER] Sent: key | stripe | $5.00   the amount re-formatted by internal/money
//	=== RUN / --- PASS: / --- FAIL: TestX   a test that exists in go-service or node-service
//	ok  <pkg> ... / FAIL <pkg> ...      a package that exists
//	{"id":...} / "amountMinor": "5000",  the contract's JSON field names only
//	{"time":...,"msg":"..."}            LOG_FORMAT=json: the code's message and attribute keys
//	ERROR: / Code: NotFound / Message: m   grpcurl: a real gRPC code, one of the server's messages
//	5000                                a line of digits: a count that varies
//	payagg_name{label="v"} 1            a metric and label names the metrics package exports
//	▶ / ✔ / ✖ name (12ms), ℹ tests 11    node --test: a test that exists in node-service/test
//	  total (distinct payments)   2003  the client's stats table: a count under a name of the
//	  KWD                      149.133  code or the contract; a currency's total goes to formatMoney
//	anything else, e.g. "[SERVER] Client connected peer=... stream=1" or
//	"server: GRPC_PORT=...: want a whole number from 0 to 65535"
//	                                    its message (for a [PREFIX] line, the text up to the
//	                                    first " key=") must match a string literal of the Go,
//	                                    TypeScript or shell sources, where a format verb (%s,
//	                                    %d, ...) or ${...} in the source and "..." in the lesson
//	                                    stand for any text; for a line without a prefix it
//	                                    is enough that the line ends with such a literal after
//	                                    a ": " (errors are wrapped: "server: <setting>: <why>")
//
// A fenced block looks like output, and must carry one of these markers, when
// a line of it starts with a course prefix ("[SERVER] ", "[LOG] ", ...), "$ ",
// "ok  ", "=== RUN", "--- PASS", "--- FAIL", a binary's error prefix
// ("server: ", "producer: ", "client: ", ...), or one of the other tools' ("go: ",
// "error TS", grpcurl's "ERROR:", kcat's "% ERROR", ...): see looksLike. Blocks
// quoting code (from:) or running it (run) are not output.
const (
	outputLines     = "lines"
	outputUnchecked = "unchecked"
)

var (
	outputMarker = regexp.MustCompile(`^<!-- output: (lines(?:: [\w./-]+)?|unchecked: .+) -->$`)
	anyMarker    = regexp.MustCompile(`^<!-- (from: .*|run(: server)?|expect|output: .*) -->$`)
	looksLike    = regexp.MustCompile(`^(\[[A-Z]+\] |\$ |ok  |=== RUN|--- (PASS|FAIL)|(server|producer|receiver|replay|client|demo): |` +
		`(PASS|FAIL)$|FAIL[: ]|payagg_|(Payments|By gateway|By status|Totals by currency|Dead-letter queue|Consumer lag)|\s*(▶|✔|✖) |go: |error TS|ERROR:$|Error invoking|Failed to dial|% ERROR|\{"time":|not ready: |skipping tests)`)
)

type outputBlock struct {
	where  string
	kind   string // "expect", "lines", "unchecked"
	reason string
	root   string // for "lines": the folder whose code prints them ("" = the service)
	lines  []string
}

// outputBlocks returns every marked output block, and reports each fenced
// block that looks like output but carries no marker.
func outputBlocks(t *testing.T) []outputBlock {
	var out []outputBlock
	for _, file := range lessonFiles(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Split(string(doc), "\n")
		for i := 0; i < len(text); i++ {
			indent := len(text[i]) - len(strings.TrimLeft(text[i], " "))
			if !strings.HasPrefix(text[i][indent:], "```") {
				continue
			}
			where := fmt.Sprintf("%s:%d", filepath.Base(file), i+1)
			start, end, err := indentedFence(text, i, indent)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				break
			}
			marker := previousMarker(text, i)
			body := make([]string, 0, end-start)
			for _, l := range text[start:end] { // a block in a list item is indented with it
				body = append(body, strings.TrimPrefix(l, strings.Repeat(" ", indent)))
			}
			i = end
			switch m := outputMarker.FindStringSubmatch(marker); {
			case marker == "<!-- expect -->":
				out = append(out, outputBlock{where: where, kind: "expect", lines: body})
			case m != nil && (m[1] == outputLines || strings.HasPrefix(m[1], outputLines+": ")):
				out = append(out, outputBlock{where: where, kind: outputLines, root: strings.TrimPrefix(strings.TrimPrefix(m[1], outputLines), ": "), lines: body})
			case m != nil:
				out = append(out, outputBlock{where: where, kind: outputUnchecked, reason: strings.TrimPrefix(m[1], "unchecked: "), lines: body})
			case anyMarker.MatchString(marker):
				// quoted or runnable code
			default:
				if line, ok := looksLikeOutput(body); ok {
					t.Errorf("%s: this block looks like program output (%q) but says nothing of what prints it: "+
						"put <!-- output: lines --> (checked against the code), <!-- expect --> after a <!-- run --> block, "+
						"or <!-- output: unchecked: <why> --> on the line before it (see outputs_test.go)", where, line)
				}
			}
		}
	}
	return out
}

// indentedFence is fence for a block that may sit in a list item, its
// fences indented by indent spaces.
func indentedFence(text []string, i, indent int) (start, end int, err error) {
	for j := i + 1; j < len(text); j++ {
		if strings.HasPrefix(strings.TrimLeft(text[j], " "), "```") && len(text[j])-len(strings.TrimLeft(text[j], " ")) <= indent {
			return i + 1, j, nil
		}
	}
	return 0, 0, fmt.Errorf("code block never closed")
}

// previousMarker is the nearest non-blank line above line i, if it is an
// HTML comment.
func previousMarker(text []string, i int) string {
	for j := i - 1; j >= 0; j-- {
		if s := strings.TrimSpace(text[j]); s != "" {
			if strings.HasPrefix(s, "<!--") {
				return s
			}
			return ""
		}
	}
	return ""
}

func looksLikeOutput(body []string) (string, bool) {
	for _, l := range body {
		if looksLike.MatchString(l) {
			return l, true
		}
	}
	return "", false
}

func TestOutputsAreTiedToTheirProducers(t *testing.T) {
	blocks := outputBlocks(t)
	roots := map[string]*sources{"": loadSources(t)}
	counts := map[string]int{}
	var payments []paymentCheck
	for _, b := range blocks {
		counts[b.kind]++
		if b.kind != outputLines {
			continue
		}
		src, ok := roots[b.root]
		if !ok {
			if src = loadSourcesIn(t, b.root); src == nil {
				t.Errorf("%s: output: lines: %s is not a folder of the repository", b.where, b.root)
				continue
			}
			roots[b.root] = src
		}
		for k, line := range b.lines {
			where := fmt.Sprintf("%s+%d", b.where, k+1)
			p, err := src.check(line)
			if err != nil {
				t.Errorf("%s: %q: %v", where, line, err)
			}
			if p != nil {
				p.where = where
				payments = append(payments, *p)
			}
		}
	}
	checkPaymentLines(t, payments)
	t.Logf("%d output blocks checked against the code, %d checked by running their commands (LESSONS_RUN=1), %d declared unchecked",
		counts[outputLines], counts["expect"], counts[outputUnchecked])
}

// sources holds what the code can print: its string literals as patterns,
// and the names of its tests and packages.
type sources struct {
	literals []literal
	fixed    []string        // literals kept by add, for finish
	words    map[string]bool // every literal as written: slog's attribute keys
	tests    map[string]bool
	jsonKeys map[string]bool // the contract's fields as ts-proto's toJSON names them
	packages map[string]bool // under go-service, e.g. internal/kafka
	module   string          // a snapshot's module path, whose packages its go test lines name
}

var (
	goVerb       = regexp.MustCompile(`%[-+# 0-9.*\[\]]*[a-zA-Z%]`)
	shellVar     = regexp.MustCompile(`\$(\{[^}]*\}|\([^)]*\)|[A-Za-z_*@0-9]+)`)
	shString     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	testFunc     = regexp.MustCompile(`(?m)^func (Test\w+|Fuzz\w+)\(`)
	nodeTest     = regexp.MustCompile(`(?:test|describe|it)\(\s*"([^"]+)"`)
	wildcard     = "\x00"
	letter       = regexp.MustCompile(`[A-Za-z]`)
	coursePrefix = regexp.MustCompile(`^(\[[A-Z]+\] |(server|producer|receiver|replay|client|demo|bench):( |$))`)
	placeholder  = regexp.MustCompile(`\.{3,}|…`)
	logTime      = regexp.MustCompile(`^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)?|\.\.\.|…) (\[[A-Z]+\] )`)
)

func newSources(t *testing.T) *sources {
	t.Helper()
	s := &sources{tests: map[string]bool{}, packages: map[string]bool{}, jsonKeys: map[string]bool{}, words: map[string]bool{}}
	gen, err := os.ReadFile(filepath.Join(repo, "node-service", "src", "gen", "payment.ts"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range jsonField.FindAllSubmatch(gen, -1) {
		s.jsonKeys[string(m[1])] = true
	}
	return s
}

// add keeps lit, a string the code prints, for finish to turn into a pattern.
func (s *sources) add(lit string) {
	s.words[lit] = true
	lit = strings.TrimRight(lit, "\n")
	if len(letter.FindAllString(coursePrefix.ReplaceAllString(lit, ""), -1)) < 6 {
		return // too little fixed text to say anything ("%s: %v", "[CLIENT] ${line}")
	}
	s.fixed = append(s.fixed, lit)
}

// walkSources calls fn for each file under dir (relative to the repository),
// leaving out dependencies and generated code; with skipTestdata, fixtures too.
func walkSources(t *testing.T, dir string, skipTestdata bool, fn func(path string, src []byte)) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(repo, dir), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "gen" || d.Name() == "pb" || d.Name() == "bin" || (skipTestdata && d.Name() == "testdata")) {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(path, src)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// loadSources reads what the service can print: go-service and node-service.
func loadSources(t *testing.T) *sources {
	t.Helper()
	s := newSources(t)
	add, walk := s.add, func(dir string, fn func(path string, src []byte)) { walkSources(t, dir, true, fn) }
	walk("go-service", func(path string, src []byte) {
		switch {
		case strings.HasSuffix(path, ".go"):
			for _, m := range testFunc.FindAllSubmatch(src, -1) {
				s.tests[string(m[1])] = true
			}
			s.packages[filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, filepath.Join(repo, "go-service")+string(filepath.Separator))))] = true
			if filepath.Base(filepath.Dir(path)) == "lessons" {
				break // this checker: its tests spell lines the code must not be credited with
			}
			for _, lit := range goLiterals(src) {
				add(goVerb.ReplaceAllString(lit, wildcard))
			}
		case strings.HasSuffix(path, ".sh"):
			for _, lit := range shString.FindAll(src, -1) {
				add(shellVar.ReplaceAllString(strings.Trim(string(lit), `"`), wildcard))
			}
		}
	})
	for _, dir := range []string{"node-service/src", "node-service/test"} {
		walk(dir, func(path string, src []byte) {
			if !strings.HasSuffix(path, ".ts") {
				return
			}
			for _, m := range nodeTest.FindAllSubmatch(src, -1) {
				s.tests[string(m[1])] = true
			}
			for _, lit := range tsLiterals(string(src)) {
				add(lit)
			}
		})
	}
	s.finish()
	return s
}

// loadSourcesIn reads what the code under dir can print: a build-track
// snapshot's Go, TypeScript and shell, or the checkpoints' messages (their
// tests under testdata included). nil when dir is no folder.
func loadSourcesIn(t *testing.T, dir string) *sources {
	t.Helper()
	if st, err := os.Stat(filepath.Join(repo, dir)); err != nil || !st.IsDir() || strings.Contains(dir, "..") {
		return nil
	}
	s := newSources(t)
	goRoot := filepath.Join(repo, dir, "go-service") + string(filepath.Separator)
	if mod, err := os.ReadFile(goRoot + "go.mod"); err == nil {
		if m := moduleLine.FindSubmatch(mod); m != nil {
			s.module = string(m[1])
		}
		// Generated packages print no literals, but go test names them too.
		if files, _ := filepath.Glob(goRoot + "pb/*.go"); len(files) > 0 {
			s.packages["pb"] = true
		}
	}
	walkSources(t, dir, false, func(path string, src []byte) {
		switch {
		case strings.HasSuffix(path, ".go"):
			for _, m := range testFunc.FindAllSubmatch(src, -1) {
				s.tests[string(m[1])] = true
			}
			if rel, ok := strings.CutPrefix(path, goRoot); ok {
				s.packages[filepath.ToSlash(filepath.Dir(rel))] = true
			}
			for _, lit := range goLiterals(src) {
				s.add(goVerb.ReplaceAllString(lit, wildcard))
			}
		case strings.HasSuffix(path, ".ts"):
			for _, m := range nodeTest.FindAllSubmatch(src, -1) {
				s.tests[string(m[1])] = true
			}
			for _, lit := range tsLiterals(string(src)) {
				s.add(lit)
			}
		case strings.HasSuffix(path, ".sh") || filepath.Base(path) == "Makefile":
			for _, lit := range shString.FindAll(src, -1) {
				s.add(shellVar.ReplaceAllString(strings.Trim(string(lit), `"`), wildcard))
			}
		}
	})
	s.finish()
	return s
}

// finish turns the kept literals into patterns.
func (s *sources) finish() {
	for _, lit := range s.fixed {
		forms := []string{lit}
		// The code appends to a literal that ends in " ", ":" or "(" ("Done: " + ...),
		// and puts one that starts with " " after something (an error's hint).
		if last := lit[len(lit)-1]; last == ' ' || last == ':' || last == '(' {
			forms = append(forms, lit+wildcard)
		}
		if lit[0] == ' ' {
			forms = append(forms, wildcard+lit)
		}
		for _, f := range forms {
			if l, ok := newLiteral(f); ok {
				s.literals = append(s.literals, l)
			}
		}
	}
}

// literal is a string the code prints, with wildcards where it puts values.
type literal struct {
	re   *regexp.Regexp
	glob []rune // wildcardRune where the source leaves the text open
}

const wildcardRune = 0

func newLiteral(lit string) (literal, bool) {
	parts := strings.Split(strings.TrimSpace(lit), wildcard)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	re, err := regexp.Compile("^" + strings.Join(parts, ".*") + "$")
	if err != nil { // not text (bytes of a binary format)
		return literal{}, false
	}
	return literal{re: re, glob: []rune(strings.TrimSpace(lit))}, true
}

// globsMeet reports whether the lesson's line shown, where "..." became
// wildcardRune, can read as the literal lit: a wildcard of lit (a value the
// code fills in) stands for any text of the line, but the line's "..." may
// only stand for a value, never for the code's own words.
func globsMeet(a, b []rune) bool {
	seen := make(map[[2]int]bool)
	var meet func(i, j int) bool
	meet = func(i, j int) bool {
		if i == len(a) && j == len(b) {
			return true
		}
		if seen[[2]int{i, j}] {
			return false
		}
		seen[[2]int{i, j}] = true
		switch {
		case i < len(a) && a[i] == wildcardRune:
			// the lesson's "..." ends here, or stands for the literal's value
			return meet(i+1, j) || j < len(b) && b[j] == wildcardRune && meet(i, j+1)
		case j < len(b) && b[j] == wildcardRune:
			return meet(i, j+1) || i < len(a) && meet(i+1, j)
		case i < len(a) && j < len(b) && a[i] == b[j]:
			return meet(i+1, j+1)
		}
		return false
	}
	return meet(0, 0)
}

// tsLiterals returns the TypeScript source's string literals; in a template
// literal each ${...} becomes a wildcard, and templates nested in it are
// literals of their own.
func tsLiterals(src string) []string {
	var out []string
	var template func(i int) (string, int)
	// template reads the template literal whose backtick is at src[i-1].
	template = func(i int) (string, int) {
		var b strings.Builder
		for i < len(src) {
			switch c := src[i]; {
			case c == '\\' && i+1 < len(src):
				b.WriteByte(unescape(src[i+1]))
				i += 2
			case c == '`':
				return b.String(), i + 1
			case c == '$' && i+1 < len(src) && src[i+1] == '{':
				b.WriteString(wildcard)
				depth := 1
				for i += 2; i < len(src) && depth > 0; i++ {
					switch src[i] {
					case '{':
						depth++
					case '}':
						depth--
					case '`':
						inner, next := template(i + 1)
						out = append(out, inner)
						i = next - 1
					case '"', '\'':
						lit, next := quoted(src, i)
						out = append(out, lit)
						i = next - 1
					}
				}
			default:
				b.WriteByte(c)
				i++
			}
		}
		return b.String(), i
	}
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'':
			lit, next := quoted(src, i)
			out = append(out, lit)
			i = next
		case c == '`':
			lit, next := template(i + 1)
			out = append(out, lit)
			i = next
		default:
			i++
		}
	}
	return out
}

// quoted reads the '...' or "..." literal starting at src[i].
func quoted(src string, i int) (string, int) {
	q := src[i]
	var b strings.Builder
	for i++; i < len(src) && src[i] != q && src[i] != '\n'; i++ {
		if src[i] == '\\' && i+1 < len(src) {
			i++
			b.WriteByte(unescape(src[i]))
			continue
		}
		b.WriteByte(src[i])
	}
	return b.String(), i + 1
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	}
	return c
}

// goLiterals returns the Go source's string literals, unquoted.
func goLiterals(src []byte) []string {
	var out []string
	fset := token.NewFileSet()
	var sc scanner.Scanner
	sc.Init(fset.AddFile("", fset.Base(), len(src)), src, nil, 0)
	for {
		_, tok, lit := sc.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.STRING {
			if u, err := strconv.Unquote(lit); err == nil {
				out = append(out, u)
			}
		}
	}
}

var (
	prefixed       = regexp.MustCompile(`^\[([A-Z]+)\] (?:(?:WARN|ERROR): )?(.*)$`)
	attr           = regexp.MustCompile(` ([a-z_.]+)=("(?:[^"\\]|\\.)*"|\S*)`)
	firstAttr      = regexp.MustCompile(` [a-z_.]+=`)
	paymentLine    = regexp.MustCompile(`^\[LOG\] Payment: (\S+) \| (.+) ([A-Z]{3}) \| ([A-Z_]+) \| ([A-Z_]+)$`)
	sentLine       = regexp.MustCompile(`^\[PRODUCER\] Sent: (\S+) \| ([a-z]+) \| (\S+)(.*)$`)
	jsonField      = regexp.MustCompile(`obj\.(\w+) =`)
	jsonPunct      = regexp.MustCompile(`^\s*[{}\[\]]+,?$`)
	figure         = regexp.MustCompile(`^\s*[0-9]+$`) // a count from wc or jq: it varies
	prettyJSON     = regexp.MustCompile(`^\s+"(\w+)": `)
	grpcurlCode    = regexp.MustCompile(`^  Code: (\w+)$`)
	grpcurlMessage = regexp.MustCompile(`^  Message: (.+)$`)
	grpcCodes      = map[string]bool{"OK": true, "Canceled": true, "Unknown": true, "InvalidArgument": true, "DeadlineExceeded": true,
		"NotFound": true, "AlreadyExists": true, "PermissionDenied": true, "ResourceExhausted": true, "FailedPrecondition": true,
		"Aborted": true, "OutOfRange": true, "Unimplemented": true, "Internal": true, "Unavailable": true, "DataLoss": true, "Unauthenticated": true}
	slogJSON     = regexp.MustCompile(`^\{"time":.*"msg":"((?:[^"\\]|\\.)*)"`)
	jsonLine     = regexp.MustCompile(`^\{"`)
	jsonMetadata = regexp.MustCompile(`"metadata":\{[^}]*\}`) // a map: its keys are the gateway's
	jsonKey      = regexp.MustCompile(`"(\w+)":`)
	goTestResult = regexp.MustCompile(`^(PASS|FAIL)$`)
	statsRow     = regexp.MustCompile(`^  (\S.*?) {2,}(\S+)$`)
	currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)
	countText    = regexp.MustCompile(`^[0-9]+$`)
	topicName    = regexp.MustCompile(`^[a-z0-9_-]+(\.[a-z0-9_-]+)+$`)
	metricLine   = regexp.MustCompile(`^payagg_([a-z_]+)(?:\{([^}]*)\})? \S+$`)
	metricLabel  = regexp.MustCompile(`([a-z_]+)="`)
	nodeSpec     = regexp.MustCompile(`^\s*(?:▶|✔|✖) (.+?)(?: \([0-9.]+m?s\))?$`)
	nodeSummary  = regexp.MustCompile(`^ℹ [a-z_]+ [0-9.]+$`)
	goTestLine   = regexp.MustCompile(`^\s*(?:=== (?:RUN|PAUSE|CONT|NAME)\s+|--- (?:PASS|FAIL|SKIP): )([^/\s]+)`)
	pkgLine      = regexp.MustCompile("^(?:ok|FAIL|\\?)\\s+github\\.com/paymentgateway/aggregator/go-service/(\\S+)")
	anyPkgLine   = regexp.MustCompile(`^(?:ok|FAIL|\?)\s+(\S+)`)
	moduleLine   = regexp.MustCompile(`(?m)^module\s+(\S+)`)
	amountText   = regexp.MustCompile(`-?[0-9]+(\.[0-9]+)?`)
	gateways     = map[string]bool{"STRIPE": true, "RAZORPAY": true, "PAYPAL": true, "ADYEN": true, "SQUARE": true}
	statuses     = map[string]bool{"PENDING": true, "COMPLETED": true, "FAILED": true, "REFUNDED": true}
)

// paymentCheck is a "[LOG] Payment:" line's amount, to be re-formatted by the
// client's own code.
type paymentCheck struct {
	where, shown, currency string
	minor                  string
}

// check tests one line of an "output: lines" block. A "[LOG] Payment:" line
// comes back to be checked with the other ones in a single node process.
func (s *sources) check(line string) (*paymentCheck, error) {
	line = strings.TrimPrefix(strings.TrimRight(line, " "), "^C") // the terminal echoes Ctrl-C
	line = logTime.ReplaceAllString(line, "$3")                   // the standard log package's prefix
	if strings.TrimSpace(line) == "" || placeholder.ReplaceAllString(strings.TrimSpace(line), "") == "" {
		return nil, nil
	}
	if s.words[line] { // printed as it is written ("  (none)")
		return nil, nil
	}
	if m := paymentLine.FindStringSubmatch(line); m != nil {
		if !gateways[m[4]] || !statuses[m[5]] {
			return nil, fmt.Errorf("gateway %s or status %s is not a name of the contract", m[4], m[5])
		}
		if placeholder.MatchString(m[2]) {
			return nil, nil
		}
		digits := amountText.FindString(m[2])
		if digits == "" {
			return nil, fmt.Errorf("no amount in %q", m[2])
		}
		return &paymentCheck{shown: m[2], currency: m[3], minor: strings.Replace(digits, ".", "", 1)}, nil
	}
	if m := sentLine.FindStringSubmatch(line); m != nil {
		if !gateways[strings.ToUpper(m[2])] {
			return nil, fmt.Errorf("%s is not a gateway", m[2])
		}
		if note := strings.TrimSpace(m[4]); note != "" && !s.matches(note) {
			return nil, fmt.Errorf("the producer adds no note %q", note)
		}
		if placeholder.MatchString(m[3]) {
			return nil, nil
		}
		digits := amountText.FindString(m[3])
		minor, err := strconv.ParseInt(strings.Replace(digits, ".", "", 1), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("no amount in %q", m[3])
		}
		for _, cur := range []string{"USD", "INR", "EUR", "GBP", "JPY", "KWD"} {
			if money.Format(minor, cur) == m[3] {
				return nil, nil
			}
		}
		return nil, fmt.Errorf("internal/money formats %s as none of the course's currencies would print it (%s, ...)", m[3], money.Format(minor, "USD"))
	}
	// grpcurl's report of a status: ERROR:, Code: <name>, Message: <ours>
	if line == "ERROR:" || jsonPunct.MatchString(line) || figure.MatchString(line) {
		return nil, nil
	}
	if m := grpcurlCode.FindStringSubmatch(line); m != nil {
		if !grpcCodes[m[1]] {
			return nil, fmt.Errorf("%s is not a gRPC status code", m[1])
		}
		return nil, nil
	}
	if m := grpcurlMessage.FindStringSubmatch(line); m != nil {
		if !s.matches(m[1]) && !s.endsWithMessage(m[1]) {
			return nil, fmt.Errorf("the server sends no such message: %q", m[1])
		}
		return nil, nil
	}
	if m := prettyJSON.FindStringSubmatch(line); m != nil {
		if !s.jsonKeys[m[1]] {
			return nil, fmt.Errorf("%q is no field of the contract's JSON (node-service/src/gen/payment.ts)", m[1])
		}
		return nil, nil
	}
	if m := slogJSON.FindStringSubmatch(line); m != nil {
		if !s.matches(m[1]) {
			return nil, fmt.Errorf("the code logs no such message: %q", m[1])
		}
		for _, k := range jsonKey.FindAllStringSubmatch(line, -1) {
			if k[1] != "time" && k[1] != "level" && k[1] != "msg" && !s.words[k[1]] {
				return nil, fmt.Errorf("the code logs no attribute %q", k[1])
			}
		}
		return nil, nil
	}
	if jsonLine.MatchString(line) {
		for _, m := range jsonKey.FindAllStringSubmatch(jsonMetadata.ReplaceAllString(line, ""), -1) {
			if !s.jsonKeys[m[1]] {
				return nil, fmt.Errorf("%q is no field of the contract's JSON (node-service/src/gen/payment.ts)", m[1])
			}
		}
		return nil, nil
	}
	if goTestResult.MatchString(line) {
		return nil, nil
	}
	if m := statsRow.FindStringSubmatch(line); m != nil {
		return s.checkStatsRow(m[1], m[2])
	}
	if m := metricLine.FindStringSubmatch(line); m != nil {
		return nil, s.checkMetric(m[1], m[2])
	}
	if m := nodeSpec.FindStringSubmatch(line); m != nil {
		if !s.tests[m[1]] {
			return nil, fmt.Errorf("no test %q in node-service/test", m[1])
		}
		return nil, nil
	}
	if nodeSummary.MatchString(line) {
		return nil, nil
	}
	if m := goTestLine.FindStringSubmatch(line); m != nil {
		if !s.tests[m[1]] {
			return nil, fmt.Errorf("no test %s in go-service", m[1])
		}
		return nil, nil
	}
	if m := pkgLine.FindStringSubmatch(line); m != nil {
		if !s.packages[m[1]] {
			return nil, fmt.Errorf("no package go-service/%s", m[1])
		}
		return nil, nil
	}
	if m := anyPkgLine.FindStringSubmatch(line); m != nil && s.module != "" {
		if pkg, ok := strings.CutPrefix(m[1], s.module+"/"); ok {
			if !s.packages[pkg] {
				return nil, fmt.Errorf("no package go-service/%s in this snapshot", pkg)
			}
			return nil, nil
		}
	}
	if m := prefixed.FindStringSubmatch(line); m != nil {
		msg, attrs := m[2], ""
		if loc := firstAttr.FindStringIndex(msg); loc != nil {
			msg, attrs = msg[:loc[0]], msg[loc[0]:]
		}
		if s.matches(m[2]) || s.matches(line) || s.endsWithMessage(m[2]) {
			return nil, nil
		}
		if !s.matches(msg) {
			return nil, fmt.Errorf("the code prints no such message: %q", msg)
		}
		return nil, s.checkAttrs(attrs)
	}
	if s.endsWithMessage(line) {
		return nil, nil
	}
	return nil, fmt.Errorf("the code prints no such line (nor does it end with one of its messages)")
}

// checkStatsRow checks a row of the client's stats table ("  name  value"):
// a currency's total goes to the client's formatMoney like a [LOG] line's
// amount; any other row is a count under a name the code prints or the
// contract's (a gateway, a status, a dead-letter code, a topic).
func (s *sources) checkStatsRow(name, value string) (*paymentCheck, error) {
	if currencyCode.MatchString(name) && !countText.MatchString(value) {
		if placeholder.MatchString(value) {
			return nil, nil
		}
		digits := amountText.FindString(value)
		if digits == "" {
			return nil, fmt.Errorf("no amount in %q", value)
		}
		return &paymentCheck{shown: value, currency: name, minor: strings.Replace(digits, ".", "", 1)}, nil
	}
	if !countText.MatchString(value) && !placeholder.MatchString(value) {
		return nil, fmt.Errorf("%s: %q is not a count", name, value)
	}
	if gateways[name] || statuses[name] || s.words[name] || topicName.MatchString(name) || name == "(none)" {
		return nil, nil
	}
	return nil, fmt.Errorf("the stats table has no row %q", name)
}

// checkMetric checks a Prometheus sample: the metric (less a histogram's
// _sum, _count or _bucket) and its label names must be the metrics package's.
func (s *sources) checkMetric(name, labels string) error {
	known := func(n string) bool { return s.words[n] || s.words["_"+n] }
	if !known(name) && !known(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_sum"), "_count"), "_bucket")) {
		return fmt.Errorf("the code exports no metric payagg_%s", name)
	}
	for _, l := range metricLabel.FindAllStringSubmatch(labels, -1) {
		if !s.words[l[1]] {
			return fmt.Errorf("payagg_%s has no label %q", name, l[1])
		}
	}
	return nil
}

// checkAttrs checks a log line's " key=value" attributes: each key must be a
// literal of the code, and a quoted value with words in it (an error) must end
// with one of its messages.
func (s *sources) checkAttrs(attrs string) error {
	for _, a := range attr.FindAllStringSubmatch(attrs, -1) {
		if !s.words[a[1]] {
			return fmt.Errorf("the code logs no attribute %q", a[1])
		}
		if v, err := strconv.Unquote(a[2]); err == nil && len(letter.FindAllString(v, -1)) >= 6 && !s.endsWithMessage(v) {
			return fmt.Errorf("%s=%s: the code prints no such message", a[1], a[2])
		}
	}
	return nil
}

// endsWithMessage reports whether line, or what follows one of its ": ",
// is a message of the code: errors are wrapped, "server: <setting>: <why>".
func (s *sources) endsWithMessage(line string) bool {
	for rest := line; ; {
		if s.matches(rest) {
			return true
		}
		_, after, ok := strings.Cut(rest, ": ")
		if !ok {
			return false
		}
		rest = after
	}
}

// matches reports whether some literal of the sources reads as text, where
// "..." in text may stand for anything.
func (s *sources) matches(text string) bool {
	text = strings.TrimSpace(text)
	if text == "" {
		return false
	}
	for _, l := range s.literals { // "..." may be the program's own ("closing streams...")
		if l.re.MatchString(text) {
			return true
		}
	}
	if !placeholder.MatchString(text) {
		return false
	}
	shown := []rune(placeholder.ReplaceAllString(text, wildcard))
	for _, l := range s.literals {
		if globsMeet(shown, l.glob) {
			return true
		}
	}
	return false
}

// checkPaymentLines re-formats every "[LOG] Payment:" amount with the
// client's formatMoney, in one node process.
func checkPaymentLines(t *testing.T, payments []paymentCheck) {
	t.Helper()
	if len(payments) == 0 {
		return
	}
	node, err := filepath.Abs(filepath.Join(repo, "node-service"))
	if err != nil {
		t.Fatal(err)
	}
	tsx := filepath.Join(node, "node_modules", ".bin", "tsx")
	if _, err := os.Stat(tsx); err != nil {
		if os.Getenv("LESSONS_RUN") != "" || os.Getenv("CI") != "" {
			t.Fatalf("%d [LOG] Payment: lines need node-service's tsx to check their amounts: run make deps", len(payments))
		}
		t.Logf("not checking %d [LOG] Payment: amounts: no node-service/node_modules (make deps)", len(payments))
		return
	}
	var script strings.Builder
	script.WriteString(`import { formatMoney } from "./src/format";` + "\n")
	for _, p := range payments {
		fmt.Fprintf(&script, "console.log(formatMoney(%sn, %q));\n", p.minor, p.currency)
	}
	cmd := exec.Command(tsx, "-e", script.String())
	cmd.Dir = node
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("formatMoney via tsx: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(got) != len(payments) {
		t.Fatalf("formatMoney via tsx printed %d lines for %d amounts:\n%s", len(got), len(payments), out)
	}
	for i, p := range payments {
		if got[i] != p.shown {
			t.Errorf("%s: the client prints %q %s, the lesson shows %q %s", p.where, got[i], p.currency, p.shown, p.currency)
		}
	}
}

func TestGlobsMeet(t *testing.T) {
	w := wildcard
	tests := []struct {
		shown, lit string
		want       bool
	}{
		{"Assigned 2 partition(s)", "Assigned " + w + " partition(s)", true},
		{"Assigned " + w + " partition(s)", "Assigned " + w + " partition(s)", true},
		{"resume with --from c1" + w, "resume with --from " + w, true},
		{"Assigned " + w, "Assigned " + w + " partition(s)", false}, // "..." hides the code's words
		{"Sent: pay_" + w, w + " (duplicate)", false},
		{"Assigned 2 partitions", "Assigned " + w + " partition(s)", false},
	}
	for _, tc := range tests {
		if got := globsMeet([]rune(tc.shown), []rune(tc.lit)); got != tc.want {
			t.Errorf("globsMeet(%q, %q) = %v, want %v", tc.shown, tc.lit, got, tc.want)
		}
	}
}

// TestOutputLineChecks: the line checks accept what the code prints and
// refuse drift.
func TestOutputLineChecks(t *testing.T) {
	src := loadSources(t)
	tests := []struct {
		line string
		ok   bool
	}{
		{"[SERVER] gRPC listening on :50051", true},
		{"[SERVER] gRPC listening at :50051", false},
		{"[KAFKA] Assigned 2 partition(s) of payments.raw topic=payments.raw", true},
		{"[KAFKA] Assigned ... partition(s) of ...", true},
		{"[KAFKA] Got 2 partition(s)", false},
		{`[KAFKA] dead-lettered code=too_large gateway=stripe err="its payment is ... bytes, more than the 1047564 the events topic takes"`, true},
		{`[KAFKA] dead-lettered code=too_large gateway=stripe err="the record was far too heavy for the broker"`, false},
		{"[KAFKA] dead-lettered code=too_large weight=9", false},
		{"[KAFKA] Assigned ... partitions to ...", false},
		{"[PRODUCER] Sent: pay_... | razorpay | ₹... (malformed on purpose: malformed_json)", true},
		{"[PRODUCER] Sent: pay_... | razorpay | ₹... (resent)", false},
		{"[PRODUCER] Sent: pay_... | venmo | $...", false},
		{"[PRODUCER] Sent: pi_1 | stripe | $5.00", true},
		{"[PRODUCER] Sent: pi_1 | stripe | $5.0", false},
		{"[CLIENT] Received 5 payment(s); resume with --from c1.MD0yLDE9MiwyPTE", true},
		{"[CLIENT] Received 5 payments", false},
		{"server: GRPC_PORT=\"99999\": want a whole number from 0 to 65535", true},
		{"producer: cannot frobnicate the topic", false},
		{"--- PASS: TestUnmatched (0.00s)", true},
		{"--- PASS: TestNoSuchThing (0.00s)", false},
		{"ok  \tgithub.com/paymentgateway/aggregator/go-service/tools/lessons\t0.2s", true},
		{"ok  \tgithub.com/paymentgateway/aggregator/go-service/internal/nothing\t0.2s", false},
		{`{"id":"x","gateway":"GATEWAY_STRIPE","metadata":{"order_id":"1"}}`, true},
		{`{"id":"x","gateway_name":"STRIPE"}`, false},
		{"...", true},
		{`payagg_dlq_records_total{code="malformed_json"} 5`, true},
		{`payagg_normalize_duration_seconds_sum{gateway="adyen"} 0.0048`, true},
		{`payagg_dlq_total{code="malformed_json"} 5`, false},
		{`payagg_dlq_records_total{colour="malformed_json"} 5`, false},
		{"  total (distinct payments)               2003", true},
		{"  payments in total                       2003", false},
		{"  COMPLETED                               25", true},
		{"  malformed_json                          25", true},
		{"  payments.raw.stripe                      0", true},
		{"    ✔ filters return only, and all, matching payments (1016.410843ms)", true},
		{"    ✔ filters return some payments (1016.410843ms)", false},
		{"  Code: NotFound", true},
		{"  Code: Missing", false},
		{`{"time":"2026-11-25T17:06:48Z","level":"INFO","msg":"gRPC listening on :50051","component":"SERVER"}`, true},
		{`{"time":"2026-11-25T17:06:48Z","level":"INFO","msg":"gRPC listening on :50051","colour":"SERVER"}`, false},
		{`    "amountMinor": "180028",`, true},
		{`    "amount_minor": "180028",`, false},
		{"[LOG] Payment: pi_1 | $5.00 USD | STRIPE | COMPLETED", true},
		{"[LOG] Payment: pi_1 | $5.00 USD | STRIPE | SETTLED", false},
	}
	for _, tc := range tests {
		_, err := src.check(tc.line)
		if (err == nil) != tc.ok {
			t.Errorf("check(%q) = %v, want ok=%v", tc.line, err, tc.ok)
		}
	}
	// The amount of a [LOG] Payment: line goes to the client's formatMoney.
	p, err := src.check("[LOG] Payment: pi_1 | KWD 12.340 KWD | STRIPE | COMPLETED")
	if err != nil || p == nil || p.minor != "12340" || p.currency != "KWD" || p.shown != "KWD 12.340" {
		t.Errorf("KWD line: %+v, %v", p, err)
	}
}

func TestLooksLikeOutput(t *testing.T) {
	tests := []struct {
		body []string
		want bool
	}{
		{[]string{"[SERVER] gRPC listening on :50051"}, true},
		{[]string{"$ make server"}, true},
		{[]string{"ok  \tgithub.com/x/y\t0.1s"}, true},
		{[]string{"--- FAIL: TestX (0.00s)"}, true},
		{[]string{"server: GRPC_PORT=1: in use"}, true},
		{[]string{"proto/", "  payment.proto"}, false},
		{[]string{"func main() {}"}, false},
	}
	for _, tc := range tests {
		if _, got := looksLikeOutput(tc.body); got != tc.want {
			t.Errorf("looksLikeOutput(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}
