package vmmstate_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/vmmstate"
)

var (
	vmmUUID      = uuid.MustParse("3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f")
	sledUUID     = uuid.MustParse("a1b2c3d4-e5f6-4a1b-8c2d-3e4f5a6b7c8d")
	instanceUUID = uuid.MustParse("0f0e0d0c-0b0a-4908-8706-050403020100")
)

func TestNewVMM(t *testing.T) {
	id, inst, sled := vmmstate.IDFromUUID(vmmUUID), vmmstate.InstanceIDFromUUID(instanceUUID), vmmstate.SledIDFromUUID(sledUUID)
	v := vmmstate.New(id, inst, sled, t0)
	want := vmmstate.VMM{ID: id, InstanceID: inst, SledID: sled, Runtime: vmmstate.Runtime{State: vmmstate.Creating, Generation: generation.Initial(), TimeUpdated: t0}}
	if v != want {
		t.Errorf("New = %+v, want %+v", v, want)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("New(...).Validate() = %v", err)
	}
	if got, want := v.String(), "VMM 3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f on sled a1b2c3d4-e5f6-4a1b-8c2d-3e4f5a6b7c8d: creating@1"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	v.Runtime.State = vmmstate.State(0x68)
	if got := v.String(); !strings.HasSuffix(got, ": vmmstate.State(104)@1") {
		t.Errorf("String() of an invalid state = %q", got)
	}
}

// Validate names the first field no stored VMM could have.
func TestVMMValidate(t *testing.T) {
	good := vmmstate.New(vmmstate.IDFromUUID(vmmUUID), vmmstate.InstanceIDFromUUID(instanceUUID), vmmstate.SledIDFromUUID(sledUUID), t0)
	tests := []struct {
		name  string
		edit  func(*vmmstate.VMM)
		field string
	}{
		{"nil id", func(v *vmmstate.VMM) { v.ID = vmmstate.ID{} }, "id"},
		{"nil instance", func(v *vmmstate.VMM) { v.InstanceID = vmmstate.InstanceID{} }, "instance_id"},
		{"nil sled", func(v *vmmstate.VMM) { v.SledID = vmmstate.SledID{} }, "sled_id"},
		{"invalid state", func(v *vmmstate.VMM) { v.Runtime.State = 0 }, "state"},
		{"all of them: the id comes first", func(v *vmmstate.VMM) { *v = vmmstate.VMM{} }, "id"},
	}
	for _, tt := range tests {
		v := good
		tt.edit(&v)
		err := v.Validate()
		var re *vmmstate.RecordError
		if !errors.As(err, &re) || !errors.Is(err, vmmstate.ErrInvalidRecord) || re.Field != tt.field {
			t.Errorf("%s: Validate() = %v; want a *RecordError on %q", tt.name, err, tt.field)
		}
	}
	for _, s := range allStates {
		v := good
		v.Runtime.State = s
		if err := v.Validate(); err != nil {
			t.Errorf("VMM in %v: Validate() = %v", s, err)
		}
	}
}

func TestParseIDs(t *testing.T) {
	const text = "3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5f"
	if id, err := vmmstate.ParseID(text); err != nil || id != vmmstate.IDFromUUID(vmmUUID) || id.String() != text {
		t.Errorf("ParseID(%q) = %v, %v", text, id, err)
	}
	if id, err := vmmstate.ParseID(strings.ToUpper(text)); err != nil || id.String() != text {
		t.Errorf("ParseID(upper case) = %v, %v", id, err)
	}
	if id, err := vmmstate.ParseSledID(text); err != nil || id.UUID() != vmmUUID {
		t.Errorf("ParseSledID(%q) = %v, %v", text, id, err)
	}
	if id, err := vmmstate.ParseInstanceID(text); err != nil || id.UUID() != vmmUUID {
		t.Errorf("ParseInstanceID(%q) = %v, %v", text, id, err)
	}
	bad := []string{
		"", "nope", text[:35], text + "0", "{" + text + "}", "urn:uuid:" + text,
		strings.ReplaceAll(text, "-", ""), "3d1c9b4e-6a0f-4c55-9f0e-2b7b1d3c4e5g",
	}
	for _, in := range bad {
		for name, parse := range map[string]func(string) error{
			"VMM":      func(s string) error { _, err := vmmstate.ParseID(s); return err },
			"sled":     func(s string) error { _, err := vmmstate.ParseSledID(s); return err },
			"instance": func(s string) error { _, err := vmmstate.ParseInstanceID(s); return err },
		} {
			err := parse(in)
			if !errors.Is(err, vmmstate.ErrInvalidID) || !strings.HasPrefix(err.Error(), name+" id: ") {
				t.Errorf("Parse %s id %q: err = %v, want ErrInvalidID naming the kind", name, in, err)
			}
		}
	}
	// JSON and text use the canonical form; decoding is strict.
	id := vmmstate.IDFromUUID(vmmUUID)
	b, err := json.Marshal(id)
	if err != nil || string(b) != `"`+text+`"` {
		t.Errorf("json.Marshal(id) = %s, %v", b, err)
	}
	var back vmmstate.ID
	if err := json.Unmarshal(b, &back); err != nil || back != id {
		t.Errorf("json.Unmarshal(%s) = %v, %v", b, back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); !errors.Is(err, vmmstate.ErrInvalidID) || back != id {
		t.Errorf("UnmarshalText(nope) = %v, %v; want an error and no change", back, err)
	}
	if !(vmmstate.ID{}).IsZero() || id.IsZero() {
		t.Error("IsZero is wrong")
	}
}
