package instancestate

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/internal/enum"
	"github.com/vmlife/vmlife/vmmstate"
)

// wireEnum is what D2, D3 and D9 ask of every enum's value.
type wireEnum interface {
	~uint8
	IsValid() bool
	String() string
	MarshalText() ([]byte, error)
	AppendText([]byte) ([]byte, error)
}

// wirePtr is what D9 asks of every enum's pointer.
type wirePtr[E any] interface {
	*E
	UnmarshalText([]byte) error
}

// columns names the enums that are database columns (D9): those, and only
// those, are sql.Scanners and driver.Valuers. Decision outputs nobody
// stores (actions, conditions, next kinds, network actions, reincarnatability) are not.
var columns = map[string]bool{
	"instancestate.NexusState": true, "instancestate.IntendedState": true,
	"instancestate.AutoRestartPolicy": true, "instancestate.LostCause": true,
}

// asColumn returns v's column interfaces, or nils for an enum that is none.
func asColumn[E any](v *E) (driver.Valuer, sql.Scanner) {
	dv, _ := any(*v).(driver.Valuer)
	sc, _ := any(v).(sql.Scanner)
	return dv, sc
}

// enumSpec is one enum's contract: its Go type's name, its wire strings in
// declaration order (written from the spec, not read from the code), its
// All function and Parse function where it has them, and whether parsing
// folds case.
type enumSpec[E wireEnum] struct {
	typ   string
	names []string
	all   func() []E
	parse func(string) (E, error)
	fold  bool
}

func checkUnknownErr(t *testing.T, what string, err error, typ string, names []string) {
	t.Helper()
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("%s: %v does not match ErrUnknown", what, err)
	}
	var ee *enum.Error
	if !errors.As(err, &ee) || ee.Type != typ || !slices.Equal(ee.Accepted, names) {
		t.Fatalf("%s: %v does not name %s and its accepted values %v", what, err, typ, names)
	}
}

func checkEnum[E wireEnum, P wirePtr[E]](t *testing.T, spec enumSpec[E]) {
	t.Helper()
	n := len(spec.names)
	var probe E
	if dv, sc := asColumn(&probe); (dv != nil) != columns[spec.typ] || (sc != nil) != columns[spec.typ] {
		t.Errorf("%s: Valuer %v, Scanner %v; want both only for a database column (%v)", spec.typ, dv != nil, sc != nil, columns[spec.typ])
	}
	if spec.all != nil {
		all := spec.all()
		if len(all) != n {
			t.Fatalf("%s: All gives %v, want %d values", spec.typ, all, n)
		}
		for i, v := range all {
			if v != E(i+1) {
				t.Fatalf("%s: All is not in declaration order: %v", spec.typ, all)
			}
		}
		all[0] = 0
		if spec.all()[0] == 0 {
			t.Fatalf("%s: All shares its slice", spec.typ)
		}
	}
	for i, name := range spec.names {
		v := E(i + 1)
		what := fmt.Sprintf("%s %q", spec.typ, name)
		if !v.IsValid() || v.String() != name {
			t.Errorf("%s: IsValid %v, String %q", what, v.IsValid(), v.String())
		}
		if b, err := v.MarshalText(); err != nil || string(b) != name {
			t.Errorf("%s: MarshalText %q, %v", what, b, err)
		}
		if b, err := v.AppendText([]byte("x:")); err != nil || string(b) != "x:"+name {
			t.Errorf("%s: AppendText %q, %v", what, b, err)
		}
		if vv, _ := asColumn(&v); vv != nil {
			if dv, err := vv.Value(); err != nil || dv != name {
				t.Errorf("%s: Value %v, %v", what, dv, err)
			}
		}
		if b, err := json.Marshal(v); err != nil || string(b) != `"`+name+`"` {
			t.Errorf("%s: JSON %s, %v", what, b, err)
		}
		var got E
		if err := P(&got).UnmarshalText([]byte(name)); err != nil || got != v {
			t.Errorf("%s: UnmarshalText gave %v, %v", what, got, err)
		}
		for _, src := range []any{name, []byte(name)} {
			got = 0
			if _, sc := asColumn(&got); sc != nil {
				if err := sc.Scan(src); err != nil || got != v {
					t.Errorf("%s: Scan(%T) gave %v, %v", what, src, got, err)
				}
			}
		}
		if spec.parse != nil {
			if got, err := spec.parse(name); err != nil || got != v {
				t.Errorf("%s: Parse gave %v, %v", what, got, err)
			}
		}
		// Case: folded only where the spec says so (§6.4).
		upper := strings.ToUpper(name)
		got = 0
		err := P(&got).UnmarshalText([]byte(upper))
		switch {
		case upper == name:
		case spec.fold && (err != nil || got != v):
			t.Errorf("%s: %q does not fold to it: %v, %v", what, upper, got, err)
		case !spec.fold && err == nil:
			t.Errorf("%s: strict enum accepted %q", what, upper)
		}
	}

	// Invalid values: the zero value and past the end are invalid, print
	// as pkg.Type(n), never panic, and refuse to be written.
	for _, k := range []int{0, n + 1, 255} {
		v := E(k)
		what := fmt.Sprintf("%s(%d)", spec.typ, k)
		if v.IsValid() || v.String() != what || fmt.Sprint(v) != what {
			t.Errorf("%s: IsValid %v, String %q", what, v.IsValid(), v.String())
		}
		if b, err := v.MarshalText(); err == nil || b != nil {
			t.Errorf("%s: MarshalText %q, %v", what, b, err)
		} else {
			checkUnknownErr(t, what+" MarshalText", err, spec.typ, spec.names)
		}
		if b, err := v.AppendText([]byte("x:")); err == nil || string(b) != "x:" {
			t.Errorf("%s: AppendText %q, %v", what, b, err)
		}
		if vv, _ := asColumn(&v); vv != nil {
			if dv, err := vv.Value(); err == nil || dv != nil {
				t.Errorf("%s: Value %v, %v", what, dv, err)
			}
		}
		if _, err := json.Marshal(v); err == nil {
			t.Errorf("%s: JSON-encoded", what)
		}
	}

	// Unknown input: an error naming the type and the accepted values, the
	// destination unchanged.
	for _, in := range []string{"", "x", spec.names[0] + " ", " " + spec.names[0], spec.names[n-1] + "\x00", "0", "1"} {
		dst := E(n)
		err := P(&dst).UnmarshalText([]byte(in))
		if err == nil || dst != E(n) {
			t.Errorf("%s: UnmarshalText(%q) gave %v, %v", spec.typ, in, dst, err)
			continue
		}
		checkUnknownErr(t, fmt.Sprintf("%s UnmarshalText(%q)", spec.typ, in), err, spec.typ, spec.names)
		if spec.parse != nil {
			if v, err := spec.parse(in); err == nil || v != 0 {
				t.Errorf("%s: Parse(%q) gave %v, %v", spec.typ, in, v, err)
			}
		}
	}
	for _, src := range []any{nil, 1, int64(1), 1.0, true, []int{1}} {
		dst := E(n)
		_, sc := asColumn(&dst)
		if sc == nil {
			break
		}
		err := sc.Scan(src)
		if err == nil || dst != E(n) {
			t.Errorf("%s: Scan(%#v) gave %v, %v", spec.typ, src, dst, err)
			continue
		}
		checkUnknownErr(t, fmt.Sprintf("%s Scan(%#v)", spec.typ, src), err, spec.typ, spec.names)
	}
}

