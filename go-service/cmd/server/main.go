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
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/dashboard"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/metrics"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

type settings struct {
	kafka         config.Kafka
	topics        string
	normalized    string
	dlq           string
	groupID       string
	consumerMode  string
	host          string
	port          int
	metricsPort   int
	maxStreams    int
	security      grpcserver.Security
	logFormat     string
	window        int
	shutdownGrace time.Duration
	dashboardAddr string
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
	set := config.NewSet("server", "Payment Gateway Aggregator server: Kafka raw topics → normalized payments → gRPC streams.\n"+
		"Every setting comes from the environment; [ENV_FILE] names the .env file read first (default .env).")
	set.Kafka(&s.kafka)
	defaultTopics := strings.Join(config.DefaultRawTopics, ",")
	if one := os.Getenv("KAFKA_TOPIC"); one != "" && os.Getenv("KAFKA_TOPICS") == "" {
		defaultTopics = one // the course's single-topic setting
	}
	set.String(&s.topics, "topics", "KAFKA_TOPICS", defaultTopics, "raw topics to ingest, comma-separated (the course's single-topic [KAFKA_TOPIC] is accepted too)")
	set.String(&s.normalized, "normalized-topic", "KAFKA_NORMALIZED_TOPIC", config.NormalizedTopic, "topic of normalized payments (protobuf)")
	set.String(&s.dlq, "dlq-topic", "KAFKA_DLQ_TOPIC", config.DLQTopic, "dead-letter topic: records that cannot become a payment, with the reason in headers")
	set.String(&s.groupID, "group-id", "KAFKA_GROUP_ID", "payment-aggregator", "consumer group of the ingest stage; instances in one group share the raw partitions")
	set.String(&s.consumerMode, "consumer-mode", "INGEST_CONSUMER_MODE", "per-topic", "per-topic (one Kafka consumer per raw topic) or shared (one consumer for all raw topics, a goroutine per topic: fewer threads)")
	set.String(&s.host, "host", "GRPC_HOST", "", "interface the gRPC and metrics servers listen on; empty means all")
	set.Int(&s.port, "port", "GRPC_PORT", 50051, 0, 65535, "gRPC port; 0 picks a free one")
	set.Int(&s.maxStreams, "max-streams", "GRPC_MAX_STREAMS", grpcserver.DefaultMaxStreams, 1, 1000000, "StreamPayments calls served at once; more are refused with RESOURCE_EXHAUSTED")
	set.Secret(&s.security.AuthToken, "auth-token", "GRPC_AUTH_TOKEN", "if set, every call but health checks needs the metadata authorization: Bearer <token> (reflection too)")
	set.String(&s.security.TLSCert, "tls-cert", "GRPC_TLS_CERT", "", "PEM certificate (chain) file; with -tls-key turns TLS on")
	set.String(&s.security.TLSKey, "tls-key", "GRPC_TLS_KEY", "", "PEM private key file of -tls-cert")
	set.Int(&s.metricsPort, "metrics-port", "METRICS_PORT", 0, 0, 65535, "port of the HTTP server with /metrics (Prometheus), /healthz and /readyz; 0 turns it off")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text (the course's [SERVER] lines) or json")
	set.Int(&s.window, "window", "STREAM_WINDOW", 100000, 100, 10000000, "recent payments kept in memory for replay; a client further behind is cut off and resumes from its cursor")
	set.String(&s.dashboardAddr, "dashboard-addr", "DASHBOARD_ADDR", dashboard.DefaultAddr, "host:port of the browser dashboard (PaymentService over Connect/gRPC-Web, same token and TLS); empty turns it off")
	grace := 10
	set.Int(&grace, "shutdown-grace", "SHUTDOWN_GRACE_SECONDS", 10, 1, 600, "seconds to drain in-flight records and close streams on SIGTERM")
	set.Check(func() error {
		if len(config.SplitList(s.topics)) == 0 {
			return errors.New("KAFKA_TOPICS is empty: name at least one raw topic")
		}
		if s.consumerMode != "per-topic" && s.consumerMode != "shared" {
			return fmt.Errorf("INGEST_CONSUMER_MODE=%q: want per-topic or shared", s.consumerMode)
		}
		if s.metricsPort != 0 && s.metricsPort == s.port {
			return fmt.Errorf("METRICS_PORT=%d is the gRPC port too: pick another", s.metricsPort)
		}
		return s.security.Check()
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

	grpcOpts, err := grpcserver.ServerOptions(s.security, log)
	if err != nil {
		return err
	}
	topics := config.SplitList(s.topics)
	// Poll loops: the ingest consumers', the producer's, the serve stage's.
	procs := kafka.SpareProcs(ingest.Consumers(s.consumerMode, len(topics)) + 2)
	log.Debug("GOMAXPROCS set", "procs", procs)
	err = errors.Join(
		kafka.EnsureTopics(ctx, s.kafka, append(append([]string{}, topics...), s.normalized)),
		kafka.EnsureTopicsWithConfig(ctx, s.kafka, []string{s.dlq}, kafka.DLQTopicConfig))
	if err != nil {
		return fmt.Errorf("%w (is Kafka running? `make kafka-up` starts a local one)", err)
	}
	pinger, err := kafka.NewPinger(s.kafka)
	if err != nil {
		return err
	}
	defer pinger.Close()
	producer, err := kafka.NewProducer(s.kafka, log.With("component", "KAFKA"), nil)
	if err != nil {
		return err
	}
	hub := stream.NewHub(stream.Options{Window: s.window})
	var ingester *ingest.Ingester
	// Ready is one condition for gRPC health, /readyz and the ready gauge.
	ready := func() (bool, string) {
		if up, err := pinger.Up(); !up {
			if err == nil {
				return false, "Kafka not probed yet"
			}
			return false, err.Error()
		}
		if !ingester.Assigned() {
			return false, "ingest consumers have no partitions assigned yet"
		}
		if !hub.CaughtUp() {
			return false, "serve stage is still reading the normalized topic"
		}
		return true, ""
	}
	var m *metrics.Metrics
	var observer grpcserver.Observer
	ingestOpts := ingest.Options{
		Kafka: s.kafka, GroupID: s.groupID, Topics: topics, ConsumerMode: s.consumerMode,
		NormalizedTopic: s.normalized, DLQTopic: s.dlq,
		DrainTimeout: s.shutdownGrace,
	}
	if s.metricsPort != 0 {
		m = metrics.New(metrics.Sources{
			Hub:         hub.Stats,
			ConsumerLag: func() map[string]int64 { return ingester.ConsumerLag() },
			Ready:       ready,
			KafkaUp:     func() bool { up, _ := pinger.Up(); return up },
		})
		observer = m
		ingestOpts.OnRecord = m.OnRecord
	}
	ingester = ingest.New(ingestOpts, producer, log)
	svc := grpcserver.NewService(hub, ingester, log, grpcserver.WithMaxStreams(s.maxStreams), grpcserver.WithObserver(observer))

	lis, err := net.Listen("tcp", net.JoinHostPort(s.host, strconv.Itoa(s.port)))
	if err != nil {
		return fmt.Errorf("GRPC_PORT=%d: %w", s.port, err)
	}
	var ms *metrics.Server
	if m != nil {
		if ms, err = m.Listen(net.JoinHostPort(s.host, strconv.Itoa(s.metricsPort))); err != nil {
			lis.Close()
			return fmt.Errorf("METRICS_PORT=%d: %w", s.metricsPort, err)
		}
	}
	gs := grpc.NewServer(grpcOpts...)
	healthSrv := svc.Register(gs)
	healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthSrv.SetServingStatus(pb.PaymentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)

	stageCtx, stopStages := context.WithCancel(context.Background())
	defer stopStages()
	errs := make(chan error, 5)
	ingestDone := make(chan struct{})
	go func() { defer close(ingestDone); errs <- wrap("ingest", ingester.Run(stageCtx)) }()
	go func() { errs <- wrap("serve", stream.Read(stageCtx, s.kafka, s.normalized, hub, log)) }()
	go func() { errs <- wrap("grpc", gs.Serve(lis)) }()
	if ms != nil {
		go func() { errs <- wrap("metrics", ms.Serve()) }()
	}
	go pinger.Run(stageCtx, time.Second, 1500*time.Millisecond, func(up bool, err error) {
		switch {
		case !up:
			log.Warn("Kafka unreachable", "component", "KAFKA", "err", err.Error())
		case up && err == nil:
			log.Info("Kafka reachable", "component", "KAFKA")
		}
	})
	go grpcserver.WatchHealth(stageCtx, healthSrv, ready, 500*time.Millisecond, log)
	// Dashboard: the browser's port, over the same grpc.Server.
	var dash *dashboard.Server
	if s.dashboardAddr != "" {
		if dash, err = startDashboard(gs, s, errs); err != nil {
			stopGRPC(gs, time.Second)
			return err
		}
		log.Info("Dashboard on "+dash.URL(), "component", "SERVER")
	}
	log.Info("gRPC listening on :"+strconv.Itoa(lis.Addr().(*net.TCPAddr).Port)+describeSecurity(s.security), "component", "SERVER")
	if ms != nil {
		log.Info(fmt.Sprintf("Metrics on http://%s/metrics (also /healthz, /readyz)", ms.Addr()), "component", "SERVER")
	}

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
	if dash != nil {
		dash.Shutdown(2*time.Second, log) // after gs: its calls have ended with it
	}
	if ms != nil {
		ms.Shutdown(2*time.Second, log)
	}
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

// describeSecurity is the listening line's suffix: nothing for the course's
// plaintext server, else what is on. The token itself never appears.
func describeSecurity(c grpcserver.Security) string {
	var on []string
	if c.TLS() {
		on = append(on, "TLS")
	}
	if c.AuthToken != "" {
		on = append(on, "token auth")
	}
	if len(on) == 0 {
		return ""
	}
	return " (" + strings.Join(on, ", ") + ")"
}

// startDashboard serves the dashboard on DASHBOARD_ADDR; Serve's error goes to errs.
func startDashboard(gs *grpc.Server, s settings, errs chan<- error) (*dashboard.Server, error) {
	h, err := dashboard.New(gs)
	if err != nil {
		return nil, err
	}
	dash, err := dashboard.Listen(s.dashboardAddr, h, s.security)
	if err != nil {
		return nil, fmt.Errorf("DASHBOARD_ADDR=%s: %w", s.dashboardAddr, err)
	}
	go func() { errs <- wrap("dashboard", dash.Serve()) }()
	return dash, nil
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

func wrap(stage string, err error) error {
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("%s: %w", stage, err)
}
