package grpcserver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"

	grpcserver "learner.example/go-service/internal/grpc"
	"learner.example/go-service/pb"
)

// check06NodeBin finds a program of node_modules/.bin in the learner's
// node-service or a folder above it (the course's snapshots share one).
func check06NodeBin(t *testing.T, nodeDir, name string) string {
	t.Helper()
	for dir := nodeDir; ; dir = filepath.Dir(dir) {
		bin := filepath.Join(dir, "node_modules", ".bin", name)
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		if filepath.Dir(dir) == dir {
			t.Fatalf("no node_modules/.bin/%s in node-service or above: run `npm install` in node-service", name)
		}
	}
}

func check06NodeDir(t *testing.T) string {
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=06`")
	}
	return filepath.Join(dir, "node-service")
}

func TestCheck06TypeScriptCompiles(t *testing.T) {
	t.Parallel()
	nodeDir := check06NodeDir(t)
	out, err := exec.Command(check06NodeBin(t, nodeDir, "tsc"), "--noEmit", "-p", nodeDir).CombinedOutput()
	if err != nil {
		t.Fatalf("tsc --noEmit in node-service found type errors:\n%s", out)
	}
}

func TestCheck06ClientPrintsLogLines(t *testing.T) {
	t.Parallel()
	nodeDir := check06NodeDir(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	go g.Serve(lis)
	defer g.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// `node --import tsx`, one process: the tsx command is a second one that
	// relays signals to node, and on a busy machine turns a Ctrl-C that node
	// does not acknowledge within a few milliseconds into a kill (exit 130).
	check06NodeBin(t, nodeDir, "tsx") // installed, so that node finds it
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	client := exec.CommandContext(ctx, node, "--import", "tsx", "src/index.ts", lis.Addr().String())
	client.Dir = nodeDir
	client.Stderr = os.Stderr
	stdout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatalf("starting the client (tsx src/index.ts ADDRESS): %v", err)
	}
	defer client.Process.Kill()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

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
	if err := client.Wait(); err != nil {
		t.Errorf("after SIGINT (Ctrl-C) the client exited with %v; want a clean exit (abort the stream, exit code 0)", err)
	}
}
