// Command server is the Payment Gateway Aggregator: it ingests raw gateway
// webhooks from Kafka, normalizes them to payment.v1.Payment, and streams
// them to gRPC clients.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/app"
	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/dashboard"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/metrics"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
)

// settings are the app's Config plus what main itself needs.
type settings struct {
	app       app.Config
	logFormat string
}

func main() {
	logging.Main("server", config.ErrHelp, run)
}

func parse(args []string) (settings, error) {
	var s settings
	var topics string
	c := &s.app
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("server", "Payment Gateway Aggregator server: Kafka raw topics → events → merged payments → gRPC streams.\n"+
		"Every setting comes from the environment; [ENV_FILE] names the .env file read first (default .env).")
	set.Kafka(&c.Kafka)
	set.String(&topics, "topics", "KAFKA_TOPICS", config.RawTopicsDefault(), "raw topics to ingest, comma-separated (the course's single-topic [KAFKA_TOPIC] is accepted too)")
	set.String(&c.EventsTopic, "events-topic", "KAFKA_EVENTS_TOPIC", config.EventsTopic, "topic of normalized events (protobuf), keyed <gateway>:<id>: ingest writes it, the state stage folds it")
	set.String(&c.NormalizedTopic, "normalized-topic", "KAFKA_NORMALIZED_TOPIC", config.NormalizedTopic, "topic of merged payments (protobuf), the latest state at each event: the state stage writes it, clients stream it")
	set.String(&c.StateTopic, "state-topic", "KAFKA_STATE_TOPIC", config.StateTopic, "compacted topic of each payment's latest state record: restores the state stage, feeds GetPayment and GetStats")
	set.String(&c.DLQTopic, "dlq-topic", "KAFKA_DLQ_TOPIC", config.DLQTopic, "dead-letter topic: records that cannot become a payment, with the reason in headers")
	set.String(&c.GroupID, "group-id", "KAFKA_GROUP_ID", "payment-aggregator", "consumer group of the ingest stage; instances in one group share the raw partitions")
	set.String(&c.State.GroupID, "state-group-id", "KAFKA_STATE_GROUP_ID", "", "consumer group of the state stage over the events topic; empty means the ingest group id + \"-state\"")
	set.String(&c.State.Dir, "state-dir", "STATE_DIR", app.DefaultStateDir, "directory of the embedded state store (Pebble); a cache of Kafka: it may be deleted while the server is stopped")
	set.Duration(&c.State.Horizon, "dedupe-horizon", "DEDUPE_HORIZON", app.DefaultHorizon, time.Minute, 366*24*time.Hour, "how long an event id is remembered: a redelivered webhook within it is dropped")
	set.Duration(&c.State.CommitInterval, "state-commit-interval", "STATE_COMMIT_INTERVAL", app.DefaultCommitInterval, time.Millisecond, time.Minute, "longest a state-stage transaction stays open: each commit makes its records visible to read_committed clients")
	set.Int(&c.State.CommitRecords, "state-commit-records", "STATE_COMMIT_RECORDS", app.DefaultCommitRecords, 1, 100000, "most events in one state-stage transaction")
	set.Int(&c.State.MinFreeMB, "state-min-free-mb", "STATE_MIN_FREE_MB", app.DefaultMinFreeMB, 1, 1<<20, "free space (MB) the state store's file system must keep; below it the state stage pauses and health says NOT_SERVING")
	set.String(&c.ConsumerMode, "consumer-mode", "INGEST_CONSUMER_MODE", "per-topic", "per-topic (one Kafka consumer per raw topic) or shared (one consumer for all raw topics, a goroutine per topic: fewer threads)")
	set.String(&c.InstanceID, "instance-id", "INGEST_INSTANCE_ID", "", "static group member id of this instance (Kafka's group.instance.id), so that a restart takes its partitions back at once; empty means <host name>-<gRPC port> (none with port 0). Two running instances must not share it")
	set.String(&c.Host, "host", "GRPC_HOST", "", "interface the gRPC server listens on; empty means all")
	set.Int(&c.Port, "port", "GRPC_PORT", 50051, 0, 65535, "gRPC port; 0 picks a free one")
	set.Int(&c.MaxStreams, "max-streams", "GRPC_MAX_STREAMS", grpcserver.DefaultMaxStreams, 1, 1000000, "StreamPayments calls served at once; more are refused with RESOURCE_EXHAUSTED")
	c.Security.Declare(set) // GRPC_AUTH_TOKEN[_FILE], GRPC_TLS_CERT, GRPC_TLS_KEY, GRPC_TLS_CLIENT_CA
	var ms metrics.Settings
	ms.Declare(set) // METRICS_ADDR, METRICS_PORT
	dashboardAddr := dashboard.DefaultAddr
	if v, ok := os.LookupEnv("DASHBOARD_ADDR"); ok && v == "" {
		dashboardAddr = "" // set and empty: off (an unset variable means the default)
	}
	set.String(&c.DashboardAddr, "dashboard-addr", "DASHBOARD_ADDR", dashboardAddr, "host:port of the browser dashboard (PaymentService over Connect/gRPC-Web, same token and TLS); empty turns it off")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text (the course's [SERVER] lines) or json")
	set.Int(&c.Window, "window", "STREAM_WINDOW", 100000, 100, 10000000, "recent payments kept in memory for replay; a client further behind is cut off and resumes from its cursor")
	set.Int(&c.CatchUpBuffer, "catchup-buffer", "STREAM_CATCHUP_BUFFER", stream.DefaultCatchUpBuffer, 16, 100000, "payments queued per stream that reads Kafka before the window (EARLIEST, an old cursor, since); a client that stops reading is cut off once it is full")
	set.Int(&c.ServeQueueKB, "serve-queue-kb", "SERVE_QUEUE_KB", stream.DefaultQueueKB, 256, 1048576, "librdkafka prefetch (queued.max.messages.kbytes) of each serve-stage reader of the normalized topic, KiB")
	grace := 10
	set.Int(&grace, "shutdown-grace", "SHUTDOWN_GRACE_SECONDS", 10, 1, 600, "seconds to drain in-flight records and close streams on SIGTERM")
	set.Check(func() error {
		if len(config.SplitList(topics)) == 0 {
			return errors.New("KAFKA_TOPICS is empty: name at least one raw topic")
		}
		if c.ConsumerMode != "per-topic" && c.ConsumerMode != "shared" {
			return fmt.Errorf("INGEST_CONSUMER_MODE=%q: want per-topic or shared", c.ConsumerMode)
		}
		if err := ingest.CheckInstanceID(c.InstanceID); err != nil {
			return fmt.Errorf("INGEST_INSTANCE_ID=%w", err)
		}
		if p := ms.Port(); p != 0 && p == c.Port {
			return fmt.Errorf("METRICS_ADDR=%s has the gRPC port too: pick another", ms.Addr)
		}
		return c.Security.Check()
	})
	err := set.Parse(args)
	c.MetricsAddr = ms.Addr
	c.Topics = config.SplitList(topics)
	c.ShutdownGrace = time.Duration(grace) * time.Second
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
	setMemoryLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return app.Run(ctx, s.app, slog.Default())
}

// defaultMemoryLimit is the Go heap's soft limit when GOMEMLIMIT is unset:
// the garbage collector works harder as the heap nears it instead of letting
// it double between collections. It counts only Go's memory, not
// librdkafka's queues or Pebble's block cache (both set by their own
// settings).
const defaultMemoryLimit = 160 << 20

// setMemoryLimit applies defaultMemoryLimit unless GOMEMLIMIT is set (the Go
// runtime reads that itself).
func setMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
