package dashboard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/state"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// rig is the real PaymentService on a real grpc.Server, reachable only
// through the dashboard's listener on loopback.
type rig struct {
	hub  *stream.Hub
	view *stateView
	svc  *grpcserver.Service
	srv  *Server
	base string
	// client makes the calls: plain HTTP/1.1 unless a test sets another.
	client *http.Client
	next   int64
}

type ingestStats struct{}

// stateView stands in for state.View, whose answers come from Kafka: here
// the test is the transport, so the view counts what the rig publishes.
type stateView struct{ payments atomic.Int64 }

func (*stateView) Get(pb.Gateway, string) (*pb.Payment, error) { return nil, state.ErrNotFound }
func (v *stateView) Totals() (state.Totals, error) {
	return state.Totals{Payments: v.payments.Load(), DLQByCode: map[string]int64{"malformed_json": 2}}, nil
}

func (ingestStats) SkippedCount() int64           { return 0 }
func (ingestStats) ConsumerLag() map[string]int64 { return map[string]int64{"payments.raw.stripe": 7} }

func newRig(t *testing.T, sec grpcserver.Security, opts ...grpcserver.Option) *rig {
	t.Helper()
	r := &rig{hub: stream.NewHub(stream.Options{Window: 1000}), view: &stateView{}, client: http.DefaultClient}
	r.hub.Start(stream.Position{0: 0}, stream.Position{0: 0})
	log := slog.New(slog.DiscardHandler)
	r.svc = grpcserver.NewService(r.hub, r.view, ingestStats{}, log, opts...)
	grpcOpts, err := grpcserver.ServerOptions(sec, log)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpcOpts...)
	r.svc.Register(gs)
	h, err := New(gs)
	if err != nil {
		t.Fatal(err)
	}
	r.srv, err = Listen("127.0.0.1:0", h, sec)
	if err != nil {
		t.Fatal(err)
	}
	r.base = strings.TrimSuffix(r.srv.URL(), "/")
	served := make(chan error, 1)
	go func() { served <- r.srv.Serve() }()
	t.Cleanup(func() {
		r.svc.Shutdown()
		gs.Stop()
		r.srv.Shutdown(time.Second, log)
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return r
}

func (r *rig) publish(n int) {
	for range n {
		r.next++
		r.hub.Publish(0, r.next-1, &pb.Payment{
			Id: fmt.Sprintf("pi_%06d", r.next), Gateway: pb.Gateway_GATEWAY_STRIPE, EventId: fmt.Sprintf("evt_%06d", r.next),
			Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Amount: &pb.Money{AmountMinor: 100, Currency: "USD"},
			UpdatedAt: timestamppb.Now(),
		})
		r.view.payments.Add(1)
	}
}

func procedure(method string) string { return servicePath + method }

// clients speak Connect (binary, as the page does) and gRPC-Web.
func (r *rig) stats(opts ...connect.ClientOption) *connect.Client[pb.GetStatsRequest, pb.GetStatsResponse] {
	return connect.NewClient[pb.GetStatsRequest, pb.GetStatsResponse](r.client, r.base+procedure("GetStats"), opts...)
}

func (r *rig) payments(opts ...connect.ClientOption) *connect.Client[pb.StreamPaymentsRequest, pb.StreamPaymentsResponse] {
	return connect.NewClient[pb.StreamPaymentsRequest, pb.StreamPaymentsResponse](r.client, r.base+procedure("StreamPayments"), opts...)
}

func bearer(token string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}), streamBearer(token))
}

type streamBearer string

func (s streamBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }
func (s streamBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(s))
		return conn
	}
}
func (s streamBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func TestPageIsServedWithItsAssets(t *testing.T) {
	r := newRig(t, grpcserver.Security{AuthToken: "s3cret-token"})
	names, err := fs.Glob(Assets(), "*")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded assets: %v %v", names, err)
	}
	for _, tc := range []struct{ path, contentType string }{
		{"/", "text/html"},
		{"/app.js", "text/javascript"},
		{"/app.css", "text/css"},
	} {
		resp, err := http.Get(r.base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s: %d %q, want 200 %s", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType)
		}
		if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
			t.Errorf("GET %s: no content security policy", tc.path)
		}
		if strings.Contains(string(body), "s3cret-token") {
			t.Errorf("GET %s: the served page carries the token", tc.path)
		}
	}
	resp, err := http.Post(r.base+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", resp.StatusCode)
	}
}

