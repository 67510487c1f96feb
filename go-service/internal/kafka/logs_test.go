package kafka

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
)

func TestLibrdkafkaLevel(t *testing.T) {
	cases := []struct {
		name string
		ev   ckafka.LogEvent
		want slog.Level
	}{
		{"PID retry while the broker starts", ckafka.LogEvent{Level: 4, Tag: "GETPID", Message: "Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: Broker: Coordinator load in progress: retrying"}, slog.LevelDebug},
		{"connection refused", ckafka.LogEvent{Level: 3, Tag: "FAIL", Message: "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)"}, slog.LevelDebug},
		{"all brokers down", ckafka.LogEvent{Level: 3, Tag: "ERROR", Message: "1/1 brokers are down"}, slog.LevelDebug},
		{"connection refused on a SASL_SSL listener", ckafka.LogEvent{Level: 3, Tag: "FAIL", Message: "sasl_ssl://127.0.0.1:9094/bootstrap: Connect to ipv4#127.0.0.1:9094 failed: Connection refused (after 0ms in state CONNECT)"}, slog.LevelDebug},
		{"SASL failure stays an error", ckafka.LogEvent{Level: 3, Tag: "FAIL", Message: "127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed: Invalid username or password (after 5ms in state AUTH_REQ)"}, slog.LevelError},
		{"TLS failure stays an error", ckafka.LogEvent{Level: 3, Tag: "FAIL", Message: "SSL handshake failed: certificate verify failed: broker certificate could not be verified; disconnected"}, slog.LevelError},
		{"config warning", ckafka.LogEvent{Level: 4, Tag: "CONFWARN", Message: "Configuration property x is a producer property"}, slog.LevelWarn},
		{"notice", ckafka.LogEvent{Level: 5, Tag: "X", Message: "something"}, slog.LevelInfo},
		{"info", ckafka.LogEvent{Level: 6, Tag: "X", Message: "something"}, slog.LevelDebug},
		{"critical", ckafka.LogEvent{Level: 2, Tag: "X", Message: "something"}, slog.LevelError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := LibrdkafkaLevel(tc.ev); got != tc.want {
				t.Fatalf("level = %v, want %v", got, tc.want)
			}
		})
	}
}

// librdkafka's own lines (here: a refused connection) reach slog as JSON
// [KAFKA] lines, for producers, admin clients and consumers alike.
func TestLibrdkafkaLogsGoThroughSlog(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: every connection is refused
	var out logtest.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(prev)

	k := config.Kafka{BootstrapServers: addr}
	p, err := NewProducer(k, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), ckafka.ConfigMap{"client.id": "logs-test-producer"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(0)
	admin, err := NewAdminClient(k, ckafka.ConfigMap{"client.id": "logs-test-admin"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	_, _ = admin.GetMetadata(nil, false, 200)
	consumer, err := ckafka.NewConsumer(ConfigMap(k, ckafka.ConfigMap{"client.id": "logs-test-consumer", "group.id": "logs-test"}))
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	_, _ = consumer.GetMetadata(nil, false, 200)

	seen := map[string]bool{}
	for deadline := time.Now().Add(30 * time.Second); len(seen) < 3; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("librdkafka lines of all three clients not seen in slog output (saw %v):\n%s", seen, out.String())
		}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var line struct {
				Level, Msg, Component, Client string
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("not a JSON line: %q", sc.Text())
			}
			if !strings.HasPrefix(line.Msg, "librdkafka ") || line.Component != "KAFKA" {
				continue
			}
			if strings.Contains(line.Msg, "Connection refused") && line.Level != "DEBUG" {
				t.Fatalf("a refused connection is logged at %s, want DEBUG: %s", line.Level, sc.Text())
			}
			for _, id := range []string{"logs-test-producer", "logs-test-admin", "logs-test-consumer"} {
				if strings.HasPrefix(line.Client, id) {
					seen[id] = true
				}
			}
		}
	}
}

// Errors that retrying cannot fix become one line naming the setting to
// check, never its value.
func TestRefusal(t *testing.T) {
	k := config.Kafka{BootstrapServers: "broker:9094", APIKey: "key-1", APISecret: "secret-value-1"}
	withCA := k
	withCA.CAFile = "/etc/ca.pem"
	cases := []struct {
		name string
		k    config.Kafka
		err  ckafka.Error
		want string // "" means: not a refusal
	}{
		{"wrong secret", k, ckafka.NewError(ckafka.ErrAuthentication, "SASL authentication error: Authentication failed: Invalid username or password", false), "KAFKA_API_KEY/KAFKA_API_SECRET: broker:9094 refused the credentials"},
		{"unknown CA", k, ckafka.NewError(ckafka.ErrSsl, "certificate verify failed", false), "(a private CA? set KAFKA_CA_FILE)"},
		{"wrong CA", withCA, ckafka.NewError(ckafka.ErrSsl, "certificate verify failed", false), "KAFKA_CA_FILE=/etc/ca.pem: TLS with broker:9094 failed"},
		{"TLS to a plaintext listener", k, ckafka.NewError(ckafka.ErrTransport, "SSL handshake failed: Disconnected: SSL connection closed by peer: connecting to a PLAINTEXT broker listener?", false), "it is a plaintext listener"},
		{"broker down", k, ckafka.NewError(ckafka.ErrTransport, "Connect to ipv4#127.0.0.1:9094 failed: Connection refused", false), ""},
		{"all brokers down", k, ckafka.NewError(ckafka.ErrAllBrokersDown, "1/1 brokers are down", false), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := refusal(tc.k, tc.err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refusal = %v, want none: retrying may help", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !Refused(err) {
				t.Fatalf("refusal = %v, want a refusal with %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret-value-1") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("not one line without the secret: %q", err)
			}
		})
	}
}

func TestErrorLevel(t *testing.T) {
	cases := []struct {
		err  ckafka.Error
		want slog.Level
	}{
		{ckafka.NewError(ckafka.ErrTransport, "127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused (after 0ms in state CONNECT)", false), slog.LevelDebug},
		{ckafka.NewError(ckafka.ErrAllBrokersDown, "1/1 brokers are down", false), slog.LevelDebug},
		{ckafka.NewError(ckafka.ErrAuthentication, "SASL authentication error: Authentication failed", false), slog.LevelWarn},
		{ckafka.NewError(ckafka.ErrMsgTimedOut, "Local: Message timed out", false), slog.LevelWarn},
	}
	for _, tc := range cases {
		if got := ErrorLevel(tc.err); got != tc.want {
			t.Errorf("ErrorLevel(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
