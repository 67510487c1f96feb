package webhook

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// PayPalDevIdentity is a throwaway certificate authority and a signing
// certificate it issued, standing in for PayPal's in tests and demos: the
// receiver trusts the CA only through its development setting.
type PayPalDevIdentity struct {
	CAPEM   []byte          // the CA certificate: PAYPAL_DEV_CA_FILE's content
	CertPEM []byte          // the signing certificate, served at the cert URL
	Key     *rsa.PrivateKey // signs transmissions
	// TLS is a server certificate for 127.0.0.1 and localhost, issued by
	// the CA, to serve CertPEM over HTTPS.
	TLS tls.Certificate
}

// NewPayPalDevIdentity generates a CA valid for a day and the certificates
// it issues.
func NewPayPalDevIdentity() (*PayPalDevIdentity, error) {
	now := time.Now()
	caKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "payment-aggregator development PayPal CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	id := &PayPalDevIdentity{CAPEM: pemCert(caDER)}
	if id.Key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "messageverificationcerts.dev.invalid"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &id.Key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create signing certificate: %w", err)
	}
	id.CertPEM = pemCert(leafDER)
	tlsKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	srv := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &tlsKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("create TLS certificate: %w", err)
	}
	id.TLS = tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: tlsKey}
	return id, nil
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
