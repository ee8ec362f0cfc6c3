package redisstore

import (
	"context"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/memcached-http/memcached-http/internal/cache"
)

// tlsServer starts a redis-server that speaks TLS only, with a self-signed
// certificate for 127.0.0.1, and returns it with a client config trusting it.
func tlsServer(t *testing.T) (*server, *tls.Config) {
	t.Helper()
	bin := redisServerPath(t)
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redisstore test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(priv)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))

	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	conf := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}

	srv := &server{bin: bin, dir: dir, tls: conf, args: []string{
		"--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", certFile, "--tls-auth-clients", "no",
	}}
	t.Cleanup(srv.stop)
	require.NoError(t, srv.startOnFreePort())
	return srv, conf
}

func TestRedissURLsSpeakTLS(t *testing.T) {
	ctx := context.Background()
	srv, conf := tlsServer(t)
	tlsURL := "rediss://" + srv.addr()

	t.Run("a rediss URL with the server's CA works", func(t *testing.T) {
		s := openStore(t, tlsURL, Options{TLSConfig: conf})
		k := key(t, "", "secret")
		cas := put(t, s, k, "1", cache.KindBytes)
		it, err := s.Get(ctx, k, nil)
		require.NoError(t, err)
		assert.Equal(t, cas, it.CAS)
	})

	t.Run("a rediss URL verifies the certificate", func(t *testing.T) {
		// Generous bounds: on a loaded machine a handshake can take long, and
		// a timeout would hide the certificate error this looks for.
		_, err := Open(ctx, tlsURL, Options{KeyPrefix: uniquePrefix(), DialTimeout: 10 * time.Second, OpTimeout: 10 * time.Second})
		var unknown x509.UnknownAuthorityError
		assert.ErrorAs(t, err, &unknown, "the system roots do not trust a self-signed server")
	})

	t.Run("TLS settings with a plain redis URL are refused", func(t *testing.T) {
		_, err := Open(ctx, "redis://"+srv.addr(), Options{TLSConfig: conf})
		assert.ErrorIs(t, err, cache.ErrInvalidArgument)
	})
}
