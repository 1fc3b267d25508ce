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

// propolisTick lets one running VMM move on: drawn from all the VMMs
// the sled-agents hold until one that has not halted comes up (forgotten
// ones are dropped as they are drawn), and after eight misses from a
// count of them — never a list built at every tick.
func (w *World) propolisTick() {
	var a *agentVMM
	for range 8 {
		if len(w.agents) == 0 {
			return
		}
		i := w.intn(len(w.agents))
		c := w.agents[i]
		if c.gone {
			last := len(w.agents) - 1
			w.agents[i], w.agents[last] = w.agents[last], nil
			w.agents = w.agents[:last]
			continue
		}
		if !c.p.halted() {
			a = c
			break
		}
	}
	if a == nil {
		w.scratch = w.scratch[:0]
		live := w.agents[:0]
		for _, c := range w.agents {
			if c.gone {
				continue
			}
			live = append(live, c)
			if !c.p.halted() {
				w.scratch = append(w.scratch, c)
			}
		}
		clear(w.agents[len(live):])
		w.agents = live
		if len(w.scratch) == 0 {
			return
		}
		a = w.scratch[w.intn(len(w.scratch))]
	}
	w.tracef("propolis %s %v", a.name, a.rt.State)
	w.tick(a)
}
