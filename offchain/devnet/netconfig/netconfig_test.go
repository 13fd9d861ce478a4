package netconfig

import "testing"

func TestMainnetConfig(t *testing.T) {
	c, err := Mainnet()
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := c.GlobalVersion()
	if err != nil {
		t.Fatal(err)
	}
	// Code compiled by Tolk 1.3 needs global version >= 12 (e.g. INMSG_BOUNCED);
	// an older config makes such contracts fail with exit code 6.
	if v < 12 {
		t.Fatalf("global version %d, want >= 12", v)
	}
	id, err := c.GlobalID()
	if err != nil {
		t.Fatal(err)
	}
	if id != -239 {
		t.Fatalf("global id %d, want -239 (mainnet)", id)
	}
}
