package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func check07Kafka(t *testing.T) string {
	t.Helper()
	bootstrap := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if bootstrap == "" {
		bootstrap = "127.0.0.1:9092"
	}
	c, err := net.DialTimeout("tcp", strings.Split(bootstrap, ",")[0], 2*time.Second)
	if err != nil {
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatalf("no Kafka at %s: start it (make kafka-up) and check again", bootstrap)
		}
		t.Skipf("no Kafka at %s: this checkpoint needs it (make kafka-up)", bootstrap)
	}
	c.Close()
	return bootstrap
}

func check07NodeBin(t *testing.T, nodeDir, name string) string {
	t.Helper()
	for dir := nodeDir; ; dir = filepath.Dir(dir) {
		bin := filepath.Join(dir, "node_modules", ".bin", name)
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no node_modules/.bin/%s in node-service or above: run `npm install` in node-service", name)
		}
	}
}

// check07Lines sends r's lines to a channel.
func check07Lines(r io.Reader) <-chan string {
	out := make(chan string, 1024)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			out <- sc.Text()
		}
	}()
	return out
}

// TestCheck07ThreeTerminals is lesson 07 end to end: the learner's server,
// producer and client, each a real process, on real Kafka.
func TestCheck07ThreeTerminals(t *testing.T) {
	bootstrap := check07Kafka(t)
	lessonDir := os.Getenv("LESSON_DIR")
	if lessonDir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=07`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := t.TempDir()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", "./cmd/server", "./cmd/producer")
	build.Dir = filepath.Join(lessonDir, "go-service")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/server ./cmd/producer: %v\n%s", err, out)
	}

	topic := fmt.Sprintf("lessoncheck07-%d", time.Now().UnixNano())
	t.Cleanup(func() {
		if admin, err := ckafka.NewAdminClient(&ckafka.ConfigMap{"bootstrap.servers": bootstrap}); err == nil {
			admin.DeleteTopics(context.Background(), []string{topic})
			admin.Close()
		}
	})

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
	serverErr, _ := server.StderrPipe()
	server.Stdout = server.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer server.Process.Kill()
	serverLines := check07Lines(serverErr)
	listening := regexp.MustCompile(`\[SERVER\] listening on (127\.0\.0\.1:\d+)`)
	var addr string
	var said []string
	for addr == "" {
		line, ok := <-serverLines
		if !ok {
			t.Fatalf("the server exited before it listened (it must accept -kafka, -topic, -group and -addr, and log `[SERVER] listening on ADDRESS`); it said:\n%s", strings.Join(said, "\n"))
		}
		said = append(said, line)
		if m := listening.FindStringSubmatch(line); m != nil {
			addr = m[1]
		}
	}
	go func() {
		for range serverLines {
		}
	}()

	// Terminal 3, before the producer, as in the lesson.
	nodeDir := filepath.Join(lessonDir, "node-service")
	client := exec.CommandContext(ctx, check07NodeBin(t, nodeDir, "tsx"), "src/index.ts", addr)
	client.Dir = nodeDir
	clientOut, _ := client.StdoutPipe()
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.Process.Kill()
	clientLines := check07Lines(clientOut)

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
	if err := server.Wait(); err != nil {
		t.Errorf("after Ctrl-C the server exited with %v; want exit code 0 (stop the consumer, then the gRPC server)", err)
	}
}
