// Package kafkatest is the one kit for tests that need the real Kafka broker
// (`make kafka-up`): whether to run or skip, unique topic and group names
// with clean-up, record counts from watermarks, and reading records with a
// deadline.
//
// One rule decides what happens without a broker: a test is skipped, saying
// how to start one, unless REQUIRE_KAFKA is set (as `make test` does); then it
// fails. No test may skip for another reason that hides an unreachable broker.
package kafkatest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// DefaultBootstrap is the local broker `make kafka-up` starts.
const DefaultBootstrap = "127.0.0.1:9092"

// Bootstrap is KAFKA_BOOTSTRAP_SERVERS, or DefaultBootstrap.
func Bootstrap() string {
	if v := os.Getenv("KAFKA_BOOTSTRAP_SERVERS"); v != "" {
		return v
	}
	return DefaultBootstrap
}

// Required reports whether REQUIRE_KAFKA is set: tests must fail, not skip,
// when the broker cannot be reached.
func Required() bool { return os.Getenv("REQUIRE_KAFKA") != "" }

// Reachable dials the first bootstrap server; a nil error means a broker
// accepts connections there.
func Reachable(bootstrap string) error {
	addr := strings.TrimSpace(strings.Split(bootstrap, ",")[0])
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return fmt.Errorf("no Kafka at %s (`make kafka-up` starts one): %w", addr, err)
	}
	return c.Close()
}

// Settings are the test broker's client settings: three partitions per
// topic, the broker's replication factor.
func Settings() config.Kafka {
	return config.Kafka{BootstrapServers: Bootstrap(), Partitions: 3, ReplicationFactor: -1}
}

// Config returns Settings once the broker answers. Without one it skips t,
// or fails it when REQUIRE_KAFKA is set.
func Config(t testing.TB) config.Kafka {
	t.Helper()
	k := Settings()
	if err := Reachable(k.BootstrapServers); err != nil {
		if Required() {
			t.Fatalf("REQUIRE_KAFKA is set: %v", err)
		}
		t.Skip(err)
	}
	return k
}

// MainConfig is Config for a TestMain, where no test has started yet: without
// a broker it ends the test binary, with status 0 (nothing ran) or, when
// REQUIRE_KAFKA is set, 1.
func MainConfig() config.Kafka {
	k := Settings()
	if err := Reachable(k.BootstrapServers); err != nil {
		if Required() {
			fmt.Println("FAIL: REQUIRE_KAFKA is set:", err)
			os.Exit(1)
		}
		fmt.Println("skipping tests that need Kafka:", err)
		os.Exit(0)
	}
	return k
}

// OnlyIn skips t unless the environment variable env is set: the test
// belongs to another target (target, such as "make test-faults"), for the
// reason given (for example, it restarts the shared broker).
func OnlyIn(t testing.TB, env, target, reason string) {
	t.Helper()
	if os.Getenv(env) == "" {
		t.Skipf("%s: runs in `%s` (set %s=1)", reason, target, env)
	}
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9-]+`)

// Name returns a topic or group name of t's own: prefix, t's name and a
// number that differs between runs, so reruns and parallel packages never
// share a topic. Parts are appended with dots.
func Name(t testing.TB, prefix string, parts ...string) string {
	name := fmt.Sprintf("%s-%s-%d", prefix, strings.ToLower(unsafeChars.ReplaceAllString(t.Name(), "-")), time.Now().UnixNano()%1e9)
	for _, p := range parts {
		name += "." + p
	}
	return name
}

// DeleteTopicsAfter deletes topics when t and its clean-ups registered later
// (servers, consumers) are done. A failed test keeps its topics: their
// records tell what happened.
func DeleteTopicsAfter(t testing.TB, k config.Kafka, topics ...string) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kept the failed test's topics: %s", strings.Join(topics, " "))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := kafka.DeleteTopics(ctx, k, topics); err != nil {
			t.Log(err)
		}
	})
}

// CreateTopics creates topics (three partitions each) and deletes them after
// t, as DeleteTopicsAfter does.
func CreateTopics(t testing.TB, k config.Kafka, topics ...string) {
	t.Helper()
	DeleteTopicsAfter(t, k, topics...)
	if err := kafka.EnsureTopics(context.Background(), k, topics); err != nil {
		t.Fatal(err)
	}
}

// TopicConfig returns the value of the topic-level setting name (such as
// max.message.bytes) that the broker applies to topic.
func TopicConfig(t testing.TB, k config.Kafka, topic, name string) string {
	t.Helper()
	admin, err := kafka.NewAdminClient(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
ask:
	for {
		res, err := admin.DescribeConfigs(ctx, []ckafka.ConfigResource{{Type: ckafka.ResourceTopic, Name: topic}})
		if err != nil {
			t.Fatalf("describe configs of %s: %v", topic, err)
		}
		for _, r := range res {
			// A topic just created may not have reached the broker's metadata
			// yet when the broker is busy: ask again until the deadline.
			if r.Error.Code() == ckafka.ErrUnknownTopicOrPart && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				continue ask
			}
			if r.Error.Code() != ckafka.ErrNoError {
				t.Fatalf("describe configs of %s: %v", topic, r.Error)
			}
			if e, ok := r.Config[name]; ok {
				return e.Value
			}
		}
		break
	}
	t.Fatalf("topic %s has no setting %s", topic, name)
	return ""
}

// The local broker's second listener is the Confluent Cloud path: SASL_SSL
// with PLAIN users, its certificate signed by a CA that `make kafka-up`
// makes (go-service/tools/kafka). Tests find it with
//
//	KAFKA_SASL_BOOTSTRAP  its address (default DefaultSASLBootstrap)
//	KAFKA_SASL_CA_FILE    the CA's PEM (default <repo>/.local/kafka/tls/ca.pem)
//	KAFKA_SASL_USER, KAFKA_SASL_PASSWORD  a PLAIN user of server.properties
//	                      (default payagg / payagg-local-secret, a local test account)
const DefaultSASLBootstrap = "127.0.0.1:9094"

// SASLConfig returns the settings of the SASL_SSL listener once it answers
// and its CA file exists. Without them it skips t, or fails it when
// REQUIRE_KAFKA is set.
func SASLConfig(t testing.TB) config.Kafka {
	t.Helper()
	k := Settings()
	k.BootstrapServers = envOr("KAFKA_SASL_BOOTSTRAP", DefaultSASLBootstrap)
	k.APIKey = envOr("KAFKA_SASL_USER", "payagg")
	k.APISecret = envOr("KAFKA_SASL_PASSWORD", "payagg-local-secret")
	k.CAFile = envOr("KAFKA_SASL_CA_FILE", filepath.Join(repoRoot(), ".local", "kafka", "tls", "ca.pem"))
	err := Reachable(k.BootstrapServers)
	if _, statErr := os.Stat(k.CAFile); statErr != nil {
		err = fmt.Errorf("no CA file for the SASL_SSL listener: %w", statErr)
	}
	if err != nil {
		err = fmt.Errorf("%w (`make kafka-up` with the current go-service/tools/kafka sets up the SASL_SSL listener; KAFKA_SASL_BOOTSTRAP and KAFKA_SASL_CA_FILE point elsewhere)", err)
		if Required() {
			t.Fatalf("REQUIRE_KAFKA is set: %v", err)
		}
		t.Skip(err)
	}
	return k
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// repoRoot is the repository's root directory, found from this file's place
// in it (tests run in their own package's directory).
func repoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "."
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
