package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/attest"
	"github.com/cocoon-network/cocoon/offchain/attest/check"
	"github.com/cocoon-network/cocoon/offchain/attest/collateral"
	"github.com/cocoon-network/cocoon/offchain/attest/dev"
	"github.com/cocoon-network/cocoon/offchain/attest/inspect"
	"github.com/cocoon-network/cocoon/offchain/attest/sevsnp"
	"github.com/cocoon-network/cocoon/offchain/attest/tdx"
	"github.com/cocoon-network/cocoon/offchain/attest/tsm"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/internal/atomicfile"
)

func attestCommand() *cli.Command {
	jsonFlag := &cli.BoolFlag{Name: "json", Usage: "print JSON"}
	return &cli.Command{
		Name:  "attest",
		Usage: "inspect, verify and generate TEE evidence (TDX, SEV-SNP, NVIDIA GPU, dev)",
		Subcommands: append([]*cli.Command{
			{
				Name:      "inspect",
				Usage:     "print the fields of a bundle, a raw TDX quote, SEV-SNP report or NVIDIA GPU report",
				ArgsUsage: "FILE",
				Flags:     []cli.Flag{jsonFlag},
				Action:    flagsAfterArgs(attestInspect),
			},
			{
				Name:      "verify",
				Usage:     "verify evidence offline; exit 0 only when it is valid, 1 naming the failing check otherwise",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "collateral", Usage: "collateral: a directory with Intel TCB info, QE identity and CRLs, or a collateral file (a worker's GET /collateral, `cocoon attest collateral`) for TDX or SEV-SNP; without it the TCB status is unknown"},
					&cli.BoolFlag{Name: "offline", Usage: "verify without network access (the only mode: nothing is ever fetched)"},
					&cli.StringFlag{Name: "at", Usage: "verify as of this RFC 3339 time instead of now"},
					&cli.StringFlag{Name: "policy", Usage: "policy file (allow-list, test mode, max age, accepted TCB statuses); without it no allow-list is checked"},
					&cli.StringFlag{Name: "keys", Usage: "keys file: public keys the bundle must vouch for"},
					&cli.StringFlag{Name: "nonce", Usage: "hex nonce the bundle must answer"},
					&cli.StringFlag{Name: "vcek", Usage: "raw SEV-SNP report only: the VCEK (or VLEK) certificate, DER or PEM"},
					&cli.StringFlag{Name: "gpu-chain", Usage: "raw NVIDIA report only: the attestation certificate chain, PEM"},
					jsonFlag,
				},
				Action: flagsAfterArgs(attestVerify),
			},
			{
				Name:  "generate",
				Usage: "produce a bundle inside a TEE that vouches for the keys in --keys",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "type", Required: true, Usage: "tdx, sevsnp, nvidia or dev"},
					&cli.StringFlag{Name: "keys", Required: true, Usage: "keys file: {\"keys\":[{\"name\":\"ed25519\",\"public\":\"<base64>\"}, …]}"},
					&cli.StringFlag{Name: "out", Required: true, Usage: "file to write the bundle to"},
					&cli.StringFlag{Name: "nonce", Usage: "hex nonce (up to 64 bytes) a verifier asked for"},
					&cli.BoolFlag{Name: "gpu", Usage: "tdx/sevsnp: add every NVIDIA GPU's evidence"},
					&cli.StringFlag{Name: "tsm", Value: tsm.DefaultRoot, Usage: "configfs-tsm directory"},
					&cli.StringFlag{Name: "dev-key", Usage: "dev only: Ed25519 key file (PKCS#8 PEM, 0600); default OUT.devkey, created when missing"},
					&cli.StringFlag{Name: "image", Value: "cocoon-dev", Usage: "dev only: the image name the statement declares"},
				},
				Action: attestGenerate,
			},
		}, attestExtraCommands()...),
	}
}

