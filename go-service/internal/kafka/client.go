// Package kafka is the message transport: client configuration, topic
// creation, a producer whose every delivery report is read, and the offset
// bookkeeping that lets a consumer commit only what was delivered downstream.
// It knows nothing about payments.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// ConsumerDefaults bound what each consumer holds in memory. librdkafka's
// own defaults let a consumer that is behind prefetch up to 64 MiB
// (queued.max.messages.kbytes), in fetches of up to 50 MB, and the C
// allocator keeps most of what such a burst took: with a consumer per raw
// topic, the state stage's and the view's, those defaults, not the
// payments' history, would set the server's memory. A few MiB keep a
// consumer busy at any rate one server reaches; a record larger than a
// fetch's bound still arrives, alone in its fetch (KIP-74).
var ConsumerDefaults = ckafka.ConfigMap{
	"queued.max.messages.kbytes": 4096,
	"fetch.max.bytes":            2 << 20,
	"max.partition.fetch.bytes":  1 << 20,
}

// producerChannels size the Go channels confluent-kafka-go makes for every
// producer, admin clients included (they are producers underneath). Its
// defaults, a million events and a million records, are 24 MB of Go heap
// per producer whether used or not, and the events channel becomes
// resident as delivery reports cycle through it. Nothing here uses the
// produce channel; when the events channel is full, librdkafka keeps the
// reports in its own queue (bounded by ProducerQueueKB) until it is read.
var producerChannels = ckafka.ConfigMap{
	"go.events.channel.size":  10000,
	"go.produce.channel.size": 1,
}

// ConfigMap is the client configuration shared by producers and consumers,
// plus extra; librdkafka's log lines go through slog (logs.go). Admin
// clients come from NewAdminClient. The secret goes only to librdkafka.
// A consumer's map (extra has a group.id, which every consumer needs) starts
// from ConsumerDefaults, any other from producerChannels, so no client is
// left with the libraries' defaults.
func ConfigMap(k config.Kafka, extra ckafka.ConfigMap) *ckafka.ConfigMap {
	cm := ckafka.ConfigMap{
		"bootstrap.servers": k.BootstrapServers,
		"client.id":         "payment-aggregator",
		// Loopback and Cloud both resolve fine over IPv4; this skips a slow
		// IPv6 attempt on machines where "localhost" has both.
		"broker.address.family": "v4",
	}
	for key, v := range logConfig() {
		cm[key] = v
	}
	if k.CAFile != "" {
		cm["security.protocol"] = "SSL"
		cm["ssl.ca.location"] = k.CAFile
	}
	if k.Secure() {
		cm["security.protocol"] = "SASL_SSL"
		cm["sasl.mechanisms"] = "PLAIN"
		cm["sasl.username"] = k.APIKey
		cm["sasl.password"] = k.APISecret
		cm["broker.address.family"] = "any"
	}
	bounds := producerChannels
	if _, consumer := extra["group.id"]; consumer {
		bounds = ConsumerDefaults
	}
	for key, v := range bounds {
		cm[key] = v
	}
	for key, v := range extra {
		cm[key] = v
	}
	return &cm
}

// EnsureTopics creates the topics that don't exist yet. Topics are never left
// to auto-creation: a typo should fail, not create a stray topic.
func EnsureTopics(ctx context.Context, k config.Kafka, topics []string) error {
	return EnsureTopicsWithConfig(ctx, k, topics, nil)
}

// EnsureTopicsWithConfig is EnsureTopics with topic-level settings (such as
// max.message.bytes) for the topics it creates.
func EnsureTopicsWithConfig(ctx context.Context, k config.Kafka, topics []string, topicConfig map[string]string) error {
	admin, err := NewAdminClient(k, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	specs := make([]ckafka.TopicSpecification, 0, len(topics))
	for _, t := range topics {
		specs = append(specs, ckafka.TopicSpecification{Topic: t, NumPartitions: k.Partitions, ReplicationFactor: k.ReplicationFactor, Config: topicConfig})
	}
	createCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := admin.Connect(createCtx); err != nil {
		return err
	}
	results, err := admin.CreateTopics(createCtx, specs, ckafka.SetAdminOperationTimeout(20*time.Second))
	if err != nil {
		return fmt.Errorf("create topics at %s: %w", k.BootstrapServers, err)
	}
	var errs []error
	var created []string
	for _, r := range results {
		switch code := r.Error.Code(); code {
		case ckafka.ErrNoError:
			created = append(created, r.Topic)
		case ckafka.ErrTopicAlreadyExists:
		default:
			errs = append(errs, fmt.Errorf("create topic %s: %w", r.Topic, r.Error))
		}
	}
	if len(errs) > 0 || len(created) == 0 {
		return errors.Join(errs...)
	}
	return waitServed(ctx, admin.AdminClient, created)
}

// servedPatience bounds how long EnsureTopics waits for the topics it
// created to be served.
const servedPatience = 30 * time.Second

// waitServed returns once the broker serves every partition of topics: a
// leader answers for it. Kafka acknowledges CreateTopics once the controller
// has recorded the topics, before the brokers have applied that: a client
// that reads at once may be told "Unknown topic or partition" (metadata) or
// "Not leader for partition" (offsets), and a stage starting up takes that
// for an error.
func waitServed(ctx context.Context, admin *ckafka.AdminClient, topics []string) error {
	ctx, cancel := context.WithTimeout(ctx, servedPatience)
	defer cancel()
	for pause := 20 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		err := served(ctx, admin, topics)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics created but not served within %v: %w", servedPatience, err)
		case <-time.After(pause):
		}
	}
}

