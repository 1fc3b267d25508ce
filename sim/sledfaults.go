package sim

import "github.com/vmlife/vmlife/failure"

// Sled faults: power, partitions and expungement.

// pickSled chooses one sled satisfying ok.
func (w *World) pickSled(ok func(*sled) bool) *sled {
	var cands []*sled
	for _, sl := range w.sleds {
		if ok(sl) {
			cands = append(cands, sl)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[w.intn(len(cands))]
}

func healthy(sl *sled) bool { return sl.inService() && !sl.partitioned }

// census counts the sleds that are off, cut off and up; it is counted
// again only after a sled changed (sledsChanged), not at every step.
type census struct {
	off, parted, up int
	counted         bool
}

func (w *World) sledCensus() (off, parted, up int) {
	if !w.census.counted {
		c := census{counted: true}
		for _, sl := range w.sleds {
			switch {
			case sl.expunged:
			case sl.power != failure.PowerA0:
				c.off++
			case sl.partitioned:
				c.parted++
			default:
				c.up++
			}
		}
		w.census = c
	}
	return w.census.off, w.census.parted, w.census.up
}

// sledsChanged marks the census stale: a sled was added, or its power,
// partition or policy changed.
func (w *World) sledsChanged() { w.census.counted = false }

// lose takes every VMM off a sled-agent, as a power loss does; the other
// side of any of their migrations sees the migration fail.
func (w *World) lose(sl *sled) {
	// The other side of a migration finds this one gone and fails it.
	for _, a := range sl.agent {
		a.gone = true
	}
	sl.agent = nil
}

func (w *World) sledOff() {
	w.sledsChanged()
	sl := w.pickSled(healthy)
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledOff]++
	sl.power = failure.PowerA2
	if w.chance(2) {
		sl.power = failure.PowerA1
	}
	w.lose(sl)
	w.tracef("sled %s off (%v)", sl.name, sl.power)
}

func (w *World) sledOn() {
	w.sledsChanged()
	sl := w.pickSled(func(sl *sled) bool { return !sl.expunged && sl.power != failure.PowerA0 })
	if sl == nil {
		return
	}
	sl.power = failure.PowerA0
	w.tracef("sled %s on", sl.name)
}

func (w *World) sledPartition() {
	w.sledsChanged()
	sl := w.pickSled(healthy)
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledUnreachable]++
	sl.partitioned, sl.mgsUnknown = true, w.chance(3)
	w.tracef("sled %s unreachable", sl.name)
}

func (w *World) sledHeal() {
	w.sledsChanged()
	sl := w.pickSled(func(sl *sled) bool { return sl.partitioned })
	if sl == nil {
		return
	}
	sl.partitioned, sl.mgsUnknown = false, false
	w.tracef("sled %s answers again", sl.name)
}

// sledExpunge expunges a sled (its VMMs die with it) and adds a new sled
// in its slot, so the world keeps its capacity.
func (w *World) sledExpunge() {
	w.sledsChanged()
	sl := w.pickSled(func(sl *sled) bool { return sl.inService() })
	if sl == nil {
		return
	}
	w.stats.Faults[FaultSledExpunge]++
	sl.expunged = true
	w.lose(sl)
	repl := w.addSled(sl.slot)
	w.tracef("sled %s expunged, %s replaces it", sl.name, repl.name)
}
