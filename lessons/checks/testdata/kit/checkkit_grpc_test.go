package checkkit

import (
	"net"
	"testing"

	"google.golang.org/grpc"

	grpcserver "learner.example/go-service/internal/grpc"
	"learner.example/go-service/pb"
)

// checkkitServe starts the learner's lesson-04 server on a free loopback
// port until the test ends, and returns it and its address.
func checkkitServe(t *testing.T) (*grpcserver.Server, string) {
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
	return srv, lis.Addr().String()
}
