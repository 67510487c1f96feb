package kafka

import (
	"testing"

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
