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

// check07xNodeBin finds a program of node_modules/.bin in the learner's
// node-service or a folder above it (the course's snapshots share one).
func check07xNodeBin(t *testing.T, nodeDir, name string) string {
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
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=07x`")
	}
	nodeDir := filepath.Join(dir, "node-service")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcserver.New()
	g := grpc.NewServer()
	pb.RegisterPaymentServiceServer(g, srv)
	go g.Serve(lis)
	defer g.Stop()
	server := lis.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmdArgs := []string{"src/index.ts"}
	for _, a := range args {
		cmdArgs = append(cmdArgs, strings.ReplaceAll(a, "SERVER", server))
	}
	client := exec.CommandContext(ctx, check07xNodeBin(t, nodeDir, "tsx"), cmdArgs...)
	client.Dir = nodeDir
	client.Env = append(os.Environ(), "GRPC_ADDR="+grpcAddr(server))
	var stderr strings.Builder
	var printed []string
	said := func() string { return strings.TrimSpace(strings.Join(printed, "\n") + "\n" + stderr.String()) }
	stdout, err := client.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	client.Stderr = &stderr
	if err := client.Start(); err != nil {
		t.Fatalf("starting the client (tsx src/index.ts): %v", err)
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

	// The client subscribes at a moment the test cannot see: payments go
	// out until one is printed.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for found := false; !found; {
		select {
		case line, ok := <-lines:
			if !ok {
				client.Wait() // stderr is complete after Wait
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
	if err := client.Wait(); err != nil {
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
