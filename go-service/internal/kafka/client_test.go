package kafka

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

func TestDeleteTopics(t *testing.T) {
	k := config.Kafka{BootstrapServers: "127.0.0.1:9092", Partitions: 1, ReplicationFactor: -1}
	if c, err := net.DialTimeout("tcp", k.BootstrapServers, time.Second); err != nil {
		t.Skip("no local Kafka (make kafka-up)")
	} else {
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := fmt.Sprintf("kafka-deletetopics-%d", time.Now().UnixNano()%1e9)
	topics := []string{prefix + ".a", prefix + ".b"}
	if err := EnsureTopics(ctx, k, topics); err != nil {
		t.Fatal(err)
	}
	// A topic that is not there is no error: a clean-up may run twice.
	if err := DeleteTopics(ctx, k, append(topics, prefix+".never-created")); err != nil {
		t.Fatalf("DeleteTopics: %v", err)
	}
	admin, err := NewAdminClient(k, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		md, err := admin.GetMetadata(nil, true, 5000)
		if err != nil {
			t.Fatal(err)
		}
		_, a := md.Topics[topics[0]]
		_, b := md.Topics[topics[1]]
		if !a && !b {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics still listed 30 s after DeleteTopics: %v %v", a, b)
		}
	}
}
