package pgstore

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// fakeRow is a row of column values, scanned as pgx scans them into the
// destinations the readers use.
type fakeRow []any

func (r fakeRow) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(r))
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *pgtype.UUID:
			*d = r[i].(pgtype.UUID)
		case *pgtype.Timestamptz:
			*d = r[i].(pgtype.Timestamptz)
		case *pgtype.Text:
			*d = r[i].(pgtype.Text)
		case *pgtype.Interval:
			*d = r[i].(pgtype.Interval)
		case *pgtype.Bool:
			*d = r[i].(pgtype.Bool)
		case *string:
			*d = r[i].(string)
		case *int64:
			*d = r[i].(int64)
		default:
			return fmt.Errorf("column %d: destination %T", i, d)
		}
	}
	return nil
}

// FuzzRows: whatever a row's columns hold, reading it never panics, and a
// row it reads writes back (instanceValues, vmmValues, migrationValues) to
// the enum values it was read from — in their canonical spelling, since an
// instance's state parses in any ASCII case as Omicron's does (a column of
// the database's enum type only ever holds the canonical one).
func FuzzRows(f *testing.F) {
	f.Add("vmm", "running", "", int64(3), int64(1), int64(0), int32(0), "", "", true, byte(1), byte(2))
	f.Add("no_vmm", "stopped", "failed", int64(2), int64(4), int64(60_000_000), int32(1), "internal", "user", false, byte(3), byte(0))
	f.Add("failed", "sled_off", "pending", int64(-1), int64(0), int64(-5), int32(2), "vmm_gone", "auto_restart", true, byte(0), byte(9))
	f.Add("in_progress", "", "completed", int64(0), int64(7), int64(1), int32(0), "", "", true, byte(5), byte(6))
	f.Add("vMm", "running", "", int64(3), int64(1), int64(0), int32(0), "", "", true, byte(1), byte(2))
	f.Fuzz(func(t *testing.T, state, second, third string, gen, gen2, micros int64, days int32, cause, startReason string, flag bool, b1, b2 byte) {
		text := func(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }
		id := func(b byte) pgtype.UUID { return uuidOf([16]byte{15: b}) }
		at := pgtype.Timestamptz{Time: time.Unix(micros%1e11, 0).UTC(), Valid: flag}

		if row, err := scanVMM(fakeRow{id(b1), at, id(b2), id(b1), at, gen, state, text(second)}); err == nil {
			if got := vmmValues(row)[6]; got != state {
				t.Fatalf("state column %q written back as %v", state, got)
			}
		}
		if row, err := scanInstance(fakeRow{id(b1), at, state, at, gen, id(b2), id(b2), id(b1), id(b2), gen2,
			second, text(third), pgtype.Interval{Microseconds: micros, Days: days, Valid: micros != 0}, at,
			text(cause), pgtype.Bool{Bool: flag, Valid: cause != ""}, text(startReason), at, text(third), at}); err == nil {
			canonical := row.Instance.Runtime.State.String()
			if !strings.EqualFold(canonical, state) {
				t.Fatalf("state %q read as %v", state, canonical)
			}
			if back := instanceValues(row); back[2] != canonical || back[10] != second {
				t.Fatalf("state %q and intent %q written back as %v and %v", state, second, back[2], back[10])
			}
		}
		if row, err := scanMigration(fakeRow{id(b1), id(b2), at, at, state, id(b1), gen, at, third, id(b2), gen2, at}); err == nil {
			if back := migrationValues(row); back[4] != state || back[8] != third {
				t.Fatalf("states %q/%q written back as %v/%v", state, third, back[4], back[8])
			}
		}
	})
}
