package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/netflag"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/inference/gpu"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

func workerAttestFlags(configFlag cli.Flag) []cli.Flag {
	return []cli.Flag{configFlag,
		&cli.StringFlag{Name: "type", Value: "dev", Usage: "dev, tdx or sevsnp (tdx and sevsnp only inside that TEE)"},
		&cli.BoolFlag{Name: "gpu", Usage: "tdx/sevsnp: require every NVIDIA GPU's confidential-computing report (through NVML), bound to the same report data (default: added whenever NVML finds GPUs)"},
		&cli.BoolFlag{Name: "no-gpu", Usage: "tdx/sevsnp: leave the GPUs' reports out even when NVML finds GPUs (clients requiring GPU evidence then refuse the worker)"},
	}
}

// workerAttest makes fresh evidence for the worker's keys: the TEE's, every
// GPU's (whenever NVML finds GPUs, or required with --gpu), and the hashes
// of the model weights the config names, checked against Root's
// weights_hash first.
func workerAttest(c *cli.Context) error {
	cfg, err := worker.LoadConfig(c.String("config"))
	if err != nil {
		return err
	}
	dir := cfg.Path(cfg.KeysDir)
	if c.Bool("gpu") && c.String("type") == "dev" {
		return errors.New("--gpu: GPU evidence is bound to a hardware TEE's report (--type tdx or sevsnp)")
	}
	if c.Bool("gpu") && c.Bool("no-gpu") {
		return usageErr(errors.New("--gpu and --no-gpu contradict each other"))
	}
	var src attest.Source
	switch c.String("type") {
	case "dev":
		if src, err = worker.DevSourceFor(dir); err != nil {
			return err
		}
	case "tdx":
		src = &attest.TDXSource{}
	case "sevsnp":
		src = &attest.SNPSource{}
	default:
		return fmt.Errorf("--type %q: want dev, tdx or sevsnp", c.String("type"))
	}
	var gpus attest.GPUSource
	if c.String("type") != "dev" && !c.Bool("no-gpu") {
		// A hardware TEE's bundle carries the GPUs' reports whenever there
		// are GPUs: clients that require GPU evidence judge by them.
		found, err := gpuPresent(c)
		switch {
		case c.Bool("gpu") || found:
			gpus = attest.NVIDIAGPUs{}
		case err != nil:
			fmt.Printf("no GPU evidence: %v\n", err)
		default:
			fmt.Println("no GPU evidence: NVML finds no GPUs")
		}
	}
	weights, err := attestedWeights(c, cfg)
	if err != nil {
		return err
	}
	id, err := worker.Reattest(c.Context, dir, src, gpus, worker.KeyHolding(cfg), weights)
	if err != nil {
		return err
	}
	meas, err := id.Measurement()
	if err != nil {
		return err
	}
	fmt.Printf("new %s evidence, sha256 %x, measurement %x\n", id.Bundle.TEE, id.EvidenceHash(), meas)
	if h := id.Bundle.KeyHolding; h != "" {
		fmt.Printf("  keys held: %s (stated in the evidence; clients may require sealed keys)\n", h)
	}
	if n := len(id.Bundle.GPUs); n > 0 {
		fmt.Printf("  %d GPU report(s) in CC mode, bound to the same report data\n", n)
	}
	for _, w := range id.Bundle.Weights {
		fmt.Printf("  model %s: weights %x attested\n", w.Model, w.Hash)
	}
	if id.Bundle.TEE == attest.TEEDev {
		fmt.Println("INSECURE: dev attestation, not hardware-backed")
	}
	fmt.Printf("next: cocoon worker update --config %s --owner-wallet OWNER.wallet, then restart the daemon\n", c.String("config"))
	return nil
}

// gpuPresent reports whether NVML finds NVIDIA GPUs on this machine.
func gpuPresent(c *cli.Context) (bool, error) {
	r, err := gpu.Discover(c.Context)
	if err != nil {
		return false, err
	}
	return len(r.GPUs) > 0, nil
}

// attestedWeights hashes the weights of the models the config names them
// for and checks them against Root; nil when it names none.
func attestedWeights(c *cli.Context, cfg *worker.Config) ([]attest.ModelWeights, error) {
	need := false
	for _, m := range cfg.Models {
		need = need || m.Weights != ""
	}
	if !need {
		return nil, nil
	}
	net, err := netflag.Open(c.Context, cfg.Network)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	root, err := chain.ParseAddress(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("config root: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return worker.VerifyWeights(c.Context, cfg, readers.NewRoot(net, root), nil, log)
}

func workerSealCommand(configFlag cli.Flag) *cli.Command {
	return &cli.Command{
		Name:   "seal",
		Usage:  "seal the worker's private keys to this TEE image with the config's [sealing] (run inside the TEE)",
		Flags:  []cli.Flag{configFlag},
		Action: workerSeal,
	}
}

// workerSeal replaces the plain key files by a blob sealed to the image.
func workerSeal(c *cli.Context) error {
	cfg, err := worker.LoadConfig(c.String("config"))
	if err != nil {
		return err
	}
	if cfg.Sealing.Kind == "" {
		return errors.New("the config has no [sealing] kind (sevsnp, key-release or dev)")
	}
	id, err := worker.LoadIdentity(cfg.Path(cfg.KeysDir))
	if err != nil {
		return err
	}
	src, err := worker.SourceFor(cfg.Path(cfg.KeysDir), id.Bundle.TEE)
	if err != nil {
		return err
	}
	s, err := worker.NewSealer(c.Context, cfg, src, id.Bundle)
	if err != nil {
		return err
	}
	if err := worker.SealKeys(c.Context, cfg.Path(cfg.KeysDir), s); err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "the worker's keys are sealed (%s) in %s; the plain key files are removed\n", s.Kind(), cfg.Path(cfg.KeysDir))
	if s.Insecure() {
		fmt.Fprintln(c.App.Writer, "INSECURE: dev sealing keeps its key in a plain file next to the sealed keys")
	}
	return nil
}
