package e2e

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
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// With GRPC_AUTH_TOKEN set, every call but health checks needs
// `authorization: Bearer <token>`: none or a wrong one is UNAUTHENTICATED,
// reflection included; the token never shows in logs or in -h.
func TestBearerToken(t *testing.T) {
	const token = "e2e-Zq8vR2kL0pW4"
	gateways := []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}
	tt := newTopics(t, gateways...)
	srv := startServer(t, tt, "GRPC_AUTH_TOKEN="+token, "LOG_FORMAT=json") // startServer's health probe has no token
	conn := dial(t, srv.addr)
	client := pb.NewPaymentServiceClient(conn)
	bearer := func(v string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", v)
	}
	right := bearer("Bearer " + token)

	if resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{Service: "payment.v1.PaymentService"}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without a token: %v %v, want SERVING", resp, err)
	}
	for name, ctx := range map[string]context.Context{
		"no token": context.Background(), "wrong token": bearer("Bearer wrong-token"),
		"token without Bearer": bearer(token), "Basic scheme": bearer("Basic " + token), "token prefix": bearer("Bearer " + token[:8]),
	} {
		if _, err := client.GetStats(ctx, &pb.GetStatsRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("GetStats, %s: %v, want UNAUTHENTICATED", name, err)
		}
		if _, err := client.GetPayment(ctx, &pb.GetPaymentRequest{Gateway: pb.Gateway_GATEWAY_STRIPE, Id: "pi_x"}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("GetPayment, %s: %v, want UNAUTHENTICATED", name, err)
		}
		s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("StreamPayments, %s: %v, want UNAUTHENTICATED", name, err)
		}
		if _, err := tryListServices(ctx, conn); status.Code(err) != codes.Unauthenticated {
			t.Errorf("reflection, %s: %v, want UNAUTHENTICATED", name, err)
		}
	}

	if _, err := client.GetStats(right, &pb.GetStatsRequest{}); err != nil {
		t.Errorf("GetStats with the token: %v", err)
	}
	// The usual client side: per-call credentials on the connection.
	authed := pb.NewPaymentServiceClient(dialWith(t, srv.addr, grpc.WithPerRPCCredentials(bearerToken(token))))
	if names, err := tryListServices(right, conn); err != nil || !slices.Contains(names, "payment.v1.PaymentService") {
		t.Errorf("reflection with the token: %v %v", names, err)
	}
	ctx, cancel := context.WithCancel(right)
	defer cancel()
	s, err := client.StreamPayments(ctx, &pb.StreamPaymentsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	waitStats(t, authed, 10*time.Second, func(s *pb.GetStatsResponse) bool { return s.GetConnectedClients() == 1 })
	recs := generate(t, synthetic.Options{Seed: 5, Gateways: gateways}, 5)
	produce(t, tt, recs)
	collect(t, s, len(recs), 30*time.Second)

	if out := srv.out.String(); strings.Contains(out, token[:8]) {
		t.Errorf("the server log shows the token:\n%s", out)
	} else if !strings.Contains(out, `"msg":"Call refused: missing or wrong token"`) || !strings.Contains(out, `"peer":"127.0.0.1:`) {
		t.Errorf("no JSON line with the peer for the refused calls:\n%s", out)
	}
	help, _, _ := runServerOnce(t, []string{"GRPC_AUTH_TOKEN=" + token}, "-h")
	if strings.Contains(help, token[:8]) || !strings.Contains(help, "GRPC_AUTH_TOKEN") {
		t.Errorf("-h with a token set shows it, or does not document GRPC_AUTH_TOKEN:\n%s", help)
	}
}

// With GRPC_TLS_CERT and GRPC_TLS_KEY the server speaks TLS only: a client
// that trusts the certificate works, plaintext and untrusting clients fail.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	srv := launchServer(t, tt, "GRPC_TLS_CERT="+certFile, "GRPC_TLS_KEY="+keyFile)
	if !strings.Contains(srv.out.String(), "(TLS)") {
		t.Errorf("listening line does not say TLS:\n%s", srv.out.String())
	}
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	conn := dialWith(t, srv.addr, grpc.WithTransportCredentials(creds))
	health := healthpb.NewHealthClient(conn)
	eventually(t, 90*time.Second, "SERVING over TLS", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	if _, err := pb.NewPaymentServiceClient(conn).GetStats(context.Background(), &pb.GetStatsRequest{}); err != nil {
		t.Errorf("GetStats over TLS: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := healthpb.NewHealthClient(dial(t, srv.addr)).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("plaintext client: %v, want UNAVAILABLE", err)
	}
	untrusting := credentials.NewTLS(&tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12})
	if _, err := healthpb.NewHealthClient(dialWith(t, srv.addr, grpc.WithTransportCredentials(untrusting))).Check(ctx, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
		t.Errorf("client that does not trust the certificate: %v, want UNAVAILABLE", err)
	}
}