func TestNexusStateWire(t *testing.T) {
	checkEnum[NexusState](t, enumSpec[NexusState]{
		typ: "instancestate.NexusState", names: []string{"creating", "no_vmm", "vmm", "failed", "destroyed"},
		all: AllNexusStates, parse: ParseNexusState, fold: true,
	})
	// Omicron's display labels read back (§6.4, §21.1); writing is lower case.
	for in, want := range map[string]NexusState{"no_VMM": NexusNoVMM, "VMM": NexusVMM, "NO_VMM": NexusNoVMM, "Vmm": NexusVMM, "Creating": NexusCreating, "FAILED": NexusFailed, "Destroyed": NexusDestroyed} {
		got, err := ParseNexusState(in)
		if err != nil || got != want {
			t.Errorf("ParseNexusState(%q) = %v, %v; want %v", in, got, err, want)
		}
		var s NexusState
		if err := s.Scan(in); err != nil || s != want {
			t.Errorf("Scan(%q) = %v, %v", in, s, err)
		}
		if b, _ := got.MarshalText(); string(b) != strings.ToLower(in) {
			t.Errorf("%q writes as %q, want lower case", in, b)
		}
	}
	if _, err := ParseNexusState("no-vmm"); err == nil {
		t.Error("folding case must not fold punctuation")
	}
}

func TestIntendedStateWire(t *testing.T) {
	checkEnum[IntendedState](t, enumSpec[IntendedState]{
		typ: "instancestate.IntendedState", names: []string{"running", "stopped", "guest_shutdown", "destroyed"},
		all: AllIntendedStates, parse: ParseIntendedState,
	})
}

func TestAutoRestartPolicyWire(t *testing.T) {
	checkEnum[AutoRestartPolicy](t, enumSpec[AutoRestartPolicy]{
		typ: "instancestate.AutoRestartPolicy", names: []string{"never", "best_effort"},
		all: AllAutoRestartPolicies, parse: ParseAutoRestartPolicy,
	})
}

func TestRequestWire(t *testing.T) {
	checkEnum[Request](t, enumSpec[Request]{
		typ: "instancestate.Request", names: []string{"start", "stop", "reboot", "migrate", "delete"},
		all: AllRequests, parse: ParseRequest,
	})
}

