package grpcserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/logging/logtest"
)

// rawHTTP2 opens an HTTP/2 connection to the rig without gRPC's client,
// so that the test sees the frames the server sends.
func rawHTTP2(t *testing.T, r *rig) *http2.Framer {
	t.Helper()
	conn, err := r.lis.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	return fr
}

// The server tells every connection how many calls it may have open at once.
func TestMaxStreamsPerConnectionIsAdvertised(t *testing.T) {
	r := newRig(t, 100, Security{})
	fr := rawHTTP2(t, r)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		sf, ok := f.(*http2.SettingsFrame)
		if !ok || sf.IsAck() {
			continue
		}
		n, ok := sf.Value(http2.SettingMaxConcurrentStreams)
		if !ok || n != MaxStreamsPerConnection {
			t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent: %v), want %d", n, ok, MaxStreamsPerConnection)
		}
		return
	}
}

// A client that pings more often than KeepaliveMinTime is disconnected with
// GOAWAY too_many_pings.
func TestPingFloodIsDisconnected(t *testing.T) {
	r := newRig(t, 100, Security{})
	fr := rawHTTP2(t, r)
	for i := range 5 {
		if err := fr.WritePing(false, [8]byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended without GOAWAY: %v", err)
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			if ga.ErrCode != http2.ErrCodeEnhanceYourCalm || !strings.Contains(string(ga.DebugData()), "too_many_pings") {
				t.Fatalf("GOAWAY %v %q, want ENHANCE_YOUR_CALM too_many_pings", ga.ErrCode, ga.DebugData())
			}
			return
		}
	}
}

// Health Watch streams need no token, so they are capped: past the cap a
// Watch is refused, and a freed slot can be used again.
func TestHealthWatchesAreCapped(t *testing.T) {
	r := newRig(t, 100, Security{AuthToken: "tok"}, WithMaxHealthWatches(2))
	hc := healthpb.NewHealthClient(r.dial(t))
	open := func(ctx context.Context) (grpc.ServerStreamingClient[healthpb.HealthCheckResponse], error) {
		w, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return nil, err
		}
		_, err = w.Recv() // the first status arrives once the Watch holds its slot
		return w, err
	}
	ctx := context.Background()
	first, cancelFirst := context.WithCancel(ctx)
	if _, err := open(first); err != nil {
		t.Fatal(err)
	}
	if _, err := open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := open(ctx); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("third Watch: %v, want RESOURCE_EXHAUSTED", err)
	}
	cancelFirst()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := open(ctx)
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("Watch after one ended: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Check (unary) is not capped.
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
}

func TestTokenWithoutTLSIsWarnedAbout(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	cert, key := ca.issue(t, dir, "server", true)
	cases := []struct {
		name string
		sec  Security
		warn bool
	}{
		{"token, plaintext", Security{AuthToken: "tok-9c1e"}, true},
		{"token, TLS", Security{AuthToken: "tok-9c1e", TLSCert: cert, TLSKey: key}, false},
		{"no token", Security{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out logtest.Buffer
			if _, err := ServerOptions(tc.sec, slog.New(slog.NewTextHandler(&out, nil))); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(out.String(), "clear text"); got != tc.warn {
				t.Fatalf("warned = %v, want %v: %q", got, tc.warn, out.String())
			}
			if strings.Contains(out.String(), "tok-9c1e") {
				t.Fatalf("the token is in the log: %q", out.String())
			}
		})
	}
}

// With a client CA set, only clients presenting a certificate it signed get
// through the TLS handshake.
func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca, other := newTestCA(t, "ca"), newTestCA(t, "other")
	serverCert, serverKey := ca.issue(t, dir, "server", true)
	goodCert, goodKey := ca.issue(t, dir, "client", false)
	badCert, badKey := other.issue(t, dir, "stranger", false)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.pem, 0o600); err != nil {
		t.Fatal(err)
	}
	r := newRig(t, 100, Security{TLSCert: serverCert, TLSKey: serverKey, ClientCA: caFile})

	check := func(certFile, keyFile string) error {
		tc := &tls.Config{RootCAs: x509.NewCertPool(), ServerName: "localhost"}
		tc.RootCAs.AppendCertsFromPEM(ca.pem)
		if certFile != "" {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		conn, err := grpc.NewClient("passthrough:///bufnet",
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return r.lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(credentials.NewTLS(tc)))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(goodCert, goodKey); err != nil {
		t.Fatalf("client with a certificate from the client CA: %v", err)
	}
	if err := check("", ""); status.Code(err) != codes.Unavailable {
		t.Fatalf("client without a certificate: %v, want UNAVAILABLE (handshake refused)", err)
	}
	if err := check(badCert, badKey); status.Code(err) != codes.Unavailable {
		t.Fatalf("client with a certificate from another CA: %v, want UNAVAILABLE (handshake refused)", err)
	}
}

func TestSecuritySettingErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	cert, key := ca.issue(t, dir, "server", true)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		sec  Security
		want string
	}{
		{"client CA without TLS", Security{ClientCA: notPEM}, "GRPC_TLS_CLIENT_CA needs TLS"},
		{"client CA missing", Security{TLSCert: cert, TLSKey: key, ClientCA: filepath.Join(dir, "nope.pem")}, "GRPC_TLS_CLIENT_CA=" + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"client CA not PEM", Security{TLSCert: cert, TLSKey: key, ClientCA: notPEM}, "no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ServerOptions(tc.sec, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line with %q", err, tc.want)
			}
		})
	}
}

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes a certificate signed by the CA and its key to dir, for a
// server (localhost, 127.0.0.1) or a client, and returns the two paths.
func (ca *testCA) issue(t *testing.T, dir, name string, server bool) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames, tmpl.IPAddresses = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := errors.Join(
		os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600),
		os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
	); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
