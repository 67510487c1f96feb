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
	"os"
	"os/signal"
	"syscall"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	grpcserver "example.com/pipeline/go-service/internal/grpc"
	"example.com/pipeline/go-service/internal/kafka"
	"example.com/pipeline/go-service/internal/normalizer"
	"example.com/pipeline/go-service/internal/payment"
	"example.com/pipeline/go-service/pb"
)

// settings come from the environment; a flag of the same meaning wins.
type settings struct {
	bootstrap, topic, group, addr string
}

func main() {
	var s settings
	flag.StringVar(&s.bootstrap, "kafka", envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), "Kafka bootstrap servers (env KAFKA_BOOTSTRAP_SERVERS)")
	flag.StringVar(&s.topic, "topic", envOr("PAYMENTS_TOPIC", "payments.stripe"), "topic of Stripe webhooks (env PAYMENTS_TOPIC)")
	flag.StringVar(&s.group, "group", envOr("KAFKA_GROUP_ID", "pipeline-server"), "consumer group (env KAFKA_GROUP_ID)")
	flag.StringVar(&s.addr, "addr", envOr("GRPC_ADDR", "127.0.0.1:50051"), "gRPC listen address (env GRPC_ADDR)")
	flag.Parse()
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

	if err := kafka.EnsureTopic(ctx, bootstrap, topic, 3); err != nil {
		return err
	}
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

	// The consumer runs here, on the main goroutine; the gRPC server stops
	// after it, so no client misses a payment that was already committed.
	consumeErr := consumer.Run(ctx, func(_ context.Context, msg *ckafka.Message) error {
		p, err := normalizer.Stripe(msg.Value)
		switch {
		case errors.Is(err, normalizer.ErrNotAPayment):
			return nil
		case err != nil:
			log.Printf("[KAFKA] skipping %s: %v", msg.TopicPartition, err) // lesson 08 sends these to a dead-letter topic
			return nil
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
