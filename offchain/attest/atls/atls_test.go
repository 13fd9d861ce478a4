package atls

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

var (
	workerKey = attest.Key{Name: attest.KeyEd25519, Public: make([]byte, 32)}
	image     = "cocoon-worker:test"
)

func devSource(t testing.TB) *attest.DevSource {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &attest.DevSource{Key: k, Image: image}
}

func testPolicy(images ...string) *attest.Policy {
	var hs [][]byte
	for _, i := range images {
		h := sha256.Sum256([]byte(i))
		hs = append(hs, h[:])
	}
	return &attest.Policy{AllowList: &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: hs}}}
}

func identity(t testing.TB) *Identity {
	id, err := NewIdentity(context.Background(), devSource(t), nil, []attest.Key{workerKey}, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// handshake runs one loopback connection and returns both sides' errors.
func handshake(t testing.TB, server, client *tls.Config) (serverErr, clientErr error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			done <- err
			return
		}
		_, err = tc.Write([]byte("ok"))
		done <- err
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err == nil {
		var buf [2]byte
		_, err = io.ReadFull(conn, buf[:])
		conn.Close()
	}
	return <-done, err
}

func TestMutualAttestedTLS(t *testing.T) {
	srv, cli := identity(t), identity(t)
	v := &Verifier{Policy: testPolicy(image), ExpectedKeys: []attest.Key{workerKey}}
	if serr, cerr := handshake(t, ServerConfig(srv, v), ClientConfig(cli, v)); serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	b, err := PeerBundle(tls.ConnectionState{PeerCertificates: []*x509.Certificate{srv.Certificate.Leaf}})
	if err != nil || b.TEE != attest.TEEDev {
		t.Errorf("peer bundle: %v", err)
	}
}

// selfSigned makes a certificate for key with the given extensions.
func selfSigned(t testing.TB, key *ecdsa.PrivateKey, exts []pkix.Extension) tls.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts,
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestRefusals(t *testing.T) {
	good := identity(t)
	v := &Verifier{Policy: testPolicy(image)}

	// A certificate carrying someone else's bundle: its key is not the one
	// the evidence vouches for.
	thief, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stolen, _ := good.Bundle.Encode()
	unbound := &Identity{Certificate: selfSigned(t, thief, []pkix.Extension{{Id: OIDEvidence(), Critical: true, Value: stolen}})}
	plain := &Identity{Certificate: selfSigned(t, thief, nil)}
	strange := &Identity{Certificate: selfSigned(t, thief, []pkix.Extension{
		{Id: OIDEvidence(), Critical: true, Value: stolen}, {Id: []int{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}})}
	garbage := &Identity{Certificate: selfSigned(t, thief, []pkix.Extension{{Id: OIDEvidence(), Critical: true, Value: []byte("{}")}})}

	for _, c := range []struct {
		name      string
		client    *Identity
		verifier  *Verifier
		wantCheck string
	}{
		{"key not bound", unbound, v, CheckKeyBinding},
		{"measurement not allowed", good, &Verifier{Policy: testPolicy("another image")}, attest.CheckMeasurement},
		{"missing extension", plain, v, CheckExtension},
		{"unknown critical extension", strange, v, CheckCertificate},
		{"malformed bundle", garbage, v, CheckExtension},
		{"dev outside test mode", good, &Verifier{Policy: &attest.Policy{AllowList: &attest.StaticAllowList{}}}, attest.CheckTestMode},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The server verifies the client's certificate.
			serr, cerr := handshake(t, ServerConfig(good, c.verifier), ClientConfig(c.client, v))
			var ce *check.Error
			if !errors.As(serr, &ce) || ce.Check != c.wantCheck {
				t.Errorf("server: %v, want check %s", serr, c.wantCheck)
			}
			if cerr == nil {
				t.Error("client connected")
			}
			// And the client verifies the server's the same way.
			serr, cerr = handshake(t, ServerConfig(c.client, v), ClientConfig(good, c.verifier))
			if check.Name(cerr) != c.wantCheck {
				t.Errorf("client: %v, want check %s", cerr, c.wantCheck)
			}
			if serr == nil {
				t.Error("server accepted")
			}
		})
	}

	t.Run("no client certificate", func(t *testing.T) {
		cfg := ClientConfig(good, v)
		cfg.Certificates = nil
		if serr, _ := handshake(t, ServerConfig(good, v), cfg); serr == nil {
			t.Error("server accepted a client without a certificate")
		}
	})
}

func TestIdentityFromBundleRefusesUnboundKey(t *testing.T) {
	good := identity(t)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := IdentityFromBundle(other, good.Bundle, time.Now(), time.Hour); err == nil {
		t.Error("certificate made for a key the bundle does not vouch for")
	}
}

// BenchmarkAttestedHandshake is one mutual attested TLS 1.3 handshake on
// loopback with dev evidence on both sides, both verifications included.
func BenchmarkAttestedHandshake(b *testing.B) {
	srv, cli := identity(b), identity(b)
	v := &Verifier{Policy: testPolicy(image)}
	scfg, ccfg := ServerConfig(srv, v), ClientConfig(cli, v)
	ccfg.ClientSessionCache = nil
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, scfg)
				if tc.Handshake() == nil {
					_, _ = tc.Write([]byte{1})
				}
			}()
		}
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The byte the server sends after its handshake makes each
		// iteration include the server's verification of the client too.
		conn, err := tls.Dial("tcp", ln.Addr().String(), ccfg)
		if err != nil {
			b.Fatal(err)
		}
		var one [1]byte
		if _, err := io.ReadFull(conn, one[:]); err != nil {
			b.Fatal(err)
		}
		conn.Close()
	}
}

// Apps reaching a worker have no TEE: only the server is attested, and the
// client still refuses a server whose evidence the policy does not allow.
func TestServerOnlyAttestedTLS(t *testing.T) {
	srv := identity(t)
	good := &Verifier{Policy: testPolicy(image), ExpectedKeys: []attest.Key{workerKey}}
	if serr, cerr := handshake(t, ServerOnlyConfig(srv), VerifyServerConfig(good)); serr != nil || cerr != nil {
		t.Fatalf("server %v, client %v", serr, cerr)
	}
	strict := &Verifier{Policy: testPolicy("another-image"), ExpectedKeys: []attest.Key{workerKey}}
	_, cerr := handshake(t, ServerOnlyConfig(srv), VerifyServerConfig(strict))
	var ce *check.Error
	if !errors.As(cerr, &ce) || ce.Check != attest.CheckMeasurement {
		t.Fatalf("disallowed server image: %v, want a %s refusal", cerr, attest.CheckMeasurement)
	}
}

func TestPinnedConfig(t *testing.T) {
	srv := identity(t)
	h, err := srv.Bundle.BundleHash()
	if err != nil {
		t.Fatal(err)
	}
	if serr, cerr := handshake(t, ServerOnlyConfig(srv), PinnedConfig(h)); serr != nil || cerr != nil {
		t.Fatalf("pinned to its own evidence: server %v, client %v", serr, cerr)
	}
	// Another enclave's certificate (even a valid one) is not the pinned worker.
	other := identity(t)
	_, cerr := handshake(t, ServerOnlyConfig(other), PinnedConfig(h))
	var ce *check.Error
	if !errors.As(cerr, &ce) || ce.Check != CheckExtension {
		t.Fatalf("another server's certificate: %v", cerr)
	}
}
