package certs

import (
	"archive/tar"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// MaxArchive is the most certs:add reads from a tar on stdin.
const MaxArchive = 4 << 20

// Exists reports whether app has an imported certificate: both files
// present, as Dokku's certs-exists checks.
func Exists(st *store.Store, app string) (bool, error) {
	crt, key := Files(st, app)
	for _, p := range []string{crt, key} {
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// FromTar reads a certificate and key from a tar archive as Dokku's
// certs:add does: exactly one regular file named *.crt and one *.key,
// hidden paths ignored.
func FromTar(r io.Reader) (crt, key []byte, err error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxArchive+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read the archive: %w", err)
	}
	if len(data) > MaxArchive {
		return nil, nil, output.Userf("Tar archive is larger than %d bytes", MaxArchive)
	}
	files := map[string][][]byte{}
	tr := tar.NewReader(bytes.NewReader(data))
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, output.Userf("Tar archive containing server.crt and server.key expected on stdin")
		}
		n++
		if h.Typeflag != tar.TypeReg || hidden(h.Name) {
			continue
		}
		ext := path.Ext(h.Name)
		if ext != ".crt" && ext != ".key" {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, output.Userf("Tar archive containing server.crt and server.key expected on stdin")
		}
		files[ext] = append(files[ext], b)
	}
	if n == 0 {
		return nil, nil, output.Userf("Tar archive containing server.crt and server.key expected on stdin")
	}
	for _, ext := range []string{".crt", ".key"} {
		switch len(files[ext]) {
		case 0:
			return nil, nil, output.Userf("Tar archive is missing %s file", ext)
		case 1:
		default:
			return nil, nil, output.Userf("Tar archive contains more than one %s file", ext)
		}
	}
	return files[".crt"][0], files[".key"][0], nil
}

// hidden: a path with a component starting with "." (other than "." itself).
func hidden(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") && part != "." {
			return true
		}
	}
	return false
}

// Check parses a PEM certificate (chain) and key and makes sure the key is
// the certificate's private key.
func Check(crt, key []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(crt)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, output.Userf("CRT is not a PEM-encoded certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, output.Userf("CRT is not a valid X.509 certificate: %v", err)
	}
	if b, _ := pem.Decode(key); b == nil || !strings.HasSuffix(b.Type, "PRIVATE KEY") {
		return nil, output.Userf("KEY is not a PEM-encoded private key")
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		if strings.Contains(err.Error(), "does not match") {
			return nil, output.Userf("KEY does not match CRT: the key is not the certificate's private key")
		}
		return nil, output.Userf("KEY is not a usable private key for CRT: %s", strings.TrimPrefix(err.Error(), "tls: "))
	}
	return leaf, nil
}

// Install checks crt and key (Check) and stores them as app's certificate:
// the directory 0750, the certificate 0640 and the key 0600, each written
// atomically.
func Install(st *store.Store, app string, crt, key []byte) error {
	if _, err := Check(crt, key); err != nil {
		return err
	}
	crtPath, keyPath := Files(st, app)
	dir := filepath.Dir(crtPath)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := store.WriteFileAtomic(keyPath, key, 0o600); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	if err := store.WriteFileAtomic(crtPath, crt, 0o640); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

// WriteCSR stores a certificate signing request beside app's certificate
// (server.csr, 0640), as certs:generate leaves it.
func WriteCSR(st *store.Store, app string, csr []byte) error {
	crt, _ := Files(st, app)
	if err := store.WriteFileAtomic(filepath.Join(filepath.Dir(crt), "server.csr"), csr, 0o640); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}

// Defined reports whether app has a certificate directory, what
// certs:remove removes.
func Defined(st *store.Store, app string) (bool, error) {
	crt, _ := Files(st, app)
	if _, err := os.Stat(filepath.Dir(crt)); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("certs: %w", err)
	}
	return true, nil
}

// Remove deletes app's certificate directory; existed is false when there
// was none.
func Remove(st *store.Store, app string) (existed bool, err error) {
	if ok, err := Defined(st, app); err != nil || !ok {
		return false, err
	}
	crt, _ := Files(st, app)
	if err := os.RemoveAll(filepath.Dir(crt)); err != nil {
		return true, fmt.Errorf("certs: %w", err)
	}
	return true, nil
}

