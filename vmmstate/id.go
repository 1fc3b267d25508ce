package vmmstate

import (
	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/typedid"
)

type vmmKind struct{}
type sledKind struct{}
type instanceKind struct{}

func (vmmKind) Name() string      { return "VMM" }
func (sledKind) Name() string     { return "sled" }
func (instanceKind) Name() string { return "instance" }

// ID identifies a VMM (a Propolis process; Omicron's "propolis id"). Each
// kind of id is its own type, so a sled id cannot be passed as a VMM id. The
// zero value is the nil UUID, which identifies nothing (IsZero).
type ID = typedid.ID[vmmKind]

// SledID identifies the sled (host) a VMM runs on.
type SledID = typedid.ID[sledKind]

// InstanceID identifies the instance a VMM runs; instancestate uses the same
// type for the instance record.
type InstanceID = typedid.ID[instanceKind]

// ParseID parses a VMM id in the canonical UUID form.
func ParseID(s string) (ID, error) { return typedid.Parse[vmmKind](s) }

// ParseSledID parses a sled id in the canonical UUID form.
func ParseSledID(s string) (SledID, error) { return typedid.Parse[sledKind](s) }

// ParseInstanceID parses an instance id in the canonical UUID form.
func ParseInstanceID(s string) (InstanceID, error) { return typedid.Parse[instanceKind](s) }

// IDFromUUID returns u as a VMM id.
func IDFromUUID(u uuid.UUID) ID { return typedid.FromUUID[vmmKind](u) }

// SledIDFromUUID returns u as a sled id.
func SledIDFromUUID(u uuid.UUID) SledID { return typedid.FromUUID[sledKind](u) }

// InstanceIDFromUUID returns u as an instance id.
func InstanceIDFromUUID(u uuid.UUID) InstanceID { return typedid.FromUUID[instanceKind](u) }
