package bindings

import "testing"

// The wrapper's cost per message, against the old hand-written codec's
// (see docs/DESIGN-NOTES.md, "Messages are declared as data").

func BenchmarkEncodeJobCreate(b *testing.B) {
	m := JobCreate{QueryID: 1, Terms: sampleTerms()}
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBodyJobClosed(b *testing.B) {
	c := MustCell(Encode(JobClosed{QueryID: 1, Reason: ClosedExpired}))
	for b.Loop() {
		if _, err := DecodeBody(c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseWorkerStorage(b *testing.B) {
	snap := sampleSnapshot()
	c := MustCell(Encode(WorkerStorage{Root: testAddr(1), Owner: testAddr(2), WorkerKey: h("k"), Status: WorkerActive, State: &WorkerState{
		Stake: ton(20), Earnings: ton(0.5), Profile: sampleProfile(), Counters: WorkerCounters{TotalEarned: ton(1.5)}, Snapshot: &snap,
	}}))
	for b.Loop() {
		if _, err := Parse[WorkerStorage](c); err != nil {
			b.Fatal(err)
		}
	}
}
