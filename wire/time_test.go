package wire_test

import (
	"errors"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/wire"
)

// TestParseTimeAccepts: the RFC 3339 forms vmlife reads, each as the
// instant it names, in UTC.
func TestParseTimeAccepts(t *testing.T) {
	want := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	for in, at := range map[string]time.Time{
		"2026-11-21T10:00:00Z":                want,
		"2026-11-21t10:00:00z":                want, // RFC 3339 allows lower case; Omicron's parser accepts it
		"2026-11-21T12:30:00+02:30":           want,
		"2026-11-21T05:00:00-05:00":           want,
		"2026-11-21T10:00:00.5Z":              want.Add(500 * time.Millisecond),
		"2026-11-21T10:00:00.123456789Z":      want.Add(123456789),
		"2024-02-29T00:00:00Z":                time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC),
		"0000-01-01T00:00:00Z":                time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		"9999-12-31T23:59:59.999999999Z":      time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		"2026-11-21T23:59:59+23:59":           time.Date(2026, 11, 21, 0, 0, 59, 0, time.UTC),
		"0001-01-01T00:00:00.000000001+00:00": time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		got, err := wire.ParseTime([]byte(in))
		if err != nil || !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC", in, got, err, at)
		}
	}
}

// TestParseTimeRefuses: what vmlife could not write back to the same
// instant is refused, with ErrTimeRange for an instant outside the years
// RFC 3339 writes and ErrTime for everything else.
func TestParseTimeRefuses(t *testing.T) {
	for in, want := range map[string]error{
		"2026-11-21T10:00:00+24:00":       wire.ErrTime, // an offset of a whole day
		"2026-11-21T10:00:00,5Z":          wire.ErrTime, // a comma before the fraction
		"2026-11-21T10:00:00.Z":           wire.ErrTime,
		"2026-11-21T10:00:00.1234567891Z": wire.ErrTime, // ten fraction digits
		"2026-02-30T10:00:00Z":            wire.ErrTime,
		"2025-02-29T10:00:00Z":            wire.ErrTime,
		"2026-11-21T24:00:00Z":            wire.ErrTime,
		"2026-11-21T10:00:60Z":            wire.ErrTime, // a leap second
		"2026-11-21T10:00:00":             wire.ErrTime, // no zone
		"2026-11-21 10:00:00Z":            wire.ErrTime,
		"2026-11-21T10:00:00+0200":        wire.ErrTime,
		"+2026-11-21T10:00:00Z":           wire.ErrTime,
		"2026-11-21T10:00:00Zjunk":        wire.ErrTime,
		"２０２６-11-21T10:00:00Z":            wire.ErrTime, // not ASCII digits
		"":                                wire.ErrTime,
		"9999-12-31T23:59:59-01:00":       wire.ErrTimeRange, // year 10000 in UTC
		"0000-01-01T00:00:00+00:01":       wire.ErrTimeRange, // year -1 in UTC
	} {
		if got, err := wire.ParseTime([]byte(in)); !errors.Is(err, want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// FuzzParseTime: every time ParseTime accepts is written back by
// AppendTime as one it reads to the same instant, byte-identically on the
// next round; and what it accepts, time.Parse accepts as the same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2026-11-21T10:00:00Z", "2026-11-21t10:00:00.5+05:30", "9999-12-31T23:59:59-01:00", "2026-11-21T10:00:00+24:00", "0000-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := wire.ParseTime([]byte(s))
		if err != nil {
			return
		}
		w := wire.AppendTime(nil, got)
		back, err := wire.ParseTime(w)
		if err != nil || !back.Equal(got) {
			t.Fatalf("%q → %v → %s → %v, %v", s, got, w, back, err)
		}
		if w2 := wire.AppendTime(nil, back); string(w2) != string(w) {
			t.Fatalf("not byte-identical: %s, %s", w, w2)
		}
		if ref, err := time.Parse(time.RFC3339Nano, s); err == nil && !ref.Equal(got) {
			t.Fatalf("%q: time.Parse says %v, ParseTime %v", s, ref, got)
		}
	})
}

// TestPropTimeRoundTrip: every instant in the years RFC 3339 writes, at
// any nanosecond and read in any zone, writes and reads back to itself.
func TestPropTimeRoundTrip(t *testing.T) {
	lo := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	rapid.Check(t, func(t *rapid.T) {
		at := time.Unix(rapid.Int64Range(lo, hi).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec"))
		zone := time.FixedZone("", rapid.IntRange(-23*3600, 23*3600).Draw(t, "offset"))
		b := wire.AppendTime(nil, at.In(zone))
		got, err := wire.ParseTime(b)
		if err != nil || !got.Equal(at) || !wire.CanWriteTime(at) {
			t.Fatalf("%v → %s → %v, %v", at, b, got, err)
		}
	})
}
