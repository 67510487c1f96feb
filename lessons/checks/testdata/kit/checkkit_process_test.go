package checkkit

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// checkkitLessonDir returns the learner's folder, which lessoncheck passes
// in LESSON_DIR.
func checkkitLessonDir(t *testing.T, lesson string) string {
	t.Helper()
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatalf("LESSON_DIR is not set: run this check with `make lesson-check N=%s`", lesson)
	}
	return dir
}

// checkkitBuild builds the learner's commands (./cmd/server, …) into a
// folder of the test's own, and returns that folder.
func checkkitBuild(t *testing.T, ctx context.Context, lessonDir string, pkgs ...string) string {
	t.Helper()
	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", append([]string{"build", "-o", bin + "/"}, pkgs...)...)
	build.Dir = filepath.Join(lessonDir, "go-service")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return bin
}

// checkkitStart starts cmd, which what names in a failure ("the server"),
// and sends what it prints to lines, one line at a time: its stdout, and its
// stderr too unless cmd.Stderr is already set. done receives Wait's result
// once lines is closed; the process is killed when the test ends, if it
// still runs.
func checkkitStart(t *testing.T, what string, cmd *exec.Cmd) (lines <-chan string, done <-chan error) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	if cmd.Stderr == nil {
		cmd.Stderr = w
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", what, err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	out := make(chan string)
	exited := make(chan error, 1)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out <- sc.Text()
		}
		r.Close()
		exited <- cmd.Wait()
	}()
	return out, exited
}

// checkkitAwaitLine reads lines until one matches re, returns its
// submatches, and from then on reads and drops the rest, so that the
// process never blocks on a full pipe. If lines ends first, the test fails
// with exited and everything the process said.
func checkkitAwaitLine(t *testing.T, lines <-chan string, re *regexp.Regexp, exited string) []string {
	t.Helper()
	var said []string
	for line := range lines {
		said = append(said, line)
		if m := re.FindStringSubmatch(line); m != nil {
			go func() {
				for range lines {
				}
			}()
			return m
		}
	}
	t.Fatalf("%s; it said:\n%s", exited, strings.Join(said, "\n"))
	return nil
}
