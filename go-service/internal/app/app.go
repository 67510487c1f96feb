// Package app is the server's composition root: the one place that builds
// the Kafka clients, the two stages and the transports at their edge, starts
// them, and stops them in order. cmd/server runs it; the bench's profile and
// in-process tests run the same wiring.
//
//	raw topics ──▶ ingest stage ──▶ normalized topic (+ DLQ topic)
//	normalized topic ──▶ serve stage (hub) ──▶ gRPC, /metrics over HTTP
//
// Start builds and starts everything; Wait serves until the context given to
// Start is done or a stage fails, then shuts down; Run is both.
package app

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/paymentgateway/aggregator/go-service/internal/metrics"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Config is the server's settings, already checked (cmd/server parses and
// checks them; see its -h).
type Config struct {
	Kafka           config.Kafka
	Topics          []string // raw topics to ingest
	NormalizedTopic string
	DLQTopic        string
	GroupID         string // consumer group of the ingest stage
	ConsumerMode    string // ingest.ModePerTopic or ingest.ModeShared
	Host            string // interface the gRPC and metrics servers listen on; "" means all
	Port            int    // gRPC port; 0 picks a free one
	MetricsPort     int    // port of /metrics, /healthz, /readyz; 0 turns that server off
	MaxStreams      int    // StreamPayments calls served at once; 0 means grpcserver.DefaultMaxStreams
	Security        grpcserver.Security
	Window          int           // recent payments kept for replay; 0 means the hub's default
	CatchUpBuffer   int           // payments queued per catch-up stream; 0 means the hub's default
	ServeQueueKB    int           // librdkafka prefetch per serve reader, KiB; 0 means stream.DefaultQueueKB
	ShutdownGrace   time.Duration // to drain in-flight records and close streams; 0 means DefaultShutdownGrace
}

// DefaultShutdownGrace is the shutdown grace of a Config that sets none.
const DefaultShutdownGrace = 10 * time.Second

// App is a started server: its Kafka clients, its stages and its listeners.
type App struct {
	cfg Config
	log *slog.Logger
	ctx context.Context // Start's: when it is done, Wait shuts down

	// Kafka clients, shared by the stages.
	pinger   *kafka.Pinger
	producer *kafka.Producer

	// The stages: ingest (raw → normalized + DLQ) and serve (normalized → hub).
	ingester *ingest.Ingester
	hub      *stream.Hub

	// The edge: gRPC, and the metrics HTTP server when MetricsPort is set.
	svc       *grpcserver.Service
	gs        *grpc.Server
	healthSrv *health.Server
	lis       net.Listener
	metrics   *metrics.Metrics // nil without MetricsPort
	ms        *metrics.Server  // nil without MetricsPort

	stopStages context.CancelFunc
	errs       chan error    // how each stage and server ended
	ingestDone chan struct{} // closed when the ingest stage has drained
}

// Run starts the server and serves until ctx is done or a stage fails; then
// it shuts down gracefully. It returns the failed stage's error, or nil.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	a, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return a.Wait()
}

// Start creates the topics, connects to Kafka, binds the listeners and starts
// the stages and servers; it does not wait for health to be SERVING (Ready
// says when). ctx bounds the start-up and, once it is done, tells Wait to
// shut down. After a nil error the caller must call Wait.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = DefaultShutdownGrace
	}
	a := &App{cfg: cfg, log: log, ctx: ctx}
	grpcOpts, err := grpcserver.ServerOptions(cfg.Security, log)
	if err != nil {
		return nil, err
	}
	if err := a.connectKafka(ctx); err != nil {
		a.closeKafka()
		return nil, err
	}
	a.buildStages()
	if err := a.listen(grpcOpts); err != nil {
		a.closeKafka()
		return nil, err
	}
	a.start()
	return a, nil
}

// connectKafka creates the topics the server reads and writes, and the
// clients the stages share.
func (a *App) connectKafka(ctx context.Context) error {
	// Poll loops: the ingest consumers', the producer's, the serve stage's.
	procs := kafka.SpareProcs(ingest.Consumers(a.cfg.ConsumerMode, len(a.cfg.Topics)) + 2)
	a.log.Debug("GOMAXPROCS set", "procs", procs)
	err := errors.Join(
		kafka.EnsureTopics(ctx, a.cfg.Kafka, append(append([]string{}, a.cfg.Topics...), a.cfg.NormalizedTopic)),
		kafka.EnsureTopicsWithConfig(ctx, a.cfg.Kafka, []string{a.cfg.DLQTopic}, kafka.DLQTopicConfig))
	if err != nil {
		return fmt.Errorf("%w (is Kafka running? `make kafka-up` starts a local one)", err)
	}
	if a.pinger, err = kafka.NewPinger(a.cfg.Kafka); err != nil {
		return err
	}
	a.producer, err = kafka.NewProducer(a.cfg.Kafka, a.log.With("component", "KAFKA"), nil)
	return err
}

