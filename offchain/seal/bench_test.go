package seal

import (
	"bytes"
	"testing"
)

// 4 KiB is a typical chat prompt with some context.
const benchSize = 4 << 10

func BenchmarkSeal(b *testing.B) {
	pt := bytes.Repeat([]byte("a"), benchSize)
	for _, s := range Suites() {
		b.Run(s.String(), func(b *testing.B) {
			pub := mustKey(b, s).Public()
			b.SetBytes(benchSize)
			for b.Loop() {
				if _, err := SealRequest(pub, testJob, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	pt := bytes.Repeat([]byte("a"), benchSize)
	for _, s := range Suites() {
		b.Run(s.String(), func(b *testing.B) {
			k := mustKey(b, s)
			env := mustSeal(b, k.Public(), PurposeRequest, testJob, pt)
			b.SetBytes(benchSize)
			for b.Loop() {
				if _, err := OpenRequest(k, testJob, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
