package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"pgregory.net/rapid"

	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
	"github.com/vmlife/vmlife/wire"
)

// roundTrip encodes d, decodes the bytes again and checks that the same
// document comes back and that encoding it again gives the same bytes.
func roundTrip(d instancestate.Document) error {
	enc, err := encodeDocument(d)
	if err != nil {
		return err
	}
	b, err := json.Marshal(enc)
	if err != nil {
		return err
	}
	back, err := decodeDocument(b)
	if err != nil {
		return errors.New("re-encoded document does not decode: " + err.Error() + "\n" + string(b))
	}
	if back != d {
		return errors.New("re-encoded document decodes to another snapshot:\n" + string(b))
	}
	enc2, err := encodeDocument(back)
	if err != nil {
		return err
	}
	b2, err := json.Marshal(enc2)
	if err != nil {
		return err
	}
	if !bytes.Equal(b, b2) {
		return errors.New("encode → decode → encode is not byte-identical:\n" + string(b) + "\n" + string(b2))
	}
	return nil
}

// TestDocumentRoundTrip: every snapshot document under testdata/explain
// that decodes re-encodes to a document that decodes to the same snapshot.
func TestDocumentRoundTrip(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "explain", "*.json"))
	decoded := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		d, err := decodeDocument(data)
		if err != nil {
			continue // the bad_ documents; TestCLI pins their errors
		}
		decoded++
		if err := roundTrip(d); err != nil {
			t.Errorf("%s: %v", file, err)
		}
	}
	if decoded < 20 {
		t.Errorf("only %d documents decoded; the test data is missing", decoded)
	}
}

// TestDocumentKeepsWhatLayoutOmits: the two keys beyond docs/cli.md's
// (sled_unreachable_since, migration.time_created) reach the snapshot and
// come back out, and times written with an offset are kept as the same
// instant in UTC.
func TestDocumentKeepsWhatLayoutOmits(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "explain", "sled_unreachable.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := decodeDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 21, 9, 55, 0, 0, time.UTC); d.Snapshot.SledUnreachableSince != want {
		t.Errorf("SledUnreachableSince = %v, want %v", d.Snapshot.SledUnreachableSince, want)
	}
	data, err = os.ReadFile(filepath.Join("testdata", "explain", "optional_keys_missing.json"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err = decodeDocument(data); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC); d.Now != want {
		t.Errorf("now 2026-11-21T12:00:00+02:00 decodes to %v, want %v", d.Now, want)
	}
	enc, err := encodeDocument(d)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Now      string `json:"now"`
		Instance struct {
			TimeStateUpdated string `json:"time_state_updated"`
		} `json:"instance"`
	}
	if err := json.Unmarshal(enc, &got); err != nil || got.Now != "2026-11-21T10:00:00Z" || got.Instance.TimeStateUpdated != "2026-11-21T09:00:00.123456789Z" {
		t.Errorf("times re-encode as %q and %q (%v)", got.Now, got.Instance.TimeStateUpdated, err)
	}

	m := migration.New(migration.IDFromUUID(uuid.New()), d.Snapshot.Instance.ID, vmmstate.IDFromUUID(uuid.New()), vmmstate.IDFromUUID(uuid.New()), d.Now)
	if got := encodeMigration(t, m); got["time_created"] != "2026-11-21T10:00:00Z" {
		t.Errorf("migration time_created encodes as %v", got["time_created"])
	}
}

// encodeMigration encodes a snapshot holding migration m and returns its
// migration object.
func encodeMigration(t *testing.T, m migration.Record) map[string]any {
	t.Helper()
	active := vmmstate.New(m.Source.VMM, m.InstanceID, vmmstate.SledIDFromUUID(uuid.New()), m.TimeCreated)
	in := instancestate.New(m.InstanceID, true, instancestate.AutoRestart{}, m.TimeCreated)
	in.Runtime.State, in.Runtime.ActiveVMM, in.Runtime.MigrationID = instancestate.NexusVMM, active.ID, m.ID
	enc, err := encodeDocument(instancestate.Document{Now: m.TimeCreated, Snapshot: instancestate.Snapshot{Instance: in, Active: active, Migration: m}})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Migration map[string]any `json:"migration"`
	}
	if err := json.Unmarshal(enc, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Migration
}

