package normalizer_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// check09Go runs a go command in the learner's go-service with extra
// environment, and returns its output and whether it succeeded.
func check09Go(t *testing.T, env []string, args ...string) (string, bool) {
	t.Helper()
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=09`")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join(dir, "go-service")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}

func TestCheck09FuzzTargetRunsItsSeedsAndFuzzes(t *testing.T) {
	t.Parallel()
	out, ok := check09Go(t, nil, "test", "-count=1", "-timeout=2m", "-v", "-run", "^FuzzStripe$", "./internal/normalizer")
	if !ok {
		t.Fatalf("FuzzStripe fails on its own seeds:\n%s", out)
	}
	if !regexp.MustCompile(`--- PASS: FuzzStripe/\S+`).MatchString(out) {
		t.Errorf("FuzzStripe ran no seed inputs: give it the fixtures with f.Add, so that `go test` checks them on every run:\n%s", out)
	}
	out, ok = check09Go(t, nil, "test", "-timeout=2m", "-run", "^$", "-fuzz", "^FuzzStripe$", "-fuzztime", "2s", "./internal/normalizer")
	if !ok {
		t.Errorf("fuzzing FuzzStripe for 2s found a failure (the input is saved under testdata/fuzz/FuzzStripe; `go test` replays it):\n%s", out)
	}
}

func TestCheck09KafkaTestsFollowTheRequireKafkaRule(t *testing.T) {
	t.Parallel()
	kafka := os.Getenv("KAFKA_BOOTSTRAP_SERVERS")
	if kafka == "" {
		kafka = "127.0.0.1:9092"
	}
	if c, err := net.Dial("tcp", strings.Split(kafka, ",")[0]); err != nil {
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatalf("no Kafka at %s: start it (make kafka-up) and check again", kafka)
		}
		t.Skipf("no Kafka at %s: this checkpoint needs it (make kafka-up)", kafka)
	} else {
		c.Close()
	}

	out, ok := check09Go(t, []string{"REQUIRE_KAFKA=1"}, "test", "-count=1", "-timeout=2m", "-v", "./internal/kafka")
	if !ok {
		t.Fatalf("your tests in internal/kafka fail against the running Kafka:\n%s", out)
	}
	if !regexp.MustCompile(`--- PASS: Test\w+`).MatchString(out) {
		t.Fatalf("internal/kafka has no passing Test function: write an integration test that produces and consumes on a topic of its own:\n%s", out)
	}
	if strings.Contains(out, "--- SKIP") {
		t.Errorf("with Kafka running and REQUIRE_KAFKA=1, a test in internal/kafka was skipped:\n%s", out)
	}

	// A broker that is not there: skipped by default, a failure under
	// REQUIRE_KAFKA=1, never a pass.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nowhere := lis.Addr().String()
	lis.Close()
	out, ok = check09Go(t, []string{"KAFKA_BOOTSTRAP_SERVERS=" + nowhere, "REQUIRE_KAFKA="}, "test", "-count=1", "-timeout=2m", "-v", "./internal/kafka")
	if !ok {
		t.Errorf("without Kafka (KAFKA_BOOTSTRAP_SERVERS=%s) and without REQUIRE_KAFKA, the tests in internal/kafka should skip, not fail (read KAFKA_BOOTSTRAP_SERVERS, dial it, t.Skip):\n%s", nowhere, out)
	} else if !strings.Contains(out, "--- SKIP") {
		t.Errorf("without Kafka (KAFKA_BOOTSTRAP_SERVERS=%s) the tests in internal/kafka passed instead of skipping: do they really use Kafka, and read KAFKA_BOOTSTRAP_SERVERS?\n%s", nowhere, out)
	}
	out, ok = check09Go(t, []string{"KAFKA_BOOTSTRAP_SERVERS=" + nowhere, "REQUIRE_KAFKA=1"}, "test", "-count=1", "-timeout=2m", "./internal/kafka")
	if ok {
		t.Errorf("without Kafka but with REQUIRE_KAFKA=1 the tests in internal/kafka passed; they must fail, so that CI never goes green without a broker:\n%s", out)
	}
}
