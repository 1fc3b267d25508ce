package instancestate

// NexusMove is one edge of the instance record's own state machine: the
// operation that moves the nexus state From → To.
type NexusMove struct {
	From, To NexusState
	By       string // the operation, for docs and diagrams
	Rule     string // where the spec says so
}

// nexusMoves is every change of the instance record's state column vmlife
// makes. MarkAsStarting, UnwindStart, Decide, PlanUpdate and Delete only
// move along these edges (their tests check it), and `vmlife diagram
// instance` draws them.
var nexusMoves = [...]NexusMove{
	{NexusCreating, NexusNoVMM, "create saga finishes", "§16"},
	{NexusCreating, NexusDestroyed, "create saga unwinds", "§16"},
	{NexusNoVMM, NexusVMM, "start saga links its VMM", "§14"},
	{NexusFailed, NexusVMM, "start or auto-restart links its VMM", "§14, D15"},
	{NexusVMM, NexusNoVMM, "update plan unlinks a destroyed or unwound VMM", "§13.3, D11"},
	{NexusVMM, NexusFailed, "update plan unlinks a failed VMM", "§13.3"},
	{NexusVMM, NexusNoVMM, "start saga unwinds", "§14"},
	{NexusFailed, NexusNoVMM, "stop of a failed instance", "§10.2"},
	{NexusNoVMM, NexusDestroyed, "delete saga", "§8.1"},
	{NexusFailed, NexusDestroyed, "delete saga", "§8.1"},
}

// NexusMoves returns every edge of the instance record's state machine, in
// a fresh slice.
func NexusMoves() []NexusMove { return append([]NexusMove(nil), nexusMoves[:]...) }

// CanMove reports whether the instance record's state may change from one
// nexus state to a different one. Staying in the same state is always
// allowed and is not an edge.
func CanMove(from, to NexusState) bool {
	for _, m := range nexusMoves {
		if m.From == from && m.To == to {
			return true
		}
	}
	return false
}
