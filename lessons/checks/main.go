// Command lessoncheck runs one lesson's checkpoint against a folder that holds
// a learner's project (proto/, go-service/, node-service/), and says in plain
// words what is missing or wrong.
//
//	go run . -lesson 04 -dir ../code/04
//	go run . -lesson 04 -dir ../code/03 -expect-fail
//
// A checkpoint has two parts. First, probes (lessons.go) look for the files and
// declarations the lesson adds, so that a missing piece is named instead of
// showing up as a compile error. Then the lesson's tests (testdata/NN/…) are
// laid over the learner's packages with `go test -overlay`: the learner's
// folder is never written to, and the tests use the learner's own module path.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// placeholderModule is the module path the check tests import; it is replaced
// by the module path in the learner's go-service/go.mod.
const placeholderModule = "learner.example/go-service"

func main() {
	lesson := flag.String("lesson", "", "lesson number, e.g. 04 (or 03x for an exercise's solution)")
	dir := flag.String("dir", "", "the project folder to check (holds go-service/); default ../code/<lesson>")
	expectFail := flag.Bool("expect-fail", false, "succeed only if the check fails (proves it tests what the lesson adds)")
	verbose := flag.Bool("v", false, "show the go test output even when the check passes")
	noProbes := flag.Bool("no-probes", false, "skip the probes and run the tests alone (with -expect-fail: proves the tests, not only the probes, catch the missing lesson)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: lessoncheck -lesson NN [-dir PATH] [-expect-fail] [-v]\n\nLessons: %s\n\n", strings.Join(lessonIDs(), " "))
		flag.PrintDefaults()
	}
	flag.Parse()
	if *lesson == "" {
		fmt.Fprintln(os.Stderr, "lessoncheck: -lesson is required (one of "+strings.Join(lessonIDs(), " ")+")")
		os.Exit(2)
	}
	l, ok := lessons[*lesson]
	if !ok {
		fmt.Fprintf(os.Stderr, "lessoncheck: no checkpoint for lesson %q (have %s)\n", *lesson, strings.Join(lessonIDs(), " "))
		os.Exit(2)
	}
	if *dir == "" {
		*dir = filepath.Join("..", "code", referenceFolder(*lesson))
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lessoncheck:", err)
		os.Exit(2)
	}

	start := time.Now()
	if *noProbes {
		l.Probes = nil
	}
	problems, output := run(*lesson, l, abs)
	took := time.Since(start).Round(100 * time.Millisecond)
	name := "lesson " + *lesson

	switch {
	case *expectFail && len(problems) > 0:
		how := ""
		if *noProbes {
			how = ", tests alone"
		}
		fmt.Printf("%s on %s: fails as it should%s (%s) [%s]\n", name, rel(abs), how, firstLine(problems[0]), took)
	case *expectFail:
		fmt.Printf("%s on %s: PASSED, but this folder should not pass it: the check does not test what the lesson adds\n", name, rel(abs))
		os.Exit(1)
	case len(problems) > 0:
		if output != "" {
			fmt.Println(indent(output))
		}
		fmt.Printf("%s: NOT YET — %d thing(s) to fix in %s:\n", name, len(problems), rel(abs))
		for _, p := range problems {
			fmt.Println("  -", p)
		}
		os.Exit(1)
	default:
		if *verbose && output != "" {
			fmt.Println(indent(output))
		}
		fmt.Printf("%s: PASS — %s [%s]\n", name, l.Title, took)
	}
}

