package sagas

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
)

// TestLockStateRoundTrip: an updater lock in the log reads back as it was
// held — none held as the zero lock, whose JSON is left out — and a
// generation no store writes is refused.
func TestLockStateRoundTrip(t *testing.T) {
	held := instancestate.Lock{Updater: instancestate.UpdaterIDFromUUID(uuid.MustParse("22222222-2222-4222-8222-222222222222")), Gen: generation.Of(3)}
	for _, l := range []instancestate.Lock{{}, held} {
		b, err := json.Marshal(updateState{Lock: logLock(l)})
		if err != nil {
			t.Fatal(err)
		}
		var st updateState
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		got, err := st.Lock.lock()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got != l {
			t.Errorf("%s read back as %+v; want %+v", b, got, l)
		}
	}
	if _, err := (lockState{Gen: -1}).lock(); err == nil {
		t.Error("a negative generation read back")
	}
}
