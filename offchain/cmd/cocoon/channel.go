package main

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/attest/atls"
	"github.com/cocoon-network/cocoon/offchain/chain"
	"github.com/cocoon-network/cocoon/offchain/chain/readers"
	"github.com/cocoon-network/cocoon/offchain/channel"
	"github.com/cocoon-network/cocoon/offchain/client"
	"github.com/cocoon-network/cocoon/offchain/internal/boltdb"
	"github.com/cocoon-network/cocoon/offchain/internal/keyfile"
	"github.com/cocoon-network/cocoon/offchain/tonamount"
	"github.com/cocoon-network/cocoon/offchain/wallet"
	"github.com/cocoon-network/cocoon/offchain/worker"
)

// defaultChannelDir is where a side keeps its channel store and, for a
// payer, its voucher-signing key.
const defaultChannelDir = ".cocoon/channels"

func channelCommand() *cli.Command {
	dir := func() cli.Flag {
		return &cli.StringFlag{Name: "dir", Value: defaultChannelDir, EnvVars: []string{"COCOON_CHANNEL_DIR"},
			Usage: "this side's channel store (channels.db) and, for a payer, its voucher key (payer.key, mode 0600)"}
	}
	id := func() cli.Flag {
		return &cli.StringFlag{Name: "channel", Required: true, Usage: "the channel id (32 hex digits, as status shows it)"}
	}
	payeeKey := func() cli.Flag {
		return &cli.StringFlag{Name: "key", Usage: "payee side: the worker's ed25519 key file (PKCS#8 PEM) that signs its channel states"}
	}
	// commit and close: the payee's gas wallet may come from --config.
	optionalWallet := func() cli.Flag {
		f := walletFileFlag()
		f.Required = false
		f.Usage += "; payee side with --config: the worker's gas wallet by default"
		return f
	}
	workerConfig := func() cli.Flag {
		return &cli.StringFlag{Name: "config", Usage: "payee side: the worker's config.toml: its daemon's channel store, its worker key (sealed or not) and its gas wallet (instead of --dir, --key and --wallet)"}
	}
	return &cli.Command{
		Name:  "channel",
		Usage: "payment channels: pay a worker per request off chain, settle on chain when it suits",
		Subcommands: []*cli.Command{
			{
				Name:  "open",
				Usage: "payer: agree terms with a worker's channel endpoint, then deploy the channel and deposit",
				UsageText: "cocoon channel open --network N --wallet W --worker ADDR --model NAME --deposit TON [options]\n" +
					"   cocoon channel open --network N --wallet W --peer URL --payee-key HEX --payout ADDR --deposit TON [options]",
				Description: "With --worker (the Worker contract's address, as cocoon job workers lists it) the worker is verified as discovery\n" +
					"does (its registration on chain, its attested evidence, Root's allow-list) and its endpoint, worker key and owner\n" +
					"are taken from there; --peer, --payee-key and --payout, when given too, must agree.",
				Flags: []cli.Flag{
					networkFlag(), walletFileFlag(), dir(), walletJSONFlag(),
					&cli.StringFlag{Name: "worker", Usage: "the Worker contract's address: its endpoint, worker key and owner are read and verified from it"},
					&cli.StringFlag{Name: "model", Usage: "with --worker: the model the channel pays for (the worker is verified for it)"},
					&cli.StringFlag{Name: "peer", Usage: "the worker's channel endpoint (base URL serving " + channel.PathAccept + ")"},
					&cli.StringFlag{Name: "payee-key", Usage: "the worker key (64 hex digits; `cocoon worker init` prints it, `cocoon job workers --json` lists it as worker_key)"},
					&cli.StringFlag{Name: "payout", Usage: "where the worker's earnings go: its owner wallet's address"},
					&cli.StringFlag{Name: "deposit", Required: true, Usage: "TON to deposit"},
					&cli.DurationFlag{Name: "quarantine", Value: channel.DefaultClosing().Quarantine, Usage: "how long the worker has to answer a close the payer starts alone"},
					&cli.BoolFlag{Name: "code-library", Usage: "deploy with a reference to the contract code published as a public library (saves ~0.002 TON; the network must have it)"},
				},
				Action: channelOpen,
			},
			{
				Name:   "status",
				Usage:  "list this side's channels, or one with --channel; with --network also what the chain says",
				Flags:  []cli.Flag{dir(), walletJSONFlag(), &cli.StringFlag{Name: "channel", Usage: "only this channel"}, networkFlag(), workerConfig()},
				Action: channelStatus,
			},
			{
				Name:   "topup",
				Usage:  "payer: add TON to a channel's deposit",
				Flags:  []cli.Flag{networkFlag(), walletFileFlag(), dir(), id(), walletJSONFlag(), &cli.StringFlag{Name: "amount", Required: true, Usage: "TON to add (the message carries 0.005 TON more for gas; what is unspent returns at close)"}},
				Action: channelTopUp,
			},
			{
				Name:   "commit",
				Usage:  "payee: withdraw the earnings of the held voucher to the payout address; the channel stays open",
				Flags:  []cli.Flag{networkFlag(), optionalWallet(), dir(), id(), walletJSONFlag(), payeeKey(), workerConfig()},
				Action: channelCommit,
			},
			{
				Name:  "close",
				Usage: "close a channel: payer cooperatively with --peer or alone with --force (then --finish after the quarantine); payee alone, at once, with its voucher",
				Flags: []cli.Flag{networkFlag(), optionalWallet(), dir(), id(), walletJSONFlag(), payeeKey(), workerConfig(),
					&cli.StringFlag{Name: "peer", Usage: "payer: the worker's channel endpoint, for a cooperative close"},
					&cli.BoolFlag{Name: "force", Usage: "payer: close alone (the worker may close with its voucher until the quarantine ends)"},
					&cli.BoolFlag{Name: "finish", Usage: "payer: pay out a close alone whose quarantine is over"}},
				Action: channelClose,
			},
		},
	}
}

