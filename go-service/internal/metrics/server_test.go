package metrics

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

func TestSettingsAddress(t *testing.T) {
	cases := []struct {
		name, addr, port string
		want, wantErr    string
	}{
		{name: "off by default"},
		{name: "METRICS_PORT means loopback", port: "9464", want: "127.0.0.1:9464"},
		{name: "METRICS_ADDR as given", addr: "0.0.0.0:9464", want: "0.0.0.0:9464"},
		{name: "every interface, said explicitly", addr: ":9464", want: ":9464"},
		{name: "both set", addr: "127.0.0.1:1", port: "2", wantErr: "METRICS_ADDR=127.0.0.1:1 and METRICS_PORT=2 are both set"},
		{name: "no port", addr: "127.0.0.1", wantErr: "METRICS_ADDR=127.0.0.1: want host:port"},
		{name: "bad port", addr: "127.0.0.1:http", wantErr: "port is not a number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("METRICS_ADDR", tc.addr)
			t.Setenv("METRICS_PORT", tc.port)
			var st Settings
			set := config.NewSet("test", "")
			st.Declare(set)
			err := set.Parse(nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Addr != tc.want {
				t.Fatalf("Addr = %q, want %q", st.Addr, tc.want)
			}
		})
	}
}

func serve(t *testing.T, c ServerConfig) string {
	t.Helper()
	c.Addr = "127.0.0.1:0"
	srv, err := New(Sources{Ready: func() (bool, string) { return true, "" }}).ListenConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { srv.Shutdown(time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))) })
	return srv.Addr().String()
}

// With a token, /metrics needs it; the probes stay open.
func TestMetricsNeedTheToken(t *testing.T) {
	addr := serve(t, ServerConfig{Token: "tok-77"})
	get := func(path, auth string) int {
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "tok-77") {
			t.Fatalf("%s answered with the token in its body", path)
		}
		return resp.StatusCode
	}
	cases := []struct {
		path, auth string
		want       int
	}{
		{"/metrics", "", http.StatusUnauthorized},
		{"/metrics", "Bearer wrong", http.StatusUnauthorized},
		{"/metrics", "Basic tok-77", http.StatusUnauthorized},
		{"/metrics", "Bearer tok-77", http.StatusOK},
		{"/metrics", "bearer  tok-77", http.StatusOK},
		{"/healthz", "", http.StatusOK},
		{"/readyz", "", http.StatusOK},
	}
	for _, tc := range cases {
		if got := get(tc.path, tc.auth); got != tc.want {
			t.Errorf("GET %s with %q: %d, want %d", tc.path, tc.auth, got, tc.want)
		}
	}
}

// A client that sends half a request and stops is disconnected (a
// slowloris cannot hold connections open), and the defaults are set.
func TestMetricsServerTimeouts(t *testing.T) {
	addr := serve(t, ServerConfig{ReadHeaderTimeout: 50 * time.Millisecond})
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = bufio.NewReader(conn).ReadString('\n')
	var ne net.Error
	if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("half a request: the server kept the connection (read: %v)", err)
	}

	srv, err := New(Sources{}).ListenConfig(ServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.lis.Close()
	h := srv.srv
	if h.ReadHeaderTimeout != DefaultReadHeaderTimeout || h.ReadTimeout != DefaultReadTimeout || h.WriteTimeout != DefaultWriteTimeout || h.IdleTimeout != DefaultIdleTimeout {
		t.Fatalf("timeouts %v %v %v %v: want the defaults", h.ReadHeaderTimeout, h.ReadTimeout, h.WriteTimeout, h.IdleTimeout)
	}
}