// TestEncodeRefusesWhatItCannotWrite: the encoder writes only snapshots the
// decoder reads back (D17 holds, the cooldown is whole seconds).
func TestEncodeRefusesWhatItCannotWrite(t *testing.T) {
	if _, err := encodeDocument(instancestate.Document{}); !errors.Is(err, instancestate.ErrInvalidRecord) {
		t.Errorf("encoding the zero snapshot: %v, want ErrInvalidRecord", err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := instancestate.New(vmmstate.InstanceIDFromUUID(uuid.New()), false, instancestate.AutoRestart{Cooldown: 1500 * time.Millisecond}, now)
	_, err := encodeDocument(instancestate.Document{Now: now, Snapshot: instancestate.Snapshot{Instance: in}})
	if err == nil || !strings.Contains(err.Error(), "whole seconds") {
		t.Errorf("encoding a 1.5 s cooldown: %v, want an error", err)
	}
}

// genTime draws a time in UTC between 1970 and 2100 with any nanoseconds,
// or (when zeroOK) the zero time.
func genTime(t *rapid.T, label string, zeroOK bool) time.Time {
	if zeroOK && rapid.Bool().Draw(t, label+"_null") {
		return time.Time{}
	}
	sec := rapid.Int64Range(0, 4102444800).Draw(t, label+"_sec")
	nsec := rapid.Int64Range(0, 999_999_999).Draw(t, label+"_nsec")
	return time.Unix(sec, nsec).UTC()
}

func genGen(t *rapid.T, label string, min int64) generation.Generation {
	n := rapid.OneOf(rapid.Int64Range(min, 10), rapid.Int64Range(min, generation.Max)).Draw(t, label)
	g, _ := generation.FromInt64(n)
	return g
}

func genUUID(t *rapid.T, label string) uuid.UUID {
	var u uuid.UUID
	copy(u[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(t, label))
	u[0] |= 1 // never the nil UUID
	return u
}

func pick[E any](t *rapid.T, label string, all []E) E {
	return rapid.SampledFrom(all).Draw(t, label)
}

// genDocument draws a valid snapshot document of any shape the D17 rules
// allow: an instance in any nexus state with every optional field set or
// not, and for state vmm an active VMM, optionally a migration with the
// instance on either side, and optionally the linked target VMM.
func genDocument(t *rapid.T) instancestate.Document {
	var s instancestate.Snapshot
	in := &s.Instance
	in.ID = vmmstate.InstanceIDFromUUID(genUUID(t, "instance_id"))
	in.Runtime.State = pick(t, "state", instancestate.AllNexusStates())
	in.Runtime.Generation = genGen(t, "state_generation", 0)
	in.Runtime.TimeUpdated = genTime(t, "time_state_updated", true)
	in.Runtime.TimeLastAutoRestarted = genTime(t, "time_last_auto_restarted", true)
	in.IntendedState = pick(t, "intended_state", instancestate.AllIntendedStates())
	if rapid.Bool().Draw(t, "policy_set") {
		in.AutoRestart.Policy = pick(t, "policy", instancestate.AllAutoRestartPolicies())
	}
	if rapid.Bool().Draw(t, "cooldown_set") {
		in.AutoRestart.Cooldown = time.Duration(rapid.Int64Range(1, instancestate.MaxCooldownSecs).Draw(t, "cooldown")) * time.Second
	}
	if rapid.Bool().Draw(t, "locked") {
		in.UpdaterID = instancestate.UpdaterIDFromUUID(genUUID(t, "updater_id"))
	}
	in.UpdaterGen = genGen(t, "updater_gen", 0)
	if rapid.Bool().Draw(t, "start_failed") {
		in.StartFailure = failure.NewStartFailure(pick(t, "cause", failure.AllCauses()), pick(t, "reason", failure.AllStartReasons()), genTime(t, "failed_at", false))
		in.StartFailure.Transient = rapid.Bool().Draw(t, "transient")
	}
	vmm := func(label string) vmmstate.VMM {
		return vmmstate.VMM{
			ID:         vmmstate.IDFromUUID(genUUID(t, label+"_id")),
			InstanceID: in.ID,
			SledID:     vmmstate.SledIDFromUUID(genUUID(t, label+"_sled")),
			Runtime: vmmstate.Runtime{
				State:       pick(t, label+"_state", vmmstate.AllStates()),
				Generation:  genGen(t, label+"_gen", 0),
				TimeUpdated: genTime(t, label+"_time", true),
			},
		}
	}
	if in.Runtime.State == instancestate.NexusVMM {
		s.Active = vmm("active")
		in.Runtime.ActiveVMM = s.Active.ID
		if rapid.Bool().Draw(t, "migrating") {
			other := vmm("target")
			if other.ID == s.Active.ID {
				t.Skip("drew the same VMM id twice")
			}
			side := func(label string, v vmmstate.ID) migration.Side {
				return migration.Side{VMM: v, State: pick(t, label+"_state", migration.AllStates()),
					Generation: genGen(t, label+"_gen", 1), TimeUpdated: genTime(t, label+"_time", true)}
			}
			s.Migration = migration.Record{
				ID: migration.IDFromUUID(genUUID(t, "migration_id")), InstanceID: in.ID,
				Source: side("source", s.Active.ID), Target: side("target", other.ID),
				TimeCreated: genTime(t, "time_created", true),
			}
			folded := rapid.Bool().Draw(t, "folded_in")
			if folded {
				// The update plan has already moved the instance to the
				// target, which stays linked until it reports completed (§13.3).
				s.Migration.Source.VMM, s.Migration.Target.VMM = other.ID, s.Active.ID
			}
			in.Runtime.MigrationID = s.Migration.ID
			if rapid.Bool().Draw(t, "target_linked") {
				s.Target = other
				if folded {
					s.Target = s.Active
				}
				in.Runtime.TargetVMM = s.Target.ID
			}
		}
	}
	if rapid.Bool().Draw(t, "sled_unreachable") {
		s.SledUnreachableSince = genTime(t, "sled_unreachable_since", false)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("generator drew an invalid snapshot: %v", err)
	}
	return instancestate.Document{Now: genTime(t, "now", false), Snapshot: s}
}

// TestDocumentRoundTripProperty: every valid snapshot encodes to a document
// that decodes to the same snapshot, and encoding is then byte-identical.
func TestDocumentRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		if err := roundTrip(genDocument(t)); err != nil {
			t.Fatal(err)
		}
	})
}