// channelSide is one side opened from the command's flags: its store, and
// a Payer or a Payee for the record's role.
type channelSide struct {
	net   chain.Network
	store *channel.Store
	rec   *channel.Record
	payer *channel.Payer
	payee *channel.Payee
}

func (s *channelSide) close() { s.store.Close() }

func channelID(c *cli.Context) (channel.ID, error) {
	id, err := channel.ParseID(c.String("channel"))
	if err != nil {
		return id, usageErr(fmt.Errorf("--channel: %w", err))
	}
	return id, nil
}

func payerKey(dir string) (ed25519.PrivateKey, error) {
	k, _, err := keyfile.LoadOrCreate(filepath.Join(dir, "payer.key"), "channel payer key")
	return k, err
}

// workerSideT is the payee side as the worker's config names it.
type workerSideT struct {
	dir string
	key ed25519.PrivateKey
	gas *wallet.Wallet
}

// workerSide reads --config (nil without it): the daemon's channel store,
// the worker key and the gas wallet.
func workerSide(c *cli.Context) (*workerSideT, error) {
	if c.String("config") == "" {
		return nil, nil
	}
	if c.IsSet("dir") || c.IsSet("key") {
		return nil, usageErr(errors.New("--config names the store and the key: leave out --dir and --key"))
	}
	cfg, err := worker.LoadConfig(c.String("config"))
	if err != nil {
		return nil, err
	}
	ws := &workerSideT{dir: filepath.Join(cfg.Path(cfg.StateDir), "channels")}
	if c.Command.Name == "status" {
		return ws, nil
	}
	id, err := worker.OpenConfiguredIdentity(c.Context, cfg, nil)
	if err != nil {
		return nil, err
	}
	ws.key = id.SignKey
	if cfg.Online.GasWallet != "" {
		f, err := wallet.Load(cfg.Path(cfg.Online.GasWallet))
		if err != nil {
			return nil, fmt.Errorf("online.gas_wallet: %w", err)
		}
		if ws.gas, err = f.Open(); err != nil {
			return nil, fmt.Errorf("online.gas_wallet: %w", err)
		}
	}
	return ws, nil
}

// openChannelStore opens --dir, or the worker daemon's store; while the
// daemon runs it holds the store, and the words say what to do instead.
func openChannelStore(c *cli.Context, ws *workerSideT) (*channel.Store, error) {
	dir := c.String("dir")
	if ws != nil {
		dir = ws.dir
	}
	st, err := channel.OpenStore(dir)
	if errors.Is(err, boltdb.ErrLocked) && ws != nil {
		return nil, errors.New("the worker daemon is running and holds its channel store: its watcher commits earnings past online.commit_above, after 90 idle days and (above 0.02 TON) at shutdown, and answers payers' closes; cocoon worker status shows what the channels hold; stop the daemon to commit or close by hand")
	}
	return st, err
}

