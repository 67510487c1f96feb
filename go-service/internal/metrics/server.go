package metrics

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// Settings say where the metrics server listens. It is off unless an
// address is set, and it listens on loopback unless told otherwise: the
// page names topics, peers and volumes, which are nobody else's business.
type Settings struct {
	// Addr is host:port; "" turns the server off.
	Addr string
	port int
}

// Declare declares METRICS_ADDR and, for the course's older setting,
// METRICS_PORT (a port on 127.0.0.1).
func (st *Settings) Declare(set *config.Set) {
	set.String(&st.Addr, "metrics-addr", "METRICS_ADDR", "", "host:port of the HTTP server with /metrics (Prometheus), /healthz and /readyz; empty turns it off; 0.0.0.0:<port> or :<port> serves every interface")
	set.Int(&st.port, "metrics-port", "METRICS_PORT", 0, 0, 65535, "shorthand for METRICS_ADDR=127.0.0.1:<port> (loopback only); 0 leaves it to METRICS_ADDR")
	set.Check(st.resolve)
}

func (st *Settings) resolve() error {
	if st.port != 0 {
		if st.Addr != "" {
			return fmt.Errorf("METRICS_ADDR=%s and METRICS_PORT=%d are both set: keep METRICS_ADDR", st.Addr, st.port)
		}
		st.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(st.port))
		return nil
	}
	if st.Addr == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(st.Addr)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR=%s: want host:port, such as 127.0.0.1:9464", st.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("METRICS_ADDR=%s: the port is not a number from 0 to 65535", st.Addr)
	}
	return nil
}

// Port is the configured port (0: off, or a free one).
func (st Settings) Port() int {
	_, port, _ := net.SplitHostPort(st.Addr)
	n, _ := strconv.Atoi(port)
	return n
}

// ServerConfig is how the HTTP server runs.
type ServerConfig struct {
	Addr string
	// Token, if set, is required on /metrics as `Authorization: Bearer
	// <token>` (Prometheus: authorization.credentials_file). /healthz and
	// /readyz stay open: orchestrators probe them without credentials, and
	// they tell only whether the server is up and ready.
	Token string
	// Zero takes the default.
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
}

// Timeouts of the metrics server: a client that sends its request slowly,
// or never reads the answer, or keeps an idle connection, is dropped.
const (
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
)

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// ListenConfig binds c.Addr and returns the server, not yet serving.
func (m *Metrics) ListenConfig(c ServerConfig) (*Server, error) {
	lis, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, err
	}
	return &Server{lis: lis, srv: &http.Server{
		Handler:           m.handler(c.Token),
		ReadHeaderTimeout: orDefault(c.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       orDefault(c.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      orDefault(c.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       orDefault(c.IdleTimeout, DefaultIdleTimeout),
	}}, nil
}

// requireToken wraps next with the bearer-token check, compared in
// constant time over digests as the gRPC server does.
func requireToken(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, found := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !found || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "missing or wrong token: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
