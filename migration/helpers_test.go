package migration_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Fixed ids and times so failures print the same every run.
var (
	migID    = migration.IDFromUUID(uuid.MustParse("0a000000-0000-4000-8000-000000000001"))
	otherMig = migration.IDFromUUID(uuid.MustParse("0a000000-0000-4000-8000-000000000002"))
	instID   = vmmstate.InstanceIDFromUUID(uuid.MustParse("1b000000-0000-4000-8000-000000000001"))
	vmm1     = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-000000000001"))
	vmm2     = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-000000000002"))
	vmm3     = vmmstate.IDFromUUID(uuid.MustParse("2c000000-0000-4000-8000-000000000003"))

	t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
	t2 = t0.Add(2 * time.Second)
	t3 = t0.Add(3 * time.Second)
)

func gen(n uint32) generation.Generation { return generation.Of(n) }

func maxGen() generation.Generation {
	g, err := generation.FromInt64(generation.Max)
	if err != nil {
		panic(err)
	}
	return g
}

// sentinels are every sentinel an operation of this package may wrap.
var sentinels = []error{
	migration.ErrWrongVMM, migration.ErrSameMigration, migration.ErrIDMismatch,
	migration.ErrIllegalTransition, migration.ErrInvalidState, migration.ErrInvalidRecord,
	migration.ErrUnknown, migration.ErrInvalidID, generation.ErrOverflow,
}

// checkErr asserts the D3 contract: err is a *migration.Error for role and
// field whose sentinel is want, and it matches no other sentinel.
func checkErr(t testing.TB, what string, err, want error, role migration.Role, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, want)
	}
	var me *migration.Error
	if !errors.As(err, &me) {
		t.Fatalf("%s: error %v (%T) is not a *migration.Error", what, err, err)
	}
	if me.Err != want || me.Role != role || me.Field != field {
		t.Fatalf("%s: Error{Role: %v, Field: %q, Err: %v}, want {%v, %q, %v}", what, me.Role, me.Field, me.Err, role, field, want)
	}
	if me.Got == "" || me.Want == "" {
		t.Fatalf("%s: Error{Got: %q, Want: %q} does not say what was wrong", what, me.Got, me.Want)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Fatalf("%s: errors.Is(err, %q) = %v", what, s, got)
		}
	}
}
