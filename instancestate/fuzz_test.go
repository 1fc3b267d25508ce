package instancestate

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzReportJSON: Report.UnmarshalJSON never panics; what it accepts
// writes back, and reading and writing that again is byte-identical; what
// it refuses leaves the report as it was and says so with a typed error.
func FuzzReportJSON(f *testing.F) {
	for _, s := range []string{
		`{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"},"migration_in":null,"migration_out":null}`,
		`{"vmm_state":{"state":"failed","gen":5,"time_updated":"2026-11-21T10:01:00.5+02:00"},"migration_in":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"failed","gen":3,"time_updated":"2026-11-21T10:01:00Z"}}`,
		`{"vmm_state":{"state":"stopping","gen":9223372036854775807,"time_updated":"2026-11-21T10:01:00Z"},"migration_out":{"migration_id":"4e000000-0000-4000-8000-00000000000a","state":"completed","gen":2,"time_updated":"2026-11-21T10:01:00Z"}}`,
		`{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"},"extra":1}`,
		`{"vmm_state":{"state":"running","gen":-1,"time_updated":"2026-11-21T10:01:00Z"}}`,
		`{"vmm_state":null}`, `{}`, `[]`, `null`, ``, `{"vmm_state":{"state":"running","gen":4,"time_updated":"2026-11-21T10:01:00Z"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		before := Report{VMM: vmmReport(0, 7).VMM, MigrationIn: side(migN, 0, 3)}
		r := before
		if err := json.Unmarshal(b, &r); err != nil {
			if r.VMM != before.VMM || r.MigrationIn != before.MigrationIn || r.MigrationOut != nil {
				t.Fatalf("a refused %q changed the report", b)
			}
			return
		}
		m1, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted %q but cannot write it: %v", b, err)
		}
		var r2 Report
		if err := json.Unmarshal(m1, &r2); err != nil {
			t.Fatalf("cannot read back %s: %v", m1, err)
		}
		m2, err := json.Marshal(r2)
		if err != nil || !bytes.Equal(m1, m2) {
			t.Fatalf("round trip of %q: %s then %s (%v)", b, m1, m2, err)
		}
	})
}

// fuzzEnum is the contract of one enum's decoders on any input: no panic;
// UnmarshalText, Scan of a string and of bytes (and Parse, where there is
// one) agree; an accepted input writes back as a valid value whose text
// reads back to it (and is the input itself unless the enum folds case); a
// refused one is ErrUnknown and leaves the destination unchanged.
func fuzzEnum[E wireEnum, P wirePtr[E]](t *testing.T, in string, fold bool, parse func(string) (E, error)) {
	unset := E(1)
	results := make([]E, 0, 4)
	errs := make([]error, 0, 4)
	scan := func(src any) func(P) error {
		return func(p P) error {
			if _, sc := asColumn((*E)(p)); sc != nil {
				return sc.Scan(src)
			}
			return p.UnmarshalText([]byte(in)) // not a column: the text decoder stands in
		}
	}
	for _, decode := range []func(P) error{
		func(p P) error { return p.UnmarshalText([]byte(in)) },
		scan(in),
		scan([]byte(in)),
	} {
		v := unset
		err := decode(&v)
		if err != nil {
			if v != unset || !errors.Is(err, ErrUnknown) {
				t.Fatalf("%q: refused with %v, destination %v", in, err, v)
			}
		}
		results, errs = append(results, v), append(errs, err)
	}
	if parse != nil {
		v, err := parse(in)
		if err != nil {
			v = unset
		}
		results, errs = append(results, v), append(errs, err)
	}
	for i := range results {
		if results[i] != results[0] || (errs[i] == nil) != (errs[0] == nil) {
			t.Fatalf("%q: the decoders disagree: %v, %v", in, results, errs)
		}
	}
	if errs[0] != nil {
		return
	}
	v := results[0]
	text, err := v.MarshalText()
	if err != nil || !v.IsValid() {
		t.Fatalf("%q: accepted as %v, which does not write: %v", in, v, err)
	}
	if fold && !strings.EqualFold(string(text), in) || !fold && string(text) != in {
		t.Fatalf("%q: accepted as %q", in, text)
	}
	var back E
	if err := P(&back).UnmarshalText(text); err != nil || back != v {
		t.Fatalf("%q: %q reads back as %v, %v", in, text, back, err)
	}
	if again, _ := back.MarshalText(); !bytes.Equal(again, text) {
		t.Fatalf("%q: writes %q then %q", in, text, again)
	}
}

// enumSeeds are every wire string of the package's enums, some in other
// cases, and some near misses.
func enumSeeds(f *testing.F) {
	for _, s := range []string{
		"creating", "no_vmm", "vmm", "failed", "destroyed", "no_VMM", "VMM", "NO_VMM", "deſtroyed",
		"running", "stopped", "guest_shutdown", "never", "best_effort",
		"start", "stop", "reboot", "migrate", "delete",
		"already_done", "start_saga", "send_to_sled", "update_runtime", "migrate_saga", "delete_saga", "reject",
		"migration_target", "update", "will_reincarnate", "cooling_down", "nirvana",
		"StartFailed", "SledUnreachable", "AutoRestartCoolingDown", "startfailed",
		"none", "run_update", "reincarnate", "wait",
		"", " ", "running ", "Running", "\x00", "\xff", "instancestate.NexusState(0)",
	} {
		f.Add(s)
	}
}

func FuzzNexusState(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[NexusState](t, s, true, ParseNexusState) })
}

func FuzzIntendedState(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[IntendedState](t, s, false, ParseIntendedState) })
}

func FuzzAutoRestartPolicy(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[AutoRestartPolicy](t, s, false, ParseAutoRestartPolicy) })
}

func FuzzRequest(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[Request](t, s, false, ParseRequest) })
}

func FuzzAction(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[Action](t, s, false, nil) })
}

func FuzzSledRequest(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[SledRequest](t, s, false, nil) })
}

func FuzzNetworkAction(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[NetworkAction](t, s, false, nil) })
}

func FuzzReincarnatability(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[Reincarnatability](t, s, false, nil) })
}

func FuzzConditionType(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[ConditionType](t, s, false, nil) })
}

func FuzzNextKind(f *testing.F) {
	enumSeeds(f)
	f.Fuzz(func(t *testing.T, s string) { fuzzEnum[NextKind](t, s, false, nil) })
}
