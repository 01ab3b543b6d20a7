package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// servedSerial returns the serial number of the certificate the webhook
// server presents now.
func servedSerial(t *testing.T) *big.Int {
	t.Helper()
	conn, err := tls.Dial("tcp", env.WebhookAddress(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // inspecting the served certificate
	if err != nil {
		t.Fatalf("dialing the webhook server: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber
}

// writeKeyPair replaces tls.crt and tls.key atomically, as a Secret volume
// update does.
func writeKeyPair(t *testing.T, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	for name, data := range map[string][]byte{"tls.key": keyPEM, "tls.crt": certPEM} {
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func selfSignedPair(t *testing.T) (certPEM, keyPEM []byte, serial *big.Int) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial = big.NewInt(time.Now().UnixNano())
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "rotated"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), serial
}

func TestServingCertificateReloadsWithoutRestart(t *testing.T) {
	dir := env.CertDir()
	origCert, err := os.ReadFile(filepath.Join(dir, "tls.crt"))
	if err != nil {
		t.Fatal(err)
	}
	origKey, err := os.ReadFile(filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	original := servedSerial(t)
	certPEM, keyPEM, serial := selfSignedPair(t)
	writeKeyPair(t, dir, certPEM, keyPEM)
	waitFor(t, "the new certificate to be served", func() bool { return servedSerial(t).Cmp(serial) == 0 })

	// Put the API server's trusted certificate back: the server picks it up
	// again, and admission through the API server works, with no restart.
	writeKeyPair(t, dir, origCert, origKey)
	waitFor(t, "the original certificate to be served again", func() bool { return servedSerial(t).Cmp(original) == 0 })
	if code, exited := env.WebhookServerExited(); exited {
		t.Fatalf("the server restarted or exited (code %d)", code)
	}
	ns := newNamespace(t)
	assertCreate(t, statefulSet(ns, "after-reload", "", false), denied+`StatefulSet.apps "after-reload" is invalid: [`+msgServiceName+`, `+msgClaims+`]`, nil)
}
