package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

var allGateways = []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY, pb.Gateway_GATEWAY_PAYPAL, pb.Gateway_GATEWAY_ADYEN, pb.Gateway_GATEWAY_SQUARE}

// receiverProc is a running cmd/receiver.
type receiverProc struct {
	cmd         *exec.Cmd
	url         string // http://127.0.0.1:port
	metricsURL  string
	out         *logtest.Buffer
	done        chan error
	gatewayEnvs []string
}

var (
	receiverListening = regexp.MustCompile(`Listening on (127\.0\.0\.1:\d+): POST`)
	receiverMetrics   = regexp.MustCompile(`Metrics on (http://127\.0\.0\.1:\d+)/metrics`)
)

// webhookEnv switches on all five gateways with test secrets; PayPal in
// development mode, with the CA file and certificate host the producer
// (-via) writes and serves.
func webhookEnv(t *testing.T) []string {
	return []string{
		"STRIPE_WEBHOOK_SECRET=whsec_e2e_old,whsec_e2e", // rotation: the producer signs with the first
		"RAZORPAY_WEBHOOK_SECRET=rzp_e2e",
		"SQUARE_WEBHOOK_SIGNATURE_KEY=sq_e2e",
		"SQUARE_WEBHOOK_URL=https://example.com/webhooks/square",
		"ADYEN_HMAC_KEY=44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056",
		"PAYPAL_WEBHOOK_ID=WH-E2E",
		"PAYPAL_DEV_CA_FILE=" + filepath.Join(t.TempDir(), "paypal-ca.pem"),
		"PAYPAL_DEV_CERT_HOST=127.0.0.1:" + strconv.Itoa(freePort(t)),
	}
}

func startReceiver(t *testing.T, env ...string) *receiverProc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "receiver"))
	cmd.Env = append(append(cleanEnv(), "ENV_FILE=/nonexistent", "RECEIVER_ADDR=127.0.0.1:0", "RECEIVER_METRICS_ADDR=127.0.0.1:0",
		"KAFKA_BOOTSTRAP_SERVERS="+kafkaConfig.BootstrapServers), env...)
	r := &receiverProc{cmd: cmd, out: &logtest.Buffer{}, done: make(chan error, 1)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = r.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			r.out.Write([]byte(line + "\n"))
			if m := receiverListening.FindStringSubmatch(line); m != nil {
				r.url = "http://" + m[1]
			}
			if m := receiverMetrics.FindStringSubmatch(line); m != nil {
				r.metricsURL = m[1]
				close(ready)
			}
		}
	}()
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() { r.stop(t) })
	select {
	case <-ready:
	case err := <-r.done:
		r.done <- err
		t.Fatalf("receiver exited during start-up: %v\n%s", err, r.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("receiver did not start in 60s\n%s", r.out.String())
	}
	return r
}

func (r *receiverProc) stop(t *testing.T) {
	if r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Errorf("receiver exited with %v after SIGTERM\n%s", err, r.out.String())
		}
	case <-time.After(40 * time.Second):
		_ = r.cmd.Process.Kill()
		t.Errorf("receiver did not stop within 40s of SIGTERM\n%s", r.out.String())
	}
}

