// Command producer sends synthetic gateway webhooks to Kafka, each in its
// gateway's own JSON format: what real gateways would post to a webhook
// receiver in front of the aggregator. With -via it is the gateways: it
// signs each webhook as its gateway would and POSTs it to the receiver.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/money"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

type settings struct {
	kafka       config.Kafka
	count       int
	rate        float64
	seed        int
	gateways    string
	topic       string
	mix         string
	invalidRate float64
	quiet       bool
	logFormat   string
	via         string
	signer      webhook.SignerConfig
}

func main() {
	logging.Main("producer", config.ErrHelp, run)
}

func parse(args []string) (settings, error) {
	var s settings
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("producer", "Sends synthetic payment webhooks (Stripe, Razorpay, PayPal, Adyen, Square JSON) to Kafka.")
	set.Kafka(&s.kafka)
	set.Int(&s.count, "count", "PRODUCER_COUNT", 10, 0, 1<<40, "records to send; 0 sends until Ctrl-C")
	set.Float(&s.rate, "rate", "PRODUCER_RATE", 2, 0, 1e7, "records per second; 0 sends as fast as Kafka takes them")
	set.Int(&s.seed, "seed", "PRODUCER_SEED", 0, 0, 1<<62, "random seed: the same seed sends the same records; 0 picks one (printed)")
	set.String(&s.gateways, "gateways", "PRODUCER_GATEWAYS", "stripe,razorpay", "gateways to send, comma-separated: stripe,razorpay,paypal,adyen,square")
	set.String(&s.topic, "topic", "KAFKA_TOPIC", "", "send everything to this one topic (the course's payments.raw); empty: payments.raw.<gateway>")
	set.String(&s.mix, "mix", "PRODUCER_MIX", string(synthetic.MixSimple), "simple (every record a completed payment) or realistic (life cycles, failures, refunds, out-of-order and duplicate events)")
	set.Float(&s.invalidRate, "invalid-rate", "PRODUCER_INVALID_RATE", 0, 0, 1, "share of records made malformed on purpose, to exercise the dead-letter topic")
	set.Bool(&s.quiet, "quiet", "", false, "print only the summary, not a line per record")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text or json")
	set.String(&s.via, "via", "PRODUCER_VIA", "", "receiver base URL (http://127.0.0.1:8080): sign each webhook as its gateway would and POST it to <URL>/webhooks/<gateway> instead of writing to Kafka; the secrets are the receiver's settings below")
	c := &s.signer
	set.Secret(&c.StripeSecret, "stripe-secret", "STRIPE_WEBHOOK_SECRET", "with -via: Stripe signing secret (the first of the list signs)")
	set.Secret(&c.RazorpaySecret, "razorpay-secret", "RAZORPAY_WEBHOOK_SECRET", "with -via: Razorpay webhook secret")
	set.Secret(&c.SquareKey, "square-signature-key", "SQUARE_WEBHOOK_SIGNATURE_KEY", "with -via: Square signature key")
	set.String(&c.SquareURL, "square-url", "SQUARE_WEBHOOK_URL", "", "with -via: the notification URL Square signs")
	set.Secret(&c.AdyenHexKey, "adyen-hmac-key", "ADYEN_HMAC_KEY", "with -via: Adyen HMAC key (hex)")
	set.String(&c.PayPalWebhookID, "paypal-webhook-id", "PAYPAL_WEBHOOK_ID", "", "with -via: PayPal webhook id")
	set.String(&c.PayPalDevCAFile, "paypal-dev-ca-file", "PAYPAL_DEV_CA_FILE", "", "with -via: file to write this run's throwaway PayPal CA to (the receiver trusts it in development mode)")
	set.String(&c.PayPalDevCertHost, "paypal-dev-cert-host", "PAYPAL_DEV_CERT_HOST", "", "with -via: host:port to serve this run's PayPal signing certificate on, over HTTPS")
	set.Check(func() error {
		if s.via != "" && s.invalidRate > 0 {
			return errors.New("-via with -invalid-rate: the receiver refuses what it cannot verify; send malformed records straight to Kafka (without -via)")
		}
		return nil
	})
	err := set.Parse(args)
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
	log := logging.For("PRODUCER")
	gateways, err := parseGateways(s.gateways)
	if err != nil {
		return err
	}
	seed := uint64(s.seed)
	if seed == 0 {
		seed = uint64(time.Now().UnixNano()) & (1<<62 - 1)
	}
	gen, err := synthetic.New(synthetic.Options{Seed: seed, Gateways: gateways, Mix: synthetic.Mix(s.mix), InvalidRate: s.invalidRate})
	if err != nil {
		return fmt.Errorf("-mix/-invalid-rate: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if s.via != "" {
		return runVia(ctx, s, gen, gateways, seed, log)
	}

	topics := topicsFor(gateways, s.topic)
	if err := kafka.EnsureTopics(ctx, s.kafka, topics); err != nil {
		if kafka.Refused(err) {
			return err // a wrong secret or certificate: the line names the setting
		}
		return fmt.Errorf("%w (is Kafka running? `make kafka-up` starts a local one)", err)
	}
	kafka.SpareProcs(1) // the producer's event loop
	producer, err := kafka.NewProducer(s.kafka, logging.For("KAFKA"), nil)
	if err != nil {
		return err
	}
	p := &sender{producer: producer, log: log, quiet: s.quiet, topic: s.topic}
	start := time.Now()
	sendErr := p.sendAll(ctx, gen, s.count, s.rate)
	if left := producer.Close(30 * time.Second); left > 0 {
		log.Error(fmt.Sprintf("%d record(s) were not acknowledged by Kafka", left))
	}
	p.summary(seed, time.Since(start))
	if sendErr != nil {
		return sendErr
	}
	if n := p.failed.Load(); n > 0 {
		return fmt.Errorf("%d record(s) failed delivery", n)
	}
	return nil
}

type sender struct {
	producer *kafka.Producer
	log      *slog.Logger
	quiet    bool
	topic    string
	// post, when set, sends one record synchronously instead (-via).
	post func(ctx context.Context, rec synthetic.Record) error

	sent, failed, invalid, duplicates atomic.Int64
	printMu                           sync.Mutex
}

// sendAll sends count records (0: until ctx ends) at rate per second.
func (p *sender) sendAll(ctx context.Context, gen *synthetic.Generator, count int, rate float64) error {
	start := time.Now()
	for i := 0; count == 0 || i < count; i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(due)):
			}
		} else if ctx.Err() != nil {
			return nil
		}
		rec, err := gen.Next()
		if err != nil {
			return err
		}
		send := p.send
		if p.post != nil {
			send = p.post
		}
		if err := send(ctx, rec); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