func TestStreamsOverConnectAndGRPCWeb(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol []connect.ClientOption
	}{
		{"connect", nil},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, grpcserver.Security{})
			r.publish(3)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s, err := r.payments(tc.protocol...).CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST}))
			if err != nil {
				t.Fatal(err)
			}
			var cursor string
			for i := 1; i <= 3; i++ {
				if !s.Receive() {
					t.Fatalf("stream ended after %d payments: %v", i-1, s.Err())
				}
				if want := fmt.Sprintf("pi_%06d", i); s.Msg().GetPayment().GetId() != want {
					t.Fatalf("payment %d is %s, want %s", i, s.Msg().GetPayment().GetId(), want)
				}
				if i == 2 {
					cursor = s.Msg().GetCursor()
				}
			}
			s.Close()
			// Resuming with a cursor gives what came after it, as on the gRPC port.
			s, err = r.payments(tc.protocol...).CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{Cursor: cursor}))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if !s.Receive() || s.Msg().GetPayment().GetId() != "pi_000003" {
				t.Fatalf("resumed stream: %v %v, want pi_000003", s.Msg().GetPayment().GetId(), s.Err())
			}
			// The first stream's end reaches the server a moment after Close.
			var stats *connect.Response[pb.GetStatsResponse]
			for range 200 {
				if stats, err = r.stats(tc.protocol...).CallUnary(ctx, connect.NewRequest(&pb.GetStatsRequest{})); err != nil {
					t.Fatal(err)
				}
				if stats.Msg.GetConnectedClients() == 1 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if stats.Msg.GetPaymentsTotal() != 3 || stats.Msg.GetDlqByCode()["malformed_json"] != 2 || stats.Msg.GetConnectedClients() != 1 {
				t.Errorf("stats over %s: %v", tc.name, stats.Msg)
			}
		})
	}
}

// The token check is a gRPC interceptor: it must run for transcoded calls too.
func TestTokenIsCheckedOnTheDashboardPath(t *testing.T) {
	r := newRig(t, grpcserver.Security{AuthToken: "s3cret-token"})
	r.publish(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
		want connect.Code
	}{
		{"no token", nil, connect.CodeUnauthenticated},
		{"wrong token", []connect.ClientOption{bearer("guess")}, connect.CodeUnauthenticated},
		{"the token", []connect.ClientOption{bearer("s3cret-token")}, 0},
	} {
		_, err := r.stats(tc.opts...).CallUnary(ctx, connect.NewRequest(&pb.GetStatsRequest{}))
		if connect.CodeOf(err) != tc.want && (tc.want != 0 || err != nil) {
			t.Errorf("GetStats, %s: %v, want code %v", tc.name, err, tc.want)
		}
		s, err := r.payments(tc.opts...).CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST}))
		if err == nil {
			s.Receive()
			err = s.Err()
			s.Close()
		}
		if connect.CodeOf(err) != tc.want && (tc.want != 0 || err != nil) {
			t.Errorf("StreamPayments, %s: %v, want code %v", tc.name, err, tc.want)
		}
	}
}

// GRPC_MAX_STREAMS counts streams of both ports: the limit lives in the service.
func TestStreamLimitCoversTheDashboard(t *testing.T) {
	r := newRig(t, grpcserver.Security{}, grpcserver.WithMaxStreams(1))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.publish(1)
	first, err := r.payments().CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST}))
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if !first.Receive() {
		t.Fatalf("first stream: %v", first.Err())
	}
	second, err := r.payments().CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{}))
	if err == nil {
		second.Receive()
		err = second.Err()
		second.Close()
	}
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("second stream: %v, want resource_exhausted", err)
	}
}

