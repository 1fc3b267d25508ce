package vmmtest

import (
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

// State generates every valid vmmstate.State: the nine plain states and a
// failed state for each reason (D4). It never generates the zero value.
func State() *rapid.Generator[vmmstate.State] {
	return rapid.SampledFrom(vmmstate.AllStates())
}

// Kind generates every valid vmmstate.Kind.
func Kind() *rapid.Generator[vmmstate.Kind] {
	return rapid.SampledFrom(vmmstate.AllKinds())
}

// SledAgentState generates every valid vmmstate.SledAgentState.
func SledAgentState() *rapid.Generator[vmmstate.SledAgentState] {
	return rapid.SampledFrom(vmmstate.AllSledAgentStates())
}

// Reason generates every valid failure.Reason.
func Reason() *rapid.Generator[failure.Reason] {
	return rapid.SampledFrom(failure.AllReasons())
}

// Generation generates any generation in 0..generation.Max, drawing the
// edges of §1 — 0, Initial and a few above, Max and a few below — far more
// often than a uniform draw would.
func Generation() *rapid.Generator[generation.Generation] {
	return rapid.Custom(func(t *rapid.T) generation.Generation {
		n := rapid.OneOf(
			rapid.Int64Range(0, 16),
			rapid.Int64Range(generation.Max-16, generation.Max),
			rapid.Int64Range(0, generation.Max),
		).Draw(t, "generation")
		g, err := generation.FromInt64(n)
		if err != nil {
			t.Fatalf("vmmtest: generation %d out of range: %v", n, err)
		}
		return g
	})
}

// Time generates an instant in UTC between 2000 and 2100, with nanoseconds.
// The instants round-trip through JSON and compare equal with ==, so
// runtimes built from them can be compared whole.
func Time() *rapid.Generator[time.Time] {
	return rapid.Custom(func(t *rapid.T) time.Time {
		sec := rapid.Int64Range(timeMin, timeMax-1).Draw(t, "unix")
		nsec := rapid.OneOf(rapid.Just(int64(0)), rapid.Int64Range(0, 999_999_999)).Draw(t, "nsec")
		return time.Unix(sec, nsec).UTC()
	})
}

var (
	timeMin = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	timeMax = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// uuidBytes draws a random (version 4, RFC 4122 variant) UUID from rapid's
// bytes. The version bits make it non-nil.
func uuidBytes(t *rapid.T, label string) uuid.UUID {
	var u uuid.UUID
	copy(u[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, label))
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// ID generates a non-nil VMM id.
func ID() *rapid.Generator[vmmstate.ID] {
	return rapid.Custom(func(t *rapid.T) vmmstate.ID { return vmmstate.IDFromUUID(uuidBytes(t, "vmm_id")) })
}

// SledID generates a non-nil sled id.
func SledID() *rapid.Generator[vmmstate.SledID] {
	return rapid.Custom(func(t *rapid.T) vmmstate.SledID { return vmmstate.SledIDFromUUID(uuidBytes(t, "sled_id")) })
}

// InstanceID generates a non-nil instance id.
func InstanceID() *rapid.Generator[vmmstate.InstanceID] {
	return rapid.Custom(func(t *rapid.T) vmmstate.InstanceID {
		return vmmstate.InstanceIDFromUUID(uuidBytes(t, "instance_id"))
	})
}

// Runtime generates a valid runtime: any state, any generation, any time
// from Time. It passes CheckRuntime.
func Runtime() *rapid.Generator[vmmstate.Runtime] {
	return rapid.Custom(func(t *rapid.T) vmmstate.Runtime {
		return vmmstate.Runtime{
			State:       State().Draw(t, "state"),
			Generation:  Generation().Draw(t, "gen"),
			TimeUpdated: Time().Draw(t, "time_updated"),
		}
	})
}

// VMM generates a valid VMM record: non-nil ids and a Runtime. It passes
// CheckVMM.
func VMM() *rapid.Generator[vmmstate.VMM] {
	return rapid.Custom(func(t *rapid.T) vmmstate.VMM {
		return vmmstate.VMM{
			ID:         ID().Draw(t, "id"),
			InstanceID: InstanceID().Draw(t, "instance_id"),
			SledID:     SledID().Draw(t, "sled_id"),
			Runtime:    Runtime().Draw(t, "runtime"),
		}
	})
}

// maxReports bounds a LegalPath: long enough to walk every phase of D7
// with detours, short enough to shrink quickly.
const maxReports = 24

// LegalPath generates the life of one VMM as its sled-agent reports it.
//
// path[0] is the record a start or migrate saga inserts: creating, at the
// initial generation (§6.3). Every later element is a report the sled-agent
// could send next (§3.5): its state is the previous one again (the
// sled-agent bumps the generation on every observation, even when the state
// did not change) or one of vmmstate.ReportableSuccessors of the previous
// kind; it went through the sled-agent wire, so a failure carries
// failure.FromSledAgent (§4.6); its generation is strictly greater than the
// previous one (usually by one, sometimes more: Nexus need not see every
// report); and its time does not go backwards. The path stops after the
// first terminal state, since nothing follows it (D6).
//
// Applied in order with Runtime.Observe, every report of a path is
// Applied.
func LegalPath() *rapid.Generator[[]vmmstate.Runtime] {
	return rapid.Custom(func(t *rapid.T) []vmmstate.Runtime {
		at := Time().Draw(t, "inserted")
		path := []vmmstate.Runtime{vmmstate.NewRuntime(at)}
		n := rapid.IntRange(0, maxReports).Draw(t, "reports")
		for len(path) <= n {
			last := path[len(path)-1]
			if last.State.IsTerminal() {
				break
			}
			next := ReportableNext(last.State.Kind())
			k := rapid.SampledFrom(next).Draw(t, "kind")
			gap := rapid.OneOf(rapid.Just(uint32(1)), rapid.Uint32Range(1, 5)).Draw(t, "gen_gap")
			g := generation.Of(uint32(last.Generation.Int64()) + gap) // paths are short: no overflow
			at = at.Add(time.Duration(rapid.Int64Range(0, int64(10*time.Minute)).Draw(t, "elapsed")))
			report := vmmstate.SledAgentRuntime{State: sledAgentOf[k], Generation: g, TimeUpdated: at}
			path = append(path, report.Runtime())
		}
		return path
	})
}

// ReportableNext returns the kinds a sled-agent's next report may carry
// when the VMM is in kind k: k itself again if a sled-agent can report it
// and it is not terminal, then vmmstate.ReportableSuccessors(k). It is what
// LegalPath draws from.
func ReportableNext(k vmmstate.Kind) []vmmstate.Kind {
	var out []vmmstate.Kind
	if k.IsReportable() && !k.IsTerminal() {
		out = append(out, k)
	}
	return append(out, vmmstate.ReportableSuccessors(k)...)
}

// sledAgentOf is the sled-agent state that reports each reportable kind.
var sledAgentOf = func() map[vmmstate.Kind]vmmstate.SledAgentState {
	m := map[vmmstate.Kind]vmmstate.SledAgentState{}
	for _, s := range vmmstate.AllSledAgentStates() {
		m[s.State().Kind()] = s
	}
	return m
}()

// Deliveries generates the reports of path (path[1:]; path[0] is the stored
// record, not a report) as a control plane receives them: each report
// delivered zero to three times — dropped, once, or duplicated — and all of
// them in any order. The path is not modified.
func Deliveries(path []vmmstate.Runtime) *rapid.Generator[[]vmmstate.Runtime] {
	return rapid.Custom(func(t *rapid.T) []vmmstate.Runtime {
		var out []vmmstate.Runtime
		for i := 1; i < len(path); i++ {
			copies := rapid.OneOf(rapid.Just(1), rapid.IntRange(0, 3)).Draw(t, "copies")
			for range copies {
				out = append(out, path[i])
			}
		}
		return rapid.Permutation(out).Draw(t, "order")
	})
}

// Shuffled delivers items as a network may: each one or more times (up to
// three), in any order — late, duplicated and reordered, none lost. It is
// the one delivery generator of vmlife's test packages: sled-agent VMM
// reports, migration sides and whole instance reports all go through it.
func Shuffled[T any](items []T) *rapid.Generator[[]T] {
	return rapid.Custom(func(t *rapid.T) []T {
		var out []T
		for _, it := range items {
			for range rapid.IntRange(1, 3).Draw(t, "copies") {
				out = append(out, it)
			}
		}
		return rapid.Permutation(out).Draw(t, "order")
	})
}
