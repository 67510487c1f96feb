package main_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheck07ThreeTerminals is lesson 07 end to end: the learner's server,
// producer and client, each a real process, on real Kafka.
func TestCheck07ThreeTerminals(t *testing.T) {
	bootstrap := checkkitKafka(t)
	lessonDir := checkkitLessonDir(t, "07")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := checkkitBuild(t, ctx, lessonDir, "./cmd/server", "./cmd/producer")
	topic := checkkitTopic("07")
	checkkitDeleteTopics(t, bootstrap, topic)

	// The programs must take their settings as flags; one that ignores
	// them would use the shared default topic and port.
	for _, program := range []string{"producer", "server"} {
		usage, _ := exec.CommandContext(ctx, filepath.Join(bin, program), "-h").CombinedOutput()
		for _, name := range []string{"-kafka", "-topic"} {
			if !strings.Contains(string(usage), name) {
				t.Fatalf("`%s -h` lists no %s flag: lesson 07 gives server and producer -kafka, -topic (and the server -group, -addr), read from the environment and overridden by flags. It said:\n%s", program, name, usage)
			}
		}
		if program == "producer" {
			continue
		}
		for _, name := range []string{"-group", "-addr"} {
			if !strings.Contains(string(usage), name) {
				t.Fatalf("`server -h` lists no %s flag. It said:\n%s", name, usage)
			}
		}
	}

	// Terminal 1.
	server := exec.CommandContext(ctx, filepath.Join(bin, "server"), "-kafka", bootstrap, "-topic", topic, "-group", topic+"-group", "-addr", "127.0.0.1:0")
	serverLines, serverDone := checkkitStart(t, "the server", server)
	listening := regexp.MustCompile(`\[SERVER\] listening on (127\.0\.0\.1:\d+)`)
	addr := checkkitAwaitLine(t, serverLines, listening, "the server exited before it listened (it must accept -kafka, -topic, -group and -addr, and log `[SERVER] listening on ADDRESS`)")[1]

	// Terminal 3, before the producer, as in the lesson.
	clientLines, _ := checkkitStart(t, "the client (tsx src/index.ts ADDRESS)", checkkitClient(t, ctx, filepath.Join(lessonDir, "node-service"), addr))

	// Terminal 2. The client subscribes at a moment this test cannot see,
	// so single payments go out until one is printed; then a batch of three
	// must arrive whole.
	sent := regexp.MustCompile(`\[PRODUCER\] sent (\S+)`)
	produce := func(count int) []string {
		t.Helper()
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "producer"), "-kafka", bootstrap, "-topic", topic, "-count", fmt.Sprint(count), "-rate", "50").CombinedOutput()
		if err != nil {
			t.Fatalf("the producer failed (%v); it said:\n%s", err, out)
		}
		var ids []string
		for _, m := range sent.FindAllStringSubmatch(string(out), -1) {
			ids = append(ids, m[1])
		}
		if len(ids) != count {
			t.Fatalf("the producer logged %d `[PRODUCER] sent <id>` lines for -count %d; it said:\n%s", len(ids), count, out)
		}
		return ids
	}
	printed := map[string]bool{}
	logLine := regexp.MustCompile(`^\[LOG\] Payment: (\S+) STRIPE \S+ \S+ COMPLETED$`)
	await := func(ids []string, patience time.Duration) bool {
		deadline := time.After(patience)
		for {
			missing := 0
			for _, id := range ids {
				if !printed[id] {
					missing++
				}
			}
			if missing == 0 {
				return true
			}
			select {
			case line, ok := <-clientLines:
				if !ok {
					t.Fatalf("the client exited early")
				}
				if m := logLine.FindStringSubmatch(line); m != nil {
					printed[m[1]] = true
				}
			case <-deadline:
				return false
			case <-ctx.Done():
				t.Fatalf("timed out waiting for the client to print %v", ids)
			}
		}
	}
	for !await(produce(1), 3*time.Second) {
	}
	batch := produce(3)
	if !await(batch, 2*time.Minute) {
		t.Fatalf("the client did not print all of %v", batch)
	}

	// Ctrl-C in terminal 1: the server stops cleanly.
	server.Process.Signal(syscall.SIGINT)
	if err := <-serverDone; err != nil {
		t.Errorf("after Ctrl-C the server exited with %v; want exit code 0 (stop the consumer, then the gRPC server)", err)
	}
}
