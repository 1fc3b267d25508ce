package sagas

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/failure"
	"github.com/vmlife/vmlife/generation"
	"github.com/vmlife/vmlife/instancestate"
	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// The reactions every saga shares (env.go), one row each: how a
// sled-agent's answer is recorded, what proves a VMM gone, and which store
// refusals an undo or a report takes as "already done".

// scripted is a store whose few operations the reactions call answer as
// a row says, and that records what it was asked.
type scripted struct {
	datastore.Store
	report    func(call int, r instancestate.Report) (datastore.SledReportResult, error)
	reports   []instancestate.Report
	failedErr error
	failed    int
	row       datastore.VMMRow
	fetchErr  error
	unwindErr error
}

func (s *scripted) SledReport(_ context.Context, _ vmmstate.ID, r instancestate.Report) (datastore.SledReportResult, error) {
	s.reports = append(s.reports, r)
	return s.report(len(s.reports), r)
}

func (s *scripted) VMMMarkFailed(context.Context, vmmstate.ID, failure.Reason, time.Time) (datastore.Result, error) {
	s.failed++
	return datastore.Result{Applied: s.failedErr == nil}, s.failedErr
}

func (s *scripted) VMMFetch(context.Context, vmmstate.ID) (datastore.VMMRow, error) {
	return s.row, s.fetchErr
}

func (s *scripted) VMMMarkSagaUnwound(context.Context, vmmstate.ID, time.Time) (datastore.Result, error) {
	return datastore.Result{}, s.unwindErr
}

// agentAnswer is a sled-agent whose Unregister answers err (or a report).
type agentAnswer struct {
	SledAgent
	err error
}

func (a agentAnswer) Unregister(context.Context, vmmstate.VMM) (instancestate.Report, error) {
	if a.err != nil {
		return instancestate.Report{}, a.err
	}
	return instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentDestroyed, Generation: generation.Of(9)}}, nil
}

var (
	gone404    = &AgentError{Outcome: failure.Outcome{Status: 404, ErrorCode: "NO_SUCH_INSTANCE"}}
	busy503    = &AgentError{Outcome: failure.Outcome{Status: 503}}
	notOutcome = &AgentError{} // neither a status nor a communication failure
	errOther   = errors.New("the client's own error")
)

func TestClassifyRows(t *testing.T) {
	for _, c := range []struct {
		name   string
		err    error
		gone   bool
		reason failure.Reason
		cause  failure.Cause
	}{
		{"not a sled-agent answer", errOther, false, 0, failure.CauseInternal},
		{"no such instance", gone404, true, failure.NoSuchInstance, failure.CauseVMMGone},
		{"503", busy503, false, 0, failure.CauseSledAgentError},
		{"an outcome that is none", notOutcome, false, 0, failure.CauseInternal},
	} {
		gone, reason, cause := classify(c.err)
		if gone != c.gone || reason != c.reason || cause != c.cause {
			t.Errorf("%s: classify = %v, %v, %v; want %v, %v, %v", c.name, gone, reason, cause, c.gone, c.reason, c.cause)
		}
	}
}

func TestApplyReportRows(t *testing.T) {
	side := &migration.Report{}
	withSide := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning}, MigrationIn: side}
	plain := instancestate.Report{VMM: vmmstate.SledAgentRuntime{State: vmmstate.SledAgentRunning}}
	needed := datastore.SledReportResult{UpdateSagaNeeded: true}
	answer := func(errs ...error) func(int, instancestate.Report) (datastore.SledReportResult, error) {
		return func(call int, _ instancestate.Report) (datastore.SledReportResult, error) {
			if call <= len(errs) && errs[call-1] != nil {
				return datastore.SledReportResult{}, errs[call-1]
			}
			return needed, nil
		}
	}
	for _, c := range []struct {
		name    string
		report  instancestate.Report
		answer  func(int, instancestate.Report) (datastore.SledReportResult, error)
		calls   int   // store calls
		err     error // returned
		updates int   // update sagas asked for
	}{
		{"recorded, an update needed", plain, answer(), 1, nil, 1},
		{"nothing terminal written", plain, func(int, instancestate.Report) (datastore.SledReportResult, error) {
			return datastore.SledReportResult{}, nil
		}, 1, nil, 0},
		// §8.2: a side names a migration deleted with its instance; the
		// VMM's own state is recorded alone.
		{"a deleted migration's side: the VMM alone", withSide, answer(datastore.ErrGone), 2, nil, 1},
		{"gone without a side: nothing to retry", plain, answer(datastore.ErrGone), 1, nil, 0},
		{"an edge the records moved past", plain, answer(datastore.ErrIllegalTransition), 1, nil, 0},
		{"terminal", plain, answer(datastore.ErrTerminal), 1, nil, 0},
		{"a store that fails", plain, answer(errOther), 1, errOther, 0},
		{"a refusal that is no report's", plain, answer(datastore.ErrConflict), 1, datastore.ErrConflict, 0},
	} {
		st := &scripted{report: c.answer}
		updates := 0
		env := &Env{Store: st, UpdateNeeded: func(instancestate.ID) { updates++ }}
		err := applyReport(context.Background(), env, instancestate.ID{}, vmmstate.ID{}, c.report)
		if !errors.Is(err, c.err) || c.err == nil && err != nil || len(st.reports) != c.calls || updates != c.updates {
			t.Errorf("%s: err %v, %d store calls, %d updates; want %v, %d, %d", c.name, err, len(st.reports), updates, c.err, c.calls, c.updates)
		}
		if c.calls == 2 && (st.reports[1].MigrationIn != nil || st.reports[1].MigrationOut != nil || st.reports[1].VMM != c.report.VMM) {
			t.Errorf("%s: the retry reported %+v; want the VMM's state alone", c.name, st.reports[1])
		}
	}
}

