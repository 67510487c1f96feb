package kafkatest

import (
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// Watermarks asks the broker where topics begin and end. One client serves
// many questions (a test polling a count asks often); it is closed after t.
type Watermarks struct {
	t testing.TB
	c *ckafka.Consumer
}

// NewWatermarks returns a Watermarks closed when t ends.
func NewWatermarks(t testing.TB, k config.Kafka) *Watermarks {
	t.Helper()
	w := newWatermarks(t, k)
	t.Cleanup(w.close)
	return w
}

func newWatermarks(t testing.TB, k config.Kafka) *Watermarks {
	t.Helper()
	// A group id is required by the client; this one never joins or commits.
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{"group.id": "kafkatest-watermarks"}))
	if err != nil {
		t.Fatal(err)
	}
	return &Watermarks{t: t, c: c}
}

func (w *Watermarks) close() { w.c.Close() }

// Ends returns the end offset (high watermark) of each partition of topic.
func (w *Watermarks) Ends(topic string) map[int32]int64 {
	w.t.Helper()
	ends := map[int32]int64{}
	w.each(topic, func(p int32, _, high int64) { ends[p] = high })
	return ends
}

// Count returns how many records the topics hold: per partition, end minus
// start, summed.
func (w *Watermarks) Count(topics ...string) int64 {
	w.t.Helper()
	var n int64
	for _, topic := range topics {
		w.each(topic, func(_ int32, low, high int64) { n += high - low })
	}
	return n
}

// WaitCount waits until the topics hold at least want records together and
// returns how many they hold; it fails t when timeout passes first.
func (w *Watermarks) WaitCount(want int64, timeout time.Duration, topics ...string) int64 {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := w.Count(topics...)
		if got >= want {
			return got
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%v hold %d of %d records after %v", topics, got, want, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (w *Watermarks) each(topic string, f func(partition int32, low, high int64)) {
	w.t.Helper()
	md, err := w.c.GetMetadata(&topic, false, 10000)
	if err != nil {
		w.t.Fatalf("metadata of %s: %v", topic, err)
	}
	for _, p := range md.Topics[topic].Partitions {
		low, high, err := w.c.QueryWatermarkOffsets(topic, p.ID, 10000)
		if err != nil {
			w.t.Fatalf("watermarks of %s[%d]: %v", topic, p.ID, err)
		}
		f(p.ID, low, high)
	}
}

// Count returns how many records topic holds, with a client of its own: for
// a question asked once. A test that polls a count keeps a Watermarks.
func Count(t testing.TB, k config.Kafka, topic string) int64 {
	t.Helper()
	w := newWatermarks(t, k)
	defer w.close()
	return w.Count(topic)
}

// Consume reads the first n records of topic, from its beginning, and fails t
// if they have not all come within timeout. It joins no group and commits
// nothing.
func Consume(t testing.TB, k config.Kafka, topic string, n int, timeout time.Duration) []*ckafka.Message {
	t.Helper()
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{
		"group.id": "kafkatest-reader", "auto.offset.reset": "earliest", "enable.auto.commit": false,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var parts []ckafka.TopicPartition
	for _, p := range md.Topics[topic].Partitions {
		parts = append(parts, ckafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ckafka.OffsetBeginning})
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	var out []*ckafka.Message
	for deadline := time.Now().Add(timeout); len(out) < n && time.Now().Before(deadline); {
		if m, err := c.ReadMessage(200 * time.Millisecond); err == nil {
			out = append(out, m)
		}
	}
	if len(out) < n {
		t.Fatalf("read %d of %d records from %s in %v", len(out), n, topic, timeout)
	}
	return out
}

// ReadCommitted reads every committed record of topic, from its beginning to
// its last stable offset, as a read_committed client sees them: transaction
// markers and aborted records are not there (they are in a count from
// watermarks). It fails t if the end is not reached within timeout.
func ReadCommitted(t testing.TB, k config.Kafka, topic string, timeout time.Duration) []*ckafka.Message {
	t.Helper()
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{
		"group.id": "kafkatest-reader", "enable.auto.commit": false,
		"isolation.level": "read_committed", "enable.partition.eof": true,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	md, err := c.GetMetadata(&topic, false, 10000)
	if err != nil {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	var parts []ckafka.TopicPartition
	pending := map[int32]bool{}
	for _, p := range md.Topics[topic].Partitions {
		parts = append(parts, ckafka.TopicPartition{Topic: &topic, Partition: p.ID, Offset: ckafka.OffsetBeginning})
		pending[p.ID] = true
	}
	if err := c.Assign(parts); err != nil {
		t.Fatal(err)
	}
	var out []*ckafka.Message
	for deadline := time.Now().Add(timeout); len(pending) > 0; {
		if time.Now().After(deadline) {
			t.Fatalf("read %d records of %s; %d partition(s) not read to their end in %v", len(out), topic, len(pending), timeout)
		}
		switch e := c.Poll(200).(type) {
		case *ckafka.Message:
			out = append(out, e)
		case ckafka.PartitionEOF:
			delete(pending, e.Partition)
		}
	}
	return out
}
