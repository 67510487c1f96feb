package state

import (
	"fmt"
	"io"
	"log/slog"
	"testing"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// The view's counts come out the same however its records fall into
// batches: a payment updated twice within one batch is counted once, a
// tombstone takes it out, and dead letters count by code.
func TestViewCountsAcrossBatches(t *testing.T) {
	const stateTopic, dlqTopic = "payments.state", "payments.dlq"
	record := func(t *testing.T, id string, status pb.PaymentStatus, amount int64) []byte {
		t.Helper()
		b, err := (&Record{Payment: &pb.Payment{Id: id, Gateway: pb.Gateway_GATEWAY_STRIPE, Status: status,
			Amount: &pb.Money{AmountMinor: amount, Currency: "USD"}}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	msg := func(topic string, offset int64, key string, value []byte, headers ...ckafka.Header) *ckafka.Message {
		return &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: 0, Offset: ckafka.Offset(offset)},
			Key: []byte(key), Value: value, Headers: headers}
	}
	pending, completed := pb.PaymentStatus_PAYMENT_STATUS_PENDING, pb.PaymentStatus_PAYMENT_STATUS_COMPLETED
	records := []*ckafka.Message{
		msg(stateTopic, 0, "stripe:a", record(t, "a", pending, 500)),
		msg(stateTopic, 1, "stripe:a", record(t, "a", completed, 500)), // the same payment, later
		msg(stateTopic, 2, "stripe:b", record(t, "b", completed, 200)),
		msg(dlqTopic, 0, "", []byte("{"), ckafka.Header{Key: "error_code", Value: []byte("malformed_json")}),
		msg(stateTopic, 3, "stripe:c", record(t, "c", pending, 70)),
		msg(stateTopic, 4, "stripe:c", nil), // a tombstone
		msg(stateTopic, 5, "stripe:b", record(t, "b", completed, 250)),
	}
	for _, every := range []int{1, 2, 3, len(records)} {
		s, err := OpenStore(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		v := &View{stateTopic: stateTopic, dlqTopic: dlqTopic, store: s, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		b := newViewBatch(s.db)
		for i, m := range records {
			if err := v.apply(b, m); err != nil {
				t.Fatal(err)
			}
			if b.n++; (i+1)%every == 0 {
				if err := b.commit(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := b.commit(); err != nil {
			t.Fatal(err)
		}
		got, err := v.Totals()
		if err != nil {
			t.Fatal(err)
		}
		if got.Payments != 2 || got.ByStatus["PAYMENT_STATUS_COMPLETED"] != 2 || got.ByStatus["PAYMENT_STATUS_PENDING"] != 0 ||
			got.TotalsByCurrency["USD"] != 750 || got.DLQByCode["malformed_json"] != 1 || got.ByGateway["GATEWAY_STRIPE"] != 2 {
			t.Errorf("batches of %d: totals %+v, want 2 completed Stripe payments, USD 750, 1 malformed_json", every, got)
		}
		if p, err := v.Get(pb.Gateway_GATEWAY_STRIPE, "b"); err != nil || p.GetAmount().GetAmountMinor() != 250 {
			t.Errorf("batches of %d: b = %v, %v; want its latest state", every, p, err)
		}
		if _, err := v.Get(pb.Gateway_GATEWAY_STRIPE, "c"); err != ErrNotFound {
			t.Errorf("batches of %d: c after its tombstone: %v, want ErrNotFound", every, err)
		}
		b.close()
		s.Close()
	}
}

func BenchmarkViewApply(b *testing.B) {
	const stateTopic = "payments.state"
	s, err := OpenStore(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	v := &View{stateTopic: stateTopic, dlqTopic: "payments.dlq", store: s, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	value, err := (&Record{Payment: &pb.Payment{Id: "pi_1", Gateway: pb.Gateway_GATEWAY_STRIPE, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
		Amount: &pb.Money{AmountMinor: 1250, Currency: "USD"}}, Seen: []Seen{{EventID: "evt_1"}}}).Encode()
	if err != nil {
		b.Fatal(err)
	}
	batch := newViewBatch(s.db)
	topic := stateTopic
	b.ResetTimer()
	for i := range b.N {
		m := &ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Offset: ckafka.Offset(i)}, Key: []byte(fmt.Sprintf("stripe:pi_%d", i)), Value: value}
		if err := v.apply(batch, m); err != nil {
			b.Fatal(err)
		}
		if batch.n++; batch.n >= 5000 {
			if err := batch.commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
