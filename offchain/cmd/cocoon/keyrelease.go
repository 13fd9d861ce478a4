package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/attest/keyseal"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
	"github.com/cocoon-network/cocoon/offchain/internal/httpserve"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
)

// identityRenewal is how often the service makes fresh evidence for its
// TLS certificate: well inside the 24 h a default policy accepts.
const identityRenewal = 12 * time.Hour

func keyReleaseCommand() *cli.Command {
	return &cli.Command{
		Name:  "key-release",
		Usage: "run a key-release service (inside a TEE): releases per-image sealing keys to workers whose attested TLS evidence passes --policy",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8443", Usage: "TCP address"},
			&cli.StringFlag{Name: "policy", Required: true, Usage: "policy file: the worker images that get keys (allow), accepted TCB statuses"},
			&cli.StringFlag{Name: "type", Value: "dev", Usage: "the service's own evidence: tdx, sevsnp or dev"},
			&cli.StringFlag{Name: "master", Required: true, Usage: "file holding the service's sealed master secret (created on first start)"},
			&cli.StringFlag{Name: "sealing", Value: "sevsnp", Usage: "how the master is sealed: sevsnp, or dev (insecure: key file MASTER.key)"},
			&cli.StringFlag{Name: "dev-key", Usage: "dev only: Ed25519 key file signing the service's dev evidence (created when missing)"},
			&cli.StringFlag{Name: "image", Value: "cocoon-key-release-dev", Usage: "dev only: the image name the dev evidence states"},
		},
		Action: keyReleaseServe,
	}
}

func keyReleaseServe(c *cli.Context) error {
	ctx := c.Context
	policy, err := attest.LoadPolicy(c.String("policy"))
	if err != nil {
		return usageErr(err)
	}
	var sealer keyseal.Sealer
	switch c.String("sealing") {
	case "sevsnp":
		sealer = keyseal.SNPSealer{Deriver: keyseal.FirmwareDeriver{}}
	case "dev":
		sealer = keyseal.DevSealer{KeyFile: c.String("master") + ".key"}
	default:
		return usageErr(fmt.Errorf("--sealing %q: want sevsnp or dev", c.String("sealing")))
	}
	master, err := loadOrCreateMaster(ctx, c.String("master"), sealer)
	if err != nil {
		return err
	}
	var src attest.Source
	switch c.String("type") {
	case "tdx":
		src = &attest.TDXSource{TSM: tsm.Client{Root: tsm.DefaultRoot}}
	case "sevsnp":
		src = &attest.SNPSource{TSM: tsm.Client{Root: tsm.DefaultRoot}}
	case "dev":
		path := c.String("dev-key")
		if path == "" {
			path = c.String("master") + ".devkey"
		}
		k, _, err := keyfile.LoadOrCreate(path, "dev attestation key")
		if err != nil {
			return err
		}
		src = &attest.DevSource{Key: k, Image: c.String("image")}
	default:
		return usageErr(fmt.Errorf("--type %q: want tdx, sevsnp or dev", c.String("type")))
	}
	ids := &renewingIdentity{src: src}
	id, err := ids.current(ctx)
	if err != nil {
		return err
	}
	h, err := id.Bundle.BundleHash()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	s := &keyseal.Server{Master: master, Policy: policy, Logger: log}
	ln, err := net.Listen("tcp", c.String("listen"))
	if err != nil {
		return err
	}
	tc := keyseal.TLSConfig(id)
	tc.Certificates = nil
	tc.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		id, err := ids.current(hello.Context())
		if err != nil {
			return nil, err
		}
		return &id.Certificate, nil
	}
	limits := httpserve.Limits{ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxConns: 256}
	srv := limits.Server(s.Handler(), nil)
	srv.TLSConfig = tc
	ln = srv.Listener(ln)
	fmt.Fprintf(c.App.Writer, "key-release service on https://%s, %s evidence sha256 %x (renewed every %s)\n", ln.Addr(), id.Bundle.TEE, h, identityRenewal)
	if sealer.Insecure() || id.Bundle.TEE == attest.TEEDev {
		fmt.Fprintln(c.App.Writer, "INSECURE: dev evidence or dev sealing: for test networks only")
	}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadOrCreateMaster unseals the master secret at path, or makes one and
// seals it there.
func loadOrCreateMaster(ctx context.Context, path string, s keyseal.Sealer) ([32]byte, error) {
	const label = "key-release-master"
	blob, err := os.ReadFile(path)
	if err == nil {
		m, err := keyseal.Unseal(ctx, s, label, blob)
		if err != nil {
			return [32]byte{}, fmt.Errorf("master secret %s: %w", path, err)
		}
		if len(m) != 32 {
			return [32]byte{}, fmt.Errorf("master secret %s: %d bytes, not 32", path, len(m))
		}
		return [32]byte(m), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return [32]byte{}, err
	}
	var m [32]byte
	if _, err := rand.Read(m[:]); err != nil {
		return [32]byte{}, err
	}
	if blob, err = keyseal.Seal(ctx, s, label, m[:]); err != nil {
		return [32]byte{}, err
	}
	if err := atomicfile.Replace(path, blob, 0o600); err != nil {
		return [32]byte{}, err
	}
	return m, nil
}

// renewingIdentity is the service's attested TLS identity, made again when
// its evidence gets old.
type renewingIdentity struct {
	src attest.Source
	mu  sync.Mutex
	id  *atls.Identity
}

func (r *renewingIdentity) current(ctx context.Context) (*atls.Identity, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.id != nil && time.Since(r.id.Bundle.Created()) < identityRenewal {
		return r.id, nil
	}
	id, err := atls.NewIdentity(ctx, r.src, nil, nil, time.Now(), 2*identityRenewal)
	if err != nil {
		return nil, fmt.Errorf("key-release service identity: %w", err)
	}
	r.id = id
	return id, nil
}
