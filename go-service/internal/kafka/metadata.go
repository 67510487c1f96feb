package kafka

import (
	"fmt"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// A topic another process created a moment ago may not be in every
// broker's metadata yet, or have no leader answering for each partition
// (EnsureTopics waits for its own topics): these ask again for a while.
const metadataPatience = 20 * time.Second

// Partitions returns the partition ids of topic.
func Partitions(c *ckafka.Consumer, topic string) ([]int32, error) {
	deadline := time.Now().Add(metadataPatience)
	for {
		md, err := c.GetMetadata(&topic, false, 10000)
		if err == nil {
			t, ok := md.Topics[topic]
			if ok && t.Error.Code() == ckafka.ErrNoError && len(t.Partitions) > 0 {
				ids := make([]int32, 0, len(t.Partitions))
				for _, p := range t.Partitions {
					ids = append(ids, p.ID)
				}
				return ids, nil
			}
			err = fmt.Errorf("topic %s not found: %v", topic, t.Error)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("metadata of %s: %w", topic, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Watermarks returns where partition p of topic begins and ends.
func Watermarks(c *ckafka.Consumer, topic string, p int32) (low, high int64, err error) {
	deadline := time.Now().Add(metadataPatience)
	for {
		low, high, err = c.QueryWatermarkOffsets(topic, p, 5000)
		if err == nil {
			return low, high, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("offsets of %s/%d: %w", topic, p, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
