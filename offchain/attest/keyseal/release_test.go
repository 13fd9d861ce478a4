package keyseal_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx/tdxtest"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm/tsmtest"
)

// releaseService runs a key-release service (itself with dev evidence)
// whose policy allows the worker images in allowed.
func releaseService(t *testing.T, policy *attest.Policy, v *attest.Verifier) (url string, pin [32]byte) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	id, err := atls.NewIdentity(context.Background(), &attest.DevSource{Key: key, Image: "key-release"}, nil, nil, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := id.Bundle.Encode()
	s := &keyseal.Server{Policy: policy, Verifier: v}
	s.Master[0] = 42
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.TLS = keyseal.TLSConfig(id)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, sha256.Sum256(raw)
}

// devWorker is a fresh attested TLS identity of a worker running image.
func devWorker(t *testing.T, image string) *atls.Identity {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	id, err := atls.NewIdentity(context.Background(), &attest.DevSource{Key: key, Image: image}, nil, nil, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestKeyReleaseDev(t *testing.T) {
	ctx := context.Background()
	imgA, imgB := dev.Measurement("worker:a"), dev.Measurement("worker:b")
	policy := attest.DefaultPolicy(&attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {imgA[:], imgB[:]}}})
	url, pin := releaseService(t, policy, nil)
	sealer := func(id *atls.Identity) keyseal.ReleaseSealer {
		return keyseal.ReleaseSealer{Client: &keyseal.ReleaseClient{URL: url, Service: pin, Identity: id}}
	}

	blob, err := keyseal.Seal(ctx, sealer(devWorker(t, "worker:a")), "worker-keys", secret)
	if err != nil {
		t.Fatal(err)
	}
	// After a reboot the same image, with a new TLS key and fresh
	// evidence, gets the same key back.
	got, err := keyseal.Unseal(ctx, sealer(devWorker(t, "worker:a")), "worker-keys", blob)
	if err != nil || string(got) != string(secret) {
		t.Fatalf("same image after reboot: %q %v", got, err)
	}
	// Another allowed image gets another key.
	if _, err := keyseal.Unseal(ctx, sealer(devWorker(t, "worker:b")), "worker-keys", blob); !errors.Is(err, keyseal.ErrUnseal) {
		t.Fatalf("another image: %v", err)
	}
	// An image the policy does not allow gets nothing, and is told why.
	_, err = (&keyseal.ReleaseClient{URL: url, Service: pin, Identity: devWorker(t, "worker:evil")}).Key(ctx, "worker-keys")
	var re *keyseal.ReleaseError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || re.Check != attest.CheckMeasurement {
		t.Fatalf("image not allowed: %v", err)
	}
	// A service whose evidence is not the pinned one is not trusted with
	// the request.
	if _, err := (&keyseal.ReleaseClient{URL: url, Service: [32]byte{1}, Identity: devWorker(t, "worker:a")}).Key(ctx, "worker-keys"); err == nil {
		t.Fatal("a service with other evidence was trusted")
	}
	// The service may instead be judged by its image, which survives its
	// restarts with fresh evidence.
	svcImage := dev.Measurement("key-release")
	byImage := &atls.Verifier{Policy: &attest.Policy{AllowList: &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {svcImage[:]}}}}}
	if _, err := (&keyseal.ReleaseClient{URL: url, ServiceVerifier: byImage, Identity: devWorker(t, "worker:a")}).Key(ctx, "worker-keys"); err != nil {
		t.Fatalf("service judged by its image: %v", err)
	}
	otherImage := &atls.Verifier{Policy: &attest.Policy{AllowList: &attest.StaticAllowList{Test: true, Allowed: map[string][][]byte{attest.TEEDev: {imgA[:]}}}}}
	if _, err := (&keyseal.ReleaseClient{URL: url, ServiceVerifier: otherImage, Identity: devWorker(t, "worker:a")}).Key(ctx, "worker-keys"); err == nil {
		t.Fatal("a service of another image was trusted")
	}
	// Without a client certificate nothing is released.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if resp, err := hc.Post(url+"/v1/keys/worker-keys", "application/json", nil); err == nil {
		resp.Body.Close()
		t.Fatalf("no client certificate: HTTP %d", resp.StatusCode)
	}
	if _, err := (&keyseal.ReleaseClient{URL: url, Service: pin, Identity: devWorker(t, "worker:a")}).Key(ctx, "Bad Label"); err == nil {
		t.Fatal("a bad label was asked for")
	}
}

// A TDX worker (fake Intel PKI) gets its key only with collateral that
// shows an accepted TCB: the service applies the default policy.
func TestKeyReleaseTDXNeedsCollateral(t *testing.T) {
	ctx := context.Background()
	f := tdxtest.New(t)
	var svn [16]byte
	svn[0] = 2
	k := &tsmtest.Kernel{Provider: tdx.ProviderName, Quote: func(in []byte) []byte {
		var rd [64]byte
		copy(rd[:], in)
		return f.Quote(4, tdxtest.BodyTD10, svn, rd, false)
	}}
	now := time.Now()
	id, err := atls.NewIdentity(ctx, &attest.TDXSource{TSM: *k.Client(t)}, nil, nil, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	q, _ := tdx.ParseQuote(id.Bundle.Evidence)
	img := q.Body.ImageHash()
	policy := attest.DefaultPolicy(&attest.StaticAllowList{Allowed: map[string][][]byte{attest.TEETDX: {img[:]}}})
	url, pin := releaseService(t, policy, &attest.Verifier{TDX: tdx.Verifier{Roots: f.Roots()}})

	c := &keyseal.ReleaseClient{URL: url, Service: pin, Identity: id}
	var re *keyseal.ReleaseError
	if _, err := c.Key(ctx, "worker-keys"); !errors.As(err, &re) || re.Check != attest.CheckTCBStatus {
		t.Fatalf("without collateral: %v", err)
	}
	from := now.AddDate(0, -1, 0)
	for _, x := range []struct {
		status, want string
	}{{"OutOfDate", attest.CheckTCBStatus}, {"UpToDate", ""}} {
		raw, err := f.ServedCollateral(x.status, svn, from).Encode()
		if err != nil {
			t.Fatal(err)
		}
		c.Collateral = raw
		key, err := c.Key(ctx, "worker-keys")
		switch {
		case x.want == "" && (err != nil || key == [32]byte{}):
			t.Fatalf("%s: %v", x.status, err)
		case x.want != "" && (!errors.As(err, &re) || re.Check != x.want):
			t.Fatalf("%s: %v", x.status, err)
		}
	}
}
