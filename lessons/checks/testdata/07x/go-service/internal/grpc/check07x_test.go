package grpcserver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"learner.example/go-service/pb"
)

// check07xNowhere is a loopback address where nothing listens.
func check07xNowhere(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// check07xClientFinds runs the learner's client with args ("SERVER" stands
// for the address of a server the test starts) and GRPC_ADDR=grpcAddr(server),
// and fails unless the client prints a payment published on that server.
func check07xClientFinds(t *testing.T, how string, args []string, grpcAddr func(server string) string) {
	t.Helper()
	srv, server := checkkitServe(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var cmdArgs []string
	for _, a := range args {
		cmdArgs = append(cmdArgs, strings.ReplaceAll(a, "SERVER", server))
	}
	client := checkkitClient(t, ctx, checkkitNodeDir(t, "07x"), cmdArgs...)
	client.Env = append(os.Environ(), "GRPC_ADDR="+grpcAddr(server))
	var stderr strings.Builder
	var printed []string
	said := func() string { return strings.TrimSpace(strings.Join(printed, "\n") + "\n" + stderr.String()) }
	client.Stderr = &stderr
	lines, done := checkkitStart(t, "the client (tsx src/index.ts)", client)

	// The client subscribes at a moment the test cannot see: payments go
	// out until one is printed.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for found := false; !found; {
		select {
		case line, ok := <-lines:
			if !ok {
				<-done // stderr is complete after Wait
				t.Fatalf("%s, the client did not reach the server at %s: it exited before printing a payment; it said:\n%s", how, server, said())
			}
			printed = append(printed, line)
			found = strings.HasPrefix(line, "[LOG] Payment: pi_check7x")
		case <-tick.C:
			sent++
			srv.Publish(&pb.Payment{Id: fmt.Sprintf("pi_check7x%d", sent), Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 1, Currency: "USD"}, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED})
		case <-ctx.Done():
			t.Fatalf("%s, the client printed no payment from the server at %s; it printed:\n%s", how, server, strings.Join(printed, "\n"))
		}
	}
	client.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := <-done; err != nil {
		t.Errorf("%s, after SIGINT (Ctrl-C) the client exited with %v; want a clean exit", how, err)
	}
}

func TestCheck07xClientReadsGrpcAddr(t *testing.T) {
	t.Parallel()
	check07xClientFinds(t, "with no argument and GRPC_ADDR set to the server's address", nil,
		func(server string) string { return server })
}

func TestCheck07xArgumentWinsOverGrpcAddr(t *testing.T) {
	t.Parallel()
	nowhere := check07xNowhere(t)
	check07xClientFinds(t, "with the server's address as the argument and GRPC_ADDR="+nowhere+" (where nothing listens)", []string{"SERVER"},
		func(string) string { return nowhere })
}
