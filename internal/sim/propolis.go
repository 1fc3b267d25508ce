package sim

// Sled-agents (§3.5): a running VMM's Propolis moving on.

func (w *World) anyAgentVMM() bool {
	for _, sl := range w.sleds {
		for _, a := range sl.agent {
			if !a.p.halted() {
				return true
			}
		}
	}
	return false
}

// propolisTick lets one running VMM move on.
func (w *World) propolisTick() {
	w.scratch = w.scratch[:0]
	for _, sl := range w.sleds {
		for _, a := range sl.agent {
			if !a.p.halted() {
				w.scratch = append(w.scratch, a)
			}
		}
	}
	if len(w.scratch) == 0 {
		return
	}
	a := w.scratch[w.intn(len(w.scratch))]
	w.tracef("propolis %s %v", a.name, a.rt.State)
	w.tick(a)
}