// flagsAfterArgs lets `inspect FILE --json` mean `inspect --json FILE`:
// urfave/cli v2 stops parsing flags at the first argument, and the
// documented forms put FILE first. Flags given before FILE keep their
// values.
func flagsAfterArgs(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		rest := c.Args().Slice()
		if len(rest) < 2 {
			return action(c)
		}
		isBool := map[string]bool{}
		set := flag.NewFlagSet(c.Command.Name, flag.ContinueOnError)
		set.SetOutput(io.Discard)
		for _, f := range c.Command.Flags {
			if err := f.Apply(set); err != nil {
				return err
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				for _, n := range f.Names() {
					isBool[n] = true
				}
			}
		}
		for _, f := range c.Command.Flags {
			name := f.Names()[0]
			if c.IsSet(name) {
				if err := set.Set(name, fmt.Sprint(c.Value(name))); err != nil {
					return usageErr(err)
				}
			}
		}
		var flags, pos []string
		for i := 0; i < len(rest); i++ {
			a := rest[i]
			if a == "--" {
				pos = append(pos, rest[i+1:]...)
				break
			}
			if !strings.HasPrefix(a, "-") || a == "-" {
				pos = append(pos, a)
				continue
			}
			flags = append(flags, a)
			if name := strings.TrimLeft(a, "-"); !strings.Contains(name, "=") && !isBool[name] && i+1 < len(rest) {
				flags = append(flags, rest[i+1])
				i++
			}
		}
		if err := set.Parse(append(append(flags, "--"), pos...)); err != nil {
			return usageErr(fmt.Errorf("%s: %w", c.Command.Name, err))
		}
		nc := cli.NewContext(c.App, set, c.Lineage()[1])
		nc.Command, nc.Context = c.Command, c.Context
		return action(nc)
	}
}

// exitInvalid is the exit status of evidence that does not verify; usage
// and I/O errors exit with 2 so that scripts can tell them apart.
const exitInvalid = 1

func usageErr(err error) error { return cli.Exit(err.Error(), 2) }

func hx(b []byte) string { return hex.EncodeToString(b) }

func readEvidenceFile(c *cli.Context) (string, []byte, error) {
	if c.NArg() != 1 {
		return "", nil, usageErr(fmt.Errorf("usage: cocoon attest %s FILE", c.Command.Name))
	}
	path := c.Args().First()
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, usageErr(err)
	}
	return path, b, nil
}

func attestInspect(c *cli.Context) error {
	_, raw, err := readEvidenceFile(c)
	if err != nil {
		return err
	}
	v, err := inspect.Evidence(raw)
	if err != nil {
		return usageErr(err)
	}
	return printInspection(c.App.Writer, v, c.Bool("json"))
}

func printInspection(w io.Writer, f *inspect.Fields, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(f)
	}
	writeFields(w, f, "")
	return nil
}

func writeFields(w io.Writer, f *inspect.Fields, indent string) {
	for _, k := range f.Keys() {
		switch v := f.Get(k).(type) {
		case *inspect.Fields:
			fmt.Fprintf(w, "%s%s:\n", indent, k)
			writeFields(w, v, indent+"  ")
		case []*inspect.Fields:
			for i, sub := range v {
				fmt.Fprintf(w, "%s%s[%d]:\n", indent, k, i)
				writeFields(w, sub, indent+"  ")
			}
		case []string:
			fmt.Fprintf(w, "%s%s: %s\n", indent, k, strings.Join(v, " "))
		default:
			fmt.Fprintf(w, "%s%s: %v\n", indent, k, v)
		}
	}
}

// readKeysFile reads the keys file of `generate` and `verify --keys`.
func readKeysFile(path string) ([]attest.Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f struct {
		Keys []attest.Key `json:"keys"`
	}
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	keys := attest.SortKeys(f.Keys)
	if err := attest.ValidateKeys(keys); err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return keys, nil
}

func parseNonce(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	n, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil || len(n) > attest.MaxNonceSize {
		return nil, fmt.Errorf("--nonce must be up to %d hex-encoded bytes", attest.MaxNonceSize)
	}
	return n, nil
}

// verifyOutput is `verify --json`.
type verifyOutput struct {
	File        string `json:"file"`
	Kind        string `json:"kind"`
	Valid       bool   `json:"valid"`
	FailedCheck string `json:"failed_check,omitempty"`
	Error       string `json:"error,omitempty"`
	At          string `json:"at"`
	Offline     bool   `json:"offline"`
	Collateral  bool   `json:"collateral"`
	Policy      string `json:"policy,omitempty"`
	*attest.Result
}