// openSide opens the store and the side of the --channel record.
func openSide(c *cli.Context, needWallet bool) (*channelSide, error) {
	id, err := channelID(c)
	if err != nil {
		return nil, err
	}
	net, err := openNetwork(c)
	if err != nil {
		return nil, err
	}
	ws, err := workerSide(c)
	if err != nil {
		return nil, err
	}
	store, err := openChannelStore(c, ws)
	if err != nil {
		return nil, err
	}
	s := &channelSide{net: net, store: store}
	if s.rec, err = store.Get(id); err != nil {
		s.close()
		return nil, err
	}
	log, err := logger(c)
	if err != nil {
		s.close()
		return nil, err
	}
	var sender channel.Sender
	switch {
	case ws != nil && c.String("wallet") == "" && ws.gas != nil:
		sender = ws.gas
	case needWallet || c.String("wallet") != "":
		w, err := openWallet(c)
		if err != nil {
			s.close()
			return nil, err
		}
		sender = w
	}
	switch s.rec.Role {
	case channel.RolePayer:
		key, err := payerKey(c.String("dir"))
		if err == nil {
			s.payer, err = channel.NewPayer(channel.PayerConfig{Net: net, Wallet: sender, Key: key, Store: store, Logger: log})
		}
		if err != nil {
			s.close()
			return nil, err
		}
	case channel.RolePayee:
		if c.String("key") == "" && ws == nil {
			s.close()
			return nil, usageErr(errors.New("--key (the worker's key file) or --config (the worker's config) is required on the payee side"))
		}
		var key ed25519.PrivateKey
		if ws != nil {
			key = ws.key
		} else {
			key, err = keyfile.Load(c.String("key"), "worker key")
		}
		if err == nil {
			s.payee, err = channel.NewPayee(channel.PayeeConfig{Net: net, Key: key, Payout: s.rec.Terms.PayeeAddress, Wallet: sender, Store: store, Logger: log})
		}
		if err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// channelPeer is the worker a channel opens with: verified from its Worker
// contract with --worker (flags given beside it must agree), else the
// flags as given.
func channelPeer(c *cli.Context, net chain.Network) (peerURL string, key ed25519.PublicKey, payout *address.Address, hc *http.Client, err error) {
	if c.String("worker") == "" {
		if key, err = channel.ParsePublicKey(c.String("payee-key")); err != nil {
			return "", nil, nil, nil, usageErr(fmt.Errorf("--payee-key: %w", err))
		}
		if payout, err = chain.ParseAddress(c.String("payout")); err != nil {
			return "", nil, nil, nil, usageErr(fmt.Errorf("--payout: %w", err))
		}
		return c.String("peer"), key, payout, nil, nil
	}
	addr, err := chain.ParseAddress(c.String("worker"))
	if err != nil {
		return "", nil, nil, nil, usageErr(fmt.Errorf("--worker: %w", err))
	}
	wr := readers.NewWorker(net, addr)
	data, err := wr.WorkerData(c.Context)
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("reading worker %s: %w", addr, err)
	}
	if !data.Deployed {
		return "", nil, nil, nil, fmt.Errorf("--worker %s: no Worker contract there", addr)
	}
	model := c.String("model")
	if model == "" {
		return "", nil, nil, nil, usageErr(errors.New("--model is required with --worker: the worker is verified for the model the channel pays for"))
	}
	coll, err := loadCollateralFlag(c)
	if err != nil {
		return "", nil, nil, nil, err
	}
	w, err := client.VerifyWorker(c.Context, net, data.Root, addr, model, client.DiscoverOptions{Collateral: coll})
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("verifying worker %s: %w", addr, err)
	}
	for _, f := range []struct {
		flag, got, want string
	}{
		{"peer", strings.TrimSuffix(c.String("peer"), "/"), strings.TrimSuffix(w.Endpoint, "/")},
		{"payee-key", strings.ToLower(c.String("payee-key")), hex.EncodeToString(w.WorkerKey)},
		{"payout", c.String("payout"), w.Owner.String()},
	} {
		if f.got == "" || f.got == f.want {
			continue
		}
		if f.flag == "payout" {
			if a, err := chain.ParseAddress(f.got); err == nil && a.Equals(w.Owner) {
				continue
			}
		}
		return "", nil, nil, nil, fmt.Errorf("--%s %s disagrees with worker %s, whose %s is %s", f.flag, f.got, addr, f.flag, f.want)
	}
	if strings.HasPrefix(w.Endpoint, "https://") {
		// The worker's endpoint is attested TLS: the channel's terms go to
		// the enclave whose evidence is registered on chain.
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: atls.PinnedConfig(w.AttestationHash)}}
	}
	fmt.Fprintf(c.App.ErrWriter, "worker %s verified (%s evidence, model %s): endpoint %s, worker key %x, payout %s\n",
		addr, w.TEE, model, w.Endpoint, []byte(w.WorkerKey), w.Owner)
	return w.Endpoint, w.WorkerKey, w.Owner, hc, nil
}

