package main

import (
	"bufio"
	"encoding/json"

	"path/filepath"
	"strings"
	"testing"
)

// TestScriptTranscripts runs every script under testdata/script and
// compares its whole transcript (exit status, stdout, stderr) with the
// golden file beside it — the datastore's transcript tests, one line a
// step, readable as a story (regenerate with -update, review the diff). A
// script named bad_ must stop with exit 2 and one line on stderr naming the
// line; every other must exit 0 with one result line per operation line.
func TestScriptTranscripts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts under testdata/script: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".jsonl")
		t.Run(name, func(t *testing.T) {
			status, stdout, stderr := runInProcess([]string{"script", file}, "")
			bad := strings.HasPrefix(name, "bad_")
			switch {
			case bad && (status != exitBadInput || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, ": line ")):
				t.Errorf("exit %d, stderr %q; want 2 and one line naming the line", status, stderr)
			case !bad && (status != exitOK || stderr != ""):
				t.Errorf("exit %d, stderr %q; want 0", status, stderr)
			}
			// Every output line is one JSON object with the fixed keys.
			sc := bufio.NewScanner(strings.NewReader(stdout))
			for sc.Scan() {
				var out map[string]json.RawMessage
				if err := json.Unmarshal(sc.Bytes(), &out); err != nil {
					t.Fatalf("output line is not JSON: %s", sc.Text())
				}
				want := []string{"line", "op", "ok", "result"}
				if string(out["ok"]) == "false" {
					want[3] = "error"
				}
				for _, k := range want {
					if _, ok := out[k]; !ok || len(out) != 4 {
						t.Errorf("output line %s lacks %q or has other keys", sc.Text(), k)
					}
				}
			}
			checkGolden(t, strings.TrimSuffix(file, ".jsonl")+".golden", transcript(status, stdout, stderr))
		})
	}
}

// TestScriptLinesAreCounted: blank lines count in the numbering and are
// skipped; output is written line by line.
func TestScriptLinesAreCounted(t *testing.T) {
	in := "\n{\"op\":\"vmm_list_abandoned\"}\n\n{\"op\":\"find_instances_needing_update\"}\n"
	status, stdout, _ := runInProcess([]string{"script"}, in)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if status != exitOK || len(lines) != 2 || !strings.HasPrefix(lines[0], `{"line":2,`) || !strings.HasPrefix(lines[1], `{"line":4,`) {
		t.Fatalf("exit %d, stdout %q", status, stdout)
	}
}

// TestScriptStopsAtABadLine: a line that is not a valid operation stops
// the script — the lines before it ran, nothing after it does.
func TestScriptStopsAtABadLine(t *testing.T) {
	for _, bad := range []string{
		`not json`,
		`{"op":"vmm_fetch"}`,
		`{"op":"vmm_fetch","vmm_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","extra":1}`,
		`{"op":"vmm_mark_failed","vmm_id":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","reason":"bad_luck"}`,
		`{"op":"instance_set_intended_state","instance_id":"11111111-1111-4111-8111-111111111111","intended_state":7}`,
		`{"now":"yesterday","op":"vmm_list_abandoned"}`,
	} {
		in := "{\"op\":\"vmm_list_abandoned\"}\n" + bad + "\n{\"op\":\"vmm_list_abandoned\"}\n"
		status, stdout, stderr := runInProcess([]string{"script"}, in)
		if status != exitBadInput || strings.Count(stdout, "\n") != 1 || !strings.Contains(stderr, "line 2: ") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", bad, status, stdout, stderr)
		}
	}
}

// TestScriptBlamesTheRightPlace: an error names the line and the field it
// is in, even where the line is too long to read whole or nests too deep
// in a key the op does not take (D24's bounds).
func TestScriptBlamesTheRightPlace(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	long := `{"op":"vmm_list_abandoned","x":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, c := range []struct{ name, in, want string }{
		{"deep in an argument", `{"op":"instance_insert","instance":` + deep + "}\n", "line 1: instance: nested deeper than 32 levels"},
		{"deep after the op's keys", `{"op":"vmm_list_abandoned","later":` + deep + "}\n", "line 1: later: nested deeper"},
		{"an over-long line", "\n" + `{"op":"vmm_list_abandoned"}` + "\n" + long + "\n", "line 3: input: a line longer than 1048576 bytes"},
	} {
		status, _, stderr := runInProcess([]string{"script"}, c.in)
		if status != exitBadInput || !strings.HasPrefix(stderr, "vmlife script: "+c.want) {
			t.Errorf("%s: exit %d, stderr %.200q; want exit 2 and %q", c.name, status, stderr, c.want)
		}
	}
}