// closeKafka closes the clients connectKafka made; Start calls it when it
// fails half-way.
func (a *App) closeKafka() {
	if a.producer != nil {
		a.producer.Close(a.cfg.ShutdownGrace)
	}
	if a.pinger != nil {
		a.pinger.Close()
	}
}

// buildStages builds the ingest and serve stages and the gRPC service over
// them, with metrics when MetricsPort is set.
func (a *App) buildStages() {
	// Fold: the serve stage still dedupes and merges the events of the
	// normalized topic itself, until the state stage writes merged payments.
	a.hub = stream.NewHub(stream.Options{Window: a.cfg.Window, CatchUpBuffer: a.cfg.CatchUpBuffer, Fold: true})
	ingestOpts := ingest.Options{
		Kafka: a.cfg.Kafka, GroupID: a.cfg.GroupID, Topics: a.cfg.Topics, ConsumerMode: a.cfg.ConsumerMode,
		NormalizedTopic: a.cfg.NormalizedTopic, DLQTopic: a.cfg.DLQTopic,
		DrainTimeout: a.cfg.ShutdownGrace,
	}
	var observer grpcserver.Observer
	if a.cfg.MetricsPort != 0 {
		a.metrics = metrics.New(metrics.Sources{
			Hub:         a.hub.Stats,
			ConsumerLag: func() map[string]int64 { return a.ingester.ConsumerLag() },
			Ready:       a.Ready,
			KafkaUp:     func() bool { up, _ := a.pinger.Up(); return up },
		})
		observer = a.metrics
		ingestOpts.OnRecord = a.metrics.OnRecord
	}
	a.ingester = ingest.New(ingestOpts, a.producer, a.log)
	a.svc = grpcserver.NewService(a.hub, a.ingester, a.log, grpcserver.WithMaxStreams(a.cfg.MaxStreams), grpcserver.WithObserver(observer))
}

// Ready is one condition for gRPC health, /readyz and the ready gauge: Kafka
// answers, the ingest consumers have partitions and the serve stage has read
// the normalized topic up to where it ended at start. When not, why.
func (a *App) Ready() (bool, string) {
	if up, err := a.pinger.Up(); !up {
		if err == nil {
			return false, "Kafka not probed yet"
		}
		return false, err.Error()
	}
	if !a.ingester.Assigned() {
		return false, "ingest consumers have no partitions assigned yet"
	}
	if !a.hub.CaughtUp() {
		return false, "serve stage is still reading the normalized topic"
	}
	return true, ""
}

// listen binds the gRPC port (and the metrics port) and registers the
// services; health says NOT_SERVING until the stages are ready.
func (a *App) listen(grpcOpts []grpc.ServerOption) error {
	lis, err := net.Listen("tcp", net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.Port)))
	if err != nil {
		return fmt.Errorf("GRPC_PORT=%d: %w", a.cfg.Port, err)
	}
	if a.metrics != nil {
		if a.ms, err = a.metrics.Listen(net.JoinHostPort(a.cfg.Host, strconv.Itoa(a.cfg.MetricsPort))); err != nil {
			lis.Close()
			return fmt.Errorf("METRICS_PORT=%d: %w", a.cfg.MetricsPort, err)
		}
	}
	a.lis = lis
	a.gs = grpc.NewServer(grpcOpts...)
	a.healthSrv = a.svc.Register(a.gs)
	a.healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	a.healthSrv.SetServingStatus(pb.PaymentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	return nil
}

// GRPCAddr is where the gRPC server listens (the port, when Port was 0).
func (a *App) GRPCAddr() net.Addr { return a.lis.Addr() }

// MetricsAddr is where the metrics server listens, or nil without one.
func (a *App) MetricsAddr() net.Addr {
	if a.ms == nil {
		return nil
	}
	return a.ms.Addr()
}
