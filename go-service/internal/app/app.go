// Package app is the server's composition root: the one place that builds
// the Kafka clients, the two stages and the transports at their edge, starts
// them, and stops them in order. cmd/server runs it; the bench's profile and
// in-process tests run the same wiring.
//
//	raw topics ──▶ ingest stage ──▶ events topic (+ DLQ topic)
//	events topic ──▶ state stage (Pebble store, Kafka transactions) ──▶ normalized topic + state topic
//	normalized topic ──▶ serve stage (hub) ──▶ gRPC streams, /metrics over HTTP
//	state topic + DLQ topic ──▶ view (the same store) ──▶ GetPayment, GetStats
//
// Start builds and starts everything; Wait serves until the context given to
// Start is done or a stage fails, then shuts down; Run is both.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/dashboard"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/metrics"
	"github.com/paymentgateway/aggregator/go-service/internal/state"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// Config is the server's settings, already checked (cmd/server parses and
// checks them; see its -h).
type Config struct {
	Kafka           config.Kafka
	Topics          []string // raw topics to ingest
	EventsTopic     string   // ingest → state stage: one normalized event per record
	NormalizedTopic string   // state stage → serve stage: the merged payment at each event
	StateTopic      string   // compacted: the latest state record per payment
	DLQTopic        string
	GroupID         string // consumer group of the ingest stage
	State           StateConfig
	ConsumerMode    string // ingest.ModePerTopic or ingest.ModeShared
	// InstanceID is the static group member id of this instance; "" means
	// DefaultInstanceID(Port).
	InstanceID    string
	Host          string // interface the gRPC server listens on; "" means all
	Port          int    // gRPC port; 0 picks a free one
	MetricsAddr   string // host:port of /metrics, /healthz, /readyz; "" turns that server off
	MaxStreams    int    // StreamPayments calls served at once; 0 means grpcserver.DefaultMaxStreams
	Security      grpcserver.Security
	Window        int           // recent payments kept for replay; 0 means the hub's default
	CatchUpBuffer int           // payments queued per catch-up stream; 0 means the hub's default
	ServeQueueKB  int           // librdkafka prefetch per serve reader, KiB; 0 means stream.DefaultQueueKB
	ShutdownGrace time.Duration // to drain in-flight records and close streams; 0 means DefaultShutdownGrace
	DashboardAddr string        // host:port of the browser dashboard; "" turns it off
}

// StateConfig is the state stage's and the view's settings.
type StateConfig struct {
	GroupID        string // consumer group over the events topic; "" means GroupID + "-state"
	Dir            string // the Pebble store; "" means DefaultStateDir
	Horizon        time.Duration
	CommitInterval time.Duration
	CommitRecords  int
	MinFreeMB      int // below this much free space in Dir, health says NOT_SERVING
}

// Defaults of a StateConfig that sets none.
const (
	DefaultStateDir       = ".local/state"
	DefaultHorizon        = 7 * 24 * time.Hour
	DefaultCommitInterval = 20 * time.Millisecond
	DefaultCommitRecords  = 500
	DefaultMinFreeMB      = 100
)

