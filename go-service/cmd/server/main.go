// Command server is the Payment Gateway Aggregator: it ingests raw gateway
// webhooks from Kafka, normalizes them to payment.v1.Payment, and streams
// them to gRPC clients.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
)

type settings struct {
	kafka         config.Kafka
	topics        string
	normalized    string
	dlq           string
	groupID       string
	host          string
	port          int
	logFormat     string
	window        int
	shutdownGrace time.Duration
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		if errors.Is(err, config.ErrHelp) {
			return
		}
		logging.Fatal("server", err)
	}
}

func parse(args []string) (settings, error) {
	var s settings
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("server", "Payment Gateway Aggregator server: Kafka raw topics → normalized payments → gRPC streams.")
	set.Kafka(&s.kafka)
	defaultTopics := strings.Join(config.DefaultRawTopics, ",")
	if one := os.Getenv("KAFKA_TOPIC"); one != "" && os.Getenv("KAFKA_TOPICS") == "" {
		defaultTopics = one // the course's single-topic setting
	}
	set.String(&s.topics, "topics", "KAFKA_TOPICS", defaultTopics, "raw topics to ingest, comma-separated (KAFKA_TOPIC is accepted too)")
	set.String(&s.normalized, "normalized-topic", "KAFKA_NORMALIZED_TOPIC", config.NormalizedTopic, "topic of normalized payments (protobuf)")
	set.String(&s.dlq, "dlq-topic", "KAFKA_DLQ_TOPIC", config.DLQTopic, "dead-letter topic: records that cannot become a payment, with the reason in headers")
	set.String(&s.groupID, "group-id", "KAFKA_GROUP_ID", "payment-aggregator", "consumer group of the ingest stage; instances in one group share the raw partitions")
	set.String(&s.host, "host", "GRPC_HOST", "", "interface to listen on; empty means all")
	set.Int(&s.port, "port", "GRPC_PORT", 50051, 0, 65535, "gRPC port; 0 picks a free one")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text (the course's [SERVER] lines) or json")
	set.Int(&s.window, "window", "STREAM_WINDOW", 100000, 100, 10000000, "recent payments kept in memory for replay; a client further behind is cut off and resumes from its cursor")
	grace := 10
	set.Int(&grace, "shutdown-grace", "SHUTDOWN_GRACE_SECONDS", 10, 1, 600, "seconds to drain in-flight records and close streams on SIGTERM")
	set.Check(func() error {
		if len(config.SplitList(s.topics)) == 0 {
			return errors.New("KAFKA_TOPICS is empty: name at least one raw topic")
		}
		return nil
	})
	err := set.Parse(args)
	s.shutdownGrace = time.Duration(grace) * time.Second
	return s, err
}

func run(args []string) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	if err := logging.Setup(s.logFormat, os.Stdout); err != nil {
		return err
	}
	log := slog.Default()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	topics := config.SplitList(s.topics)
	all := append(append([]string{}, topics...), s.normalized, s.dlq)
	if err := kafka.EnsureTopics(ctx, s.kafka, all); err != nil {
		return fmt.Errorf("%w (is Kafka running? `make kafka-up` starts a local one)", err)
	}
	producer, err := kafka.NewProducer(s.kafka, log.With("component", "KAFKA"), nil)
	if err != nil {
		return err
	}
	ingester := ingest.New(ingest.Options{
		Kafka: s.kafka, GroupID: s.groupID, Topics: topics,
		NormalizedTopic: s.normalized, DLQTopic: s.dlq,
		DrainTimeout: s.shutdownGrace,
	}, producer, log)
	hub := stream.NewHub(stream.Options{Window: s.window})
	svc := grpcserver.NewService(hub, ingester, log)

	lis, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("GRPC_PORT=%d: %w", s.port, err)
	}
	gs := grpc.NewServer(
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 10 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
	)
	healthSrv := svc.Register(gs)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	stageCtx, stopStages := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	ingestDone := make(chan struct{})
	go func() { defer close(ingestDone); errs <- wrap("ingest", ingester.Run(stageCtx)) }()
	go func() { errs <- wrap("serve", stream.Read(stageCtx, s.kafka, s.normalized, hub, log)) }()
	go func() { errs <- wrap("grpc", gs.Serve(lis)) }()
	go reportHealth(stageCtx, healthSrv, ingester, hub)
	log.Info("gRPC listening on :"+strconv.Itoa(lis.Addr().(*net.TCPAddr).Port), "component", "SERVER")

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("Shutting down: draining in-flight records, closing streams...", "component", "SERVER")
	case runErr = <-errs:
		log.Error("stopping", "component", "SERVER", "err", runErr)
	}
	healthSrv.Shutdown() // NOT_SERVING: load balancers stop sending new clients
	svc.Shutdown()       // open streams end with UNAVAILABLE, clients resume elsewhere
	stopGRPC(gs, s.shutdownGrace)
	stopStages()
	select {
	case <-ingestDone:
	case <-time.After(s.shutdownGrace + 5*time.Second):
		log.Warn("ingest did not drain in time; undelivered records will be consumed again", "component", "SERVER")
	}
	if left := producer.Close(s.shutdownGrace); left > 0 {
		log.Warn(fmt.Sprintf("%d record(s) not acknowledged at exit; their raw offsets were not committed", left), "component", "SERVER")
	}
	st := &ingester.Stats
	log.Info(fmt.Sprintf("Stopped. Ingested %d record(s): %d payment(s), %d to DLQ, %d skipped", st.In.Load(), st.Payments.Load(), st.DLQ.Load(), st.Skipped.Load()), "component", "SERVER")
	return runErr
}

func stopGRPC(gs *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		gs.Stop()
	}
}

// reportHealth keeps grpc.health.v1 truthful: SERVING once the ingest
// consumers have their partitions and the serve stage has caught up.
func reportHealth(ctx context.Context, hs *health.Server, in *ingest.Ingester, hub *stream.Hub) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if in.Assigned() && hub.CaughtUp() {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus("payment.v1.PaymentService", st)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func wrap(stage string, err error) error {
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("%s: %w", stage, err)
}
