package main

// The bench's copy of cmd/server's wiring (ingest + serve stages + gRPC), for
// `bench profile`: it runs in-process under runtime/pprof, a CPU profile of
// the server's stages under load with nothing added to the server itself.

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
)

type pipelineCfg struct {
	kafka      config.Kafka
	topics     []string
	normalized string
	dlq        string
	group      string
	mode       string
	host       string
	port       int
	window     int
	grace      time.Duration
}

// runPipeline is cmd/server's run(): it serves until ctx is done, then
// drains the ingest stage and stops.
func runPipeline(ctx context.Context, cfg pipelineCfg, log *slog.Logger) error {
	all := append(append([]string{}, cfg.topics...), cfg.normalized, cfg.dlq)
	if err := kafka.EnsureTopics(ctx, cfg.kafka, all); err != nil {
		return err
	}
	producer, err := kafka.NewProducer(cfg.kafka, log.With("component", "KAFKA"), nil)
	if err != nil {
		return err
	}
	ingester := ingest.New(ingest.Options{
		Kafka: cfg.kafka, GroupID: cfg.group, Topics: cfg.topics, ConsumerMode: cfg.mode,
		NormalizedTopic: cfg.normalized, DLQTopic: cfg.dlq, DrainTimeout: cfg.grace,
	}, producer, log)
	hub := stream.NewHub(stream.Options{Window: cfg.window})
	svc := grpcserver.NewService(hub, ingester, log)
	lis, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
	if err != nil {
		return err
	}
	grpcOpts, err := grpcserver.ServerOptions(grpcserver.Security{}, log)
	if err != nil {
		lis.Close()
		return err
	}
	gs := grpc.NewServer(grpcOpts...)
	healthSrv := svc.Register(gs)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	stageCtx, stopStages := context.WithCancel(context.Background())
	defer stopStages()
	errs := make(chan error, 3)
	ingestDone := make(chan struct{})
	go func() { defer close(ingestDone); errs <- ingester.Run(stageCtx) }()
	go func() { errs <- stream.Read(stageCtx, cfg.kafka, cfg.normalized, hub, log) }()
	go func() {
		if err := gs.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			errs <- err
		}
	}()
	go reportHealth(stageCtx, healthSrv, ingester, hub)
	log.Info("gRPC listening on :"+strconv.Itoa(lis.Addr().(*net.TCPAddr).Port), "component", "SERVER")

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
	}
	healthSrv.Shutdown()
	svc.Shutdown()
	gs.Stop()
	stopStages()
	select {
	case <-ingestDone:
	case <-time.After(cfg.grace + 5*time.Second):
	}
	producer.Close(cfg.grace)
	return runErr
}

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
