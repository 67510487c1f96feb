// Command server reads Stripe webhooks from Kafka, normalizes them, and
// streams the payments to gRPC clients.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	grpcserver "example.com/pipeline/go-service/internal/grpc"
	"example.com/pipeline/go-service/internal/kafka"
	"example.com/pipeline/go-service/internal/normalizer"
	"example.com/pipeline/go-service/internal/payment"
	"example.com/pipeline/go-service/internal/webhook"
	"example.com/pipeline/go-service/pb"
)

// settings come from the environment; a flag of the same meaning wins.
type settings struct {
	bootstrap, topic, group, addr string
	webhookAddr, stripeSecret     string
}

func main() {
	var s settings
	flag.StringVar(&s.bootstrap, "kafka", envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS)")
	flag.StringVar(&s.topic, "topic", envOr("PAYMENTS_TOPIC", "payments.stripe"), "topic of Stripe webhooks (env PAYMENTS_TOPIC)")
	flag.StringVar(&s.group, "group", envOr("KAFKA_GROUP_ID", "pipeline-server"), "consumer group (env KAFKA_GROUP_ID)")
	flag.StringVar(&s.addr, "addr", envOr("GRPC_ADDR", "127.0.0.1:50051"), "gRPC listen address (env GRPC_ADDR)")
	flag.StringVar(&s.webhookAddr, "webhook-addr", envOr("WEBHOOK_ADDR", "127.0.0.1:8080"), "webhook receiver's HTTP address (env WEBHOOK_ADDR)")
	flag.Parse()
	// A secret comes only from the environment: flags show up in ps.
	s.stripeSecret = os.Getenv("STRIPE_WEBHOOK_SECRET")
	for name, value := range map[string]string{"-kafka": s.bootstrap, "-topic": s.topic, "-group": s.group, "-addr": s.addr} {
		if value == "" {
			log.Fatalf("[SERVER] %s must not be empty", name)
		}
	}
	if err := run(s); err != nil {
		log.Fatalf("[SERVER] %v", err)
	}
}

func envOr(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func run(s settings) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	bootstrap, topic, group, addr := s.bootstrap, s.topic, s.group, s.addr

	for _, t := range []string{topic, kafka.DeadLetterTopic(topic)} {
		if err := kafka.EnsureTopic(ctx, bootstrap, t, 3); err != nil {
			return err
		}
	}
	producer, err := kafka.NewProducer(bootstrap)
	if err != nil {
		return err
	}
	defer producer.Close()
	consumer, err := kafka.NewConsumer(bootstrap, group, []string{topic})
	if err != nil {
		return err
	}
	defer consumer.Close()

	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	reflection.Register(g)
	serveErr := make(chan error, 1)
	go func() { serveErr <- g.Serve(lis) }()
	log.Printf("[SERVER] listening on %s, reading %s", lis.Addr(), topic)

	stopWebhooks, err := serveWebhooks(s, producer)
	if err != nil {
		return err
	}
	defer stopWebhooks()

	// The consumer runs here, on the main goroutine; the gRPC server stops
	// after it, so no client misses a payment that was already committed.
	consumeErr := consumer.Run(ctx, func(_ context.Context, msg *ckafka.Message) error {
		p, err := normalizer.Stripe(msg.Value)
		switch {
		case errors.Is(err, normalizer.ErrNotAPayment):
			return nil
		case err != nil:
			// Retrying cannot fix a malformed record: park it and move on.
			// If even that fails, stop without committing: it is read again.
			log.Printf("[KAFKA] dead-lettering %s: %v", msg.TopicPartition, err)
			return producer.DeadLetter(ctx, msg, "malformed", err)
		}
		srv.Publish(p)
		log.Printf("[KAFKA] %s %s %s", p.GetId(), p.GetGateway(), payment.FormatAmount(p.GetAmount().GetAmountMinor(), p.GetAmount().GetCurrency()))
		return nil
	})
	log.Printf("[SERVER] shutting down")
	g.Stop()
	if err := <-serveErr; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return consumeErr
}

// serveWebhooks starts the Stripe webhook receiver unless no secret is set,
// and returns the function that stops it.
func serveWebhooks(s settings, producer *kafka.Producer) (func(), error) {
	if s.stripeSecret == "" {
		log.Printf("[WEBHOOK] off: set STRIPE_WEBHOOK_SECRET to receive Stripe webhooks")
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", s.webhookAddr)
	if err != nil {
		return nil, fmt.Errorf("webhook receiver: listen on %s: %w", s.webhookAddr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks/stripe", webhook.NewStripeHandler(s.stripeSecret, s.topic, producer))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(lis)
	log.Printf("[WEBHOOK] receiving Stripe webhooks on http://%s/webhooks/stripe", lis.Addr())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(ctx) // answers the requests in flight, whose records Kafka may still be acknowledging
	}, nil
}