// runProducerVia runs the producer binary with -via and returns its output.
func runProducerVia(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "producer"), args...)
	cmd.Env = append(append(cleanEnv(), "ENV_FILE=/nonexistent"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func postWebhook(t *testing.T, url string, body []byte, hdr http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Webhooks of all five gateways, signed by the producer (-via) as each
// gateway signs, pass the receiver and come out of the server's stream.
func TestReceiverAllGatewaysReachTheStream(t *testing.T) {
	const n = 30
	tt := newTopics(t, allGateways...)
	srv := startServer(t, tt)
	env := append(webhookEnv(t), "KAFKA_TOPICS="+strings.Join(tt.rawList(), ","))
	rcv := startReceiver(t, env...)
	client := pb.NewPaymentServiceClient(dial(t, srv.addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	out, err := runProducerVia(t, env, "-via", rcv.url, "-count", strconv.Itoa(n), "-rate", "0", "-seed", "14",
		"-gateways", "stripe,razorpay,paypal,adyen,square", "-quiet")
	if err != nil {
		t.Fatalf("producer -via: %v\n%s\nreceiver:\n%s", err, out, rcv.out.String())
	}
	want := map[string]bool{}
	for _, r := range generate(t, synthetic.Options{Seed: 14, Gateways: allGateways, Mix: synthetic.MixSimple}, n) {
		want[paymentKey(r.Gateway, r.Key)] = true
	}
	seen := map[pb.Gateway]int{}
	for _, r := range collect(t, stream, n, 60*time.Second) {
		p := r.GetPayment()
		if !want[paymentKey(p.GetGateway(), p.GetId())] {
			t.Errorf("unexpected payment %s %s", p.GetGateway(), p.GetId())
		}
		delete(want, paymentKey(p.GetGateway(), p.GetId()))
		seen[p.GetGateway()]++
	}
	for _, g := range allGateways {
		if seen[g] == 0 {
			t.Errorf("no %s payment came through the receiver", g)
		}
	}
	m := scrape(t, rcv.metricsURL+"/metrics")
	if got := sumSeries(m, "payagg_receiver_accepted_total"); got != n {
		t.Errorf("receiver accepted %v, want %d", got, n)
	}
	var raw int64
	for _, topic := range tt.rawList() {
		raw += countTopic(t, topic)
	}
	if raw != n {
		t.Errorf("raw topics hold %d records, want %d", raw, n)
	}
	if !strings.Contains(rcv.out.String(), "DEVELOPMENT MODE") {
		t.Errorf("the development PayPal setting was not announced:\n%s", rcv.out.String())
	}
}

// Forged, stale, unsigned, oversized, wrongly typed or sent requests get a
// 4xx and leave the raw topics empty; one signed request, sent last, is
// stored, so the watermarks are known to move.
func TestReceiverRefusalsNeverReachKafka(t *testing.T) {
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE, pb.Gateway_GATEWAY_RAZORPAY, pb.Gateway_GATEWAY_ADYEN}
	tt := newTopics(t, gateways...)
	rcv := startReceiver(t, "KAFKA_TOPICS="+strings.Join(tt.rawList(), ","), "STRIPE_WEBHOOK_SECRET=whsec_e2e",
		"RAZORPAY_WEBHOOK_SECRET=rzp_e2e", "ADYEN_HMAC_KEY=0011223344")
	recs := generate(t, synthetic.Options{Seed: 3, Gateways: gateways}, 20)
	var stripe, razorpay, adyen []byte
	for _, r := range recs {
		switch r.Gateway {
		case pb.Gateway_GATEWAY_STRIPE:
			stripe = r.Value
		case pb.Gateway_GATEWAY_RAZORPAY:
			razorpay = r.Value
		case pb.Gateway_GATEWAY_ADYEN:
			adyen = r.Value
		}
	}
	good := []byte("whsec_e2e")
	sig := func(at time.Time, secret []byte) http.Header {
		return http.Header{"Stripe-Signature": {webhook.SignStripe(stripe, at, secret)}}
	}
	huge := append(append([]byte{}, stripe...), bytes.Repeat([]byte(" "), 1<<20)...)
	cases := []struct {
		name   string
		path   string
		body   []byte
		hdr    http.Header
		status int
		reason string
	}{
		{"forged", "stripe", stripe, sig(time.Now(), []byte("whsec_guess")), 401, "bad_signature"},
		{"stale", "stripe", stripe, sig(time.Now().Add(-10*time.Minute), good), 401, "stale_timestamp"},
		{"unsigned", "stripe", stripe, nil, 400, "missing_signature"},
		{"oversized", "stripe", huge, http.Header{"Stripe-Signature": {webhook.SignStripe(huge, time.Now(), good)}}, 413, "too_large"},
		{"wrong content type", "stripe", stripe, http.Header{"Stripe-Signature": sig(time.Now(), good)["Stripe-Signature"], "Content-Type": {"text/plain"}}, 415, "wrong_content_type"},
		{"razorpay forged", "razorpay", razorpay, http.Header{"X-Razorpay-Signature": {webhook.SignRazorpay(razorpay, []byte("guess"))}}, 401, "bad_signature"},
		{"adyen unsigned item", "adyen", adyen, nil, 401, "bad_signature"}, // the synthetic placeholder signature
		{"switched off", "square", stripe, nil, 404, "not_configured"},
	}
	for _, c := range cases {
		status, body := postWebhook(t, rcv.url+"/webhooks/"+c.path, c.body, c.hdr)
		if status != c.status {
			t.Errorf("%s: %d %q, want %d", c.name, status, body, c.status)
		}
	}
	resp, err := http.Get(rcv.url + "/webhooks/stripe")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
	for _, topic := range tt.rawList() {
		if n := countTopic(t, topic); n != 0 {
			t.Errorf("%s holds %d records after refusals only", topic, n)
		}
	}
	m := scrape(t, rcv.metricsURL+"/metrics")
	for _, c := range cases {
		if got := sumSeries(m, "payagg_receiver_refused_total", `gateway="`+c.path+`"`, `reason="`+c.reason+`"`); got < 1 {
			t.Errorf("%s: refused{gateway=%s,reason=%s} = %v", c.name, c.path, c.reason, got)
		}
	}
	if strings.Contains(rcv.out.String(), string(stripe[:40])) {
		t.Errorf("a refused body reached the log:\n%s", rcv.out.String())
	}
	// The producer (-via) signing with a wrong secret fails with the status
	// and the receiver's reason.
	out, err := runProducerVia(t, []string{"STRIPE_WEBHOOK_SECRET=whsec_wrong"}, "-via", rcv.url, "-gateways", "stripe", "-count", "1", "-rate", "0")
	if err == nil || !strings.Contains(out, "401 Unauthorized: Stripe-Signature: no v1 signature matches") {
		t.Errorf("producer -via with a wrong secret: err %v, output:\n%s", err, out)
	}
	for _, topic := range tt.rawList() {
		if n := countTopic(t, topic); n != 0 {
			t.Errorf("%s holds %d records after refusals only", topic, n)
		}
	}
	// The positive control: the same webhook, signed, is stored.
	if status, body := postWebhook(t, rcv.url+"/webhooks/stripe", stripe, sig(time.Now(), good)); status != 200 {
		t.Fatalf("signed: %d %q", status, body)
	}
	if n := countTopic(t, tt.raw[pb.Gateway_GATEWAY_STRIPE]); n != 1 {
		t.Errorf("stripe raw topic holds %d records after one signed webhook, want 1", n)
	}
}

// A receiver whose Kafka does not answer (a closed loopback port) says
// 503, and is not ready.
func TestReceiverWithoutKafkaAnswers503(t *testing.T) {
	rcv := startReceiver(t, "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:"+strconv.Itoa(freePort(t)), "RECEIVER_KAFKA_TIMEOUT=2",
		"KAFKA_TOPICS=it-nokafka.payments.raw.stripe", "STRIPE_WEBHOOK_SECRET=whsec_e2e")
	body := []byte(`{"id":"evt_nokafka","type":"payment_intent.succeeded"}`)
	hdr := http.Header{"Stripe-Signature": {webhook.SignStripe(body, time.Now(), []byte("whsec_e2e"))}}
	if status, reply := postWebhook(t, rcv.url+"/webhooks/stripe", body, hdr); status != http.StatusServiceUnavailable {
		t.Fatalf("got %d %q, want 503", status, reply)
	}
	if s := httpStatus(t, rcv.metricsURL+"/readyz"); s != http.StatusServiceUnavailable {
		t.Errorf("/readyz %d without Kafka, want 503", s)
	}
	if s := httpStatus(t, rcv.metricsURL+"/healthz"); s != http.StatusOK {
		t.Errorf("/healthz %d, want 200", s)
	}
}

// Kafka stops: the receiver answers 503 and stores nothing; the gateway
// retries, and once the broker is back the retry lands, once. It stops the
// shared broker, so it runs only when asked (E2E_KAFKA_RESTART=1, make
// test-faults).
func TestReceiverKafkaStoppedThenRetryLands(t *testing.T) {
	if os.Getenv("E2E_KAFKA_RESTART") == "" {
		t.Skip("restarts the shared Kafka broker: set E2E_KAFKA_RESTART=1 (make test-faults)")
	}
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}
	tt := newTopics(t, gateways...)
	srv := startServer(t, tt)
	rcv := startReceiver(t, "KAFKA_TOPICS="+strings.Join(tt.rawList(), ","), "STRIPE_WEBHOOK_SECRET=whsec_e2e", "RECEIVER_KAFKA_TIMEOUT=3")
	rec := generate(t, synthetic.Options{Seed: 9, Gateways: gateways}, 1)[0]
	client := newResumingClient(t, func() string { return srv.addr })
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.run(context.Background(), pb.StartPosition_START_POSITION_EARLIEST, 1, 4*time.Minute)
	}()
	send := func() (int, string) {
		hdr := http.Header{"Stripe-Signature": {webhook.SignStripe(rec.Value, time.Now(), []byte("whsec_e2e"))}}
		return postWebhook(t, rcv.url+"/webhooks/stripe", rec.Value, hdr)
	}
	kafkaScript(t, "down")
	if status, body := send(); status != http.StatusServiceUnavailable {
		kafkaScript(t, "up")
		t.Fatalf("with Kafka down: %d %q, want 503", status, body)
	}
	kafkaScript(t, "up")
	// The gateway's retries: until one is stored.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, body := send()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retries still refused after the broker came back: %d %q", status, body)
		}
		time.Sleep(2 * time.Second)
	}
	<-done
	// Anything more (a copy of the refused attempt) would show in a while.
	client.run(context.Background(), pb.StartPosition_START_POSITION_EARLIEST, 2, 3*time.Second)
	t.Logf("raw topic holds %d record(s) (a 503'd attempt Kafka stored late would be a second, deduplicated downstream)", countTopic(t, tt.raw[pb.Gateway_GATEWAY_STRIPE]))
	if client.distinct() != 1 || client.duplicates() != 0 {
		t.Errorf("client saw %d distinct payments with %d duplicates, want 1 and 0", client.distinct(), client.duplicates())
	}
}

