package grpcserver_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	grpcserver "learner.example/go-service/internal/grpc"
	"learner.example/go-service/pb"
)

func TestCheck04GetStatsEndToEnd(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	go g.Serve(lis)
	defer g.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewPaymentServiceClient(conn)

	empty, err := client.GetStats(context.Background(), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatalf("GetStats on a new server: %v", err)
	}
	if empty.GetPaymentsTotal() != 0 {
		t.Errorf("a new server reports payments_total %d, want 0", empty.GetPaymentsTotal())
	}

	// Published from several goroutines at once, while GetStats reads: counters
	// updated without the lock lose counts, and unlocked maps can crash
	// with "concurrent map writes".
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 25 {
				gw := pb.Gateway_GATEWAY_STRIPE
				cur := "USD"
				if j%5 == 0 {
					gw, cur = pb.Gateway_GATEWAY_RAZORPAY, "INR"
				}
				srv.Publish(&pb.Payment{Id: "p", Gateway: gw, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: int64(i + 1), Currency: cur}})
			}
		}()
		client.GetStats(context.Background(), &pb.GetStatsRequest{})
	}
	wg.Wait()

	stats, err := client.GetStats(context.Background(), &pb.GetStatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		what      string
		got, want int64
	}{
		{"payments_total", stats.GetPaymentsTotal(), 100},
		{`payments_by_gateway["GATEWAY_STRIPE"]`, stats.GetPaymentsByGateway()["GATEWAY_STRIPE"], 80},
		{`payments_by_gateway["GATEWAY_RAZORPAY"]`, stats.GetPaymentsByGateway()["GATEWAY_RAZORPAY"], 20},
		{`payments_by_status["PAYMENT_STATUS_COMPLETED"]`, stats.GetPaymentsByStatus()["PAYMENT_STATUS_COMPLETED"], 100},
		{`totals_by_currency["USD"]`, stats.GetTotalsByCurrency()["USD"], 20 * (1 + 2 + 3 + 4)},
		{`totals_by_currency["INR"]`, stats.GetTotalsByCurrency()["INR"], 5 * (1 + 2 + 3 + 4)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("after 100 payments GetStats says %s = %d, want %d", c.what, c.got, c.want)
		}
	}
}