// TestExplainTotalProperty: explain answers every valid snapshot document
// (D17 holds, so nothing is bad input) except one whose generation cannot
// be bumped, and its answer always has docs/cli.md's keys.
func TestExplainTotalProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d := genDocument(t)
		enc, err := encodeDocument(d)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(enc)
		out, err := explain(b)
		var in *wire.DecodeError
		switch {
		case errors.As(err, &in) && d.Snapshot.Instance.Runtime.Generation.Int64() == generation.Max && strings.HasPrefix(in.Path, "instance.state_generation"):
			return // §1: no generation after the largest, so no update can be planned
		case err != nil:
			t.Fatalf("explain refused a valid snapshot: %v\n%s", err, b)
		}
		if _, ok := out.(explainJSON); !ok {
			t.Fatalf("explain returned %T", out)
		}
	})
}

// seeds adds every test document to a fuzz corpus.
func seeds(f *testing.F, dirs ...string) {
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
}

// FuzzDecodeDocument: the snapshot document decoder never panics, refuses
// only with an *inputError, and any document it accepts re-encodes to one
// that decodes to the same snapshot, byte-identically on the next round.
func FuzzDecodeDocument(f *testing.F) {
	seeds(f, "explain", "report")
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := decodeDocument(data)
		if err != nil {
			var in *wire.DecodeError
			if !errors.As(err, &in) {
				t.Fatalf("refused with %T, not bad input: %v", err, err)
			}
			return
		}
		if err := roundTrip(d); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzReport: report never panics and refuses only as bad input; what it
// accepts yields a snapshot document that decodes again.
func FuzzReport(f *testing.F) {
	seeds(f, "report")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := report(data)
		if err != nil {
			var in *wire.DecodeError
			if !errors.As(err, &in) {
				t.Fatalf("refused with %T, not bad input: %v", err, err)
			}
			return
		}
		b, err := json.Marshal(out.(reportJSON).Snapshot)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeDocument(b); err != nil {
			t.Fatalf("the snapshot after the report does not decode: %v\n%s", err, b)
		}
	})
}

// FuzzClassify: classify never panics, refuses only as bad input, and
// answers with one of the statuses of D18.
func FuzzClassify(f *testing.F) {
	seeds(f, "classify")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := classify(data)
		if err != nil {
			var in *wire.DecodeError
			if !errors.As(err, &in) {
				t.Fatalf("refused with %T, not bad input: %v", err, err)
			}
			return
		}
		c := out.(classifyJSON)
		switch {
		case c.VMMGone != (c.FailureReason != nil):
			t.Fatalf("vmm_gone %v with failure_reason %v", c.VMMGone, c.FailureReason)
		case c.VMMGone && (*c.FailureReason != "no_such_instance" || c.HTTPStatus != 503):
			t.Fatalf("gone with %q and %d", *c.FailureReason, c.HTTPStatus)
		case c.HTTPStatus != 400 && c.HTTPStatus != 500 && c.HTTPStatus != 502 && c.HTTPStatus != 503 && c.HTTPStatus != 504:
			t.Fatalf("http_status %d", c.HTTPStatus)
		}
	})
}

// BenchmarkDecodeDocument measures decoding docs/cli.md's example document,
// the per-invocation cost of explain and report before any decision.
func BenchmarkDecodeDocument(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "explain", "migrating_in_flight.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeDocument(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExplain measures a whole explain of a migrating instance.
func BenchmarkExplain(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "explain", "migrating_in_flight.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := explain(data); err != nil {
			b.Fatal(err)
		}
	}
}
