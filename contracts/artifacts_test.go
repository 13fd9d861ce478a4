package contracts

import "testing"

func TestEmbeddedArtifacts(t *testing.T) {
	entries, err := artifacts.ReadDir("build")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no compiled contracts embedded")
	}
	for _, e := range entries {
		name := e.Name()[:len(e.Name())-len(".json")]
		a, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Code(); err != nil {
			t.Error(err)
		}
		if a.Compiler == "" {
			t.Errorf("%s: compiler version not recorded", name)
		}
	}
	if _, err := Load("no-such-contract"); err == nil {
		t.Error("loading a missing contract succeeded")
	}
}
