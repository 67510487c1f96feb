package kafka

import (
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// How the settings become librdkafka's security settings; every client's
// log lines are routed to slog.
func TestConfigMapSecurity(t *testing.T) {
	cases := []struct {
		name string
		k    config.Kafka
		want map[string]any // nil: the key must be absent
	}{
		{"plaintext", config.Kafka{BootstrapServers: "b:9092"},
			map[string]any{"security.protocol": nil, "ssl.ca.location": nil, "sasl.username": nil}},
		{"a private CA alone: TLS without SASL", config.Kafka{BootstrapServers: "b:9093", CAFile: "/ca.pem"},
			map[string]any{"security.protocol": "SSL", "ssl.ca.location": "/ca.pem", "sasl.username": nil}},
		{"Confluent Cloud: SASL_SSL, system CAs", config.Kafka{BootstrapServers: "b:9092", APIKey: "key", APISecret: "secret"},
			map[string]any{"security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN", "sasl.username": "key", "sasl.password": "secret", "ssl.ca.location": nil}},
		{"SASL_SSL with a private CA", config.Kafka{BootstrapServers: "b:9094", APIKey: "key", APISecret: "secret", CAFile: "/ca.pem"},
			map[string]any{"security.protocol": "SASL_SSL", "ssl.ca.location": "/ca.pem", "sasl.username": "key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm := *ConfigMap(tc.k, nil)
			for key, want := range tc.want {
				got, ok := cm[key]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want it unset", key, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %v, want %v", key, got, want)
				}
			}
			if cm["go.logs.channel.enable"] != true || cm["go.logs.channel"] == nil {
				t.Errorf("librdkafka's log lines are not routed to slog: %v", cm)
			}
		})
	}
}

// Every consumer's prefetch is bounded unless its caller says otherwise;
// producers and admin clients get no consumer settings (librdkafka would
// warn that it ignores them).
func TestConfigMapBoundsConsumers(t *testing.T) {
	k := config.Kafka{BootstrapServers: "b:9092"}
	cases := []struct {
		name  string
		extra ckafka.ConfigMap
		want  map[string]any // nil: the key must be absent
	}{
		{"consumer: the defaults", ckafka.ConfigMap{"group.id": "g"},
			map[string]any{"queued.max.messages.kbytes": ConsumerDefaults["queued.max.messages.kbytes"], "fetch.max.bytes": ConsumerDefaults["fetch.max.bytes"], "max.partition.fetch.bytes": ConsumerDefaults["max.partition.fetch.bytes"]}},
		{"consumer: its caller's bound wins", ckafka.ConfigMap{"group.id": "g", "queued.max.messages.kbytes": 512},
			map[string]any{"queued.max.messages.kbytes": 512, "fetch.max.bytes": ConsumerDefaults["fetch.max.bytes"]}},
		{"producer: none", ckafka.ConfigMap{"linger.ms": 10},
			map[string]any{"queued.max.messages.kbytes": nil, "fetch.max.bytes": nil, "max.partition.fetch.bytes": nil}},
		{"admin client: none", nil,
			map[string]any{"queued.max.messages.kbytes": nil, "fetch.max.bytes": nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cm := *ConfigMap(k, tc.extra)
			for key, want := range tc.want {
				got, ok := cm[key]
				if want == nil {
					if ok {
						t.Errorf("%s = %v, want it unset", key, got)
					}
					continue
				}
				if got != want {
					t.Errorf("%s = %v, want %v", key, got, want)
				}
			}
		})
	}
	if q, ok := ConsumerDefaults["queued.max.messages.kbytes"].(int); !ok || q <= 0 || q >= 65536 {
		t.Errorf("queued.max.messages.kbytes = %v: not a bound below librdkafka's 64 MiB", ConsumerDefaults["queued.max.messages.kbytes"])
	}
}
