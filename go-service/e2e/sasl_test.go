package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// The local broker's second listener is the Confluent Cloud path: SASL_SSL
// with PLAIN users and a certificate from the CA `make kafka-up` makes
// (go-service/tools/kafka). The tests find it with
//
//	KAFKA_SASL_BOOTSTRAP  its address (default 127.0.0.1:9094)
//	KAFKA_SASL_CA_FILE    the CA's PEM (default <repo>/.local/kafka/tls/ca.pem)
//	KAFKA_SASL_USER, KAFKA_SASL_PASSWORD  a PLAIN user of server.properties
//	                      (default payagg / payagg-local-secret, a local test account)
//
// Without that listener the tests skip, and fail under REQUIRE_KAFKA=1.
func saslKafka(t *testing.T) config.Kafka {
	t.Helper()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	k := config.Kafka{
		BootstrapServers:  envOr("KAFKA_SASL_BOOTSTRAP", "127.0.0.1:9094"),
		APIKey:            envOr("KAFKA_SASL_USER", "payagg"),
		APISecret:         envOr("KAFKA_SASL_PASSWORD", "payagg-local-secret"),
		CAFile:            envOr("KAFKA_SASL_CA_FILE", filepath.Join(repo, ".local", "kafka", "tls", "ca.pem")),
		Partitions:        kafkaConfig.Partitions,
		ReplicationFactor: kafkaConfig.ReplicationFactor,
	}
	missing := ""
	if _, err := os.Stat(k.CAFile); err != nil {
		missing = "no CA file " + k.CAFile
	} else if !reachable(k.BootstrapServers) {
		missing = "no SASL_SSL listener at " + k.BootstrapServers
	}
	if missing != "" {
		msg := missing + ": `make kafka-up` with the current go-service/tools/kafka sets it up (KAFKA_SASL_BOOTSTRAP, KAFKA_SASL_CA_FILE point elsewhere)"
		if os.Getenv("REQUIRE_KAFKA") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return k
}

// useKafka points the harness (topics, producer, readers, the server's
// environment) at k for the rest of the test.
func useKafka(t *testing.T, k config.Kafka) {
	prev := kafkaConfig
	kafkaConfig = k
	t.Cleanup(func() { kafkaConfig = prev })
}

// The core end-to-end test, with every Kafka client — the server's, the
// producer's, the test's readers — on SASL_SSL with an API key and secret.
func TestPipelineOverSASL(t *testing.T) {
	useKafka(t, saslKafka(t))
	checkPipeline(t)
}

// A wrong secret stops the server at start, with one line that names the
// settings to check and never the secret.
func TestWrongKafkaSecretFailsAtStart(t *testing.T) {
	k := saslKafka(t)
	const wrong = "not-the-secret-3f9a1c"
	k.APISecret = wrong
	env := append(kafkaEnv(k), "GRPC_PORT=0", "GRPC_HOST=127.0.0.1", "KAFKA_TOPICS=it-wrong-secret.payments.raw.stripe")
	stdout, stderr, code := runServerOnce(t, env)
	if code == 0 {
		t.Fatalf("server with a wrong KAFKA_API_SECRET exited 0\n%s%s", stdout, stderr)
	}
	out := stdout + stderr
	if strings.Contains(out, wrong) {
		t.Fatalf("the secret's value is in the output:\n%s", out)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if len(lines) != 1 || !strings.Contains(last, "KAFKA_API_SECRET") || !strings.Contains(last, "authentication failed") {
		t.Fatalf("want one line on stderr naming KAFKA_API_SECRET and the failed authentication, got:\n%s", stderr)
	}
}
