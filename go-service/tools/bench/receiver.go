package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
)

// ── receiver ────────────────────────────────────────────────────────────
//
// Verified webhooks per second through cmd/receiver: every request signed as
// its gateway signs it, verified, written to Kafka and answered 200 only
// after Kafka's acknowledgement; then request → 200 latency at a fixed rate.
// The throughput is set against Kafka's ProducerPerformance of the same run:
// the receiver writes each record with the same producer settings, one
// acknowledgement per request.

var receiverListening = regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+): POST`)

// signedWebhook is one request, signed before the clock starts.
type signedWebhook struct {
	path   string
	body   []byte
	header http.Header
}

func (b *bench) stageReceiver(ctx context.Context) error {
	bin := filepath.Join(b.o.binDir, "receiver")
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("receiver not built in %s (make bench builds it): %w", b.o.binDir, err)
	}
	topic := b.name("receiver")
	if err := b.createTopics(ctx, 3, topic); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-receiver-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	certHost, err := freeLoopback()
	if err != nil {
		return err
	}
	cfg := webhook.SignerConfig{
		StripeSecret: "whsec_bench", RazorpaySecret: "rzp_bench", SquareKey: "sq_bench", SquareURL: "https://bench.invalid/webhooks/square",
		AdyenHexKey: "0123456789ABCDEF0123456789ABCDEF", PayPalWebhookID: "WH-BENCH",
		PayPalDevCAFile: filepath.Join(dir, "ca.pem"), PayPalDevCertHost: certHost,
	}
	signer, err := webhook.NewSigner(cfg, []string{"stripe", "razorpay", "paypal", "adyen", "square"})
	if err != nil {
		return err
	}
	defer signer.Close()
	env := append(os.Environ(), "ENV_FILE=/nonexistent", "LOG_FORMAT=text", "KAFKA_BOOTSTRAP_SERVERS="+b.kafka.BootstrapServers,
		"KAFKA_TOPICS=", "KAFKA_TOPIC="+topic, "RECEIVER_ADDR=127.0.0.1:0", "RECEIVER_METRICS_ADDR=127.0.0.1:0",
		"STRIPE_WEBHOOK_SECRET="+cfg.StripeSecret, "RAZORPAY_WEBHOOK_SECRET="+cfg.RazorpaySecret,
		"SQUARE_WEBHOOK_SIGNATURE_KEY="+cfg.SquareKey, "SQUARE_WEBHOOK_URL="+cfg.SquareURL, "ADYEN_HMAC_KEY="+cfg.AdyenHexKey,
		"PAYPAL_WEBHOOK_ID="+cfg.PayPalWebhookID, "PAYPAL_DEV_CA_FILE="+cfg.PayPalDevCAFile, "PAYPAL_DEV_CERT_HOST="+certHost)
	latencyN := max(1, int(float64(b.o.ReceiverRate)*b.o.LatencySeconds))
	var rates, ratios, p50s, p99s []float64
	for run := range b.o.Runs {
		recs, err := generate(uint64(100+run), b.o.ReceiverRecords+latencyN, 0)
		if err != nil {
			return err
		}
		// Signed now: Stripe's timestamps stay within the tolerance for the
		// few minutes a run takes.
		reqs := make([]signedWebhook, len(recs))
		for i, r := range recs {
			gw := normalizer.GatewayName(r.Gateway)
			body, h, err := signer.Sign(gw, r.Value, r.Step.EventID, time.Now())
			if err != nil {
				return err
			}
			reqs[i] = signedWebhook{path: "/webhooks/" + gw, body: body, header: h}
		}
		addr, stop, err := startReceiver(ctx, bin, env)
		if err != nil {
			return err
		}
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: b.o.ReceiverClients * 2}, Timeout: 60 * time.Second}
		rate, err := sendAsFastAsAnswered(ctx, client, "http://"+addr, reqs[:b.o.ReceiverRecords], b.o.ReceiverClients)
		if err != nil {
			stop()
			return err
		}
		lat, err := sendAtRate(ctx, client, "http://"+addr, reqs[b.o.ReceiverRecords:], b.o.ReceiverRate)
		stop()
		if err != nil {
			return err
		}
		rates = append(rates, rate)
		ratios = append(ratios, rate/b.ceil.at(b.ceil.producer, run))
		p50s = append(p50s, ms(percentile(lat, 50)))
		p99s = append(p99s, ms(percentile(lat, 99)))
		say("   run %d: %.0f verified webhooks/s (%d at once); at %d/s p50 %.1f ms, p99 %.1f ms", run+1, rate, b.o.ReceiverClients, b.o.ReceiverRate, p50s[run], p99s[run])
	}
	b.res.add("receiver", "cmd/receiver, verified webhooks", "records/s", rates,
		fmt.Sprintf("%d webhooks of the five gateways, %d requests at once, 200 after Kafka's ack", b.o.ReceiverRecords, b.o.ReceiverClients))
	if len(b.ceil.producer) > 0 {
		b.res.add("receiver", "÷ Kafka ProducerPerformance", "×", ratios, "same run")
	}
	b.res.add("receiver", fmt.Sprintf("p50 request → 200 at %d/s", b.o.ReceiverRate), "ms", p50s, fmt.Sprintf("%d requests", latencyN))
	b.res.add("receiver", fmt.Sprintf("p99 request → 200 at %d/s", b.o.ReceiverRate), "ms", p99s, "")
	return nil
}

// startReceiver runs the receiver binary and returns its address and a
// function that stops it (SIGTERM, then waits).
func startReceiver(ctx context.Context, bin string, env []string) (string, func(), error) {
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := receiverListening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return a, stop, nil
	case <-time.After(30 * time.Second):
		stop()
		return "", nil, fmt.Errorf("receiver did not start in 30s: %s", lastLines(log.String(), 10))
	}
}

// sendAsFastAsAnswered posts every request with clients at once and
// returns the 200s per second.
func sendAsFastAsAnswered(ctx context.Context, client *http.Client, base string, reqs []signedWebhook, clients int) (float64, error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	began := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(reqs) || ctx.Err() != nil {
					return
				}
				if err := post(ctx, client, base, reqs[i]); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(began)
	close(errs)
	if err := <-errs; err != nil {
		return 0, err
	}
	return float64(len(reqs)) / took.Seconds(), ctx.Err()
}

// sendAtRate starts one request every 1/rate seconds whatever the answers
// (an open loop, as gateways send) and returns each request → 200 time.
func sendAtRate(ctx context.Context, client *http.Client, base string, reqs []signedWebhook, rate int) ([]time.Duration, error) {
	lat := make([]time.Duration, len(reqs))
	var wg sync.WaitGroup
	var failed atomic.Pointer[error]
	began := time.Now()
	for i := range reqs {
		due := began.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(due)):
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if err := post(ctx, client, base, reqs[i]); err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return nil, *err
	}
	slices.Sort(lat)
	return lat, nil
}

func post(ctx context.Context, client *http.Client, base string, w signedWebhook) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+w.path, bytes.NewReader(w.body))
	if err != nil {
		return err
	}
	req.Header = w.header
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %s: %s", w.path, resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

func freeLoopback() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