// Half a TLS configuration, or files that are not a key pair, stop the
// server at start-up with one line that names the settings.
func TestTLSMisconfigured(t *testing.T) {
	dir := t.TempDir()
	certFile, _, _ := selfSigned(t, dir)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string][]string{
		"cert only":      {"GRPC_TLS_CERT=" + certFile},
		"key only":       {"GRPC_TLS_KEY=" + certFile},
		"not a key pair": {"GRPC_TLS_CERT=" + certFile, "GRPC_TLS_KEY=" + garbage},
	} {
		_, stderr, code := runServerOnce(t, append(env, "KAFKA_BOOTSTRAP_SERVERS="+kafkaConfig.BootstrapServers, "GRPC_PORT=0", "GRPC_HOST=127.0.0.1"))
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(stderr, "GRPC_TLS_CERT") || !strings.Contains(stderr, "GRPC_TLS_KEY") {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line naming GRPC_TLS_CERT and GRPC_TLS_KEY", name, code, stderr)
		}
	}
}

// bearerToken is per-call credentials that send the token; it allows
// plaintext, as the test server has no TLS (real deployments should).
type bearerToken string

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost
// and its key into dir, and returns their paths and a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "payment-aggregator e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
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

// The token may come from a file (a mounted secret, with its trailing
// newline); with a token set, /metrics needs it too while the probes stay
// open; the metrics server listens on loopback; and the server warns that
// the token travels without TLS.
func TestTokenFileAndMetricsBehindToken(t *testing.T) {
	const token = "e2e-file-Hn3xY7"
	file := filepath.Join(t.TempDir(), "grpc-token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	srv := startServer(t, tt, "GRPC_AUTH_TOKEN_FILE="+file, fmt.Sprintf("METRICS_PORT=%d", port), "GRPC_HOST=127.0.0.1")
	authed := pb.NewPaymentServiceClient(dialWith(t, srv.addr, grpc.WithPerRPCCredentials(bearerToken(token))))
	if _, err := authed.GetStats(context.Background(), &pb.GetStatsRequest{}); err != nil {
		t.Fatalf("GetStats with the token from the file: %v", err)
	}
	get := func(path, auth string) int {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "Bearer wrong", http.StatusUnauthorized},
		{"/metrics", "Bearer " + token, http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
	} {
		if got := get(c.path, c.auth); got != c.want {
			t.Errorf("GET %s (%q): %d, want %d", c.path, c.auth, got, c.want)
		}
	}
	out := srv.out.String()
	if !strings.Contains(out, fmt.Sprintf("Metrics on http://127.0.0.1:%d/metrics", port)) {
		t.Errorf("METRICS_PORT does not mean loopback:\n%s", out)
	}
	if !strings.Contains(out, "the token travels in clear text") {
		t.Errorf("no warning about a token without TLS:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Errorf("the log shows the token:\n%s", out)
	}

	_, stderr, code := runServerOnce(t, []string{"GRPC_AUTH_TOKEN=" + token, "GRPC_AUTH_TOKEN_FILE=" + file})
	if code == 0 || strings.TrimSpace(stderr) != "server: GRPC_AUTH_TOKEN and GRPC_AUTH_TOKEN_FILE are both set: keep one" {
		t.Errorf("both token settings: exit %d, stderr %q", code, stderr)
	}
}

// With GRPC_TLS_CLIENT_CA the server also asks for a client certificate:
// one the CA signed gets in, none or a stranger's fails the handshake.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	clientCert := selfSignedClient(t, dir, "client")     // its own CA: GRPC_TLS_CLIENT_CA
	strangerCert := selfSignedClient(t, dir, "stranger") // signed by nobody the server trusts
	tt := newTopics(t, pb.Gateway_GATEWAY_STRIPE)
	srv := launchServer(t, tt, "GRPC_TLS_CERT="+certFile, "GRPC_TLS_KEY="+keyFile, "GRPC_TLS_CLIENT_CA="+filepath.Join(dir, "client.crt"))
	if !strings.Contains(srv.out.String(), "(TLS, client certificates required)") {
		t.Errorf("listening line does not say client certificates are required:\n%s", srv.out.String())
	}
	withCert := func(certs ...tls.Certificate) *grpc.ClientConn {
		creds := credentials.NewTLS(&tls.Config{RootCAs: pool, Certificates: certs, MinVersion: tls.VersionTLS12})
		return dialWith(t, srv.addr, grpc.WithTransportCredentials(creds))
	}
	health := healthpb.NewHealthClient(withCert(clientCert))
	eventually(t, 90*time.Second, "SERVING over mutual TLS", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	})
	for name, conn := range map[string]*grpc.ClientConn{"no client certificate": withCert(), "a stranger's certificate": withCert(strangerCert)} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want UNAVAILABLE (handshake refused)", name, err)
		}
	}
}

// selfSignedClient writes a self-signed client certificate (it is its own
// CA) as name.crt and name.key into dir and returns it loaded.
func selfSignedClient(t *testing.T, dir, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "payment-aggregator e2e " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, name+".crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