func attestVerify(c *cli.Context) error {
	path, raw, err := readEvidenceFile(c)
	if err != nil {
		return err
	}
	at := time.Now()
	if s := c.String("at"); s != "" {
		if at, err = time.Parse(time.RFC3339, s); err != nil {
			return usageErr(fmt.Errorf("--at: %w", err))
		}
	}
	// Without --policy: inspect, with nothing required beyond validity.
	policy := &attest.Policy{AllowList: attest.NoAllowList{}}
	if p := c.String("policy"); p != "" {
		if policy, err = attest.LoadPolicy(p); err != nil {
			return usageErr(err)
		}
	}
	var expected []attest.Key
	if k := c.String("keys"); k != "" {
		if expected, err = readKeysFile(k); err != nil {
			return usageErr(err)
		}
	}
	nonce, err := parseNonce(c.String("nonce"))
	if err != nil {
		return usageErr(err)
	}
	// No logger: every check and the verdict are the command's output.
	v := &attest.Verifier{Now: func() time.Time { return at }}
	var coll *attest.Collateral
	if p := c.String("collateral"); p != "" {
		if coll, err = collateralFlag(p); err != nil {
			return usageErr(err)
		}
		if coll == nil {
			v.TDX.Collateral = tdx.NewDirSource(p, nil)
		}
	}
	kind, err := attest.Detect(raw)
	if err != nil {
		return usageErr(err)
	}
	var res *attest.Result
	var verr error
	switch kind {
	case attest.KindBundle:
		b, err := attest.Decode(raw)
		if err != nil {
			res, verr = &attest.Result{Checks: []check.Result{{Check: attest.CheckBundle, Status: check.Failed, Detail: err.Error()}}}, &check.Error{Check: attest.CheckBundle, Err: err}
		} else {
			res, verr = v.VerifyWithCollateral(c.Context, b, coll, expected, nonce, policy)
		}
	case attest.KindTDX:
		res, verr = v.VerifyEvidenceWithCollateral(c.Context, attest.TEETDX, raw, nil, coll, policy)
	case attest.KindSNP:
		certs, err := certFlag(c, "vcek", sevsnp.CertVCEK)
		if err != nil {
			return usageErr(err)
		}
		res, verr = v.VerifyEvidenceWithCollateral(c.Context, attest.TEESEVSNP, raw, certs, coll, policy)
	case attest.KindNVIDIA:
		certs, err := certFlag(c, "gpu-chain", attest.CertGPUChain)
		if err != nil {
			return usageErr(err)
		}
		res, verr = v.VerifyEvidence(c.Context, attest.TEENVIDIA, raw, certs, policy)
	}
	out := verifyOutput{File: path, Kind: kind, Valid: verr == nil, At: at.UTC().Format(time.RFC3339),
		Offline: true, Collateral: c.String("collateral") != "", Policy: c.String("policy"), Result: res}
	if verr != nil {
		out.FailedCheck, out.Error = check.Name(verr), verr.Error()
		if out.FailedCheck == "" {
			// Not a refusal but a failure to verify at all (a broken
			// collateral directory, a context cancelled).
			return usageErr(verr)
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printVerify(c.App.Writer, &out)
	}
	if verr != nil {
		return cli.Exit(fmt.Sprintf("attestation refused by check %s", verr), exitInvalid)
	}
	return nil
}

// certFlag reads a certificate file named by flag into a carried blob,
// converting PEM certificates to DER except for the GPU chain, which
// travels as PEM.
func certFlag(c *cli.Context, flag, name string) ([]attest.Blob, error) {
	path := c.String(flag)
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", flag, err)
	}
	if name != attest.CertGPUChain {
		if der, err := pemToDER(b); err == nil {
			b = der
		}
	}
	return []attest.Blob{{Name: name, Data: b}}, nil
}

func pemToDER(b []byte) ([]byte, error) {
	c, err := tdx.ParseCertificatePEM(b)
	if err != nil {
		return nil, err
	}
	return c.Raw, nil
}