func channelOpen(c *cli.Context) error {
	deposit, err := tonamount.Parse(c.String("deposit"))
	if err != nil || deposit.Sign() == 0 {
		return usageErr(fmt.Errorf("--deposit: want a positive TON amount (%v)", err))
	}
	if c.String("worker") == "" {
		for _, f := range []string{"peer", "payee-key", "payout"} {
			if c.String(f) == "" {
				return usageErr(fmt.Errorf("--%s is required without --worker (or name the Worker contract with --worker)", f))
			}
		}
	}
	net, err := openNetwork(c)
	if err != nil {
		return err
	}
	peerURL, payeeKey, payout, hc, err := channelPeer(c, net)
	if err != nil {
		return err
	}
	w, err := openWallet(c)
	if err != nil {
		return err
	}
	log, err := logger(c)
	if err != nil {
		return err
	}
	store, err := channel.OpenStore(c.String("dir")) // creates the directory (0700)
	if err != nil {
		return err
	}
	defer store.Close()
	key, err := payerKey(c.String("dir"))
	if err != nil {
		return err
	}
	p, err := channel.NewPayer(channel.PayerConfig{Net: net, Wallet: w, Key: key, Store: store, Logger: log})
	if err != nil {
		return err
	}
	terms, err := p.NewTerms(payeeKey, payout)
	if err != nil {
		return err
	}
	terms.Closing.Quarantine = c.Duration("quarantine")
	terms.CodeLibrary = c.Bool("code-library")
	if err := terms.Validate(); err != nil {
		return usageErr(fmt.Errorf("--quarantine: %w", err))
	}
	peer := &channel.Peer{URL: peerURL, Client: hc}
	hello, err := peer.Accept(c.Context, terms)
	if err != nil {
		return fmt.Errorf("the worker did not accept the channel: %w", err)
	}
	fmt.Fprintf(c.App.ErrWriter, "worker accepted channel %s; deploying and depositing %s TON…\n", terms.ID, tonamount.Format(deposit))
	rec, err := p.Open(c.Context, terms, hello, deposit)
	if err != nil {
		return err
	}
	return printChannels(c, []*channel.Record{rec}, map[channel.ID]*channel.OnChain{})
}

func channelStatus(c *cli.Context) error {
	ws, err := workerSide(c)
	if err != nil {
		return err
	}
	store, err := openChannelStore(c, ws)
	if err != nil {
		return err
	}
	defer store.Close()
	recs, err := store.List()
	if err != nil {
		return err
	}
	if c.String("channel") != "" {
		id, err := channelID(c)
		if err != nil {
			return err
		}
		r, err := store.Get(id)
		if err != nil {
			return err
		}
		recs = []*channel.Record{r}
	}
	chainState := map[channel.ID]*channel.OnChain{}
	if c.String("network") != "" {
		net, err := openNetwork(c)
		if err != nil {
			return err
		}
		for _, r := range recs {
			oc, err := channel.Read(c.Context, net, r.Address)
			if err != nil {
				return err
			}
			chainState[r.Terms.ID] = oc
		}
	}
	return printChannels(c, recs, chainState)
}

func channelTopUp(c *cli.Context) error {
	amount, err := tonamount.Parse(c.String("amount"))
	if err != nil || amount.Sign() == 0 {
		return usageErr(fmt.Errorf("--amount: want a positive TON amount (%v)", err))
	}
	s, err := openSide(c, true)
	if err != nil {
		return err
	}
	defer s.close()
	if s.payer == nil {
		return usageErr(errors.New("topup is the payer's: this store holds the payee side of the channel"))
	}
	rec, err := s.payer.TopUp(c.Context, s.rec.Terms.ID, amount)
	if err != nil {
		return err
	}
	return printChannels(c, []*channel.Record{rec}, nil)
}

