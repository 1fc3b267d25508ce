package vmmtest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/vmmstate/vmmtest"
)

var (
	t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	t1 = t0.Add(time.Second)
)

func rt(s vmmstate.State, g uint32, at time.Time) vmmstate.Runtime {
	return vmmstate.Runtime{State: s, Generation: generation.Of(g), TimeUpdated: at}
}

// checkRule asserts err is a *Violation naming rule.
func checkRule(t *testing.T, what string, err error, rule string) {
	t.Helper()
	var v *vmmtest.Violation
	if !errors.As(err, &v) || v.Rule != rule {
		t.Errorf("%s: err = %v, want a *Violation of %q", what, err, rule)
		return
	}
	if !strings.HasPrefix(err.Error(), "vmmtest: "+rule+": ") || v.Detail == "" {
		t.Errorf("%s: message %q", what, err)
	}
}

func TestCheckRuntime(t *testing.T) {
	for _, s := range vmmstate.AllStates() {
		if err := vmmtest.CheckRuntime(rt(s, 3, t0)); err != nil {
			t.Errorf("CheckRuntime(%v) = %v", s, err)
		}
	}
	for _, s := range []vmmstate.State{0, 0x08, 0x68, 0xff} {
		checkRule(t, "CheckRuntime("+s.String()+")", vmmtest.CheckRuntime(rt(s, 3, t0)), vmmtest.RuleValidState)
	}
}

func TestCheckVMM(t *testing.T) {
	good := vmmstate.New(vmmstate.IDFromUUID([16]byte{1}), vmmstate.InstanceIDFromUUID([16]byte{2}), vmmstate.SledIDFromUUID([16]byte{3}), t0)
	if err := vmmtest.CheckVMM(good); err != nil {
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
		checkRule(t, name, vmmtest.CheckVMM(v), vmmtest.RuleRecord)
	}
}

// Every rule of CheckStep fires on a step that breaks it, and only then.
func TestCheckStepCatches(t *testing.T) {
	running := rt(vmmstate.Running, 5, t0)
	failed := rt(vmmstate.Failed(failure.FromSledAgent), 5, t0)
	refused := &vmmstate.TransitionError{From: running, To: vmmstate.Creating, Err: vmmstate.ErrIllegalTransition}
	tests := []struct {
		name          string
		before, after vmmstate.Runtime
		outcome       vmmstate.Outcome
		err           error
		rule          string // "" = no violation
	}{
		{"applied edge", running, rt(vmmstate.Stopping, 6, t1), vmmstate.Applied, nil, ""},
		{"applied newer observation", running, rt(vmmstate.Running, 9, t1), vmmstate.Applied, nil, ""},
		{"stale", running, running, vmmstate.Stale, nil, ""},
		{"unchanged", failed, failed, vmmstate.Unchanged, nil, ""},
		{"refused", running, running, 0, refused, ""},
		{"same instant, other location", running, rt(vmmstate.Running, 5, t0.In(time.FixedZone("x", 3600))), vmmstate.Stale, nil, ""},

		{"generation goes back", running, rt(vmmstate.Running, 4, t0), vmmstate.Applied, nil, vmmtest.RuleGenerationOrder},
		{"generation goes back on error", running, rt(vmmstate.Running, 4, t0), 0, refused, vmmtest.RuleGenerationOrder},
		{"error with an outcome", running, running, vmmstate.Unchanged, refused, vmmtest.RuleOutcome},
		{"no error, no outcome", running, running, 0, nil, vmmtest.RuleOutcome},
		{"no error, invalid outcome", running, running, 9, nil, vmmtest.RuleOutcome},
		{"applied without a bump", running, rt(vmmstate.Stopping, 5, t1), vmmstate.Applied, nil, vmmtest.RuleAppliedBumps},
		{"applied, nothing changed", running, running, vmmstate.Applied, nil, vmmtest.RuleAppliedBumps},
		{"applied against the phases", rt(vmmstate.Stopped, 5, t0), rt(vmmstate.Running, 6, t1), vmmstate.Applied, nil, vmmtest.RuleEdge},
		{"applied into creating", running, rt(vmmstate.Creating, 6, t1), vmmstate.Applied, nil, vmmtest.RuleEdge},
		{"applied creating again", rt(vmmstate.Creating, 1, t0), rt(vmmstate.Creating, 2, t1), vmmstate.Applied, nil, vmmtest.RuleEdge},
		{"applied saga_unwound again", rt(vmmstate.SagaUnwound, 1, t0), rt(vmmstate.SagaUnwound, 2, t1), vmmstate.Applied, nil, vmmtest.RuleEdge},
		{"applied an invalid state", running, rt(0, 6, t1), vmmstate.Applied, nil, vmmtest.RuleValidState},
		{"stale but changed", running, rt(vmmstate.Stopping, 6, t1), vmmstate.Stale, nil, vmmtest.RuleNoChange},
		{"unchanged but re-stamped", running, rt(vmmstate.Running, 5, t1), vmmstate.Unchanged, nil, vmmtest.RuleNoChange},
		{"refused but changed", running, rt(vmmstate.Stopping, 6, t1), 0, refused, vmmtest.RuleNoChange},
		{"failed reason rewritten", failed, rt(vmmstate.Failed(failure.SledOff), 6, t1), vmmstate.Applied, nil, vmmtest.RuleTerminal},
		{"failed reason rewritten, unchanged", failed, rt(vmmstate.Failed(failure.SledOff), 5, t0), vmmstate.Unchanged, nil, vmmtest.RuleTerminal},
		{"destroyed revived", rt(vmmstate.Destroyed, 5, t0), rt(vmmstate.Running, 6, t1), vmmstate.Applied, nil, vmmtest.RuleTerminal},
		{"destroyed re-applied", rt(vmmstate.Destroyed, 5, t0), rt(vmmstate.Destroyed, 6, t1), vmmstate.Applied, nil, vmmtest.RuleEdge},
	}
	for _, tt := range tests {
		err := vmmtest.CheckStep(tt.before, tt.after, tt.outcome, tt.err)
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
			if err := vmmtest.CheckStep(r, next, o, err); err != nil {
				t.Fatalf("Observe(%v) on %v: %v", report, r, err)
			}
			return
		}
		to := vmmtest.State().Draw(t, "to")
		next, o, err := r.Transition(to, t1)
		if err := vmmtest.CheckStep(r, next, o, err); err != nil {
			t.Fatalf("Transition(%v) on %v: %v", to, r, err)
		}
	})
}
