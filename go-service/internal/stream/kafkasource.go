package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// KafkaSource is the normalized topic in Kafka. Its readers are plain
// consumers with partitions assigned by hand (every instance serves every
// client: no consumer group), reading only committed transactions.
type KafkaSource struct {
	k       config.Kafka
	topic   string
	queueKB int
	log     *slog.Logger

	// lookups answers offset queries (watermarks, offsets for a time) for
	// every stream that opens; Close waits for a query in progress.
	mu      sync.RWMutex
	lookups *ckafka.Consumer
	readers int // open now
}

// DefaultQueueKB is librdkafka's prefetch queue per serve reader, in KiB,
// unless SERVE_QUEUE_KB says otherwise. librdkafka's own default (64 MiB
// per consumer) would let every catch-up reader buffer that much.
const DefaultQueueKB = 2048

// NewKafkaSource connects to the topic. queueKB bounds each reader's
// prefetch (0: DefaultQueueKB).
func NewKafkaSource(k config.Kafka, topic string, queueKB int, log *slog.Logger) (*KafkaSource, error) {
	if queueKB <= 0 {
		queueKB = DefaultQueueKB
	}
	s := &KafkaSource{k: k, topic: topic, queueKB: queueKB, log: log}
	c, err := s.consumer()
	if err != nil {
		return nil, fmt.Errorf("serve lookups: %w", err)
	}
	s.lookups = c
	return s, nil
}

func (s *KafkaSource) consumer() (*ckafka.Consumer, error) {
	return ckafka.NewConsumer(kafka.ConfigMap(s.k, ckafka.ConfigMap{
		// Required by the client, never joined: partitions are assigned by hand.
		"group.id":           "payment-aggregator-serve",
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		// The state stage writes the topic in transactions: an aborted one
		// must never reach a client.
		"isolation.level": "read_committed",
		// ... and learn each partition's end from EOF, since its last
		// offset is a transaction marker no record ever reaches.
		"enable.partition.eof": true,
		// Memory is set here, not by how far behind a reader starts:
		// librdkafka prefetches at most this much per reader.
		"queued.max.messages.kbytes": s.queueKB,
		"queued.min.messages":        1000,
		"fetch.max.bytes":            max(s.queueKB*1024/2, 1<<20),
		"max.partition.fetch.bytes":  256 << 10,
		// fetch.wait.max.ms stays at its default: a fetch returns as soon as
		// one record arrives, so a shorter wait only adds requests when idle.
	}))
}

// Topic is the topic's name.
func (s *KafkaSource) Topic() string { return s.topic }

// Close closes the lookup client once no query runs. Readers are closed by
// their owners.
func (s *KafkaSource) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookups != nil {
		s.lookups.Close()
		s.lookups = nil
	}
}

// lookup runs query with the lookup client, unless it is closed.
func (s *KafkaSource) lookup(query func(c *ckafka.Consumer) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.lookups == nil {
		return errServeStopped
	}
	return query(s.lookups)
}

// Bounds implements Source.
func (s *KafkaSource) Bounds(context.Context) (low, end Position, err error) {
	err = s.lookup(func(c *ckafka.Consumer) (err error) {
		low, end, err = bounds(c, s.topic)
		return err
	})
	return low, end, err
}

// OffsetsForTime implements Source.
func (s *KafkaSource) OffsetsForTime(_ context.Context, t time.Time) (Position, error) {
	var end Position
	var found []ckafka.TopicPartition
	err := s.lookup(func(c *ckafka.Consumer) (err error) {
		if _, end, err = bounds(c, s.topic); err != nil {
			return err
		}
		query := make([]ckafka.TopicPartition, 0, len(end))
		for p := range end {
			query = append(query, ckafka.TopicPartition{Topic: &s.topic, Partition: p, Offset: ckafka.Offset(t.UnixMilli())})
		}
		found, err = c.OffsetsForTimes(query, 10000)
		if err != nil {
			return fmt.Errorf("offsets for time %s: %w", t.Format(time.RFC3339), err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pos := Position{}
	for _, tp := range found {
		if tp.Offset < 0 {
			pos[tp.Partition] = end[tp.Partition]
		} else {
			pos[tp.Partition] = int64(tp.Offset)
		}
	}
	return pos, nil
}

// Open implements Source.
func (s *KafkaSource) Open(from Position) (Reader, error) {
	c, err := s.consumer()
	if err != nil {
		return nil, fmt.Errorf("serve reader: %w", err)
	}
	assign := make([]ckafka.TopicPartition, 0, len(from))
	for p, o := range from {
		assign = append(assign, ckafka.TopicPartition{Topic: &s.topic, Partition: p, Offset: ckafka.Offset(o)})
	}
	if err := c.Assign(assign); err != nil {
		c.Close()
		return nil, fmt.Errorf("assign %s: %w", s.topic, err)
	}
	s.mu.Lock()
	s.readers++
	s.mu.Unlock()
	return &kafkaReader{s: s, c: c}, nil
}

// Readers is the number of Kafka readers open now (the live one and the
// catch-up ones).
func (s *KafkaSource) Readers() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.readers
}

type kafkaReader struct {
	s    *KafkaSource
	c    *ckafka.Consumer
	once sync.Once
}

func (r *kafkaReader) Next(ctx context.Context) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	switch e := r.c.Poll(100).(type) {
	case *ckafka.Message:
		if e.TopicPartition.Error != nil {
			return Record{}, false, nil
		}
		return Record{Partition: e.TopicPartition.Partition, Offset: int64(e.TopicPartition.Offset), Value: e.Value}, true, nil
	case ckafka.PartitionEOF:
		if e.Offset > 0 {
			return Record{Partition: e.Partition, Offset: int64(e.Offset), EOF: true}, true, nil
		}
	case ckafka.Error:
		if e.IsFatal() {
			return Record{}, false, e
		}
		r.s.log.Warn("serve reader: "+e.Error(), "component", "KAFKA")
	}
	return Record{}, false, nil
}

// Close closes the consumer; closing takes a moment, so it runs on its own.
func (r *kafkaReader) Close() {
	r.once.Do(func() {
		r.s.mu.Lock()
		r.s.readers--
		r.s.mu.Unlock()
		go r.c.Close()
	})
}

// bounds returns, per partition, the oldest offset Kafka holds and the end.
func bounds(c *ckafka.Consumer, topic string) (from, end Position, err error) {
	ids, err := kafka.Partitions(c, topic)
	if err != nil {
		return nil, nil, err
	}
	from, end = Position{}, Position{}
	for _, id := range ids {
		if from[id], end[id], err = kafka.Watermarks(c, topic, id); err != nil {
			return nil, nil, err
		}
	}
	return from, end, nil
}
