package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// TestCheck: the key must be the certificate's; what is wrong is said
// plainly and is a user error (exit 1).
func TestCheck(t *testing.T) {
	now := time.Now()
	crt, key, err := SelfSigned([]string{"a.example.com"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := SelfSigned([]string{"a.example.com"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(crt, key); err != nil {
		t.Fatalf("matching pair: %v", err)
	}
	for name, tc := range map[string]struct {
		crt, key []byte
		want     string
	}{
		"mismatch":    {crt, other, "KEY does not match CRT"},
		"empty crt":   {nil, key, "CRT is not a PEM-encoded certificate"},
		"garbage crt": {[]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), key, "CRT is not a valid X.509 certificate"},
		"empty key":   {crt, nil, "KEY is not a PEM-encoded private key"},
		"garbage key": {crt, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "KEY is not a usable private key for CRT"},
		"crt as key":  {crt, crt, "KEY is not a PEM-encoded private key"},
		"key as crt":  {key, key, "CRT is not a PEM-encoded certificate"},
	} {
		_, err := Check(tc.crt, tc.key)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || output.ExitCode(err) != 1 {
			t.Errorf("%s: %v (exit %d), want %q", name, err, output.ExitCode(err), tc.want)
		}
	}
}

// TestReportVerified: a certificate signed by a trusted authority is
// "verified by a certificate authority", its intermediate taken from the
// certificate file; the issuer is the authority's name in openssl's form.
func TestReportVerified(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Country: []string{"US"}, Organization: []string{"Test CA"}, CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "www.example.com"}, DNSNames: []string{"example.com", "www.example.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(leafKey)
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	if err := Install(st, "app", crt, key); err != nil {
		t.Fatal(err)
	}
	old := Roots
	t.Cleanup(func() { Roots = old })
	Roots = x509.NewCertPool()
	Roots.AddCert(ca)
	f, err := Report(st, "app")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"ssl-verified": "verified by a certificate authority", "ssl-issuer": "C = US, O = Test CA, CN = Test Root",
		"ssl-subject": "CN=www.example.com", "ssl-hostnames": "example.com www.example.com", "ssl-enabled": "true",
	} {
		if f[k] != want {
			t.Errorf("%s = %q, want %q", k, f[k], want)
		}
	}
	Roots = x509.NewCertPool()
	if f, _ := Report(st, "app"); f["ssl-verified"] != "self signed" {
		t.Errorf("untrusted: ssl-verified = %q, want self signed", f["ssl-verified"])
	}
	if existed, err := Remove(st, "app"); !existed || err != nil {
		t.Fatalf("Remove = %v, %v", existed, err)
	}
	if ok, _ := Exists(st, "app"); ok {
		t.Fatal("certificate left after Remove")
	}
}

// TestFromTarLimit: an archive larger than MaxArchive is refused.
func TestFromTarLimit(t *testing.T) {
	_, _, err := FromTar(strings.NewReader(strings.Repeat("x", MaxArchive+1)))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestCovers(t *testing.T) {
	names := []string{"app.example.com", "*.apps.example.com"}
	for host, want := range map[string]bool{
		"app.example.com":        true,
		"APP.example.com":        true,
		"x.apps.example.com":     true,
		"apps.example.com":       false,
		"x.y.apps.example.com":   false,
		".apps.example.com":      false,
		"other.example.com":      false,
		"app.example.com.evil.x": false,
	} {
		if got := Covers(names, host); got != want {
			t.Errorf("Covers(%q) = %v, want %v", host, got, want)
		}
	}
}
