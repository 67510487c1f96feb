// Package dashboard serves the browser dashboard: its page and script,
// embedded in the binary, and payment.v1.PaymentService over the Connect,
// gRPC-Web and gRPC protocols, transcoded by vanguard into calls on the
// server's own *grpc.Server. The browser is one more client of the same
// contract: its calls go through the same interceptors (token check), the
// same stream limit and the same handlers as any gRPC client's.
//
// grpc-go's own transport limits (keepalive, header size, streams per
// connection) live in its HTTP/2 server, which a call arriving through
// http.Handler never meets, so this package sets their equivalents on its
// http.Server and on every request.
package dashboard

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"connectrpc.com/vanguard"
	"google.golang.org/grpc"

	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// The bundle is built from node-service/dashboard by `make gen`; it is
// committed, so a fresh clone serves the page without Node.
//
//go:embed assets
var embedded embed.FS

// Assets is the page, its script and its style sheet.
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the embed pattern above names the folder: it exists
	}
	return sub
}

const (
	// DefaultAddr is where the dashboard listens unless DASHBOARD_ADDR says
	// otherwise: loopback, as it shows every payment.
	DefaultAddr = "127.0.0.1:8081"
	// maxResponseBytes bounds what vanguard buffers of one message. The
	// server's responses are a payment or the stats, far smaller.
	maxResponseBytes = 4 << 20
	// envelopeBytes is the framing around one message (flags + length).
	envelopeBytes     = 5
	readHeaderTimeout = 10 * time.Second
)

// readTimeout bounds the reading of a request, whose body is one small
// message. A payment stream outlives it, over HTTP/1.1 too (a test checks,
// shortening it: hence a variable).
var readTimeout = 30 * time.Second

// servicePath is the URL prefix of every PaymentService method.
var servicePath = "/" + pb.PaymentService_ServiceDesc.ServiceName + "/"

// New returns the dashboard's handler: PaymentService (and only it) under
// /payment.v1.PaymentService/, the page everywhere else. gs must have
// PaymentService registered.
func New(gs *grpc.Server) (http.Handler, error) {
	if _, ok := gs.GetServiceInfo()[pb.PaymentService_ServiceDesc.ServiceName]; !ok {
		return nil, errors.New("dashboard: PaymentService is not registered on the gRPC server")
	}
	transcoder, err := vanguard.NewTranscoder(
		[]*vanguard.Service{vanguard.NewService(pb.PaymentService_ServiceDesc.ServiceName, gs)},
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithMaxMessageBufferBytes(maxResponseBytes),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(servicePath, limitBody(transcoder))
	mux.Handle("/", pageOnly(withPageHeaders(http.FileServerFS(Assets()))))
	return mux, nil
}

// limitBody refuses request bodies larger than the gRPC port accepts, before
// vanguard buffers them. A request is one message: the gRPC server refuses
// a bigger one too, but only after it has been read into memory.
func limitBody(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, grpcserver.MaxRecvMsgBytes+envelopeBytes)
		h.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets the page load only its own script and style
// and talk only to its own origin: data shown on the page can never run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// pageOnly lets only reads reach the page's files.
func pageOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func withPageHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		// The bundle changes with the binary: revalidate rather than cache.
		hd.Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

// Server is the dashboard's HTTP server.
type Server struct {
	srv *http.Server
	lis net.Listener
	sec grpcserver.Security
}

// Listen binds addr (host:port) and returns the server, not yet serving.
// With TLS set in sec it serves HTTPS with the gRPC port's certificate, and
// asks for a client certificate as it does (mutual TLS).
func Listen(addr string, h http.Handler, sec grpcserver.Security) (*Server, error) {
	srv := newHTTPServer(h)
	if sec.TLS() {
		tc, err := sec.TLSConfig() // fails now, naming the setting, rather than in Serve
		if err != nil {
			return nil, err
		}
		srv.TLSConfig = tc
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{lis: lis, sec: sec, srv: srv}, nil
}

// newHTTPServer has the gRPC port's limits: header size, keepalive pings
// (HTTP/2), and timeouts for what grpc-go's transport bounds itself. There
// is no write timeout: a payment stream lasts as long as the page is open.
func newHTTPServer(h http.Handler) *http.Server {
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	protocols.SetUnencryptedHTTP2(true) // h2c for non-browser clients on plaintext
	return &http.Server{
		Handler:           h,
		Protocols:         &protocols,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       grpcserver.MaxConnectionIdle,
		MaxHeaderBytes:    grpcserver.MaxHeaderListBytes,
		// Bad handshakes and malformed requests are a client's problem, not
		// the server's: logged at debug level, in the server's log format.
		ErrorLog: slog.NewLogLogger(slog.Default().With("component", "SERVER").Handler(), slog.LevelDebug),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: grpcserver.MaxStreamsPerConnection,
			SendPingTimeout:      grpcserver.KeepaliveTime,
			PingTimeout:          grpcserver.KeepaliveTimeout,
		},
	}
}

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// URL is the page's address.
func (s *Server) URL() string {
	scheme := "http"
	if s.sec.TLS() {
		scheme = "https"
	}
	return scheme + "://" + s.lis.Addr().String() + "/"
}

// Serve serves until Shutdown; it returns nil after a Shutdown.
func (s *Server) Serve() error {
	var err error
	if s.sec.TLS() {
		err = s.srv.ServeTLS(s.lis, "", "") // the certificate is in TLSConfig
	} else {
		err = s.srv.Serve(s.lis)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server at once; for a server that never served.
func (s *Server) Close() {
	s.srv.Close()
	s.lis.Close()
}

// Shutdown stops the server. Call it after the gRPC server has stopped:
// that ends the calls in flight (streams with UNAVAILABLE, as on the gRPC
// port); what is left after timeout is closed.
func (s *Server) Shutdown(timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		log.Warn("dashboard server shutdown", "component", "SERVER", "err", err)
		s.srv.Close()
	}
}
