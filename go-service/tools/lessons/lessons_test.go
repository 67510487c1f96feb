// Package lessons keeps the course in lessons/ true to the code: every code
// block that shows repository code names its source, and must match it byte
// for byte; every example output names what prints it, and is checked
// against it; every relative link must resolve.
//
//	go test ./tools/lessons            check
//	go test ./tools/lessons -update    rewrite the excerpts from the sources
//
// A source is named on the line before the block (a selector has no spaces:
// write \s in a regexp):
//
//	<!-- from: go-service/internal/kafka/offsets.go#OffsetTracker.Done -->  a Go declaration with its doc comment
//	<!-- from: node-service/src/money.ts#formatMoney -->                     a TS function/class/const/interface/type,
//	<!-- from: proto/payment.proto#Money -->                                  or proto message/enum/service, with its comments
//	<!-- from: go-service/go.mod#/^tool\s\(/ -->                             from the first line matching the regexp to the next blank line
//	<!-- from: proto/payment.proto#L10-L20 -->                                lines 10 to 20 of any file (breaks when lines move: prefer names)
//
// An example output (a block with [SERVER]/[LOG]/... lines, "$ " transcripts,
// go test results, or a binary's "server: ..." error) carries one of these on
// the line before it, or the test fails:
//
//	<!-- expect -->                       after a <!-- run --> block: its real output, run with LESSONS_RUN=1 (run_test.go)
//	<!-- output: lines -->                each line checked against the code, without running it (outputs_test.go)
//	<!-- output: unchecked: <why> -->     another program's output (grpcurl, the go tool, grpc-js); counted, not checked
//
// In both kinds "..." stands for what varies (ids, offsets, times, cursors:
// "c1...." keeps the prefix); in "output: lines" it may stand only for a value
// the code fills in, never for the code's own words.
package lessons

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite lesson excerpts from their sources")

const repo = "../../.."

var (
	marker = regexp.MustCompile(`^<!-- from: ([^#\s]+)#(\S+) -->$`)
	lines  = regexp.MustCompile(`^L(\d+)-L(\d+)$`)
	link   = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
)

func lessonFiles(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(repo, "lessons", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no lessons found: %v", err)
	}
	return files
}

