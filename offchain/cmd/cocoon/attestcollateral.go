package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// attestExtraCommands are the `cocoon attest` subcommands for collateral
// and model weights.
func attestExtraCommands() []*cli.Command {
	return []*cli.Command{
		{
			Name:      "collateral",
			Usage:     "fetch the TCB collateral (Intel PCS for TDX, AMD KDS for SEV-SNP) of a bundle or raw quote/report, checked against Intel's/AMD's roots",
			ArgsUsage: "FILE",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Usage: "file to write the collateral to (the format of a worker's GET /collateral)"},
				&cli.StringFlag{Name: "intel-pcs", Value: collateral.DefaultIntelPCS, Usage: "Intel PCS (or PCCS) base URL"},
				&cli.StringFlag{Name: "intel-root-crl", Value: collateral.DefaultIntelRootCRL, Usage: "URL of the Intel SGX Root CA CRL"},
				&cli.StringFlag{Name: "amd-kds", Value: collateral.DefaultAMDKDS, Usage: "AMD KDS base URL"},
				&cli.StringFlag{Name: "snp-product-line", Usage: "SEV-SNP product line (Milan, Genoa) when neither a VCEK nor the report names it"},
			},
			Action: flagsAfterArgs(attestCollateral),
		},
		{
			Name:      "weights",
			Usage:     "print a model's weights hash (the value Root's model entry pins) for a weight file or directory",
			ArgsUsage: "PATH",
			Action:    attestWeights,
		},
		keyReleaseCommand(),
	}
}

func attestCollateral(c *cli.Context) error {
	if c.String("out") == "" {
		return usageErr(fmt.Errorf("--out is required"))
	}
	_, raw, err := readEvidenceFile(c)
	if err != nil {
		return err
	}
	kind, err := attest.Detect(raw)
	if err != nil {
		return usageErr(err)
	}
	var b *attest.Bundle
	switch kind {
	case attest.KindBundle:
		if b, err = attest.Decode(raw); err != nil {
			return usageErr(err)
		}
	case attest.KindTDX:
		b = &attest.Bundle{TEE: attest.TEETDX, Evidence: raw}
	case attest.KindSNP:
		b = &attest.Bundle{TEE: attest.TEESEVSNP, Evidence: raw}
	default:
		return usageErr(fmt.Errorf("%s evidence has no TCB collateral", kind))
	}
	f := &collateral.Fetcher{IntelPCS: c.String("intel-pcs"), IntelRootCRL: c.String("intel-root-crl"),
		AMDKDS: c.String("amd-kds"), SNPProductLine: c.String("snp-product-line")}
	coll, err := f.Fetch(c.Context, b)
	if err != nil {
		return err
	}
	out, err := coll.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(c.String("out"), out, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s collateral written to %s (%d bytes, sha256 %x), fetched %s\n", coll.TEE, c.String("out"), len(out), sha256.Sum256(out), coll.Fetched().Format(time.RFC3339))
	return nil
}

func attestWeights(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr(fmt.Errorf("want one PATH, got %d arguments", c.NArg()))
	}
	last := time.Now()
	h, err := worker.HashWeights(c.Context, c.Args().First(), func(p worker.WeightsProgress) {
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			fmt.Fprintf(c.App.ErrWriter, "hashing %s: %d of %d MiB\n", p.File, p.Done>>20, p.Total>>20)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%x\n", h)
	return nil
}

// collateralFlag reads --collateral: a collateral file, or nil for a
// collateral directory (which the TDX verifier reads itself).
func collateralFlag(path string) (*attest.Collateral, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--collateral: %w", err)
	}
	if st.IsDir() {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--collateral: %w", err)
	}
	c, err := attest.DecodeCollateral(raw)
	if err != nil {
		return nil, fmt.Errorf("--collateral %s: %w", path, err)
	}
	return c, nil
}
