package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
	"github.com/xssnick/tonutils-go/address"
)

// TestReadParamsDeadlines: deploy's params must keep a worker's stake
// until every job it accepts is past its refund window (the contracts refuse
// SetParams otherwise).
func TestReadParamsDeadlines(t *testing.T) {
	owner := address.NewAddress(0, 0, make([]byte, 32))
	for _, tc := range []struct {
		args []string
		want string // "" when the params are accepted
	}{
		{nil, ""},
		{[]string{"--unbonding-delay", "25h10m", "--max-deadline", "24h"}, ""},
		{[]string{"--unbonding-delay", "25h9m59s", "--max-deadline", "24h"}, "must be at least --max-deadline + 3600s of refund window + 600s of margin = 90600s"},
		{[]string{"--unbonding-delay", "24h", "--max-deadline", "24h"}, "must be at least --max-deadline"},
		{[]string{"--unbonding-delay", "1h"}, "must be at least --max-deadline"},
		{[]string{"--min-deadline", "2h", "--max-deadline", "1h"}, "--min-deadline"},
	} {
		fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
		for _, f := range paramFlags() {
			if err := f.Apply(fs); err != nil {
				t.Fatal(err)
			}
		}
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		_, err := readParams(cli.NewContext(cli.NewApp(), fs, nil), nil, owner)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
