// Command server serves payment.v1.PaymentService on a loopback port. Until
// lesson 05 brings Kafka, it publishes a made-up payment every second so that
// a client has something to watch.
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
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"

	grpcserver "example.com/pipeline/go-service/internal/grpc"
	"example.com/pipeline/go-service/internal/payment"
	"example.com/pipeline/go-service/pb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "gRPC listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatalf("[SERVER] %v", err)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	reflection.Register(g) // lets grpcurl list the services
	go publishDemo(ctx, srv)

	serveErr := make(chan error, 1)
	go func() { serveErr <- g.Serve(lis) }()
	log.Printf("[SERVER] listening on %s", lis.Addr())
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Printf("[SERVER] shutting down")
	g.Stop() // streams never end on their own, so GracefulStop would wait for the clients
	if err := <-serveErr; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// publishDemo turns lesson 02's generator into pb.Payments, one a second.
func publishDemo(ctx context.Context, srv *grpcserver.Server) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for p := range payment.Generate(ctx, 1_000_000) {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		srv.Publish(&pb.Payment{
			Id:      p.ID,
			Gateway: pb.Gateway(pb.Gateway_value["GATEWAY_"+strings.ToUpper(p.Gateway)]),
			Amount:  &pb.Money{AmountMinor: p.AmountMinor, Currency: p.Currency},
			Status:  pb.PaymentStatus_PAYMENT_STATUS_COMPLETED,
		})
		log.Printf("[SERVER] published %s", p)
	}
}
