package invariant_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmlife/vmlife/invariant"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

var (
	vt0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	vt1 = vt0.Add(time.Second)
)

func rt(s vmmstate.State, g uint32, at time.Time) vmmstate.Runtime {
	return vmmstate.Runtime{State: s, Generation: generation.Of(g), TimeUpdated: at}
}

// checkRule asserts err is a *Violation naming rule.
func checkRule(t *testing.T, what string, err error, rule string) {
	t.Helper()
	var v *invariant.Violation
	if !errors.As(err, &v) || v.Rule != rule {
		t.Errorf("%s: err = %v, want a *Violation of %q", what, err, rule)
		return
	}
	if !strings.HasPrefix(err.Error(), "invariant: "+rule+": ") || v.Detail == "" {
		t.Errorf("%s: message %q", what, err)
	}
}

func TestCheckRuntime(t *testing.T) {
	for _, s := range vmmstate.AllStates() {
		if err := invariant.CheckRuntime(rt(s, 3, vt0)); err != nil {
			t.Errorf("CheckRuntime(%v) = %v", s, err)
		}
	}
	for _, s := range []vmmstate.State{0, 0x08, 0x68, 0xff} {
		checkRule(t, "CheckRuntime("+s.String()+")", invariant.CheckRuntime(rt(s, 3, vt0)), invariant.RuleValidState)
	}
}

func TestCheckVMM(t *testing.T) {
	good := vmmstate.New(vmmstate.IDFromUUID([16]byte{1}), vmmstate.InstanceIDFromUUID([16]byte{2}), vmmstate.SledIDFromUUID([16]byte{3}), vt0)
	if err := invariant.CheckVMM(good); err != nil {
		t.Errorf("CheckVMM(New(...)) = %v", err)
	}
	for name, edit := range map[string]func(*vmmstate.VMM){
		"nil id":        func(v *vmmstate.VMM) { v.ID = vmmstate.ID{} },
		"nil instance":  func(v *vmmstate.VMM) { v.InstanceID = vmmstate.InstanceID{} },
		"nil sled":      func(v *vmmstate.VMM) { v.SledID = vmmstate.SledID{} },
		"invalid state": func(v *vmmstate.VMM) { v.Runtime.State = 0 },
	} {
		v := good
		edit(&v)
		checkRule(t, name, invariant.CheckVMM(v), invariant.RuleRecord)
	}
}

// Every rule of CheckStep fires on a step that breaks it, and only then.
func TestCheckVMMStepCatches(t *testing.T) {
	running := rt(vmmstate.Running, 5, vt0)
	failed := rt(vmmstate.Failed(failure.FromSledAgent), 5, vt0)
	refused := &vmmstate.TransitionError{From: running, To: vmmstate.Creating, Err: vmmstate.ErrIllegalTransition}
	tests := []struct {
		name          string
		before, after vmmstate.Runtime
		outcome       vmmstate.Outcome
		err           error
		rule          string // "" = no violation
	}{
		{"applied edge", running, rt(vmmstate.Stopping, 6, vt1), vmmstate.Applied, nil, ""},
		{"applied newer observation", running, rt(vmmstate.Running, 9, vt1), vmmstate.Applied, nil, ""},
		{"stale", running, running, vmmstate.Stale, nil, ""},
		{"unchanged", failed, failed, vmmstate.Unchanged, nil, ""},
		{"refused", running, running, 0, refused, ""},
		{"same instant, other location", running, rt(vmmstate.Running, 5, vt0.In(time.FixedZone("x", 3600))), vmmstate.Stale, nil, ""},

		{"generation goes back", running, rt(vmmstate.Running, 4, vt0), vmmstate.Applied, nil, invariant.RuleGenerationOrder},
		{"generation goes back on error", running, rt(vmmstate.Running, 4, vt0), 0, refused, invariant.RuleGenerationOrder},
		{"error with an outcome", running, running, vmmstate.Unchanged, refused, invariant.RuleOutcome},
		{"no error, no outcome", running, running, 0, nil, invariant.RuleOutcome},
		{"no error, invalid outcome", running, running, 9, nil, invariant.RuleOutcome},
		{"applied without a bump", running, rt(vmmstate.Stopping, 5, vt1), vmmstate.Applied, nil, invariant.RuleAppliedBumps},
		{"applied, nothing changed", running, running, vmmstate.Applied, nil, invariant.RuleAppliedBumps},
		{"applied against the phases", rt(vmmstate.Stopped, 5, vt0), rt(vmmstate.Running, 6, vt1), vmmstate.Applied, nil, invariant.RuleEdge},
		{"applied into creating", running, rt(vmmstate.Creating, 6, vt1), vmmstate.Applied, nil, invariant.RuleEdge},
		{"applied creating again", rt(vmmstate.Creating, 1, vt0), rt(vmmstate.Creating, 2, vt1), vmmstate.Applied, nil, invariant.RuleEdge},
		{"applied saga_unwound again", rt(vmmstate.SagaUnwound, 1, vt0), rt(vmmstate.SagaUnwound, 2, vt1), vmmstate.Applied, nil, invariant.RuleEdge},
		{"applied an invalid state", running, rt(0, 6, vt1), vmmstate.Applied, nil, invariant.RuleValidState},
		{"stale but changed", running, rt(vmmstate.Stopping, 6, vt1), vmmstate.Stale, nil, invariant.RuleNoChange},
		{"unchanged but re-stamped", running, rt(vmmstate.Running, 5, vt1), vmmstate.Unchanged, nil, invariant.RuleNoChange},
		{"refused but changed", running, rt(vmmstate.Stopping, 6, vt1), 0, refused, invariant.RuleNoChange},
		{"failed reason rewritten", failed, rt(vmmstate.Failed(failure.SledOff), 6, vt1), vmmstate.Applied, nil, invariant.RuleTerminal},
		{"failed reason rewritten, unchanged", failed, rt(vmmstate.Failed(failure.SledOff), 5, vt0), vmmstate.Unchanged, nil, invariant.RuleTerminal},
		{"destroyed revived", rt(vmmstate.Destroyed, 5, vt0), rt(vmmstate.Running, 6, vt1), vmmstate.Applied, nil, invariant.RuleTerminal},
		{"destroyed re-applied", rt(vmmstate.Destroyed, 5, vt0), rt(vmmstate.Destroyed, 6, vt1), vmmstate.Applied, nil, invariant.RuleEdge},
	}
	for _, tt := range tests {
		err := invariant.CheckVMMStep(tt.before, tt.after, tt.outcome, tt.err)
		if tt.rule == "" {
			if err != nil {
				t.Errorf("%s: CheckStep = %v, want nil", tt.name, err)
			}
			continue
		}
		checkRule(t, tt.name, err, tt.rule)
	}
}

// Whatever Transition and Observe do to any valid runtime passes CheckStep:
// the checker and the library agree.
func TestCheckStepAcceptsLibrary(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := vmmtest.Runtime().Draw(t, "stored")
		if rapid.Bool().Draw(t, "observe") {
			report := vmmtest.Runtime().Draw(t, "report")
			next, o, err := r.Observe(report)
			if err := invariant.CheckVMMStep(r, next, o, err); err != nil {
				t.Fatalf("Observe(%v) on %v: %v", report, r, err)
			}
			return
		}
		to := vmmtest.State().Draw(t, "to")
		next, o, err := r.Transition(to, vt1)
		if err := invariant.CheckVMMStep(r, next, o, err); err != nil {
			t.Fatalf("Transition(%v) on %v: %v", to, r, err)
		}
	})
}