// run returns what is wrong (nothing means the checkpoint passes) and the
// go test output, if the tests ran.
func run(id string, l lesson, dir string) ([]string, string) {
	goDir := filepath.Join(dir, "go-service")
	if _, err := os.Stat(filepath.Join(goDir, "go.mod")); err != nil {
		return []string{fmt.Sprintf("no go-service/go.mod in %s: create it with `mkdir go-service && cd go-service && go mod init <your module path>` (lesson 02)", rel(dir))}, ""
	}
	var problems []string
	missing := map[string]bool{}
	for _, p := range l.Probes {
		if missing[p.File] {
			continue // said once is enough
		}
		if msg := p.check(dir); msg != "" {
			problems = append(problems, msg)
			if files, _ := filepath.Glob(filepath.Join(dir, p.File)); len(files) == 0 {
				missing[p.File] = true
			}
		}
	}
	if len(problems) > 0 {
		return problems, ""
	}
	module, err := modulePath(goDir)
	if err != nil {
		return []string{err.Error()}, ""
	}
	overlay, pkgs, cleanup, err := buildOverlay(id, dir, module)
	defer cleanup()
	if err != nil {
		return []string{err.Error()}, ""
	}
	args := []string{"test", "-count=1", "-timeout", "3m", "-overlay", overlay}
	args = append(args, "-run", "^TestCheck"+strings.TrimRight(id, "x")) // only the checkpoint's tests, not the learner's own
	args = append(args, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = goDir
	cmd.Env = append(os.Environ(), "LESSON_DIR="+dir)
	out, err := cmd.CombinedOutput()
	text := strings.TrimSpace(string(out))
	if err == nil {
		return nil, text
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return []string{"could not run go test: " + err.Error()}, text
	}
	return explain(id, l, text), text
}

// explain turns go test's output into plain words: the hints of the lesson
// whose pattern appears in a build error, then the checkpoint tests that failed.
func explain(id string, l lesson, out string) []string {
	var problems []string
	buildFailed := strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]")
	if buildFailed {
		for _, h := range l.Hints {
			if h.Pattern.MatchString(out) {
				problems = append(problems, h.Say)
			}
		}
		problems = append(problems, buildErrors(out)...)
		if len(problems) == 0 {
			problems = append(problems, "your code does not compile together with the checkpoint's tests; the first errors are above (look for the names the lesson asks for)")
		}
		return problems
	}
	if strings.Contains(out, "panic: test timed out") {
		which := "the checkpoint's tests"
		if m := regexp.MustCompile(`running tests:\s+(TestCheck\w+)`).FindStringSubmatch(out); m != nil {
			which = strings.TrimPrefix(m[1], "TestCheck")
		}
		problems = append(problems, which+" timed out: something waits forever (a channel nobody closes, a loop that ignores ctx.Done(), a Flush or Close without a bound?); the goroutines above that name your files show where")
	}
	if m := regexp.MustCompile(`(?m)^panic: (.*)`).FindStringSubmatch(out); m != nil && !strings.Contains(m[1], "test timed out") {
		problems = append(problems, "your code panicked ("+strings.TrimSuffix(m[1], " [recovered, repanicked]")+"); the first lines of the stack trace above that name your files show where")
	}
	// Without -v, go test prints each failed test's messages right under
	// its "--- FAIL" line; the checkpoint's messages are written to be read.
	lines := strings.Split(out, "\n")
	failLine := regexp.MustCompile(`^\s*--- FAIL: (TestCheck\w+)`)
	msgLine := regexp.MustCompile(`^\s+check\w*_test\.go:\d+: (.*)`)
	for i, line := range lines {
		m := failLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		said := ""
		for j, next := range lines[i+1:] {
			if mm := msgLine.FindStringSubmatch(next); mm != nil {
				said = mm[1]
				// A message of several lines goes on, indented deeper; keep
				// a few of them (program output after "said:" can be long).
				for k, more := range lines[i+2+j:] {
					if k == 4 || !strings.HasPrefix(more, "        ") {
						break
					}
					said += " / " + strings.TrimSpace(more)
				}
				break
			}
			if !strings.HasPrefix(next, "    ") || failLine.MatchString(next) {
				break
			}
		}
		if said == "" {
			said = "see its output above"
		}
		problems = append(problems, fmt.Sprintf("%s: %s", strings.TrimPrefix(m[1], "TestCheck"), said))
	}
	if len(problems) == 0 {
		problems = append(problems, "go test failed; see its output above")
	}
	return problems
}

// buildErrors names, once each, what the compiler could not find.
func buildErrors(out string) []string {
	var problems []string
	seen := map[string]bool{}
	say := func(key, msg string) {
		if !seen[key] {
			seen[key] = true
			problems = append(problems, msg)
		}
	}
	module := ""
	if m := regexp.MustCompile(`(?m)^(?:FAIL\s+|# )(\S+?)/internal/`).FindStringSubmatch(out); m != nil {
		module = m[1]
	}
	for _, m := range regexp.MustCompile(`no required module provides package (\S+?);`).FindAllStringSubmatch(out, -1) {
		if module != "" && strings.HasPrefix(m[1], module+"/") {
			say(m[1], fmt.Sprintf("package %s does not exist yet: the lesson creates it", strings.TrimPrefix(m[1], module+"/")))
		} else {
			say(m[1], fmt.Sprintf("go.mod does not require %s yet: `go get` it in go-service (the lesson says which version)", m[1]))
		}
	}
	for _, m := range regexp.MustCompile(`(\S+): no non-test Go files in (\S+)`).FindAllStringSubmatch(out, -1) {
		say(m[2], fmt.Sprintf("%s has no Go files yet: the lesson creates package %s there", rel(m[2]), m[1][strings.LastIndex(m[1], "/")+1:]))
	}
	generated := func(name string) string {
		if strings.HasPrefix(strings.TrimPrefix(name, "*"), "pb.") {
			return " (package pb is generated: add it to payment.proto and run buf generate)"
		}
		return ""
	}
	quotedPath := regexp.MustCompile(`"[^"]*/(\w+)"`)
	for _, m := range regexp.MustCompile(`undefined: (\w+\.\w+)`).FindAllStringSubmatch(out, -1) {
		say(m[1], fmt.Sprintf("%s does not exist yet: the lesson adds it%s", m[1], generated(m[1])))
	}
	for _, m := range regexp.MustCompile(`\(type (\S+) has no field or method (\w+)\)`).FindAllStringSubmatch(out, -1) {
		typ := quotedPath.ReplaceAllString(m[1], "$1")
		say(typ+m[2], fmt.Sprintf("%s has no %s yet: the lesson adds it%s", typ, m[2], generated(typ)))
	}
	return problems
}

