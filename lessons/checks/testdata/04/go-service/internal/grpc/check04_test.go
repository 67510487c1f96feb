package grpcserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	grpcserver "learner.example/go-service/internal/grpc"
	"learner.example/go-service/pb"
)

func check04Start(t *testing.T) (*grpcserver.Server, pb.PaymentServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return srv, pb.NewPaymentServiceClient(conn)
}

// check04Open opens a stream and waits for its response headers, which the
// lesson's server sends once it has subscribed. The deadline only keeps a
// server that never sends them from hanging the check.
func check04Open(t *testing.T, client pb.PaymentServiceClient, req *pb.StreamPaymentsRequest) grpc.ServerStreamingClient[pb.StreamPaymentsResponse] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	stream, err := client.StreamPayments(ctx, req)
	if err != nil {
		t.Fatalf("StreamPayments: %v", err)
	}
	// grpc-go's Header returns no error even when the stream failed before
	// any header came: it returns nil headers, and Recv has the error.
	if md, _ := stream.Header(); md == nil {
		_, err := stream.Recv()
		if status.Code(err) == codes.Unimplemented {
			t.Fatalf("StreamPayments answered Unimplemented: Server embeds UnimplementedPaymentServiceServer but has no StreamPayments method of its own (check its exact signature)")
		}
		t.Fatalf("no response headers from StreamPayments (%v): call stream.SendHeader(metadata.MD{}) right after subscribing, so the client knows the stream is live", err)
	}
	return stream
}

func check04Payment(id string, gateway pb.Gateway) *pb.Payment {
	return &pb.Payment{Id: id, Gateway: gateway, Amount: &pb.Money{AmountMinor: 4200, Currency: "EUR"}, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

func TestCheck04StreamPaymentsSendsPublishedPayments(t *testing.T) {
	srv, client := check04Start(t)
	stream := check04Open(t, client, &pb.StreamPaymentsRequest{})
	srv.Publish(check04Payment("pi_check4a", pb.Gateway_GATEWAY_STRIPE))
	srv.Publish(check04Payment("pay_check4b", pb.Gateway_GATEWAY_RAZORPAY))
	for _, want := range []string{"pi_check4a", "pay_check4b"} {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("the stream ended (%v) before %s arrived", err, want)
		}
		if got := resp.GetPayment().GetId(); got != want {
			t.Errorf("stream sent %s, want %s (payments in the order they were published)", got, want)
		}
		if resp.GetPayment().GetAmount().GetAmountMinor() != 4200 {
			t.Errorf("stream sent %v: the payment must arrive whole", resp.GetPayment())
		}
	}
}

func TestCheck04StreamPaymentsFiltersByGateway(t *testing.T) {
	srv, client := check04Start(t)
	stream := check04Open(t, client, &pb.StreamPaymentsRequest{Gateways: []pb.Gateway{pb.Gateway_GATEWAY_RAZORPAY}})
	srv.Publish(check04Payment("pi_check4c", pb.Gateway_GATEWAY_STRIPE))
	srv.Publish(check04Payment("pay_check4d", pb.Gateway_GATEWAY_RAZORPAY))
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("the stream ended: %v", err)
	}
	if got := resp.GetPayment().GetId(); got != "pay_check4d" {
		t.Errorf("a stream that asked for Razorpay only got %s (%v): skip payments whose gateway is not in req.Gateways", got, resp.GetPayment().GetGateway())
	}
}

func TestCheck04TwoStreamsBothReceive(t *testing.T) {
	srv, client := check04Start(t)
	first := check04Open(t, client, &pb.StreamPaymentsRequest{})
	second := check04Open(t, client, &pb.StreamPaymentsRequest{})
	srv.Publish(check04Payment("pi_check4e", pb.Gateway_GATEWAY_STRIPE))
	for i, stream := range []grpc.ServerStreamingClient[pb.StreamPaymentsResponse]{first, second} {
		resp, err := stream.Recv()
		if err != nil || resp.GetPayment().GetId() != "pi_check4e" {
			t.Errorf("stream %d got (%v, %v), want pi_check4e: every connected client gets every payment", i+1, resp, err)
		}
	}
}

func TestCheck04GetPayment(t *testing.T) {
	srv, client := check04Start(t)
	ctx := context.Background()
	_, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_unknown"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("GetPayment of an unknown payment returned %v; want the status code NotFound", err)
	}
	srv.Publish(check04Payment("pi_check4f", pb.Gateway_GATEWAY_STRIPE))
	later := check04Payment("pi_check4f", pb.Gateway_GATEWAY_STRIPE)
	later.Status = pb.PaymentStatus_PAYMENT_STATUS_REFUNDED
	srv.Publish(later)
	resp, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_check4f"})
	if err != nil {
		t.Fatalf("GetPayment of a published payment: %v", err)
	}
	if resp.GetPayment().GetStatus() != pb.PaymentStatus_PAYMENT_STATUS_REFUNDED {
		t.Errorf("GetPayment returned status %v; want the latest state, PAYMENT_STATUS_REFUNDED", resp.GetPayment().GetStatus())
	}
	_, err = client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetPayment without an id returned %v; want the status code InvalidArgument", err)
	}
}