func TestExcerptsMatchTheirSources(t *testing.T) {
	total := 0
	for _, file := range lessonFiles(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Split(string(doc), "\n")
		changed := false
		for i := 0; i < len(text); i++ {
			m := marker.FindStringSubmatch(strings.TrimSpace(text[i]))
			if m == nil {
				continue
			}
			total++
			where := fmt.Sprintf("%s:%d", filepath.Base(file), i+1)
			start, end, err := fence(text, i+1)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			want, err := excerpt(m[1], m[2])
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			got := strings.Join(text[start:end], "\n")
			if got == want {
				continue
			}
			if *update {
				text = append(text[:start], append(strings.Split(want, "\n"), text[end:]...)...)
				changed = true
				continue
			}
			t.Errorf("%s: excerpt of %s#%s is stale (run `go test ./tools/lessons -update` in go-service)\n--- lesson:\n%s\n--- source:\n%s", where, m[1], m[2], got, want)
		}
		if changed {
			if err := os.WriteFile(file, []byte(strings.Join(text, "\n")), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d excerpts checked", total)
}

// fence returns the line range of the code inside the fenced block that
// starts at line i.
func fence(text []string, i int) (start, end int, err error) {
	if i >= len(text) || !strings.HasPrefix(text[i], "```") {
		return 0, 0, fmt.Errorf("a from: marker must be followed by a fenced code block")
	}
	for j := i + 1; j < len(text); j++ {
		if strings.HasPrefix(text[j], "```") {
			return i + 1, j, nil
		}
	}
	return 0, 0, fmt.Errorf("code block never closed")
}

func excerpt(path, selector string) (string, error) {
	src, err := os.ReadFile(filepath.Join(repo, path))
	if err != nil {
		return "", fmt.Errorf("source %s: %w", path, err)
	}
	all := strings.Split(string(src), "\n")
	if m := lines.FindStringSubmatch(selector); m != nil {
		from, _ := strconv.Atoi(m[1])
		to, _ := strconv.Atoi(m[2])
		if from < 1 || to < from || to > len(all) {
			return "", fmt.Errorf("%s has %d lines; L%d-L%d is out of range", path, len(all), from, to)
		}
		return strings.Join(all[from-1:to], "\n"), nil
	}
	if strings.HasPrefix(selector, "/") && strings.HasSuffix(selector, "/") && len(selector) > 2 {
		return paragraph(path, all, selector[1:len(selector)-1])
	}
	if !strings.HasSuffix(path, ".go") {
		return namedBlock(path, all, selector)
	}
	from, to, err := goDecl(path, src, selector)
	if err != nil {
		return "", err
	}
	return strings.Join(all[from-1:to], "\n"), nil
}

// paragraph returns the lines from the first one matching pattern up to the
// next blank line.
func paragraph(path string, all []string, pattern string) (string, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", fmt.Errorf("selector /%s/: %w", pattern, err)
	}
	for i, line := range all {
		if !re.MatchString(line) {
			continue
		}
		j := i
		for j < len(all) && strings.TrimSpace(all[j]) != "" {
			j++
		}
		return strings.Join(all[i:j], "\n"), nil
	}
	return "", fmt.Errorf("%s: no line matches /%s/", path, pattern)
}

// namedBlock finds a TypeScript or proto declaration by name, with the
// comment lines right above it, through its closing brace at column 0.
func namedBlock(path string, all []string, name string) (string, error) {
	decl := regexp.MustCompile(`^(export\s+)?(default\s+)?(async\s+)?(function\*?|class|interface|type|const|let|enum|message|service)\s+` + regexp.QuoteMeta(name) + `\b`)
	for i, line := range all {
		if !decl.MatchString(line) {
			continue
		}
		start := i
		for start > 0 && isComment(all[start-1]) {
			start--
		}
		end := i
		if strings.Contains(line, "{") || !strings.HasSuffix(strings.TrimSpace(line), ";") {
			for end < len(all) && !strings.HasPrefix(all[end], "}") {
				end++
			}
		}
		if end == len(all) {
			return "", fmt.Errorf("%s: %s never closes", path, name)
		}
		return strings.Join(all[start:end+1], "\n"), nil
	}
	return "", fmt.Errorf("%s: no declaration named %s", path, name)
}

func isComment(line string) bool {
	t := strings.TrimSpace(line)
	return strings.HasPrefix(t, "//") || strings.HasPrefix(t, "/*") || strings.HasPrefix(t, "*")
}

// goDecl finds a top-level declaration (Name, or Type.Method) and returns its
// lines, doc comment included.
func goDecl(path string, src []byte, name string) (from, to int, err error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		return 0, 0, err
	}
	recv, fn, isMethod := strings.Cut(name, ".")
	span := func(doc *ast.CommentGroup, node ast.Node) (int, int) {
		start := node.Pos()
		if doc != nil {
			start = doc.Pos()
		}
		return fset.Position(start).Line, fset.Position(node.End()).Line
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if isMethod && d.Recv != nil && receiverName(d.Recv) == recv && d.Name.Name == fn ||
				!isMethod && d.Recv == nil && d.Name.Name == name {
				from, to = span(d.Doc, d)
				return from, to, nil
			}
		case *ast.GenDecl:
			if isMethod {
				continue
			}
			for _, s := range d.Specs {
				if specHas(s, name) {
					from, to = span(d.Doc, d)
					return from, to, nil
				}
			}
		}
	}
	return 0, 0, fmt.Errorf("%s: no top-level declaration %s", path, name)
}

func receiverName(fl *ast.FieldList) string {
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

func specHas(s ast.Spec, name string) bool {
	switch s := s.(type) {
	case *ast.TypeSpec:
		return s.Name.Name == name
	case *ast.ValueSpec:
		for _, n := range s.Names {
			if n.Name == name {
				return true
			}
		}
	}
	return false
}

func TestLinksResolve(t *testing.T) {
	files := append(lessonFiles(t), filepath.Join(repo, "README.md"))
	for _, file := range files {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(doc), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(file), target)); err != nil {
				t.Errorf("%s: link %s does not resolve", filepath.Base(file), target)
			}
		}
	}
}
