// Command receiver is the webhook front door: it verifies each gateway's
// signature and writes the exact bytes received to the gateway's raw topic,
// answering 2xx only once Kafka has acknowledged them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/receiver"
)

type settings struct {
	kafka       config.Kafka
	topics      string
	addr        string
	metricsAddr string
	gateways    receiver.Settings
	deadline    time.Duration
	grace       time.Duration
	logFormat   string
}

func main() {
	logging.Main("receiver", config.ErrHelp, run)
}

func parse(args []string) (settings, error) {
	var s settings
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("receiver", "Webhook receiver: POST /webhooks/{stripe,razorpay,paypal,adyen,square} → verified → the gateway's raw Kafka topic.\n"+
		"A gateway whose secret is not set is switched off (404). Every setting comes from the environment; [ENV_FILE] names the .env file read first (default .env).")
	set.Kafka(&s.kafka)
	set.String(&s.topics, "topics", "KAFKA_TOPICS", config.RawTopicsDefault(), "raw topics; each gateway writes to the one ending in .<gateway> (the course's single [KAFKA_TOPIC] takes every gateway)")
	set.String(&s.addr, "addr", "RECEIVER_ADDR", ":8080", "address the webhook endpoints listen on (host:port)")
	set.String(&s.metricsAddr, "metrics-addr", "RECEIVER_METRICS_ADDR", "127.0.0.1:9466", "address of /metrics, /healthz and /readyz (keep it off the internet)")
	g := &s.gateways
	set.Secret(&g.StripeSecrets, "stripe-secret", "STRIPE_WEBHOOK_SECRET", "Stripe endpoint signing secrets (whsec_…), comma-separated while rotating")
	tolerance := 300
	set.Int(&tolerance, "stripe-tolerance", "STRIPE_WEBHOOK_TOLERANCE", 300, 1, 86400, "seconds a Stripe signature's timestamp may be from now, either way")
	set.Secret(&g.RazorpaySecrets, "razorpay-secret", "RAZORPAY_WEBHOOK_SECRET", "Razorpay webhook secrets, comma-separated while rotating")
	set.Secret(&g.SquareKeys, "square-signature-key", "SQUARE_WEBHOOK_SIGNATURE_KEY", "Square subscription signature keys, comma-separated while rotating")
	set.String(&g.SquareURL, "square-url", "SQUARE_WEBHOOK_URL", "", "the notification URL exactly as registered with Square (it is signed)")
	set.Secret(&g.AdyenKeys, "adyen-hmac-key", "ADYEN_HMAC_KEY", "Adyen HMAC keys (hex), comma-separated while rotating")
	set.String(&g.PayPalWebhookID, "paypal-webhook-id", "PAYPAL_WEBHOOK_ID", "", "PayPal webhook (subscription) ids, comma-separated")
	set.String(&g.PayPalDevCAFile, "paypal-dev-ca-file", "PAYPAL_DEV_CA_FILE", "", "DEVELOPMENT ONLY: PEM CA file trusted for PayPal certificates, with -paypal-dev-cert-host")
	set.String(&g.PayPalDevCertHost, "paypal-dev-cert-host", "PAYPAL_DEV_CERT_HOST", "", "DEVELOPMENT ONLY: host:port allowed to serve PayPal certificates")
	deadline := 10
	set.Int(&deadline, "kafka-timeout", "RECEIVER_KAFKA_TIMEOUT", 10, 1, 300, "seconds to wait for Kafka's acknowledgement before answering 503")
	grace := 15
	set.Int(&grace, "shutdown-grace", "SHUTDOWN_GRACE_SECONDS", 15, 1, 600, "seconds to finish in-flight requests on SIGTERM")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text ([RECEIVER] lines) or json")
	set.Check(func() error {
		if len(config.SplitList(s.topics)) == 0 {
			return errors.New("KAFKA_TOPICS is empty: name at least one raw topic")
		}
		if s.addr == s.metricsAddr && !strings.HasSuffix(s.addr, ":0") {
			return fmt.Errorf("RECEIVER_METRICS_ADDR=%s is RECEIVER_ADDR too: pick another", s.metricsAddr)
		}
		return nil
	})
	err := set.Parse(args)
	g.Topics = config.SplitList(s.topics)
	g.StripeTolerance = time.Duration(tolerance) * time.Second
	s.deadline = time.Duration(deadline) * time.Second
	s.grace = time.Duration(grace) * time.Second
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
	log := logging.For("RECEIVER")
	gateways, err := s.gateways.Gateways()
	if err != nil {
		return err
	}
	if len(gateways) == 0 {
		log.Warn("No gateway is switched on: every webhook will be answered 404. Set STRIPE_WEBHOOK_SECRET, RAZORPAY_WEBHOOK_SECRET, SQUARE_WEBHOOK_SIGNATURE_KEY, ADYEN_HMAC_KEY or PAYPAL_WEBHOOK_ID")
	}
	if s.gateways.PayPalDevCAFile != "" {
		log.Warn(fmt.Sprintf("DEVELOPMENT MODE: PayPal certificates are also trusted from %s, signed by the CA in %s. Never set PAYPAL_DEV_CA_FILE in production.",
			s.gateways.PayPalDevCertHost, s.gateways.PayPalDevCAFile))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var topics []string
	for _, g := range gateways {
		if !slices.Contains(topics, g.Topic) {
			topics = append(topics, g.Topic)
		}
	}
	// Kafka may be down at start: the receiver still starts, answers 503
	// and says not ready until it is back.
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := kafka.EnsureTopics(tctx, s.kafka, topics); err != nil {
		log.Warn("could not check the raw topics: " + err.Error())
	}
	cancel()
	kafka.SpareProcs(1)
	// A record Kafka has not acknowledged when the request's deadline
	// passes is given up by the producer too, so that a 503 (after which
	// the gateway retries) rarely leaves a copy behind.
	producer, err := kafka.NewProducer(s.kafka, logging.For("KAFKA"), ckafka.ConfigMap{
		"message.timeout.ms": int(s.deadline.Milliseconds()),
		"linger.ms":          1, // each request waits for its own acknowledgement
	})
	if err != nil {
		return err
	}
	pinger, err := kafka.NewPinger(s.kafka)
	if err != nil {
		return err
	}
	defer pinger.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := receiver.NewMetrics(reg)
	handler := receiver.New(receiver.Options{Gateways: gateways, Sender: producer, Deadline: s.deadline, Metrics: m, Log: log})

	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("RECEIVER_ADDR=%s: %w", s.addr, err)
	}
	mlis, err := net.Listen("tcp", s.metricsAddr)
	if err != nil {
		lis.Close()
		return fmt.Errorf("RECEIVER_METRICS_ADDR=%s: %w", s.metricsAddr, err)
	}
	srv := receiver.NewHTTPServer(handler, s.deadline)
	msrv := &http.Server{Handler: receiver.HealthHandler(reg, pinger), ReadHeaderTimeout: 5 * time.Second}
	errs := make(chan error, 2)
	go func() { errs <- serve(srv, lis) }()
	go func() { errs <- serve(msrv, mlis) }()
	go pinger.Run(ctx, time.Second, 1500*time.Millisecond, func(up bool, err error) {
		if up {
			log.Info("Kafka reachable")
		} else {
			log.Warn("Kafka unreachable: webhooks are answered 503 until it is back", "err", err.Error())
		}
	})
	var on []string
	for name := range gateways {
		on = append(on, name)
	}
	slices.Sort(on)
	log.Info(fmt.Sprintf("Listening on %s: POST /webhooks/{%s}", lis.Addr(), strings.Join(on, ",")))
	log.Info(fmt.Sprintf("Metrics on http://%s/metrics (also /healthz, /readyz)", mlis.Addr()))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("Shutting down: finishing in-flight webhooks...")
	case runErr = <-errs:
		log.Error("stopping", "err", runErr)
	}
	shutdown(srv, s.grace, log)
	shutdown(msrv, 2*time.Second, log)
	if left := producer.Close(s.grace); left > 0 {
		log.Warn(fmt.Sprintf("%d record(s) not acknowledged at exit (their requests were answered 503)", left))
	}
	log.Info("Stopped")
	return runErr
}

func serve(srv *http.Server, lis net.Listener) error {
	if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func shutdown(srv *http.Server, grace time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("shutdown: " + err.Error())
	}
}