// served returns nil when every partition of topics has a leader and that
// leader answers for the partition's end offset, else what is not there yet.
func served(ctx context.Context, admin *ckafka.AdminClient, topics []string) error {
	described, err := admin.DescribeTopics(ctx, ckafka.NewTopicCollectionOfTopicNames(topics))
	if err != nil {
		return fmt.Errorf("describe topics: %w", err)
	}
	ends := map[ckafka.TopicPartition]ckafka.OffsetSpec{}
	for _, d := range described.TopicDescriptions {
		if d.Error.Code() != ckafka.ErrNoError {
			return fmt.Errorf("topic %s: %w", d.Name, d.Error)
		}
		if len(d.Partitions) == 0 {
			return fmt.Errorf("topic %s: no partitions yet", d.Name)
		}
		for _, p := range d.Partitions {
			if p.Leader == nil {
				return fmt.Errorf("topic %s partition %d: no leader yet", d.Name, p.Partition)
			}
			ends[ckafka.TopicPartition{Topic: &d.Name, Partition: int32(p.Partition)}] = ckafka.LatestOffsetSpec
		}
	}
	res, err := admin.ListOffsets(ctx, ends)
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	if len(res.ResultInfos) < len(ends) {
		return fmt.Errorf("offsets of %d of %d partitions answered", len(res.ResultInfos), len(ends))
	}
	for tp, r := range res.ResultInfos {
		if r.Error.Code() != ckafka.ErrNoError {
			return fmt.Errorf("topic %s partition %d: %w", *tp.Topic, tp.Partition, r.Error)
		}
	}
	return nil
}

// DeleteTopics deletes topics; one that does not exist is no error. The
// tests and the bench share a broker with everyone: they clean up with it.
func DeleteTopics(ctx context.Context, k config.Kafka, topics []string) error {
	admin, err := NewAdminClient(k, nil)
	if err != nil {
		return err
	}
	defer admin.Close()
	// A name given twice makes librdkafka return fewer results than names,
	// and confluent-kafka-go then dereferences a missing result (SIGSEGV).
	topics = slices.Compact(slices.Sorted(slices.Values(topics)))
	var errs []error
	for start := 0; start < len(topics); start += 200 { // bounded requests
		res, err := admin.DeleteTopics(ctx, topics[start:min(start+200, len(topics))], ckafka.SetAdminOperationTimeout(30*time.Second))
		if err != nil {
			return fmt.Errorf("delete topics at %s: %w", k.BootstrapServers, err)
		}
		for _, r := range res {
			if c := r.Error.Code(); c != ckafka.ErrNoError && c != ckafka.ErrUnknownTopicOrPart {
				errs = append(errs, fmt.Errorf("delete topic %s: %w", r.Topic, r.Error))
			}
		}
	}
	return errors.Join(errs...)
}

// Header returns the value of a record header, "" if absent.
func Header(m *ckafka.Message, key string) string {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// TopicMaxMessageBytes returns the largest record batch the broker accepts
// for topic (its max.message.bytes, the broker's default unless the topic
// sets its own). A topic created a moment ago may not be known to every
// part of a busy broker yet: it asks again for a few seconds.
func TopicMaxMessageBytes(ctx context.Context, k config.Kafka, topic string) (int, error) {
	admin, err := NewAdminClient(k, nil)
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	for attempt := 0; ; attempt++ {
		n, err := maxMessageBytes(ctx, admin.AdminClient, topic)
		if err == nil || attempt == 20 || ctx.Err() != nil {
			return n, err
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func maxMessageBytes(ctx context.Context, admin *ckafka.AdminClient, topic string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := admin.DescribeConfigs(ctx, []ckafka.ConfigResource{{Type: ckafka.ResourceTopic, Name: topic}})
	if err != nil {
		return 0, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	for _, r := range res {
		if r.Error.Code() != ckafka.ErrNoError {
			return 0, fmt.Errorf("describe configs of %s: %w", topic, r.Error)
		}
		if e, ok := r.Config["max.message.bytes"]; ok {
			n, err := strconv.Atoi(e.Value)
			if err != nil {
				return 0, fmt.Errorf("max.message.bytes of %s: %w", topic, err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("topic %s has no max.message.bytes", topic)
}
