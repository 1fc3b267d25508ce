package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/vmlife/vmlife/sagas"
)

// The durable sagas from outside (DATASTORE's "what must hold"): for every
// saga, every fail_at and every crash_after k, `saga … crash_after: k`
// then `saga_recover` leaves exactly the records the same saga leaves
// without the crash — the same ids, states and generations — and no
// unfinished saga. crashCheck runs one store's scripts; the in-memory
// store is checked at every k here, PostgreSQL in store_test.go.

const (
	crashInstance = "11111111-1111-4111-8111-111111111111"
	crashSledA    = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	crashSledB    = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
	firstVMM      = "73000000-0000-4000-8000-000000000001"
)

// crashCase is a saga of the check: the lines that set the world up, and
// the saga line's op and params.
type crashCase struct {
	saga   sagas.Saga // for its steps
	setup  []string
	line   string // the saga line without fail_at and crash_after
	nameOf string
}

func crashCases() []crashCase {
	create := func(start bool) string {
		return fmt.Sprintf(`{"op":"saga","saga":"create","params":{"instance_id":%q,"start":%v}}`, crashInstance, start)
	}
	start := fmt.Sprintf(`{"op":"saga","saga":"start","params":{"instance_id":%q,"sled_id":%q}}`, crashInstance, crashSledA)
	report := func(state string, gen int) string {
		return fmt.Sprintf(`{"op":"sled_report","vmm_id":%q,"report":{"vmm_state":{"state":%q,"gen":%d,"time_updated":"2026-01-01T00:00:01Z"},"migration_in":null,"migration_out":null}}`, firstVMM, state, gen)
	}
	return []crashCase{
		{&sagas.Create{}, nil, create(true), "create"},
		{&sagas.Start{}, []string{create(true)}, start, "start"},
		{&sagas.Migrate{}, []string{create(true), start, report("running", 3)},
			fmt.Sprintf(`{"op":"saga","saga":"migrate","params":{"instance_id":%q,"source_propolis_id":%q,"sled_id":%q}}`, crashInstance, firstVMM, crashSledB), "migrate"},
		{&sagas.Update{}, []string{create(true), start, report("destroyed", 4)},
			fmt.Sprintf(`{"op":"saga","saga":"update","params":{"instance_id":%q}}`, crashInstance), "update"},
		{&sagas.Delete{}, []string{create(false)},
			fmt.Sprintf(`{"op":"saga","saga":"delete","params":{"instance_id":%q}}`, crashInstance), "delete"},
	}
}

// crashDump is what a run leaves, read back: every record the sagas can
// touch, the saga log's unfinished list and the leaked room.
func crashDump() []string {
	out := []string{
		fmt.Sprintf(`{"op":"instance_fetch_all","instance_id":%q}`, crashInstance),
		fmt.Sprintf(`{"op":"instance_list_migrations","instance_id":%q}`, crashInstance),
		`{"op":"saga_list_unfinished"}`,
		`{"op":"reservation_list_leaked"}`,
		`{"op":"find_instances_needing_update"}`,
		`{"op":"vmm_list_abandoned"}`,
	}
	for i := 1; i <= 4; i++ {
		id := fmt.Sprintf("73000000-0000-4000-8000-%012d", i)
		out = append(out, fmt.Sprintf(`{"op":"vmm_fetch","vmm_id":%q}`, id), fmt.Sprintf(`{"op":"migration_fetch","migration_id":%q}`, id))
	}
	return out
}

// withFaults adds fail_at and crash_after to a saga line.
func withFaults(line, failAt string, crash int) string {
	extra := ""
	if failAt != "" {
		extra += fmt.Sprintf(`,"fail_at":%q`, failAt)
	}
	if crash >= 0 {
		extra += fmt.Sprintf(`,"crash_after":%d`, crash)
	}
	return strings.TrimSuffix(line, "}") + extra + "}"
}

// results runs a script through run (an in-memory or --store run of
// `vmlife script`) and returns its result lines without their line
// numbers, failing on anything but exit 0.
func results(t *testing.T, run func(script string) (int, string, string), lines []string) []map[string]any {
	t.Helper()
	status, stdout, stderr := run(strings.Join(lines, "\n") + "\n")
	if status != exitOK {
		t.Fatalf("script: exit %d, stderr %s\nscript:\n%s", status, stderr, strings.Join(lines, "\n"))
	}
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		delete(m, "line")
		out = append(out, m)
	}
	return out
}

