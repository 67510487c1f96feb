package e2e

import (
	"strings"
	"testing"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
)

// useKafka points the harness (topics, producer, readers, the server's
// environment) at k for the rest of the test.
func useKafka(t *testing.T, k config.Kafka) {
	prev := kafkaConfig
	kafkaConfig = k
	t.Cleanup(func() { kafkaConfig = prev })
}

// The core end-to-end test through the local broker's SASL_SSL listener
// (kafkatest.SASLConfig says how it is found), with every Kafka client — the server's, the
// producer's, the test's readers — on SASL_SSL with an API key and secret.
func TestPipelineOverSASL(t *testing.T) {
	useKafka(t, kafkatest.SASLConfig(t))
	checkPipeline(t)
}

// A wrong secret stops the server at start, with one line that names the
// settings to check and never the secret.
func TestWrongKafkaSecretFailsAtStart(t *testing.T) {
	k := kafkatest.SASLConfig(t)
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
