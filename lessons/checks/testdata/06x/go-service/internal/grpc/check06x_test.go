package grpcserver_test

import (
	"bufio"
	"context"
	"encoding/json"
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

// check06xNodeBin finds a program of node_modules/.bin in the learner's
// node-service or a folder above it (the course's snapshots share one).
func check06xNodeBin(t *testing.T, nodeDir, name string) string {
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

func check06xNodeDir(t *testing.T) string {
	dir := os.Getenv("LESSON_DIR")
	if dir == "" {
		t.Fatal("LESSON_DIR is not set: run this check with `make lesson-check N=06x`")
	}
	return filepath.Join(dir, "node-service")
}

func TestCheck06xTypeScriptCompiles(t *testing.T) {
	t.Parallel()
	nodeDir := check06xNodeDir(t)
	out, err := exec.Command(check06xNodeBin(t, nodeDir, "tsc"), "--noEmit", "-p", nodeDir).CombinedOutput()
	if err != nil {
		t.Fatalf("tsc --noEmit in node-service found type errors:\n%s", out)
	}
}

// The script lives in a temporary folder (the learner's folder is never
// written to) and imports client.ts by its absolute path.
const check06xScript = `import * as client from %q;
import { gatewayToJSON } from %q;

const parse = (client as Record<string, unknown>).parseGateways;
if (typeof parse !== "function") {
  console.log(JSON.stringify({ missing: true }));
} else {
  const cases: string[][] = %s;
  console.log(JSON.stringify({
    results: cases.map((names) => {
      try {
        return { gateways: (parse(names) as number[]).map((g) => gatewayToJSON(g)) };
      } catch (err) {
        return { error: String((err as Error).message ?? err) };
      }
    }),
  }));
}
`

func TestCheck06xParseGateways(t *testing.T) {
	t.Parallel()
	nodeDir := check06xNodeDir(t)
	cases := []struct {
		names []string
		want  []string // the contract's names; nil: an error
		error string   // what the error says
	}{
		{names: []string{}, want: []string{}},
		{names: []string{"stripe"}, want: []string{"GATEWAY_STRIPE"}},
		{names: []string{"RAZORPAY", "PayPal"}, want: []string{"GATEWAY_RAZORPAY", "GATEWAY_PAYPAL"}},
		{names: []string{"visa"}, error: `unknown gateway "visa"`},
		{names: []string{"stripe", "bitcoin"}, error: `unknown gateway "bitcoin"`},
		{names: []string{"unspecified"}, error: `unknown gateway "unspecified"`},
	}
	var names [][]string
	for _, c := range cases {
		names = append(names, c.names)
	}
	js, _ := json.Marshal(names)
	script := filepath.Join(t.TempDir(), "check06x.ts")
	src := fmt.Sprintf(check06xScript, filepath.Join(nodeDir, "src", "client"), filepath.Join(nodeDir, "src", "gen", "payment"), js)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, check06xNodeBin(t, nodeDir, "tsx"), script)
	cmd.Dir = nodeDir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("importing src/client.ts failed (%v); does it load? %s", err, check06xStderr(err))
	}
	var got struct {
		Missing bool
		Results []struct {
			Gateways []string
			Error    string
		}
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("importing src/client.ts printed something unexpected (%v): %s", err, out)
	}
	if got.Missing {
		t.Fatal("client.ts does not export parseGateways(names: string[]): Gateway[] yet")
	}
	if len(got.Results) != len(cases) {
		t.Fatalf("got %d results for %d cases", len(got.Results), len(cases))
	}
	for i, c := range cases {
		r := got.Results[i]
		arg, _ := json.Marshal(c.names)
		switch {
		case c.want == nil && !strings.Contains(r.Error, c.error):
			if r.Error == "" {
				t.Errorf("parseGateways(%s) returned %v; want it to throw %s", arg, r.Gateways, c.error)
			} else {
				t.Errorf("parseGateways(%s) threw %q; want the message %s", arg, r.Error, c.error)
			}
		case c.want != nil && r.Error != "":
			t.Errorf("parseGateways(%s) threw %q; want %v", arg, r.Error, c.want)
		case c.want != nil && strings.Join(r.Gateways, ",") != strings.Join(c.want, ","):
			t.Errorf("parseGateways(%s) = %v; want %v (any case, the contract's Gateway values)", arg, r.Gateways, c.want)
		}
	}
}

func check06xStderr(err error) string {
	if exit, ok := err.(*exec.ExitError); ok {
		return string(exit.Stderr)
	}
	return ""
}

