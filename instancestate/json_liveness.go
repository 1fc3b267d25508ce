package instancestate

import (
	"math"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/internal/jsonread"
	"github.com/vmlife/vmlife/wire"
)

// The liveness inputs of the snapshot document (docs/cli.md): "policy",
// "memory_gib" and "migrations_in_flight", all optional (D30, D32–D35).

var (
	acceptMemory   = "an integer number of GiB, 0 to " + strconv.Itoa(MaxMemoryGiB)
	acceptCount    = "an integer count, 0 or more"
	acceptFailures = "an integer count, 0 to " + strconv.Itoa(MaxRestartFailures)
	acceptSecs     = "an integer number of seconds, 0 to " + strconv.FormatInt(MaxCooldownSecs, 10)
	acceptDeadline = "0 (off), or a positive integer number of seconds up to " + strconv.FormatInt(MaxCooldownSecs, 10)
	acceptBase     = "a positive integer number of seconds up to " + strconv.FormatInt(MaxCooldownSecs, 10)

	policyKeys = jsonread.NewKeys(jsonread.Opt("deadlines"), jsonread.Opt("restart_backoff"), jsonread.Opt("migration"))
	// The deadlines, in the order of deadlineFields.
	deadlineKeys = jsonread.NewKeys(jsonread.Opt("instance_creating_secs"), jsonread.Opt("vmm_creating_secs"),
		jsonread.Opt("starting_secs"), jsonread.Opt("stopping_secs"), jsonread.Opt("rebooting_secs"), jsonread.Opt("migrating_secs"),
		jsonread.Opt("saga_secs"))
	backoffKeys = jsonread.NewKeys(jsonread.Opt("base_secs"), jsonread.Opt("cap_secs"), jsonread.Opt("stable_secs"),
		jsonread.Opt("placement_retry_secs"))
	migrationPolicyKeys = jsonread.NewKeys(jsonread.Opt("progress_deadline_secs"), jsonread.Opt("budget_secs_per_gib"),
		jsonread.Opt("fleet_limit"), jsonread.Opt("sled_limit"))
	loadKeys = jsonread.NewKeys(jsonread.Opt("fleet"), jsonread.Opt("sled"))
	sagaKeys = jsonread.NewKeys(jsonread.Req("id"), jsonread.Req("name"), jsonread.Opt("node"), jsonread.Req("since"))
)

// decodeSaga reads the document's "saga" (D30): the unfinished saga
// working on the instance, its last event's node and time.
func decodeSaga(d *jsonread.Decoder, sg *SagaProgress) {
	o := d.Object(sagaKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			sg.ID = d.UUID(true)
		case 1:
			sg.Name = string(d.String("the saga's name: create, start, migrate, update, delete"))
		case 2:
			if !d.Null() {
				sg.Node = string(d.String("the node of the saga's last event"))
			}
		case 3:
			sg.Since = d.Time()
		}
	}
}

// appendSagaJSON writes the document's "saga" when there is one.
func (s *Snapshot) appendSagaJSON(b []byte) []byte {
	sg := &s.Saga
	if sg.ID == uuid.Nil {
		return b
	}
	b = append(b, `,"saga":{"id":"`...)
	b = append(b, sg.ID.String()...)
	b = append(b, `","name":`...)
	b = strconv.AppendQuote(b, sg.Name)
	b = append(b, `,"node":`...)
	if sg.Node == "" {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendQuote(b, sg.Node)
	}
	b = append(b, `,"since":"`...)
	b = wire.AppendTime(b, sg.Since)
	return append(b, `"}`...)
}

func (d *Deadlines) fields() [7]*time.Duration {
	return [7]*time.Duration{&d.InstanceCreating, &d.VMMCreating, &d.Starting, &d.Stopping, &d.Rebooting, &d.Migrating, &d.Saga}
}

func (b *Backoff) fields() [4]*time.Duration {
	return [4]*time.Duration{&b.Base, &b.Cap, &b.StableAfter, &b.PlacementRetry}
}

func secs(d *jsonread.Decoder, lo int64, accepted string) time.Duration {
	return time.Duration(d.Int64(lo, MaxCooldownSecs, accepted)) * time.Second
}