func TestMarkFailedAndUnwoundRows(t *testing.T) {
	for _, c := range []struct {
		storeErr error
		err      error
		updates  int
	}{
		{nil, nil, 1},
		{datastore.ErrTerminal, nil, 1},
		{datastore.ErrNotFound, nil, 1},
		{datastore.ErrConflict, datastore.ErrConflict, 0},
		{errOther, errOther, 0},
	} {
		updates := 0
		env := &Env{Store: &scripted{failedErr: c.storeErr}, Now: time.Now, UpdateNeeded: func(instancestate.ID) { updates++ }}
		err := markFailed(context.Background(), env, instancestate.ID{}, vmmstate.ID{}, failure.NoSuchInstance)
		if !errors.Is(err, c.err) || c.err == nil && err != nil || updates != c.updates {
			t.Errorf("markFailed with the store answering %v: %v, %d updates; want %v, %d", c.storeErr, err, updates, c.err, c.updates)
		}
		env = &Env{Store: &scripted{unwindErr: c.storeErr}, Now: time.Now}
		err = markUnwound(context.Background(), env, vmmstate.ID{})
		if !errors.Is(err, c.err) || c.err == nil && err != nil {
			t.Errorf("markUnwound with the store answering %v: %v; want %v", c.storeErr, err, c.err)
		}
	}
}

func TestUnregisterRows(t *testing.T) {
	running := datastore.VMMRow{VMM: vmmstate.VMM{Runtime: vmmstate.Runtime{State: vmmstate.Running}}}
	destroyed := datastore.VMMRow{VMM: vmmstate.VMM{Runtime: vmmstate.Runtime{State: vmmstate.Destroyed}}}
	for _, c := range []struct {
		name      string
		row       datastore.VMMRow
		fetchErr  error
		agentErr  error
		failedErr error
		err       error // errors.Is
		failed    int   // VMMMarkFailed calls
		reports   int
	}{
		{"the agent's answer is recorded", running, nil, nil, nil, nil, 0, 1},
		{"the row cannot be read", running, errOther, nil, nil, errOther, 0, 0},
		{"gone, and the records say it halted", destroyed, nil, gone404, nil, nil, 0, 0},
		{"gone: marked failed, the unwind stops", running, nil, gone404, nil, gone404, 1, 0},
		{"gone, and marking it failed fails", running, nil, gone404, errOther, errOther, 1, 0},
		{"another sled-agent error: already unregistered", running, nil, busy503, nil, nil, 0, 0},
		{"the client's own error", running, nil, errOther, nil, errOther, 0, 0},
	} {
		st := &scripted{row: c.row, fetchErr: c.fetchErr, failedErr: c.failedErr,
			report: func(int, instancestate.Report) (datastore.SledReportResult, error) {
				return datastore.SledReportResult{}, nil
			}}
		env := &Env{Store: st, Agent: agentAnswer{err: c.agentErr}, Now: time.Now}
		err := unregister(context.Background(), env, instancestate.ID{}, vmmstate.ID{})
		if !errors.Is(err, c.err) || c.err == nil && err != nil || st.failed != c.failed || len(st.reports) != c.reports {
			t.Errorf("%s: err %v, %d marked failed, %d reports; want %v, %d, %d", c.name, err, st.failed, len(st.reports), c.err, c.failed, c.reports)
		}
	}
}
