package toncenter

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/xssnick/tonutils-go/address"

	"github.com/cocoon-network/cocoon/offchain/boc"
	"github.com/cocoon-network/cocoon/offchain/boc/boctest"
	"github.com/cocoon-network/cocoon/offchain/chain"
)

// A server's answers are untrusted: the BOCs that crash tonutils-go's
// parser are errors here, not panics.
func TestMalformedBOCsFromTheServer(t *testing.T) {
	t.Parallel()
	goodID := `{"@type":"internal.transactionId","lt":"39915628000009","hash":"` + fxTxHash + `"}`
	for _, tc := range boctest.Cases() {
		if tc.BOC == nil {
			continue
		}
		b := base64.StdEncoding.EncodeToString(tc.BOC)
		t.Run(tc.Name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, map[string][]reply{
				"runGetMethod":          ok(`{"gas_used":1,"stack":[["cell",{"bytes":"` + b + `"}]],"exit_code":0}`),
				"getTransactions":       ok(`[{"utime":1,"data":"` + b + `","transaction_id":` + goodID + `}]`),
				"getAddressInformation": ok(`{"balance":"1","state":"active","code":"` + b + `","data":"","last_transaction_id":{"lt":"0","hash":""}}`),
			})
			c := f.client()
			ctx := context.Background()
			if _, err := c.RunGetMethod(ctx, fxAddress(), "m"); !errors.Is(err, boc.ErrMalformed) {
				t.Errorf("runGetMethod: %v", err)
			}
			if _, err := c.Transactions(ctx, address.MustParseAddr(fxAddr), chain.TxID{}, 10); !errors.Is(err, boc.ErrMalformed) {
				t.Errorf("getTransactions: %v", err)
			}
			if _, err := c.Account(ctx, fxAddress()); !errors.Is(err, boc.ErrMalformed) {
				t.Errorf("getAddressInformation: %v", err)
			}
			if _, err := c.SendExternal(ctx, tc.BOC); !errors.Is(err, boc.ErrMalformed) {
				t.Errorf("SendExternal: %v", err)
			}
		})
	}
}
