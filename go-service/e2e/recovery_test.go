package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// After kill -9, a server restarted with the same instance id rejoins its
// consumer group as the same static member (KIP-345): it takes the dead
// member's partitions back at once instead of waiting for the dead
// member's session to time out (45 s by default). So it is SERVING again
// while that session would still be alive, and the group's members are the
// instance's own ids, one per consumer, with nobody else left over.
func TestRestartAfterKillNineRejoinsAsTheSameMember(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_ADYEN}
	tt := newTopics(t, gateways...)
	id := "it-" + tt.prefix[len(tt.prefix)-9:]
	env := "INGEST_INSTANCE_ID=" + id
	first := startServer(t, tt, env)
	before := groupMembers(t, tt.group)
	first.kill(t)
	killed := time.Now()

	restarted := launchServer(t, tt, env)
	const sessionTimeout = 45 * time.Second // librdkafka's session.timeout.ms
	restarted.waitServing(t, sessionTimeout-time.Since(killed)-5*time.Second)
	after := groupMembers(t, tt.group)
	var want []string
	for _, topic := range tt.rawList() {
		want = append(want, id+"-"+topic)
	}
	slices.Sort(want)
	if !slices.Equal(before, want) || !slices.Equal(after, want) {
		t.Errorf("group members (instance ids) before the kill %q, after the restart %q; want %q", before, after, want)
	}
}

// groupMembers returns the sorted group.instance.id of every member of
// group that has partitions assigned.
func groupMembers(t *testing.T, group string) []string {
	t.Helper()
	admin, err := kafka.NewAdminClient(kafkaConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := admin.DescribeConsumerGroups(ctx, []string{group})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, g := range res.ConsumerGroupDescriptions {
		if g.Error.Code() != ckafka.ErrNoError {
			t.Fatalf("describe group %s: %v", group, g.Error)
		}
		for _, m := range g.Members {
			if len(m.Assignment.TopicPartitions) > 0 {
				ids = append(ids, fmt.Sprint(m.GroupInstanceID))
			}
		}
	}
	slices.Sort(ids)
	return ids
}