// check06xServe starts a lesson-04 server on a free loopback port.
func check06xServe(t *testing.T) (*grpcserver.Server, string) {
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

// check06xClient runs index.ts with args and returns its output, line by line
// (stdout and stderr together), and the channel its exit status arrives on.
// It runs `node --import tsx`, one process: the tsx command is a second one
// that relays signals to node, and on a busy machine turns a Ctrl-C that node
// does not acknowledge within a few milliseconds into a kill (exit 130).
func check06xClient(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, <-chan string, <-chan error) {
	nodeDir := check06xNodeDir(t)
	check06xNodeBin(t, nodeDir, "tsx") // installed, so that node finds it
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not installed: %v", err)
	}
	client := exec.CommandContext(ctx, node, append([]string{"--import", "tsx", "src/index.ts"}, args...)...)
	client.Dir = nodeDir
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	client.Stdout, client.Stderr = w, w
	if err := client.Start(); err != nil {
		t.Fatalf("starting the client (tsx src/index.ts %s): %v", strings.Join(args, " "), err)
	}
	w.Close()
	t.Cleanup(func() { client.Process.Kill() })
	lines := make(chan string)
	done := make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		r.Close()
		done <- client.Wait()
	}()
	return client, lines, done
}

func check06xPayment(id string, gateway pb.Gateway) *pb.Payment {
	return &pb.Payment{Id: id, Gateway: gateway, Amount: &pb.Money{AmountMinor: 1250, Currency: "USD"}, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

func TestCheck06xClientWatchesOneGateway(t *testing.T) {
	t.Parallel()
	srv, addr := check06xServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client, lines, done := check06xClient(t, ctx, addr, "razorpay")

	// The client subscribes when it is ready, which this test cannot see:
	// warm-up payments (of the watched gateway) go out until one is printed.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	warm := 0
wait:
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("`tsx src/index.ts ADDRESS razorpay` exited before it printed any [LOG] line: %v", <-done)
			}
			if strings.HasPrefix(line, "[LOG] Payment: pay_warm") {
				break wait
			}
		case <-tick.C:
			warm++
			srv.Publish(check06xPayment(fmt.Sprintf("pay_warm%d", warm), pb.Gateway_GATEWAY_RAZORPAY))
		case <-ctx.Done():
			t.Fatal("no `[LOG] Payment: pay_warm…` line from `tsx src/index.ts ADDRESS razorpay`: it should print the razorpay payments")
		}
	}

	// In order on one stream: a Stripe payment the filter must drop, then a
	// Razorpay one it must let through.
	srv.Publish(check06xPayment("pi_check6x_stripe", pb.Gateway_GATEWAY_STRIPE))
	srv.Publish(check06xPayment("pay_check6x_razorpay", pb.Gateway_GATEWAY_RAZORPAY))
	for {
		line, ok := <-lines
		if !ok {
			t.Fatalf("the client exited before printing pay_check6x_razorpay: %v", <-done)
		}
		if strings.HasPrefix(line, "[LOG] Payment: pay_warm") {
			continue
		}
		if strings.Contains(line, "pi_check6x_stripe") {
			t.Fatalf("`tsx src/index.ts ADDRESS razorpay` printed a Stripe payment:\n\t%s\npass parseGateways(process.argv.slice(3)) as the request's gateways", line)
		}
		if strings.Contains(line, "pay_check6x_razorpay") {
			break
		}
	}

	client.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := <-done; err != nil {
		t.Errorf("after SIGINT (Ctrl-C) the client exited with %v; want a clean exit", err)
	}
}

func TestCheck06xClientRefusesAnUnknownGateway(t *testing.T) {
	t.Parallel()
	srv, addr := check06xServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, lines, done := check06xClient(t, ctx, addr, "visa")

	// A client that ignores the name streams everything: a payment printed
	// says so at once, instead of a wait for the time-out.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var said []string
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				err := <-done
				out := strings.Join(said, "\n")
				if err == nil {
					t.Fatalf("`tsx src/index.ts ADDRESS visa` exited 0; want exit code 1 and `unknown gateway \"visa\"`. It said:\n%s", out)
				}
				if !strings.Contains(out, `unknown gateway "visa"`) {
					t.Fatalf("`tsx src/index.ts ADDRESS visa` failed (%v) without saying `unknown gateway \"visa\"`. It said:\n%s", err, out)
				}
				return
			}
			said = append(said, line)
			if strings.HasPrefix(line, "[LOG] Payment: ") {
				t.Fatalf("`tsx src/index.ts ADDRESS visa` streams payments:\n\t%s\nwant it to stop with `unknown gateway \"visa\"` (parseGateways throws) and exit code 1", line)
			}
		case <-tick.C:
			srv.Publish(check06xPayment("pi_check6x_any", pb.Gateway_GATEWAY_STRIPE))
		case <-ctx.Done():
			t.Fatal("`tsx src/index.ts ADDRESS visa` neither stopped nor printed anything")
		}
	}
}
