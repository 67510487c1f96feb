package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/internal/webhook"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// runVia sends every record through the receiver, signed as its gateway
// would sign it. A reply other than 2xx stops the run with its status and
// reason: the receiver stored nothing of that webhook.
func runVia(ctx context.Context, s settings, gen *synthetic.Generator, gateways []pb.Gateway, seed uint64, log *slog.Logger) error {
	var names []string
	for _, g := range gateways {
		names = append(names, normalizer.GatewayName(g))
	}
	signer, err := webhook.NewSigner(s.signer, names)
	if err != nil {
		return err
	}
	defer signer.Close()
	base := strings.TrimRight(s.via, "/")
	client := &http.Client{Timeout: 60 * time.Second}
	p := &sender{log: log, quiet: s.quiet}
	p.post = func(ctx context.Context, rec synthetic.Record) error {
		err := postOne(ctx, client, signer, base, rec)
		p.delivered(rec, err)
		return err
	}
	log.Info(fmt.Sprintf("Sending via the receiver at %s, signed as each gateway signs", base))
	start := time.Now()
	err = p.sendAll(ctx, gen, s.count, s.rate)
	p.summary(seed, time.Since(start))
	return err
}

func postOne(ctx context.Context, client *http.Client, signer *webhook.Signer, base string, rec synthetic.Record) error {
	gateway := normalizer.GatewayName(rec.Gateway)
	body, hdr, err := signer.Sign(gateway, rec.Value, rec.Step.EventID, time.Now())
	if err != nil {
		return fmt.Errorf("sign %s webhook: %w", gateway, err)
	}
	url := base + "/webhooks/" + gateway
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("-via %s: %w", base, err)
	}
	req.Header = hdr
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	reason, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, strings.TrimSpace(string(reason)))
	}
	return nil
}
