package nvgpu

import (
	"encoding/json"
	"testing"

	"github.com/cocoon-network/cocoon/offchain/attest/check"
)

func TestReferenceOnRealReport(t *testing.T) {
	raw, _ := testdata(t)
	r, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	b2 := Hex(r.Blocks[1].Value) // index 2
	other := Hex(make([]byte, 48))
	for _, c := range []struct {
		name string
		ref  map[int][]Hex
		fail bool
	}{
		{"matches", map[int][]Hex{2: {b2}}, false},
		{"matches an alternative", map[int][]Hex{2: {other, b2}}, false},
		{"no reference value matches", map[int][]Hex{2: {other}}, true},
		{"names an index the report lacks", map[int][]Hex{2: {b2}, 200: {other}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := (&Reference{Name: "test", Measurements: c.ref}).Check(r, &check.Log{})
			if (err != nil) != c.fail || (err != nil && check.Name(err) != CheckReference) {
				t.Fatalf("err = %v, want failure %v", err, c.fail)
			}
		})
	}
	// The JSON form a policy file carries.
	var ref Reference
	if err := json.Unmarshal([]byte(`{"name":"545.00/96.00.5E.00.01","measurements":{"2":["`+b2.String()+`"]}}`), &ref); err != nil {
		t.Fatal(err)
	}
	if err := ref.Check(r, &check.Log{}); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{"measurements":{"2":["zz"]}}`), &ref); err == nil {
		t.Fatal("a non-hex reference value parsed")
	}
}