func (p *sender) send(ctx context.Context, rec synthetic.Record) error {
	topic := p.topic
	if topic == "" {
		topic = config.RawTopicPrefix + normalizer.GatewayName(rec.Gateway)
	}
	m := &ckafka.Message{
		TopicPartition: ckafka.TopicPartition{Topic: &topic, Partition: ckafka.PartitionAny},
		Key:            []byte(rec.Key),
		Value:          rec.Value,
		Headers:        []ckafka.Header{{Key: "gateway", Value: []byte(rec.Header)}},
	}
	return p.producer.Send(ctx, m, func(_ *ckafka.Message, err error) { p.delivered(rec, err) })
}

// delivered runs for every delivery report: "Sent" means Kafka acknowledged it.
func (p *sender) delivered(rec synthetic.Record, err error) {
	if err != nil {
		p.failed.Add(1)
		p.log.Error(fmt.Sprintf("Failed: %s | %s: %v", rec.Key, rec.Header, err))
		return
	}
	p.sent.Add(1)
	note := ""
	switch {
	case rec.Invalid != "":
		p.invalid.Add(1)
		note = " (malformed on purpose: " + rec.Invalid + ")"
	case rec.Duplicate:
		p.duplicates.Add(1)
		note = " (duplicate)"
	}
	if p.quiet {
		return
	}
	p.printMu.Lock()
	defer p.printMu.Unlock()
	p.log.Info(fmt.Sprintf("Sent: %s | %s | %s%s", rec.Key, rec.Header, money.Format(rec.Payment.Amount, rec.Payment.Currency), note))
}

func (p *sender) summary(seed uint64, took time.Duration) {
	sent := p.sent.Load()
	p.log.Info(fmt.Sprintf("Done: %d sent (%d malformed on purpose, %d duplicates), %d failed in %.1fs (%.0f/s), seed %d",
		sent, p.invalid.Load(), p.duplicates.Load(), p.failed.Load(), took.Seconds(), float64(sent)/max(took.Seconds(), 1e-9), seed))
}

func parseGateways(list string) ([]pb.Gateway, error) {
	var out []pb.Gateway
	for _, name := range config.SplitList(list) {
		g, ok := normalizer.ParseGateway(name)
		if !ok {
			return nil, fmt.Errorf("-gateways: %q is not a gateway (stripe, razorpay, paypal, adyen, square)", name)
		}
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, errors.New("-gateways: name at least one gateway")
	}
	return out, nil
}

func topicsFor(gateways []pb.Gateway, single string) []string {
	if single != "" {
		return []string{single}
	}
	var topics []string
	for _, g := range gateways {
		topics = append(topics, config.RawTopicPrefix+normalizer.GatewayName(g))
	}
	return topics
}
