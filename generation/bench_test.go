package generation_test

import (
	"testing"

	"github.com/vmlife/vmlife/generation"
)

func BenchmarkNext(b *testing.B) {
	b.ReportAllocs()
	g := generation.Initial()
	for b.Loop() {
		g, _ = g.Next()
	}
}

func BenchmarkAfter(b *testing.B) {
	b.ReportAllocs()
	stored, reported := generation.Of(41), generation.Of(42)
	for b.Loop() {
		reported.After(stored)
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generation.Parse("9223372036854775807"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseError(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := generation.Parse("-1"); err == nil {
			b.Fatal("accepted -1")
		}
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	b.ReportAllocs()
	g := generation.Of(123456)
	for b.Loop() {
		if _, err := g.MarshalJSON(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalJSON(b *testing.B) {
	b.ReportAllocs()
	in := []byte("123456")
	var g generation.Generation
	for b.Loop() {
		if err := g.UnmarshalJSON(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendText(b *testing.B) {
	b.ReportAllocs()
	g := generation.Of(123456)
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf, _ = g.AppendText(buf[:0])
	}
}