// decodePolicy reads the document's "policy": null or absent parts are
// the defaults. A deadline of 0 is off; a restart_backoff object turns
// the backoff on, with KubeVirt's base when it names none.
func decodePolicy(d *jsonread.Decoder, p *Policy) {
	o := d.Object(policyKeys)
	for o.Next() {
		switch o.Key() {
		case 0:
			fs := p.Deadlines.fields()
			o := d.Object(deadlineKeys)
			for o.Next() {
				if d.Null() {
					continue
				}
				v := secs(d, 0, acceptDeadline)
				if v == 0 {
					v = DeadlineOff
				}
				*fs[o.Key()] = v
			}
		case 1:
			if d.Null() {
				continue
			}
			b := Backoff{Base: DefaultBackoffBase}
			fs := b.fields()
			o := d.Object(backoffKeys)
			for o.Next() {
				if k := o.Key(); k == 0 {
					*fs[k] = secs(d, 1, acceptBase)
				} else {
					*fs[k] = secs(d, 0, acceptSecs)
				}
			}
			p.Backoff = b
		case 2:
			m := &p.Migration
			o := d.Object(migrationPolicyKeys)
			for o.Next() {
				switch o.Key() {
				case 0:
					m.ProgressDeadline = secs(d, 0, acceptSecs)
				case 1:
					m.BudgetPerGiB = secs(d, 0, acceptSecs)
				case 2:
					m.FleetLimit = int(d.Int64(0, math.MaxInt32, acceptCount))
				case 3:
					m.SledLimit = int(d.Int64(0, math.MaxInt32, acceptCount))
				}
			}
		}
	}
}

// appendSecs writes `,"key":n` (or `"key":n` first in an object) for a
// duration in whole seconds.
func appendSecs(b []byte, first bool, key string, d time.Duration) ([]byte, error) {
	if d%time.Second != 0 {
		return nil, &RuleError{Rule: "policy durations are whole seconds", Field: "policy." + key, Detail: d.String()}
	}
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, int64(d/time.Second), 10), nil
}

// appendInputsJSON writes the liveness inputs that differ from their
// defaults — so that a document without them reads back unchanged — and
// closes the object.
func (s *Snapshot) appendInputsJSON(b []byte) ([]byte, error) {
	var err error
	if s.Policy != (Policy{}) {
		b = append(b, `,"policy":{`...)
		first := true
		sep := func(key string) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, key...)
		}
		if dl := s.Policy.Deadlines; dl != (Deadlines{}) {
			sep(`"deadlines":{`)
			inner := true
			for i, f := range dl.fields() {
				v := *f
				if v == 0 {
					continue
				}
				if v < 0 {
					v = 0 // off
				}
				if b, err = appendSecs(b, inner, deadlineKeys.Names()[i], v); err != nil {
					return nil, err
				}
				inner = false
			}
			b = append(b, '}')
		}
		if bo := s.Policy.Backoff; bo.Enabled() {
			sep(`"restart_backoff":{`)
			inner := true
			for i, f := range bo.fields() {
				if *f == 0 {
					continue
				}
				if b, err = appendSecs(b, inner, backoffKeys.Names()[i], *f); err != nil {
					return nil, err
				}
				inner = false
			}
			b = append(b, '}')
		}
		if m := s.Policy.Migration; m != (MigrationPolicy{}) {
			sep(`"migration":{`)
			inner := true
			for i, v := range [...]time.Duration{m.ProgressDeadline, m.BudgetPerGiB} {
				if v == 0 {
					continue
				}
				if b, err = appendSecs(b, inner, migrationPolicyKeys.Names()[i], v); err != nil {
					return nil, err
				}
				inner = false
			}
			for i, n := range [...]int{m.FleetLimit, m.SledLimit} {
				if n == 0 {
					continue
				}
				if !inner {
					b = append(b, ',')
				}
				inner = false
				b = append(b, '"')
				b = append(b, migrationPolicyKeys.Names()[2+i]...)
				b = append(b, `":`...)
				b = strconv.AppendInt(b, int64(n), 10)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if s.MemoryGiB != 0 {
		b = append(b, `,"memory_gib":`...)
		b = strconv.AppendInt(b, int64(s.MemoryGiB), 10)
	}
	if l := s.MigrationsInFlight; l != (MigrationLoad{}) {
		b = append(b, `,"migrations_in_flight":{"fleet":`...)
		b = strconv.AppendInt(b, int64(l.Fleet), 10)
		b = append(b, `,"sled":`...)
		b = strconv.AppendInt(b, int64(l.Sled), 10)
		b = append(b, '}')
	}
	b = s.appendSagaJSON(b)
	return append(b, '}'), nil
}
