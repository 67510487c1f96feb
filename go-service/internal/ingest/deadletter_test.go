package ingest

import (
	"context"
	"reflect"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/deadletter"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// A raw record's own headers survive into its dead letter, on real Kafka:
// the replay command needs them to send the record back as it came. Its
// `gateway` and `error` headers collide with the dead letter's own and are
// kept as raw.gateway and raw.error.
func TestDeadLetterKeepsRawHeaders(t *testing.T) {
	f := newFixture(t)
	topic := f.raw[pb.Gateway_GATEWAY_STRIPE]
	raw := []ckafka.Header{
		{Key: "gateway", Value: []byte("stripe")},
		{Key: "x-request-id", Value: []byte("req-7")},
		{Key: "error", Value: []byte("set by the sender")},
		{Key: "replayed_from", Value: []byte("payments.dlq/1/9")},
	}
	m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 0}, Key: []byte("pi_x"), Value: []byte(`{"type":`), Headers: raw}
	if err := f.producer.SendSync(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	f.start(ModePerTopic, 0)
	dl := kafkatest.Consume(t, f.k, f.dlq, 1, 60*time.Second)[0]

	info, back := deadletter.Split(dl.Headers)
	if !reflect.DeepEqual(back, raw) {
		t.Errorf("raw headers from the dead letter = %v, want %v (all headers: %v)", back, raw, dl.Headers)
	}
	if info.Code != "malformed_json" || info.Gateway != "stripe" || info.Topic != topic || info.Partition != 0 || info.Offset != 0 || info.Error == "set by the sender" {
		t.Errorf("dead letter says %+v", info)
	}
	for _, want := range []string{"raw.gateway", "raw.error", "x-request-id", "replayed_from", "error", "gateway"} {
		if _, ok := deadletter.Value(dl.Headers, want); !ok {
			t.Errorf("dead letter has no %s header: %v", want, dl.Headers)
		}
	}
	if string(dl.Value) != `{"type":` || string(dl.Key) != "pi_x" {
		t.Errorf("dead letter key/value = %q/%q, want the raw record's", dl.Key, dl.Value)
	}
}