func printVerify(w io.Writer, o *verifyOutput) {
	r := o.Result
	for _, x := range r.Checks {
		line := fmt.Sprintf("%-4s %s", x.Status, x.Check)
		if x.Detail != "" {
			line += ": " + x.Detail
		}
		fmt.Fprintln(w, line)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, warn)
	}
	if r.TEE != "" {
		fmt.Fprintf(w, "tee: %s\n", r.TEE)
	}
	if len(r.ImageHash) > 0 {
		fmt.Fprintf(w, "image_hash: %s\n", hx(r.ImageHash))
	}
	fmt.Fprintf(w, "tcb_status: %s\n", r.TCBStatus)
	if o.Valid {
		fmt.Fprintf(w, "VALID as of %s\n", o.At)
	} else {
		fmt.Fprintf(w, "INVALID: check %s failed\n", o.FailedCheck)
	}
}

func attestGenerate(c *cli.Context) error {
	log, err := logger(c)
	if err != nil {
		return usageErr(err)
	}
	keys, err := readKeysFile(c.String("keys"))
	if err != nil {
		return usageErr(err)
	}
	nonce, err := parseNonce(c.String("nonce"))
	if err != nil {
		return usageErr(err)
	}
	out := c.String("out")
	client := tsm.Client{Root: c.String("tsm")}
	var src attest.Source
	switch t := c.String("type"); t {
	case "tdx":
		src = &attest.TDXSource{TSM: client}
	case "sevsnp":
		src = &attest.SNPSource{TSM: client}
	case "nvidia":
		src = attest.NVIDIASource{}
	case "dev":
		keyPath := c.String("dev-key")
		if keyPath == "" {
			keyPath = out + ".devkey"
		}
		key, created, err := dev.LoadOrCreateKey(keyPath)
		if err != nil {
			return usageErr(err)
		}
		if created {
			log.Info("created dev signing key", "path", keyPath)
		}
		src = &attest.DevSource{Key: key, Image: c.String("image")}
		fmt.Fprintln(c.App.ErrWriter, dev.Warning)
	default:
		return usageErr(fmt.Errorf("--type %q: want tdx, sevsnp, nvidia or dev", t))
	}
	var gpus attest.GPUSource
	if c.Bool("gpu") {
		if src.TEE() != attest.TEETDX && src.TEE() != attest.TEESEVSNP {
			return usageErr(errors.New("--gpu adds GPUs to a tdx or sevsnp bundle"))
		}
		gpus = attest.NVIDIAGPUs{}
	}
	b, err := attest.NewBundle(c.Context, src, gpus, keys, nonce, time.Now())
	if err != nil {
		return err
	}
	raw, err := b.Encode()
	if err != nil {
		return err
	}
	if err := atomicfile.Replace(out, raw, 0o644); err != nil {
		return err
	}
	hash := sha256.Sum256(raw)
	log.Info("wrote attestation bundle", "path", out, "tee", b.TEE, "bytes", len(raw), "bundle_hash", hx(hash[:]))
	return nil
}

// policyFlag is the app's attestation policy for discovery (the SDK's
// client.Options.Policy, the gateway's discovery).
func policyFlag() cli.Flag {
	return &cli.StringFlag{Name: "policy", Usage: "attestation policy file (accepted TCB statuses, GPU required per model, reference values; docs/ATTESTATION.md); " +
		"default: attest.DefaultPolicy. Root's allow-list and test mode always apply"}
}

// collateralFromFlag chooses where workers' TCB collateral comes from.
func collateralFromFlag() cli.Flag {
	return &cli.StringFlag{Name: "collateral-from", Value: "intel-amd",
		Usage: "where TDX and SEV-SNP workers' TCB collateral (CRLs, TCB info) comes from: intel-amd (fetched from Intel's PCS and AMD's KDS by this machine, cached an hour: the worker cannot choose what it is judged by) or worker (what each worker serves)"}
}

// loadCollateralFlag reads --collateral-from.
func loadCollateralFlag(c *cli.Context) (client.CollateralSource, error) {
	switch c.String("collateral-from") {
	case "", "intel-amd":
		return &collateral.Cache{Fetcher: &collateral.Fetcher{}}, nil
	case "worker":
		return nil, nil
	default:
		return nil, usageErr(fmt.Errorf("--collateral-from %q: want intel-amd or worker", c.String("collateral-from")))
	}
}

// loadPolicyFlag reads --policy; nil (the default policy) without it.
func loadPolicyFlag(c *cli.Context) (*attest.Policy, error) {
	p := c.String("policy")
	if p == "" {
		return nil, nil
	}
	policy, err := attest.LoadPolicy(p)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	return policy, nil
}