func channelCommit(c *cli.Context) error {
	s, err := openSide(c, true)
	if err != nil {
		return err
	}
	defer s.close()
	if s.payee == nil {
		return usageErr(errors.New("commit is the payee's: this store holds the payer side of the channel"))
	}
	paid, err := s.payee.Commit(c.Context, s.rec.Terms.ID)
	if err != nil {
		return err
	}
	return printSettled(c, s, paid, "committed")
}

func channelClose(c *cli.Context) error {
	modes := 0
	for _, f := range []string{"peer", "force", "finish"} {
		if c.IsSet(f) {
			modes++
		}
	}
	s, err := openSide(c, true)
	if err != nil {
		return err
	}
	defer s.close()
	if s.payer != nil && modes != 1 {
		return usageErr(errors.New("give one of --peer (cooperative), --force (alone) or --finish"))
	}
	if s.payee != nil && modes != 0 {
		return usageErr(errors.New("a payee closes alone, at once, with its voucher: no --peer, --force or --finish"))
	}
	id := s.rec.Terms.ID
	var st *channel.Settlement
	switch {
	case s.payee != nil:
		st, err = s.payee.Close(c.Context, id)
	case c.Bool("finish"):
		err = s.payer.Finish(c.Context, id)
	case c.Bool("force"):
		err = s.payer.ForceClose(c.Context, id)
	default:
		st, err = s.payer.Close(c.Context, id, &channel.Peer{URL: c.String("peer")})
	}
	if err != nil {
		return err
	}
	did := "closed"
	switch {
	case c.Bool("force"):
		did = "close started; the worker may close with its voucher until the quarantine ends, then run close --finish"
	case c.Bool("finish"):
		did = "close finished and paid out"
	}
	var paid *big.Int
	if st != nil {
		paid = st.Voucher.Sent
	}
	return printSettled(c, s, paid, did)
}

// printSettled reports a commit or close; paid is the voucher amount it
// settled (nil when it settled none: a start or finish).
func printSettled(c *cli.Context, s *channelSide, paid *big.Int, did string) error {
	rec, err := s.store.Get(s.rec.Terms.ID)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		out := map[string]any{"channel": rec.Terms.ID, "result": did, "phase": rec.Phase}
		if paid != nil {
			out["sent"] = tonamount.Format(paid)
			out["withdrawn"] = tonamount.Format(rec.Withdrawn)
		}
		return walletPrintJSON(c.App.Writer, out)
	}
	fmt.Fprintf(c.App.Writer, "channel %s: %s\n", rec.Terms.ID, did)
	if paid != nil {
		fmt.Fprintf(c.App.Writer, "paid through the channel: %s TON\n", tonamount.Format(paid))
	}
	if rec.Phase == channel.PhaseClosed {
		// What this close sent each side, as the chain shows it.
		if toPayee, toPayer, err := channel.ClosePayouts(c.Context, s.net, rec); err == nil {
			fmt.Fprintf(c.App.Writer, "at the close: %s TON to the worker's owner, %s TON back to the payer (its unspent deposit and the reserve)\n",
				tonamount.Format(toPayee), tonamount.Format(toPayer))
		}
	}
	return nil
}

// channelJSON is the --json form of one channel.
type channelJSON struct {
	ID           string  `json:"id"`
	Role         string  `json:"role"`
	Address      string  `json:"address"`
	Phase        string  `json:"phase"`
	PayerKey     string  `json:"payer_key"`
	PayeeKey     string  `json:"payee_key"`
	PayerAddress string  `json:"payer_address"`
	PayeeAddress string  `json:"payee_address"`
	Deposit      string  `json:"deposit"`
	Sent         string  `json:"sent"`
	Withdrawn    string  `json:"withdrawn"`
	Left         string  `json:"left"`
	Seqno        uint64  `json:"voucher_seqno"`
	Quarantine   string  `json:"quarantine"`
	Chain        *ocJSON `json:"chain,omitempty"`
	// Settlement says where the money stands: "settled" (closed, paid
	// out), "open", or what is pending; Failure is the side's last
	// on-chain action that did not go through.
	Settlement string           `json:"settlement"`
	Failure    *channel.Failure `json:"failure,omitempty"`
	Warnings   []string         `json:"warnings,omitempty"`
}

