package grpcserver

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// healthPrefix is the one service reachable without a token: load balancers
// and orchestrators probe it without credentials. Reflection is not exempt:
// with a token set, listing the API needs the token too.
const healthPrefix = "/grpc.health.v1.Health/"

// tokenAuth checks `authorization: Bearer <token>` on every call except
// health checks. The token is compared in constant time (over SHA-256
// digests, so that not even its length leaks) and never logged.
type tokenAuth struct {
	want [sha256.Size]byte
	log  *slog.Logger
}

func newTokenAuth(token string, log *slog.Logger) *tokenAuth {
	return &tokenAuth{want: sha256.Sum256([]byte(token)), log: log}
}

var errUnauthenticated = status.Error(codes.Unauthenticated, "missing or wrong token: send metadata `authorization: Bearer <token>`")

func (a *tokenAuth) check(ctx context.Context, method string) error {
	if strings.HasPrefix(method, healthPrefix) {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	ok := false
	for _, v := range md.Get("authorization") {
		scheme, token, found := strings.Cut(strings.TrimSpace(v), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			continue
		}
		got := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(got[:], a.want[:]) == 1 {
			ok = true
		}
	}
	if !ok {
		a.log.Warn("Call refused: missing or wrong token", "component", "SERVER", "peer", peerAddr(ctx), "method", method)
		return errUnauthenticated
	}
	return nil
}

func (a *tokenAuth) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *tokenAuth) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}
