package grpcserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
)

// Limits on what one client may send. Requests are small (filters, a
// cursor, an id): anything bigger is refused by gRPC with RESOURCE_EXHAUSTED
// before it is decoded.
const (
	MaxRecvMsgBytes    = 64 << 10
	MaxHeaderListBytes = 64 << 10
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
}

// Check says, in one line, what is wrong with the settings.
func (c Security) Check() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("GRPC_TLS_CERT and GRPC_TLS_KEY must be set together (or neither, for plaintext)")
	}
	return nil
}

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
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.MaxRecvMsgSize(MaxRecvMsgBytes),
		grpc.MaxHeaderListSize(MaxHeaderListBytes),
		codecOption(),
	}
	if c.TLS() {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("GRPC_TLS_CERT=%s, GRPC_TLS_KEY=%s: %w", c.TLSCert, c.TLSKey, err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		})))
	}
	if c.AuthToken != "" {
		a := newTokenAuth(c.AuthToken, log)
		opts = append(opts, grpc.ChainUnaryInterceptor(a.unary), grpc.ChainStreamInterceptor(a.stream))
	}
	return opts, nil
}