// settlement describes where a channel's money stands for this side.
func settlement(r *channel.Record, oc *channel.OnChain) string {
	switch {
	case r.Phase == channel.PhaseClosed:
		return "settled"
	case oc != nil && (oc.Status == channel.StatusClosing || oc.Status == channel.StatusFinishable):
		return "pending: the payer's close alone runs; the quarantine ends " + oc.QuarantineEnds.UTC().Format(time.RFC3339)
	case r.Phase == channel.PhaseClosing:
		return "pending: a close was agreed or sent and the chain does not show it done yet"
	case r.Phase == channel.PhaseOpening:
		return "pending: agreed, not funded on chain yet"
	case r.Role == channel.RolePayee && r.Uncommitted().Sign() > 0:
		return "open: " + tonamount.Format(r.Uncommitted()) + " TON held in vouchers, not yet withdrawn"
	}
	return "open"
}

type ocJSON struct {
	Status         string `json:"status"`
	Balance        string `json:"balance"`
	Deposit        string `json:"deposit"`
	Withdrawn      string `json:"withdrawn"`
	CloseStarted   string `json:"close_started,omitempty"`
	QuarantineEnds string `json:"quarantine_ends,omitempty"`
}

func printChannels(c *cli.Context, recs []*channel.Record, chainState map[channel.ID]*channel.OnChain) error {
	w := c.App.Writer
	out := make([]channelJSON, 0, len(recs))
	for _, r := range recs {
		j := channelJSON{
			ID: r.Terms.ID.String(), Role: string(r.Role), Address: r.Address.String(), Phase: string(r.Phase),
			PayerKey: fmt.Sprintf("%x", []byte(r.Terms.PayerKey)), PayeeKey: fmt.Sprintf("%x", []byte(r.Terms.PayeeKey)),
			PayerAddress: r.Terms.PayerAddress.String(), PayeeAddress: r.Terms.PayeeAddress.String(),
			Deposit: tonamount.Format(r.Deposit), Sent: tonamount.Format(r.Sent()), Withdrawn: tonamount.Format(r.Withdrawn),
			Left: tonamount.Format(new(big.Int).Sub(r.Deposit, r.Sent())), Quarantine: r.Terms.Closing.Quarantine.String(),
			Settlement: settlement(r, chainState[r.Terms.ID]), Failure: r.Failure,
		}
		if r.Phase == channel.PhaseClosed {
			j.Left = tonamount.Format(new(big.Int)) // nothing left to promise: the rest went back to the payer
		}
		if r.Voucher != nil {
			j.Seqno = r.Voucher.Seqno
		}
		if oc := chainState[r.Terms.ID]; oc != nil {
			j.Chain = &ocJSON{Status: oc.Status.String(), Balance: tonamount.Format(oc.Balance), Deposit: tonamount.Format(oc.Deposit),
				Withdrawn: tonamount.Format(oc.Paid)}
			if !oc.CloseStarted.IsZero() {
				j.Chain.CloseStarted = oc.CloseStarted.UTC().Format(time.RFC3339)
				j.Chain.QuarantineEnds = oc.QuarantineEnds.UTC().Format(time.RFC3339)
				if r.Role == channel.RolePayee && oc.Paid.Cmp(r.Sent()) < 0 {
					j.Warnings = append(j.Warnings, "the payer started a close while the held voucher is unpaid: close with it (cocoon channel close) before someone finishes after "+j.Chain.QuarantineEnds)
				}
			}
		}
		out = append(out, j)
	}
	if c.Bool("json") {
		return walletPrintJSON(w, out)
	}
	if len(out) == 0 {
		fmt.Fprintln(w, "no channels in", c.String("dir"))
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tROLE\tPHASE\tDEPOSIT TON\tPAID TON\tWITHDRAWN TON\tLEFT TON\tCHAIN\tADDRESS")
	for _, j := range out {
		status := "-"
		if j.Chain != nil {
			status = j.Chain.Status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Role, j.Phase, j.Deposit, j.Sent, j.Withdrawn, j.Left, status, j.Address)
	}
	_ = tw.Flush()
	for _, j := range out {
		if strings.HasPrefix(j.Settlement, "pending") {
			fmt.Fprintf(w, "PENDING channel %s: %s\n", j.ID, strings.TrimPrefix(j.Settlement, "pending: "))
		}
		if j.Failure != nil {
			fmt.Fprintf(w, "FAILED channel %s: %s at %s: %s\n", j.ID, j.Failure.Op, j.Failure.At.Format(time.RFC3339), j.Failure.Error)
		}
		for _, warn := range j.Warnings {
			fmt.Fprintf(w, "WARNING channel %s: %s\n", j.ID, warn)
		}
	}
	return nil
}