// Every environment variable `receiver -h` names is in README's "Receiver
// settings" table, and the table names no other.
func TestReceiverSettingsTableMatchesHelp(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "receiver"), "-h")
	cmd.Env = append(cleanEnv(), "ENV_FILE=/nonexistent")
	help, err := cmd.Output()
	if err != nil {
		t.Fatalf("receiver -h: %v", err)
	}
	known := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[([A-Z][A-Z0-9]*_[A-Z0-9_]+)\]`).FindAllStringSubmatch(string(help), -1) {
		known[m[1]] = true
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Receiver settings\n")
	if !ok {
		t.Fatal(`README.md has no "### Receiver settings" section`)
	}
	if i := strings.Index(section, "\n### "); i >= 0 {
		section = section[:i]
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(first, -1) {
			listed[m[1]] = true
		}
	}
	if len(known) < 10 {
		t.Fatalf("receiver -h names only %d variables:\n%s", len(known), help)
	}
	for name := range known {
		if !listed[name] {
			t.Errorf("receiver -h documents %s; README's Receiver settings table does not", name)
		}
	}
	for name := range listed {
		if !known[name] {
			t.Errorf("README's Receiver settings table lists %s; receiver -h does not", name)
		}
	}
}

// SIGTERM while a webhook waits for Kafka: the receiver stops taking new
// connections, answers the one in flight (503 here: its Kafka is a closed
// port) and exits 0.
func TestReceiverShutdownFinishesInFlight(t *testing.T) {
	rcv := startReceiver(t, "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:"+strconv.Itoa(freePort(t)), "RECEIVER_KAFKA_TIMEOUT=5",
		"KAFKA_TOPICS=it-shutdown.payments.raw.stripe", "STRIPE_WEBHOOK_SECRET=whsec_e2e")
	body := []byte(`{"id":"evt_inflight","type":"payment_intent.succeeded"}`)
	hdr := http.Header{"Stripe-Signature": {webhook.SignStripe(body, time.Now(), []byte("whsec_e2e"))}}
	type answer struct {
		status int
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, rcv.url+"/webhooks/stripe", bytes.NewReader(body))
		req.Header = hdr
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	eventually(t, 10*time.Second, "a request in flight", func() bool {
		return sumSeries(scrape(t, rcv.metricsURL+"/metrics"), "payagg_receiver_requests_in_flight") == 1
	})
	if err := rcv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "new connections refused", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(rcv.url, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	a := <-answered
	if a.err != nil || a.status != http.StatusServiceUnavailable {
		t.Fatalf("the request in flight got %d, %v; want its 503", a.status, a.err)
	}
	select {
	case err := <-rcv.done:
		rcv.done <- err
		if err != nil {
			t.Fatalf("receiver exited with %v\n%s", err, rcv.out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("receiver still running after SIGTERM\n%s", rcv.out.String())
	}
	if !strings.Contains(rcv.out.String(), "[RECEIVER] Stopped") {
		t.Errorf("no Stopped line:\n%s", rcv.out.String())
	}
}
