package lessons

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
)

// A lesson marks a shell block it promises will work as written:
//
//	<!-- run -->            the block runs from the repository root, with Kafka up
//	<!-- run: server -->    the same, with the server running on :50051 and a few
//	                        payments already sent (the lesson's terminals 1 and 2)
//
// and may follow it with the output the learner should see:
//
//	<!-- expect -->
//	```text
//	[PRODUCER] Sent: ... | stripe | ...
//	```
//
// Every expected line must appear in the output, in order; "..." in an
// expected line matches any text. These run with LESSONS_RUN=1 (make test
// sets it), since they need the real stack.
type runnable struct {
	where  string
	script string
	server bool
	expect []string
}

var runMarker = regexp.MustCompile(`^<!-- run(: server)? -->$`)

func runnables(t *testing.T) []runnable {
	var out []runnable
	for _, file := range lessonFiles(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Split(string(doc), "\n")
		for i := 0; i < len(text); i++ {
			m := runMarker.FindStringSubmatch(strings.TrimSpace(text[i]))
			if m == nil {
				continue
			}
			where := fmt.Sprintf("%s:%d", filepath.Base(file), i+1)
			start, end, err := fence(text, i+1)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			r := runnable{where: where, script: strings.Join(text[start:end], "\n"), server: m[1] != ""}
			j := end + 1
			for j < len(text) && strings.TrimSpace(text[j]) == "" {
				j++
			}
			if j < len(text) && strings.TrimSpace(text[j]) == "<!-- expect -->" {
				s, e, err := fence(text, j+1)
				if err != nil {
					t.Errorf("%s: expect: %v", where, err)
					continue
				}
				r.expect = text[s:e]
			}
			out = append(out, r)
		}
	}
	return out
}

func TestRunnableCommandsWork(t *testing.T) {
	blocks := runnables(t)
	kafkatest.OnlyIn(t, "LESSONS_RUN", "make test-go", fmt.Sprintf("%d runnable blocks run against the real stack", len(blocks)))
	kafkatest.Config(t) // the blocks' server and producer need the broker
	root, err := filepath.Abs(repo)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		t.Run(b.where, func(t *testing.T) {
			if b.server {
				stop := startCourseServer(t, root)
				defer stop()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-eo", "pipefail", "-c", b.script)
			cmd.Dir = root
			// A lesson that runs the test suite must not run these blocks again.
			cmd.Env = withoutEnv(os.Environ(), "LESSONS_RUN")
			// Its own process group, so that a timeout ends npx/node/go run
			// children too, and Wait does not hang on their open pipes.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			cmd.WaitDelay = 5 * time.Second
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s failed: %v\n--- script:\n%s\n--- output:\n%s", b.where, err, b.script, out)
			}
			if missing := unmatched(b.expect, string(out)); missing != "" {
				t.Fatalf("%s: expected line not found (in order): %q\n--- output:\n%s", b.where, missing, out)
			}
		})
	}
}

// dots is "..." (or more dots: "c1...." is a cursor's prefix and the rest)
// once regexp.QuoteMeta has escaped it.
var dots = regexp.MustCompile(`(\\\.){3,}`)

// unmatched returns the first expected line that does not match, in order.
func unmatched(expect []string, output string) string {
	lines := strings.Split(output, "\n")
	i := 0
	for _, want := range expect {
		if strings.TrimSpace(want) == "" {
			continue
		}
		pattern := regexp.MustCompile("^" + dots.ReplaceAllString(regexp.QuoteMeta(strings.TrimRight(want, " ")), ".*") + "$")
		for i < len(lines) && !pattern.MatchString(strings.TrimRight(lines[i], " \r")) {
			i++
		}
		if i == len(lines) {
			return want
		}
		i++
	}
	return ""
}

// startCourseServer runs the server as lesson 07's first terminal does:
// default topics, port 50051.
func startCourseServer(t *testing.T, root string) func() {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	build := exec.Command("go", "build", "-o", bin, "./cmd/server")
	build.Dir = filepath.Join(root, "go-service")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build server: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Dir = filepath.Join(root, "go-service")
	cmd.Env = append(os.Environ(), "ENV_FILE=/nonexistent")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	var once sync.Once
	go func() {
		sc := bufio.NewScanner(stdout)
		serving, assigned, topics := false, 0, 0
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.Contains(line, "Consuming from"):
				topics++
			case strings.Contains(line, "Assigned"):
				assigned++
			case strings.Contains(line, "Serving from"):
				serving = true
			}
			if serving && topics > 0 && assigned >= topics {
				once.Do(func() { close(ready) })
			}
		}
	}()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	select {
	case <-ready:
	case <-time.After(90 * time.Second):
		stop()
		t.Fatal("course server not ready in 90s")
	}
	produce := exec.Command("go", "run", "./cmd/producer", "--count", "5", "--rate", "0", "--quiet")
	produce.Dir = filepath.Join(root, "go-service")
	produce.Env = cmd.Env
	if out, err := produce.CombinedOutput(); err != nil {
		stop()
		t.Fatalf("produce the lesson's payments: %v\n%s", err, out)
	}
	return stop
}

func TestUnmatched(t *testing.T) {
	out := "[PRODUCER] Sent: pi_1 | stripe | $5.00\n[PRODUCER] Sent: pay_2 | razorpay | ₹10.00\n[PRODUCER] Done: 2 sent"
	tests := []struct {
		expect []string
		want   string
	}{
		{[]string{"[PRODUCER] Sent: ... | stripe | ...", "[PRODUCER] Done: ..."}, ""},
		{[]string{"[PRODUCER] Done: ...", "[PRODUCER] Sent: ..."}, "[PRODUCER] Sent: ..."},
		{[]string{"[PRODUCER] Sent: ... | paypal | ..."}, "[PRODUCER] Sent: ... | paypal | ..."},
		{[]string{"[PRODUCER] Done: 2 sent...."}, ""},
	}
	for _, tc := range tests {
		if got := unmatched(tc.expect, out); got != tc.want {
			t.Errorf("unmatched(%q) = %q, want %q", tc.expect, got, tc.want)
		}
	}
}

func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
