package grpcserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Streams from EARLIEST on a real topic, whose clients never read, share
// one catch-up reader, are each cut off with RESOURCE_EXHAUSTED and the
// cursor of the last payment they got, and resuming from that cursor gets
// exactly the rest.
func TestStalledCatchUpStreamsShareAReaderAndAreCutOff(t *testing.T) {
	const total, streams = 3000, 6
	k := kafkatest.Config(t)
	topic := kafkatest.Name(t, "serve")
	kafkatest.CreateTopics(t, k, topic)
	ids := produceMerged(t, k, topic, total)

	hub := stream.NewHub(stream.Options{Window: 1000, CatchUpBuffer: 16})
	src, err := stream.NewKafkaSource(k, topic, 0, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- hub.Run(ctx, src, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		stop()
		if err := <-served; err != nil {
			t.Error(err)
		}
		src.Close()
	})
	for !hub.CaughtUp() {
		time.Sleep(10 * time.Millisecond)
	}
	// A watchdog slower than opening the streams: all are open before the
	// first is cut.
	r := newRigOver(t, hub, Security{}, WithWatchdog(time.Second))

	// Fixed, small flow-control windows: the client's transport buffers
	// little for a program that never reads.
	conn := r.dial(t, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	stalled := make([]pb.PaymentService_StreamPaymentsClient, streams)
	for i := range stalled {
		if stalled[i], err = pb.NewPaymentServiceClient(conn).StreamPayments(context.Background(), &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST}); err != nil {
			t.Fatal(err)
		}
		r.waitClients(t, i+1)
	}
	if n := hub.CatchUpReaders(); n != 1 {
		t.Errorf("%d catch-up readers for %d streams from EARLIEST, want 1", n, streams)
	}

	for deadline := time.Now().Add(time.Minute); hub.Clients() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) { // a hang, not a measure
			t.Fatalf("%d stalled streams still open, want every one cut off", hub.Clients())
		}
	}

	client := pb.NewPaymentServiceClient(r.dial(t))
	var wg sync.WaitGroup
	for i, s := range stalled {
		wg.Go(func() {
			got, cursor := drainUntilCut(t, s)
			if cursor == "" {
				return
			}
			rest, err := client.StreamPayments(context.Background(), &pb.StreamPaymentsRequest{Cursor: cursor})
			if err != nil {
				t.Error(err)
				return
			}
			for len(got) < total {
				resp, err := rest.Recv()
				if err != nil {
					t.Errorf("stream %d resumed: %v after %d", i, err, len(got))
					return
				}
				id := resp.GetPayment().GetId()
				if got[id] {
					t.Errorf("stream %d resumed: %s again", i, id)
					return
				}
				got[id] = true
			}
			for _, id := range ids {
				if !got[id] {
					t.Errorf("stream %d: %s never came", i, id)
					return
				}
			}
		})
	}
	wg.Wait()
	// The catch-up readers close as their streams go; the live one stays.
	for deadline := time.Now().Add(time.Minute); hub.CatchUpReaders() != 0 || src.Readers() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d catch-up readers, %d Kafka readers open after every stream ended, want 0 and 1", hub.CatchUpReaders(), src.Readers())
		}
	}
}

// drainUntilCut reads what the transport buffered, then the status: it must
// be RESOURCE_EXHAUSTED with the cursor of the last payment received.
func drainUntilCut(t *testing.T, s pb.PaymentService_StreamPaymentsClient) (map[string]bool, string) {
	got := map[string]bool{}
	var last string
	for {
		resp, err := s.Recv()
		if err == nil {
			got[resp.GetPayment().GetId()], last = true, resp.GetCursor()
			continue
		}
		st := status.Convert(err)
		cursor := cursorInMessage.FindString(st.Message())
		if st.Code() != codes.ResourceExhausted || cursor == "" || cursor != last {
			t.Errorf("stalled stream ended with %v after %d payments, want RESOURCE_EXHAUSTED with the last cursor %s", err, len(got), last)
			return nil, ""
		}
		return got, cursor
	}
}

// produceMerged writes n payments of about 1 KiB to topic and returns their ids.
func produceMerged(t *testing.T, k config.Kafka, topic string, n int) []string {
	t.Helper()
	p, err := ckafka.NewProducer(kafka.ConfigMap(k, ckafka.ConfigMap{"enable.idempotence": true, "linger.ms": 5, "go.delivery.reports": false}))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("pi_%06d", i)
		v, err := proto.Marshal(&pb.Payment{Id: ids[i], Gateway: pb.Gateway_GATEWAY_STRIPE, EventId: "evt_" + ids[i],
			Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: 100, Currency: "USD"},
			UpdatedAt: timestamppb.Now(), Metadata: map[string]string{"pad": strings.Repeat("x", 1000)}})
		if err != nil {
			t.Fatal(err)
		}
		for {
			err = p.Produce(&ckafka.Message{TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny}, Key: []byte(ids[i]), Value: v}, nil)
			if err == nil {
				break
			}
			p.Flush(100) // the local queue is full: let it drain
		}
	}
	for p.Flush(1000) > 0 {
	}
	if got := kafkatest.Count(t, k, topic); got != int64(n) {
		t.Fatalf("%d records in %s, want %d", got, topic, n)
	}
	return ids
}
