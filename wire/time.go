package wire

import (
	"errors"
	"time"
)

// The phrases naming what a time field accepts.
const (
	AcceptTime = "an RFC 3339 time such as 2026-11-21T10:00:00Z"
)

// The errors of ParseTime.
var (
	// ErrTime: not an RFC 3339 time, or one vmlife could not write back to
	// the same instant.
	ErrTime = errors.New("not an RFC 3339 time vmlife can write back")
	// ErrTimeRange: an RFC 3339 time whose instant falls outside years
	// 0000..9999 in UTC, the only years RFC 3339 can write.
	ErrTimeRange = errors.New("time outside years 0000..9999 in UTC")
)

// ParseTime reads an RFC 3339 time: YYYY-MM-DDTHH:MM:SS, an optional
// fraction of one to nine digits after a dot, and Z or an offset ±HH:MM.
// The T and Z may be lower case, as RFC 3339 allows and Omicron's parser
// accepts. What vmlife could not write back to the same instant is refused
// (ErrTime): a day the month does not have, second 60, an offset of 24 hours
// or more, a comma before the fraction, more than nine fraction digits; and
// an instant outside years 0000..9999 in UTC, which AppendTime could not
// write (ErrTimeRange).
// The result is in UTC.
func ParseTime(b []byte) (time.Time, error) {
	// 2006-01-02T15:04:05 is 19 bytes; then fraction and zone.
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || (b[10] != 'T' && b[10] != 't') || b[13] != ':' || b[16] != ':' {
		return time.Time{}, ErrTime
	}
	year, ok1 := digits(b[0:4])
	month, ok2 := digits(b[5:7])
	day, ok3 := digits(b[8:10])
	hour, ok4 := digits(b[11:13])
	minute, ok5 := digits(b[14:16])
	sec, ok6 := digits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, ErrTime
	}
	rest := b[19:]
	nsec := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		frac := n - 1
		if frac == 0 || frac > 9 {
			return time.Time{}, ErrTime
		}
		v, _ := digits(rest[1:n])
		for i := frac; i < 9; i++ {
			v *= 10
		}
		nsec, rest = v, rest[n:]
	}
	offset := 0
	switch {
	case len(rest) == 1 && (rest[0] == 'Z' || rest[0] == 'z'):
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, ErrTime
		}
		offset = (oh*60 + om) * 60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, ErrTime
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-time.Duration(offset) * time.Second)
	if y := t.Year(); y < 0 || y > 9999 {
		return time.Time{}, ErrTimeRange
	}
	return t, nil
}

// AppendTime appends t in UTC as RFC 3339 with the fraction it needs, the
// form every vmlife document writes and ParseTime reads back to the same
// instant.
func AppendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, time.RFC3339Nano)
}

// AppendTimeOrNull appends t as a JSON string, or null for the zero time
// (a NULL column).
func AppendTimeOrNull(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = AppendTime(b, t)
	return append(b, '"')
}

// CanWriteTime reports whether AppendTime writes t in a form ParseTime
// reads back: its year in UTC is 0000..9999.
func CanWriteTime(t time.Time) bool {
	y := t.UTC().Year()
	return y >= 0 && y <= 9999
}

// digits reads an unsigned decimal of ASCII digits only.
func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