// TestActionWire: docs/cli.md's requests.*.action strings.
func TestActionWire(t *testing.T) {
	checkEnum[Action](t, enumSpec[Action]{
		typ:   "instancestate.Action",
		names: []string{"already_done", "start_saga", "send_to_sled", "update_runtime", "migrate_saga", "delete_saga", "reject"},
		all:   AllActions,
	})
}

// TestSledRequestWire: §3.2's VmmStateRequested strings.
func TestSledRequestWire(t *testing.T) {
	checkEnum[SledRequest](t, enumSpec[SledRequest]{
		typ: "instancestate.SledRequest", names: []string{"running", "stopped", "reboot", "migration_target"},
	})
}

// TestNetworkActionWire: docs/cli.md's update.network.action strings.
func TestNetworkActionWire(t *testing.T) {
	checkEnum[NetworkAction](t, enumSpec[NetworkAction]{
		typ: "instancestate.NetworkAction", names: []string{"update", "delete"},
	})
}

// TestReincarnatabilityWire: docs/cli.md's reincarnation.status strings.
func TestReincarnatabilityWire(t *testing.T) {
	checkEnum[Reincarnatability](t, enumSpec[Reincarnatability]{
		typ: "instancestate.Reincarnatability", names: []string{"will_reincarnate", "cooling_down", "nirvana"},
	})
}

// TestConditionTypeWire: D14's condition types, Kubernetes-style names.
func TestConditionTypeWire(t *testing.T) {
	checkEnum[ConditionType](t, enumSpec[ConditionType]{
		typ: "instancestate.ConditionType", names: []string{"StartFailed", "SledUnreachable", "AutoRestartCoolingDown", "VMMLost", "NotProgressing", "MigrationStalled"},
	})
}

// TestNextKindWire: docs/cli.md's next_action.action strings.
func TestNextKindWire(t *testing.T) {
	checkEnum[NextKind](t, enumSpec[NextKind]{
		typ: "instancestate.NextKind", names: []string{"none", "start", "stop", "run_update", "reincarnate", "wait", "inspect", "abort_migration"},
		all: AllNextKinds,
	})
}

// TestStateIsVMMStateExternal: the external state is vmmstate.External
// under plain names (§2.1), in declaration order.
func TestStateIsVMMStateExternal(t *testing.T) {
	ours := []State{Creating, Starting, Running, Stopping, Stopped, Rebooting, Migrating, Repairing, Failed, Destroyed}
	names := []string{"creating", "starting", "running", "stopping", "stopped", "rebooting", "migrating", "repairing", "failed", "destroyed"}
	if !slices.Equal(ours, vmmstate.AllExternal()) {
		t.Fatalf("%v != %v", ours, vmmstate.AllExternal())
	}
	for i, s := range ours {
		if s.String() != names[i] {
			t.Errorf("%d: %q, want %q", i, s.String(), names[i])
		}
	}
}

// TestParseIDs: the instance and updater id parsers take the canonical
// UUID form and refuse anything else.
func TestParseIDs(t *testing.T) {
	if id, err := ParseID(instID.String()); err != nil || id != instID {
		t.Fatalf("ParseID: %v, %v", id, err)
	}
	if id, err := ParseUpdaterID(upd1.String()); err != nil || id != upd1 {
		t.Fatalf("ParseUpdaterID: %v, %v", id, err)
	}
	for _, bad := range []string{"", "x", strings.ToUpper(instID.String())[:35]} {
		if _, err := ParseID(bad); err == nil {
			t.Errorf("ParseID(%q) accepted", bad)
		}
		if _, err := ParseUpdaterID(bad); err == nil {
			t.Errorf("ParseUpdaterID(%q) accepted", bad)
		}
	}
}

// TestNexusStateFoldsASCIICaseOnly: the instance state column's parser
// folds ASCII case, as Omicron's does for its mixed-case labels (no_VMM,
// VMM, §6.4), and never by Unicode rules (D24).
func TestNexusStateFoldsASCIICaseOnly(t *testing.T) {
	for in, want := range map[string]NexusState{"no_VMM": NexusNoVMM, "VMM": NexusVMM, "DESTROYED": NexusDestroyed} {
		if n, err := ParseNexusState(in); err != nil || n != want {
			t.Errorf("ParseNexusState(%q) = %v, %v; want %v", in, n, err, want)
		}
	}
	for _, in := range []string{"deſtroyed", "no_vmm\u212a", "faıled"} {
		if n, err := ParseNexusState(in); err == nil {
			t.Errorf("ParseNexusState(%q) = %v; want an error", in, n)
		}
	}
}

func TestLostCauseWire(t *testing.T) {
	checkEnum[LostCause](t, enumSpec[LostCause]{
		typ: "instancestate.LostCause", names: []string{"start_unwound", "mid_migration"},
		all: AllLostCauses, parse: ParseLostCause,
	})
}