func modulePath(goDir string) (string, error) {
	data, err := os.ReadFile(filepath.Join(goDir, "go.mod"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(data)
	if m == nil {
		return "", errors.New("go-service/go.mod has no module line: run `go mod init <path>` in go-service")
	}
	return string(m[1]), nil
}

// buildOverlay writes the lesson's test files, with the learner's module path,
// to a temporary folder and returns a go test overlay that places each one at
// the same path inside the learner's project, and the packages to test.
func buildOverlay(id, dir, module string) (string, []string, func(), error) {
	tmp, err := os.MkdirTemp("", "lessoncheck-")
	cleanup := func() { os.RemoveAll(tmp) }
	if err != nil {
		return "", nil, cleanup, err
	}
	kit, err := loadKit(kitDir)
	if err == nil {
		err = checkKitNames(kit)
	}
	if err != nil {
		return "", nil, cleanup, err
	}
	src := filepath.Join("testdata", id)
	replace := map[string]string{}
	pkgSet := map[string]bool{}
	tests := map[string][][]byte{} // a package's folder: its checkpoint tests
	pkgName := map[string]string{}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		relPath, _ := filepath.Rel(src, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte(placeholderModule), []byte(module))
		out := filepath.Join(tmp, strings.ReplaceAll(relPath, string(filepath.Separator), "_"))
		if err := os.WriteFile(out, data, 0o644); err != nil {
			return err
		}
		target := filepath.Join(dir, relPath)
		replace[target] = out
		folder := filepath.Dir(target)
		tests[folder] = append(tests[folder], data)
		if pkgName[folder], err = packageName(path, data); err != nil {
			return err
		}
		pkgRel, err := filepath.Rel(filepath.Join(dir, "go-service"), filepath.Dir(target))
		if err != nil || strings.HasPrefix(pkgRel, "..") {
			return fmt.Errorf("check file %s is not under go-service/", relPath)
		}
		pkgSet["./"+filepath.ToSlash(pkgRel)] = true
		return nil
	})
	if err != nil {
		return "", nil, cleanup, fmt.Errorf("reading the checkpoint's tests: %w", err)
	}
	for folder, data := range tests {
		relFolder, _ := filepath.Rel(dir, folder) // under dir: the walk made it so
		for _, k := range kitFor(kit, data, pkgName[folder]) {
			out := filepath.Join(tmp, strings.ReplaceAll(relFolder, string(filepath.Separator), "_")+"_"+k.Name)
			if err := os.WriteFile(out, bytes.ReplaceAll(k.Data, []byte(placeholderModule), []byte(module)), 0o644); err != nil {
				return "", nil, cleanup, err
			}
			replace[filepath.Join(folder, k.Name)] = out
		}
	}
	js, _ := json.Marshal(map[string]any{"Replace": replace})
	overlay := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(overlay, js, 0o644); err != nil {
		return "", nil, cleanup, err
	}
	var pkgs []string
	for p := range pkgSet {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	return overlay, pkgs, cleanup, nil
}

// referenceFolder is the folder in lessons/code that passes a checkpoint:
// NN for lesson NN, NN-solution for the exercise NNx.
func referenceFolder(id string) string {
	if strings.HasSuffix(id, "x") {
		return strings.TrimSuffix(id, "x") + "-solution"
	}
	return id
}

func lessonIDs() []string {
	var ids []string
	for id := range lessons {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// rel shows a path from the repository's root (lessoncheck runs in lessons/checks).
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(filepath.Join(wd, "..", ".."), path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
