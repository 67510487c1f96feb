package grpcserver_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"learner.example/go-service/pb"
)

func TestCheck06TypeScriptCompiles(t *testing.T) {
	t.Parallel()
	checkkitTypeScriptCompiles(t, "06")
}

func TestCheck06ClientPrintsLogLines(t *testing.T) {
	t.Parallel()
	nodeDir := checkkitNodeDir(t, "06")
	srv, addr := checkkitServe(t)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := checkkitClient(t, ctx, nodeDir, addr)
	client.Stderr = os.Stderr
	lines, done := checkkitStart(t, "the client (tsx src/index.ts ADDRESS)", client)

	// The client subscribes when it is ready, which this test cannot see:
	// warm-up payments go out until the first one is printed.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	warm := 0
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the client exited before it printed any [LOG] line (did it take the server's address from its first argument?)")
			}
			if strings.HasPrefix(line, "[LOG] Payment: pi_warm") {
				break wait
			}
		case <-tick.C:
			warm++
			srv.Publish(&pb.Payment{Id: fmt.Sprintf("pi_warm%d", warm), Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 1, Currency: "USD"}})
		case <-ctx.Done():
			t.Fatalf("no `[LOG] Payment: pi_warm…` line from the client: print each payment as `[LOG] Payment: <formatPayment>`")
		}
	}

	want := []struct {
		p    *pb.Payment
		line string
	}{
		{&pb.Payment{Id: "pi_check6a", Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 12340, Currency: "KWD"}, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED},
			"[LOG] Payment: pi_check6a STRIPE 12.340 KWD COMPLETED"},
		{&pb.Payment{Id: "pay_check6b", Gateway: pb.Gateway_GATEWAY_RAZORPAY, Amount: &pb.Money{AmountMinor: 1500, Currency: "JPY"}, Status: pb.PaymentStatus_PAYMENT_STATUS_FAILED},
			"[LOG] Payment: pay_check6b RAZORPAY 1500 JPY FAILED"},
		{&pb.Payment{Id: "pi_check6c", Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 922337203685477580, Currency: "USD"}, Status: pb.PaymentStatus_PAYMENT_STATUS_PENDING},
			"[LOG] Payment: pi_check6c STRIPE 9223372036854775.80 USD PENDING"},
	}
	for _, w := range want {
		srv.Publish(w.p)
	}
	for _, w := range want {
		for {
			line, ok := <-lines
			if !ok {
				t.Fatalf("the client exited before printing %q", w.line)
			}
			if strings.HasPrefix(line, "[LOG] Payment: pi_warm") {
				continue
			}
			if line != w.line {
				t.Errorf("the client printed\n\t%s\nwant\n\t%s", line, w.line)
			}
			break
		}
	}

	// Ctrl-C: the client stops on its own.
	client.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := <-done; err != nil {
		t.Errorf("after SIGINT (Ctrl-C) the client exited with %v; want a clean exit (abort the stream, exit code 0)", err)
	}
}