func TestRequestLimits(t *testing.T) {
	r := newRig(t, grpcserver.Security{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	big := &pb.StreamPaymentsRequest{Cursor: "c1." + strings.Repeat("A", grpcserver.MaxRecvMsgBytes)}
	s, err := r.payments().CallServerStream(ctx, connect.NewRequest(big))
	if err == nil {
		s.Receive()
		err = s.Err()
		s.Close()
	}
	if code := connect.CodeOf(err); code != connect.CodeResourceExhausted {
		t.Errorf("a %d KiB request: %v, want resource_exhausted", grpcserver.MaxRecvMsgBytes>>10, err)
	}

	req, _ := http.NewRequest(http.MethodGet, r.base+"/", nil)
	// net/http allows a little slack over MaxHeaderBytes; twice is over.
	req.Header.Set("X-Padding", strings.Repeat("x", 2*grpcserver.MaxHeaderListBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d KiB header: %d, want 431", grpcserver.MaxHeaderListBytes>>10, resp.StatusCode)
	}
}

// HTTP/2 (h2c here) gets the gRPC port's per-connection settings.
func TestHTTP2Settings(t *testing.T) {
	r := newRig(t, grpcserver.Security{})
	conn, err := net.Dial("tcp", r.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	f, err := fr.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	settings, ok := f.(*http2.SettingsFrame)
	if !ok {
		t.Fatalf("first frame %T, want SETTINGS", f)
	}
	if v, ok := settings.Value(http2.SettingMaxConcurrentStreams); !ok || v != grpcserver.MaxStreamsPerConnection {
		t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent %v), want %d", v, ok, grpcserver.MaxStreamsPerConnection)
	}
	if v, ok := settings.Value(http2.SettingMaxHeaderListSize); !ok || v > grpcserver.MaxHeaderListBytes+4096 {
		t.Errorf("SETTINGS_MAX_HEADER_LIST_SIZE = %d (sent %v), want about %d", v, ok, grpcserver.MaxHeaderListBytes)
	}
}

// Only PaymentService is on the dashboard: health and reflection stay on
// the gRPC port.
func TestOnlyPaymentServiceIsTranscoded(t *testing.T) {
	r := newRig(t, grpcserver.Security{})
	resp, err := http.Post(r.base+"/grpc.health.v1.Health/Check", "application/proto", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("health check through the dashboard: %d, want it not served", resp.StatusCode)
	}
}

// With GRPC_TLS_CERT set the dashboard serves HTTPS with that certificate,
// and plaintext is refused.
func TestTLSSettingsApply(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t, t.TempDir())
	r := newRig(t, grpcserver.Security{TLSCert: certFile, TLSKey: keyFile})
	if !strings.HasPrefix(r.base, "https://") {
		t.Fatalf("URL %s, want https", r.base)
	}
	r.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.stats().CallUnary(ctx, connect.NewRequest(&pb.GetStatsRequest{})); err != nil {
		t.Errorf("GetStats over TLS: %v", err)
	}
	resp, err := http.Get("http://" + strings.TrimPrefix(r.base, "https://") + "/")
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plaintext GET on the TLS dashboard: %d", resp.StatusCode)
		}
	}

	// With GRPC_TLS_CLIENT_CA, a client without a certificate is refused, as on the gRPC port.
	mutual := newRig(t, grpcserver.Security{TLSCert: certFile, TLSKey: keyFile, ClientCA: certFile})
	mutual.client = r.client
	if _, err := mutual.stats().CallUnary(ctx, connect.NewRequest(&pb.GetStatsRequest{})); err == nil {
		t.Error("GetStats without a client certificate on a mutual-TLS dashboard succeeded")
	}

	_, err = Listen("127.0.0.1:0", http.NotFoundHandler(), grpcserver.Security{TLSCert: "testdata/missing.pem", TLSKey: "testdata/missing.key"})
	if err == nil || !strings.Contains(err.Error(), "GRPC_TLS_CERT") {
		t.Errorf("Listen with a missing certificate: %v, want an error naming GRPC_TLS_CERT", err)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key
// into dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "dashboard test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// A stream outlives the server's ReadTimeout over HTTP/1.1, which is what a
// browser speaks to a plaintext port.
func TestStreamOutlivesTheReadTimeout(t *testing.T) {
	saved := readTimeout
	readTimeout = 200 * time.Millisecond
	defer func() { readTimeout = saved }()
	r := newRig(t, grpcserver.Security{})
	r.publish(1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.payments().CallServerStream(ctx, connect.NewRequest(&pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Receive() {
		t.Fatalf("first payment: %v", s.Err())
	}
	time.Sleep(3 * readTimeout)
	r.publish(1)
	if !s.Receive() {
		t.Fatalf("a payment after the read timeout: %v", s.Err())
	}
}
