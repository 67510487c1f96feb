package grpcserver

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"example.com/pipeline/go-service/pb"
)

// start serves a new Server on a free loopback port and returns a client.
func start(t *testing.T) (*Server, pb.PaymentServiceClient) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := New()
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

func stripe(id string) *pb.Payment {
	return &pb.Payment{Id: id, Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 100, Currency: "USD"}}
}

func TestStreamPaymentsSendsWhatIsPublished(t *testing.T) {
	srv, client := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil { // the server has subscribed
		t.Fatal(err)
	}
	srv.Publish(&pb.Payment{Id: "pi_paypal", Gateway: pb.Gateway_GATEWAY_PAYPAL})
	srv.Publish(stripe("pi_1"))
	for _, want := range []string{"pi_paypal", "pi_1"} {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetPayment().GetId() != want {
			t.Errorf("got %s, want %s", resp.GetPayment().GetId(), want)
		}
	}
}

func TestStreamPaymentsFiltersByGateway(t *testing.T) {
	srv, client := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	srv.Publish(&pb.Payment{Id: "pay_razorpay", Gateway: pb.Gateway_GATEWAY_RAZORPAY})
	srv.Publish(stripe("pi_2"))
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetPayment().GetId() != "pi_2" {
		t.Errorf("a stream for Stripe got %v", resp.GetPayment())
	}
}

func TestGetPayment(t *testing.T) {
	srv, client := start(t)
	ctx := context.Background()
	_, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_1"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("unknown payment: got %v, want NotFound", err)
	}
	srv.Publish(stripe("pi_1"))
	resp, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_1"})
	if err != nil || resp.GetPayment().GetId() != "pi_1" {
		t.Errorf("GetPayment(pi_1) = %v, %v", resp, err)
	}
	_, err = client.GetPayment(ctx, &pb.GetPaymentRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("no id: got %v, want InvalidArgument", err)
	}
}