// Read returns app's certificate file and key file.
func Read(st *store.Store, app string) (crt, key []byte, err error) {
	crtPath, keyPath := Files(st, app)
	if crt, err = os.ReadFile(crtPath); err != nil {
		return nil, nil, fmt.Errorf("certs: %w", err)
	}
	if key, err = os.ReadFile(keyPath); err != nil {
		return nil, nil, fmt.Errorf("certs: %w", err)
	}
	return crt, key, nil
}

// opensslTime is how openssl x509 -text prints a validity date.
const opensslTime = "Jan _2 15:04:05 2006 GMT"

// Roots are the trust anchors ssl-verified checks against; nil: the
// system's.
var Roots *x509.CertPool

// Report returns certs:report's fields for app (Dokku's "ssl" report),
// keyed by flag name without "--"; the certificate's fields are empty when
// app has none.
func Report(st *store.Store, app string) (map[string]string, error) {
	crtPath, _ := Files(st, app)
	fields := map[string]string{
		"ssl-dir": filepath.Dir(crtPath), "ssl-enabled": "false", "ssl-hostnames": "",
		"ssl-expires-at": "", "ssl-issuer": "", "ssl-starts-at": "", "ssl-subject": "", "ssl-verified": "",
	}
	ok, err := Exists(st, app)
	if err != nil || !ok {
		return fields, err
	}
	fields["ssl-enabled"] = "true"
	data, err := os.ReadFile(crtPath)
	if err != nil {
		return nil, fmt.Errorf("certs: %w", err)
	}
	chain := ParseChain(data)
	if len(chain) == 0 {
		return fields, nil // an unreadable certificate: openssl prints nothing either
	}
	leaf := chain[0]
	fields["ssl-expires-at"] = leaf.NotAfter.UTC().Format(opensslTime)
	fields["ssl-starts-at"] = leaf.NotBefore.UTC().Format(opensslTime)
	fields["ssl-issuer"] = nameString(leaf.Issuer, ", ", " = ")
	fields["ssl-subject"] = nameString(leaf.Subject, "; ", "=")
	fields["ssl-hostnames"] = strings.Join(Hostnames(leaf), " ")
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	fields["ssl-verified"] = "self signed"
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: Roots, Intermediates: inter, CurrentTime: time.Now(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
		fields["ssl-verified"] = "verified by a certificate authority"
	}
	return fields, nil
}

// ParseChain returns the certificates of a PEM file, leaf first; blocks
// that are not certificates are skipped.
func ParseChain(data []byte) []*x509.Certificate {
	var chain []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return chain
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && b.Type == "CERTIFICATE" {
			chain = append(chain, c)
		}
	}
}

// Covers reports whether host is one of a certificate's names; "*." in a
// name stands for one label, as Dokku's domain check reads it.
func Covers(names []string, host string) bool {
	for _, n := range names {
		if strings.EqualFold(n, host) {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && strings.EqualFold(parent, rest) {
				return true
			}
		}
	}
	return false
}

// Hostnames are the names a certificate covers: its subject's common name
// and its DNS subject alternative names, sorted, each once.
func Hostnames(c *x509.Certificate) []string {
	set := map[string]bool{}
	if c.Subject.CommonName != "" {
		set[c.Subject.CommonName] = true
	}
	for _, n := range c.DNSNames {
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// shortNames are openssl's short names of the usual attribute types.
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.5": "serialNumber", "2.5.4.9": "street", "2.5.4.17": "postalCode", "1.2.840.113549.1.9.1": "emailAddress",
	"0.9.2342.19200300.100.1.25": "DC",
}

// nameString prints a distinguished name in certificate order, as openssl
// does: "C = US, O = Example, CN = host" (sep ", ", eq " = ").
func nameString(n pkix.Name, sep, eq string) string {
	var parts []string
	for _, rdn := range n.ToRDNSequence() {
		for _, atv := range rdn {
			parts = append(parts, attrName(atv.Type)+eq+fmt.Sprint(atv.Value))
		}
	}
	return strings.Join(parts, sep)
}

func attrName(oid asn1.ObjectIdentifier) string {
	if s, ok := shortNames[oid.String()]; ok {
		return s
	}
	return oid.String()
}
