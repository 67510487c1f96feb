package state

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// restore rebuilds the own records of the partitions in committed (partition
// → the group's committed events offset, -1 for none) from the state topic,
// read_committed to its end, and checkpoints each at its committed offset:
// the state topic holds exactly the state that committed transactions wrote,
// which is the state those offsets imply. It returns how many records it read.
func restore(k config.Kafka, topic string, store *Store, committed map[int32]int64, log *slog.Logger) (int64, error) {
	c, err := ckafka.NewConsumer(kafka.ConfigMap(k, ckafka.ConfigMap{
		// Required by the client, never joined: partitions are assigned by hand.
		"group.id":             "payment-aggregator-restore",
		"isolation.level":      "read_committed",
		"enable.auto.commit":   false,
		"enable.partition.eof": true,
	}))
	if err != nil {
		return 0, fmt.Errorf("restore consumer: %w", err)
	}
	defer c.Close()
	pending := map[int32]bool{}
	var assign []ckafka.TopicPartition
	for p := range committed {
		if err := store.DropPartition(p); err != nil {
			return 0, err
		}
		low, high, err := kafka.Watermarks(c, topic, p)
		if err != nil {
			return 0, err
		}
		if high > low {
			pending[p] = true
			assign = append(assign, ckafka.TopicPartition{Topic: &topic, Partition: p, Offset: ckafka.OffsetBeginning})
		}
	}
	start := time.Now()
	var n int64
	b := store.db.NewBatch()
	defer func() { b.Close() }()
	if len(assign) > 0 {
		if err := c.Assign(assign); err != nil {
			return 0, fmt.Errorf("assign %s: %w", topic, err)
		}
	}
	for len(pending) > 0 {
		switch e := c.Poll(100).(type) {
		case *ckafka.Message:
			p := e.TopicPartition.Partition
			if e.Value == nil {
				err = b.Delete(ownKey(p, string(e.Key)), nil)
			} else {
				err = b.Set(ownKey(p, string(e.Key)), e.Value, nil)
			}
			if err != nil {
				return n, fmt.Errorf("store: %w", err)
			}
			if n++; n%10000 == 0 {
				if err := b.Commit(pebble.NoSync); err != nil {
					return n, fmt.Errorf("store: %w", err)
				}
				b.Close()
				b = store.db.NewBatch()
			}
		case ckafka.PartitionEOF:
			delete(pending, e.Partition)
		case ckafka.Error:
			if e.IsFatal() {
				return n, fmt.Errorf("restore consumer: %w", e)
			}
			log.Warn("restore consumer: " + e.Error())
		}
	}
	for p, o := range committed {
		if err := putInt(b, ckptKey(p), o); err != nil {
			return n, err
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return n, fmt.Errorf("store: %w", err)
	}
	parts := make([]int32, 0, len(committed))
	for p := range committed {
		parts = append(parts, p)
	}
	log.Info(fmt.Sprintf("restored partitions %v: read %d record(s) of %s in %v", parts, n, topic, time.Since(start).Round(time.Millisecond)))
	return n, nil
}