func (c *StateConfig) defaults(groupID string) {
	if c.GroupID == "" {
		c.GroupID = groupID + "-state"
	}
	if c.Dir == "" {
		c.Dir = DefaultStateDir
	}
	if c.Horizon <= 0 {
		c.Horizon = DefaultHorizon
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.CommitRecords <= 0 {
		c.CommitRecords = DefaultCommitRecords
	}
	if c.MinFreeMB <= 0 {
		c.MinFreeMB = DefaultMinFreeMB
	}
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

	// The stages: ingest (raw → events + DLQ), state (events → normalized +
	// state, in store), serve (normalized → hub) and the view (state + DLQ →
	// store, for GetPayment and GetStats).
	ingester *ingest.Ingester
	store    *state.Store
	disk     *state.DiskGuard
	folder   *state.Stage
	view     *state.View
	hub      *stream.Hub

	// The edge: gRPC, and the metrics HTTP server when MetricsAddr is set.
	svc       *grpcserver.Service
	gs        *grpc.Server
	healthSrv *health.Server
	lis       net.Listener
	metrics   *metrics.Metrics  // nil without MetricsAddr
	ms        *metrics.Server   // nil without MetricsAddr
	dash      *dashboard.Server // nil without DashboardAddr

	stopStages context.CancelFunc
	errs       chan error    // how each stage and server ended
	ingestDone chan struct{} // closed when the ingest stage has drained
	stopState  context.CancelFunc
	stateDone  chan struct{} // closed when the state stage has committed and left its group
	viewDone   chan struct{} // closed when the view has stopped writing to the store
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
	cfg.State.defaults(cfg.GroupID)
	a := &App{cfg: cfg, log: log, ctx: ctx}
	grpcOpts, err := grpcserver.ServerOptions(cfg.Security, log)
	if err != nil {
		return nil, err
	}
	if err := a.connectKafka(ctx); err != nil {
		a.closeKafka()
		return nil, err
	}
	if err := a.openStore(); err != nil {
		a.closeKafka()
		return nil, err
	}
	a.buildStages()
	if err := a.listen(grpcOpts); err != nil {
		a.closeKafka()
		a.store.Close()
		return nil, err
	}
	a.start()
	return a, nil
}

// connectKafka creates the topics the server reads and writes, and the
// clients the stages share.
func (a *App) connectKafka(ctx context.Context) error {
	// Poll loops: the ingest consumers', the producer's, the state stage's
	// two, the view's, the serve stage's.
	procs := kafka.SpareProcs(ingest.Consumers(a.cfg.ConsumerMode, len(a.cfg.Topics)) + 5)
	a.log.Debug("GOMAXPROCS set", "procs", procs)
	// One after the other: a cluster that refuses us says so once.
	err := kafka.EnsureTopics(ctx, a.cfg.Kafka, append(append([]string{}, a.cfg.Topics...), a.cfg.EventsTopic, a.cfg.NormalizedTopic))
	if err == nil {
		err = kafka.EnsureTopicsWithConfig(ctx, a.cfg.Kafka, []string{a.cfg.StateTopic}, kafka.StateTopicConfig)
	}
	if err == nil {
		err = kafka.EnsureTopicsWithConfig(ctx, a.cfg.Kafka, []string{a.cfg.DLQTopic}, kafka.DLQTopicConfig)
	}
	if err != nil && kafka.Refused(err) {
		return err // a wrong secret or certificate: the line names the setting
	}
	if err != nil {
		return fmt.Errorf("%w (is Kafka running? `make kafka-up` starts a local one)", err)
	}
	if a.pinger, err = kafka.NewPinger(a.cfg.Kafka); err != nil {
		return err
	}
	a.producer, err = kafka.NewProducer(a.cfg.Kafka, a.log.With("component", "KAFKA"), nil)
	return err
}

// openStore opens the state store and checks its disk.
func (a *App) openStore() error {
	var err error
	if a.store, err = state.OpenStore(a.cfg.State.Dir); err != nil {
		return err
	}
	a.disk = state.NewDiskGuard(a.cfg.State.Dir, uint64(a.cfg.State.MinFreeMB)<<20)
	return nil
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
// them, with metrics when MetricsAddr is set.
func (a *App) buildStages() {
	// The state stage writes merged payments: the hub only fans them out.
	a.hub = stream.NewHub(stream.Options{Window: a.cfg.Window, CatchUpBuffer: a.cfg.CatchUpBuffer})
	ingestOpts := ingest.Options{
		Kafka: a.cfg.Kafka, GroupID: a.cfg.GroupID, Topics: a.cfg.Topics, ConsumerMode: a.cfg.ConsumerMode,
		EventsTopic: a.cfg.EventsTopic, DLQTopic: a.cfg.DLQTopic,
		DrainTimeout: a.cfg.ShutdownGrace,
		InstanceID:   DefaultInstanceID(a.cfg.InstanceID, a.cfg.Port),
	}
	var observer grpcserver.Observer
	if a.cfg.MetricsAddr != "" {
		a.metrics = metrics.New(metrics.Sources{
			Hub:         a.hub.Stats,
			Payments:    a.paymentFigures,
			ConsumerLag: func() map[string]int64 { return a.ingester.ConsumerLag() },
			Ready:       a.Ready,
			KafkaUp:     func() bool { up, _ := a.pinger.Up(); return up },
		})
		observer = a.metrics
		ingestOpts.OnRecord = a.metrics.OnRecord
		ingestOpts.OnDeliveryFailure = a.metrics.DeliveryFailed
	}
	a.ingester = ingest.New(ingestOpts, a.producer, a.log)
	sc := a.cfg.State
	a.folder = state.NewStage(state.Options{
		Kafka: a.cfg.Kafka, GroupID: sc.GroupID,
		EventsTopic: a.cfg.EventsTopic, NormalizedTopic: a.cfg.NormalizedTopic, StateTopic: a.cfg.StateTopic,
		Horizon: sc.Horizon, CommitInterval: sc.CommitInterval, CommitRecords: sc.CommitRecords,
		InstanceID: DefaultInstanceID(a.cfg.InstanceID, a.cfg.Port),
	}, a.store, a.disk, a.log)
	a.view = state.NewView(a.cfg.Kafka, a.cfg.StateTopic, a.cfg.DLQTopic, a.store, a.disk, a.log)
	a.svc = grpcserver.NewService(a.hub, a.view, a.ingester, a.log, grpcserver.WithMaxStreams(a.cfg.MaxStreams), grpcserver.WithObserver(observer))
}

// paymentFigures are the metrics' payment figures: counts over the state
// from the view, and this instance's state stage counters.
func (a *App) paymentFigures() (metrics.Payments, error) {
	t, err := a.view.Totals()
	if err != nil {
		return metrics.Payments{}, err
	}
	return metrics.Payments{
		ByGateway: t.ByGateway, ByStatus: t.ByStatus, TotalsByCurrency: t.TotalsByCurrency,
		Events: a.folder.Stats.Applied.Load(), Duplicates: a.folder.Stats.Dupes.Load(),
		NotFolded: a.folder.NotFolded(),
	}, nil
}

// DefaultInstanceID is the static group member id: the setting, else the
// host name and the gRPC port. A server on port 0 listens on another port
// after a restart, so it could not come back as the same member: its
// consumers are dynamic members (""), which leave the group when they stop.
func DefaultInstanceID(setting string, port int) string {
	if setting != "" || port == 0 {
		return setting
	}
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return ingest.DefaultInstanceID(host, port)
}

// Ready is one condition for gRPC health, /readyz and the ready gauge: Kafka
// answers, the ingest consumers and the state stage have partitions, the view
// has read its topics up to where they ended at start (GetPayment answers
// for every payment), the serve stage knows where the normalized topic
// starts and ends, and the store's disk has room. When not, why.
func (a *App) Ready() (bool, string) {
	if up, err := a.pinger.Up(); !up {
		if err == nil {
			return false, "Kafka not probed yet"
		}
		return false, err.Error()
	}
	if why := a.ingester.Problem(); why != "" {
		return false, why
	}
	if !a.ingester.Assigned() {
		return false, "ingest consumers have no partitions assigned yet"
	}
	if low := a.disk.Low(); low != "" {
		return false, low
	}
	if !a.folder.Assigned() {
		return false, "state stage has no partitions assigned yet"
	}
	if !a.view.CaughtUp() {
		return false, "state view is still reading the state topic"
	}
	if !a.hub.Started() {
		// Streams need the normalized topic's bounds; filling the window
		// need not be waited for (Hub.Started).
		return false, "serve stage has not read the normalized topic's bounds yet"
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
	a.gs = grpc.NewServer(grpcOpts...)
	a.healthSrv = a.svc.Register(a.gs)
	a.healthSrv.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	a.healthSrv.SetServingStatus(pb.PaymentService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_NOT_SERVING)
	if a.cfg.DashboardAddr != "" {
		if a.dash, err = listenDashboard(a.gs, a.cfg); err != nil {
			lis.Close()
			return err
		}
	}
	if a.metrics != nil {
		// /metrics takes the gRPC token; the probes stay open (metrics.ServerConfig).
		if a.ms, err = a.metrics.ListenConfig(metrics.ServerConfig{Addr: a.cfg.MetricsAddr, Token: a.cfg.Security.AuthToken}); err != nil {
			lis.Close()
			if a.dash != nil {
				a.dash.Close()
			}
			return fmt.Errorf("METRICS_ADDR=%s: %w", a.cfg.MetricsAddr, err)
		}
	}
	a.lis = lis
	return nil
}

// listenDashboard binds the browser dashboard's port: PaymentService of gs
// over Connect/gRPC-Web, with the gRPC port's token and TLS.
func listenDashboard(gs *grpc.Server, cfg Config) (*dashboard.Server, error) {
	h, err := dashboard.New(gs)
	if err != nil {
		return nil, err
	}
	dash, err := dashboard.Listen(cfg.DashboardAddr, h, cfg.Security)
	if err != nil {
		return nil, fmt.Errorf("DASHBOARD_ADDR=%s: %w", cfg.DashboardAddr, err)
	}
	return dash, nil
}

// GRPCAddr is where the gRPC server listens (the port, when Port was 0).
func (a *App) GRPCAddr() net.Addr { return a.lis.Addr() }

// DashboardURL is the dashboard's address, or "" without one.
func (a *App) DashboardURL() string {
	if a.dash == nil {
		return ""
	}
	return a.dash.URL()
}

// MetricsAddr is where the metrics server listens, or nil without one.
func (a *App) MetricsAddr() net.Addr {
	if a.ms == nil {
		return nil
	}
	return a.ms.Addr()
}