// crashCheck runs, for every case and fail point, the uncrashed saga and
// then the saga crashed after each k of ks(events) and recovered, and
// compares what each leaves. Each case and fail point is a subtest of its
// own, run in parallel with the others: every script run has a store of
// its own, and on PostgreSQL most of a run's time is the server's.
func crashCheck(t *testing.T, run func(script string) (int, string, string), ks func(events int) []int) {
	for _, c := range crashCases() {
		fails := []string{""}
		for _, s := range c.saga.Steps(&sagas.Env{}) {
			fails = append(fails, s.Name)
		}
		for _, failAt := range fails {
			t.Run(c.nameOf+"/fail_at="+failAt, func(t *testing.T) {
				t.Parallel()
				crashCheckOne(t, run, ks, c, failAt)
			})
		}
	}
}

// crashCheckOne is crashCheck's check of one case and fail point.
func crashCheckOne(t *testing.T, run func(script string) (int, string, string), ks func(events int) []int, c crashCase, failAt string) {
	{
		{
			name := c.nameOf + "/fail_at=" + failAt
			base := append(append(append([]string{}, c.setup...), withFaults(c.line, failAt, -1)), crashDump()...)
			want := results(t, run, base)
			sagaResult := want[len(c.setup)]
			wantDump := want[len(c.setup)+1:]
			// How many events the uncrashed saga writes: crash after every
			// one of them but the last write's.
			sagasBefore := 0
			for _, l := range c.setup {
				if strings.Contains(l, `"op":"saga"`) {
					sagasBefore++
				}
			}
			fetch := append(append([]string{}, c.setup...), withFaults(c.line, failAt, -1),
				fmt.Sprintf(`{"op":"saga_fetch","saga_id":"67000000-0000-4000-8000-%012d"}`, sagasBefore+1))
			fetched := results(t, run, fetch)
			events := len(fetched[len(fetched)-1]["result"].(map[string]any)["saga"].(map[string]any)["events"].([]any))
			for _, k := range ks(events) {
				lines := append(append([]string{}, c.setup...), withFaults(c.line, failAt, k),
					`{"op":"saga_recover","sec":"5ec00000-0000-4000-8000-000000000001"}`)
				lines = append(lines, crashDump()...)
				got := results(t, run, lines)
				crashed := got[len(c.setup)]["result"].(map[string]any)
				if crashed["outcome"] != "crashed" {
					// At rest before k events: as without crash_after.
					if fmt.Sprint(crashed["outcome"]) != fmt.Sprint(sagaResult["result"].(map[string]any)["outcome"]) {
						t.Errorf("%s/crash_after=%d: %v without crashing; uncrashed %v", name, k, crashed, sagaResult)
					}
					continue
				}
				recovered := got[len(c.setup)+1]["result"].(map[string]any)["sagas"].([]any)
				if len(recovered) != 1 || fmt.Sprint(recovered[0].(map[string]any)["outcome"]) != fmt.Sprint(sagaResult["result"].(map[string]any)["outcome"]) {
					t.Errorf("%s/crash_after=%d: recovered %v; uncrashed %v", name, k, recovered, sagaResult["result"])
				}
				gotDump := got[len(c.setup)+2:]
				for i := range wantDump {
					if a, b := fmt.Sprint(wantDump[i]), fmt.Sprint(gotDump[i]); a != b {
						t.Errorf("%s/crash_after=%d: %s\n  uncrashed: %s\n  recovered: %s", name, k, crashDump()[i], a, b)
					}
				}
			}
		}
	}
}

// TestCrashRecoverFromOutside: the check at every crash point, in memory.
func TestCrashRecoverFromOutside(t *testing.T) {
	crashCheck(t, func(script string) (int, string, string) {
		return runInProcess([]string{"script"}, script)
	}, func(events int) []int {
		ks := make([]int, events)
		for i := range ks {
			ks[i] = i
		}
		return ks
	})
}
