package grpcserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"learner.example/go-service/pb"
)

func TestCheck06xTypeScriptCompiles(t *testing.T) {
	t.Parallel()
	checkkitTypeScriptCompiles(t, "06x")
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
	nodeDir := checkkitNodeDir(t, "06x")
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
	cmd := exec.CommandContext(ctx, checkkitNodeBin(t, nodeDir, "tsx"), script)
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

func check06xPayment(id string, gateway pb.Gateway) *pb.Payment {
	return &pb.Payment{Id: id, Gateway: gateway, Amount: &pb.Money{AmountMinor: 1250, Currency: "USD"}, Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED}
}

func TestCheck06xClientWatchesOneGateway(t *testing.T) {
	t.Parallel()
	srv, addr := checkkitServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := checkkitClient(t, ctx, checkkitNodeDir(t, "06x"), addr, "razorpay")
	lines, done := checkkitStart(t, "the client (tsx src/index.ts "+addr+" razorpay)", client)

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
	srv, addr := checkkitServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	lines, done := checkkitStart(t, "the client (tsx src/index.ts "+addr+" visa)", checkkitClient(t, ctx, checkkitNodeDir(t, "06x"), addr, "visa"))

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
