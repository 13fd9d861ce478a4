package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/cocoon-network/cocoon/offchain/demo"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run the whole flow on an embedded devnet: deploy Root, register a worker, submit jobs, read sealed answers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "directory to keep devnet/, worker/ and client/ in (default: a temporary one, removed afterwards)"},
			&cli.StringFlag{Name: "prompt", Usage: "ask every job this instead of the default prompts"},
			&cli.IntFlag{Name: "jobs", Value: 3, Usage: "how many jobs to submit"},
		},
		Action: func(c *cli.Context) error {
			dir := c.String("data")
			if dir == "" {
				tmp, err := os.MkdirTemp("", "cocoon-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(tmp)
				dir = tmp
			}
			if c.Int("jobs") < 1 || c.Int("jobs") > 100 {
				return fmt.Errorf("--jobs %d: between 1 and 100", c.Int("jobs"))
			}
			start := time.Now()
			_, err := demo.Run(c.Context, demo.Options{Dir: dir, Prompt: c.String("prompt"), Jobs: c.Int("jobs"), Out: os.Stdout})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "(finished in %s", time.Since(start).Round(100*time.Millisecond))
			if c.IsSet("data") {
				fmt.Fprintf(os.Stderr, "; devnet/, worker/ and client/ are in %s", dir)
			}
			fmt.Fprintln(os.Stderr, ")")
			return nil
		},
	}
}
