package grpcserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// Limits on what one client may send. Requests are small (filters, a
// cursor, an id): anything bigger is refused by gRPC with RESOURCE_EXHAUSTED
// before it is decoded.
const (
	MaxRecvMsgBytes    = 64 << 10
	MaxHeaderListBytes = 64 << 10
	// MaxStreamsPerConnection is HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS:
	// calls one connection may have open at once. Further calls wait in the
	// client for a free stream. grpc-go has no limit unless one is set, so
	// one connection could open streams (and goroutines) without bound.
	MaxStreamsPerConnection = 128
	// KeepaliveMinTime is how often a client may ping; a client that pings
	// more often is sent GOAWAY (too_many_pings) and disconnected.
	KeepaliveMinTime = 10 * time.Second
	// MaxConnectionIdle closes a connection that has had no call for that
	// long: an abandoned connection does not hold its memory forever.
	MaxConnectionIdle = 15 * time.Minute
)

// Keepalive of every connection: a ping after KeepaliveTime without
// activity, and the connection is closed when no answer comes within
// KeepaliveTimeout. The dashboard's HTTP/2 connections use the same.
const (
	KeepaliveTime    = 30 * time.Second
	KeepaliveTimeout = 10 * time.Second
)

// Security is the transport and call security of the gRPC server.
type Security struct {
	// AuthToken, if set, is required as `authorization: Bearer <token>` on
	// every call except grpc.health.v1.Health.
	AuthToken string
	// TLSCert and TLSKey are PEM files; both set turns TLS on.
	TLSCert, TLSKey string
	// ClientCA is a PEM file of CA certificates; set, every client must
	// present a certificate signed by one of them (mutual TLS).
	ClientCA string
}

// Check says, in one line, what is wrong with the settings.
func (c Security) Check() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("GRPC_TLS_CERT and GRPC_TLS_KEY must be set together (or neither, for plaintext)")
	}
	if c.ClientCA != "" && !c.TLS() {
		return errors.New("GRPC_TLS_CLIENT_CA needs TLS: set GRPC_TLS_CERT and GRPC_TLS_KEY too")
	}
	return nil
}

// MutualTLS reports whether clients must present a certificate.
func (c Security) MutualTLS() bool { return c.ClientCA != "" }

// TLS reports whether TLS is on.
func (c Security) TLS() bool { return c.TLSCert != "" }

// ServerOptions returns the gRPC server options: keepalive, message limits,
// the codec that sends pre-encoded payments, TLS credentials and the token
// check.
func ServerOptions(c Security, log *slog.Logger) ([]grpc.ServerOption, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	opts := []grpc.ServerOption{
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout, MaxConnectionIdle: MaxConnectionIdle}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.MaxConcurrentStreams(MaxStreamsPerConnection),
		grpc.MaxRecvMsgSize(MaxRecvMsgBytes),
		grpc.MaxHeaderListSize(MaxHeaderListBytes),
		codecOption(),
	}
	if c.TLS() {
		tc, err := c.TLSConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	if c.AuthToken != "" && !c.TLS() {
		log.Warn("GRPC_AUTH_TOKEN is set but TLS is off: the token travels in clear text on every call; set GRPC_TLS_CERT and GRPC_TLS_KEY unless the server listens on loopback only", "component", "SERVER")
	}
	if c.AuthToken != "" {
		a := newTokenAuth(c.AuthToken, log)
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	return opts, nil
}

// TLSConfig is the server side of TLS: the certificate, and with mutual TLS
// the client CAs every client's certificate must chain to. The gRPC port and
// the dashboard's share it. Call it only when TLS() is true.
func (c Security) TLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("GRPC_TLS_CERT=%s, GRPC_TLS_KEY=%s: %w", c.TLSCert, c.TLSKey, err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if c.MutualTLS() {
		pool, err := loadCAs(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("GRPC_TLS_CLIENT_CA=%s: %w", c.ClientCA, err)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// loadCAs reads a PEM file of CA certificates into a pool.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}

// Declare declares the security settings on set: the token (or a file
// holding it), TLS, and the client CA of mutual TLS.
func (c *Security) Declare(set *config.Set) {
	set.SecretFromFile(&c.AuthToken, "auth-token", "GRPC_AUTH_TOKEN", "GRPC_AUTH_TOKEN_FILE", "if set, every call but health checks needs the metadata authorization: Bearer <token> (reflection and /metrics too)")
	set.String(&c.TLSCert, "tls-cert", "GRPC_TLS_CERT", "", "PEM certificate (chain) file; with -tls-key turns TLS on")
	set.String(&c.TLSKey, "tls-key", "GRPC_TLS_KEY", "", "PEM private key file of -tls-cert")
	set.String(&c.ClientCA, "tls-client-ca", "GRPC_TLS_CLIENT_CA", "", "PEM file of the CA(s) that sign client certificates: set, every client must present one (mutual TLS); needs -tls-cert")
}
