package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// TLSConfig loads the listener's certificate (and client CAs) and returns
// its tls.Config. The certificate is read again when its files change (see
// ServerTLS).
func (t *ServerTLS) TLSConfig() (*tls.Config, error) {
	cfg, _, err := t.tlsConfig()
	return cfg, err
}

// tlsConfig is TLSConfig, with the key pair behind GetCertificate.
func (t *ServerTLS) tlsConfig() (*tls.Config, *keyPair, error) {
	if t.CertFile == "" || t.KeyFile == "" {
		return nil, nil, errors.New("cert_file and key_file are both required")
	}
	kp, err := newKeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get(), nil },
	}
	if t.ClientCAFile != "" {
		pool, err := loadPool(t.ClientCAFile)
		if err != nil {
			return nil, nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, kp, nil
}

// TLSConfig loads the upstream's CAs (and client certificate) and returns
// the tls.Config its connections dial with.
func (t *ClientTLS) TLSConfig() (*tls.Config, error) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("cert_file and key_file go together: set both or neither")
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify,
	}
	if t.CAFile != "" {
		pool, err := loadPool(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		kp, err := newKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.get(), nil }
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}

// keyPair is a certificate and key read from files, read again when either
// file's size or modification time changes, checked at most once per
// keyPairCheck. A pair that fails to load (say, half written) keeps the
// previous one in use until it loads.
type keyPair struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

const keyPairCheck = time.Second

type fileStamp struct {
	size int64
	mod  time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	k := &keyPair{certFile: certFile, keyFile: keyFile}
	st, err := k.stamps()
	if err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the certificate: %w", err)
	}
	k.cert, k.stamp, k.checked = &c, st, time.Now()
	return k, nil
}

func (k *keyPair) stamps() ([2]fileStamp, error) {
	var st [2]fileStamp
	for i, f := range []string{k.certFile, k.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return st, fmt.Errorf("reading the certificate: %w", err)
		}
		st[i] = fileStamp{fi.Size(), fi.ModTime()}
	}
	return st, nil
}

// get returns the current certificate, reloading it if its files changed.
func (k *keyPair) get() *tls.Certificate {
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(k.checked) < keyPairCheck {
		return k.cert
	}
	k.checked = time.Now()
	st, err := k.stamps()
	if err != nil || st == k.stamp {
		return k.cert
	}
	if c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile); err == nil {
		k.cert, k.stamp = &c, st
	}
	return k.cert
}
