package receiver

import (
	"net/http"
	"strings"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-json-experiment/json"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
)

// Record header names.
const (
	HeaderGateway    = "gateway"
	HeaderReceivedAt = "received_at"
	HeaderVerified   = "verified"
)

// eventIDHeaders are the gateways' own event-id request headers, kept on
// the record under their lower-case name.
var eventIDHeaders = map[string]string{
	"razorpay": webhook.RazorpayEventIDHeader,
}

// record is the Kafka record for a verified webhook: the exact bytes
// received, keyed by payment so that one payment's events stay in order on
// one partition.
func (h *Handler) record(gateway, topic string, hdr http.Header, body []byte, received time.Time) *ckafka.Message {
	headers := []ckafka.Header{
		{Key: HeaderGateway, Value: []byte(gateway)},
		{Key: HeaderReceivedAt, Value: []byte(received.UTC().Format(time.RFC3339Nano))},
		{Key: HeaderVerified, Value: []byte("true")},
	}
	eventID := ""
	if name, ok := eventIDHeaders[gateway]; ok {
		if eventID = hdr.Get(name); eventID != "" {
			headers = append(headers, ckafka.Header{Key: strings.ToLower(name), Value: []byte(eventID)})
		}
	}
	m := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
		Value:          body,
		Headers:        headers,
	}
	if key := Key(gateway, body, eventID); key != "" {
		m.Key = []byte(key)
	}
	return m
}

// Key is the payment id when the normalizer can read it, else the event id
// (from the gateway's header, or the body's id/event_id), else "" (no key:
// Kafka spreads such records over partitions).
func Key(gateway string, body []byte, eventIDHeader string) string {
	g, _ := normalizer.ParseGateway(gateway)
	if n, ok := normalizer.For(g); ok {
		if ps, err := n.Normalize(body); err == nil && len(ps) > 0 && ps[0].GetId() != "" {
			return ps[0].GetId()
		}
	}
	if eventIDHeader != "" {
		return eventIDHeader
	}
	var doc struct {
		ID      string `json:"id"`
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(body, &doc) == nil {
		if doc.ID != "" {
			return doc.ID
		}
		return doc.EventID
	}
	return ""
}
