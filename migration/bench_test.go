package migration_test

import (
	"testing"

	"github.com/vmlife/vmlife/migration"
	"github.com/vmlife/vmlife/vmmstate"
)

// Sinks keep the compiler from discarding the benchmarked calls.
var (
	sinkRecord  migration.Record
	sinkReport  migration.Report
	sinkOutcome vmmstate.Outcome
	sinkBool    bool
	sinkErr     error
)

func benchRecord() migration.Record {
	r := migration.New(migID, instID, vmm1, vmm2, t0)
	r.Source = migration.Side{VMM: vmm1, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	return r
}

// The hot path of §12: a newer source report is written.
func BenchmarkApplySource(b *testing.B) {
	r := benchRecord()
	rep := migration.Report{MigrationID: migID, State: migration.Completed, Generation: gen(3), TimeUpdated: t2}
	b.ReportAllocs()
	for b.Loop() {
		sinkRecord, sinkOutcome, sinkErr = r.ApplySource(vmm1, rep)
	}
	if sinkOutcome != vmmstate.Applied || sinkErr != nil {
		b.Fatalf("ApplySource = %v, %v", sinkOutcome, sinkErr)
	}
}

// The commonest report of all: a duplicate, dropped as stale (D5).
func BenchmarkApplySourceStale(b *testing.B) {
	r := benchRecord()
	rep := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	b.ReportAllocs()
	for b.Loop() {
		sinkRecord, sinkOutcome, sinkErr = r.ApplySource(vmm1, rep)
	}
	if sinkOutcome != vmmstate.Stale || sinkErr != nil {
		b.Fatalf("ApplySource = %v, %v", sinkOutcome, sinkErr)
	}
}

func BenchmarkApplyTarget(b *testing.B) {
	r := benchRecord()
	rep := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t2}
	b.ReportAllocs()
	for b.Loop() {
		sinkRecord, sinkOutcome, sinkErr = r.ApplyTarget(vmm2, rep)
	}
	if sinkOutcome != vmmstate.Applied || sinkErr != nil {
		b.Fatalf("ApplyTarget = %v, %v", sinkOutcome, sinkErr)
	}
}

func BenchmarkMarkFailed(b *testing.B) {
	r := benchRecord()
	b.ReportAllocs()
	for b.Loop() {
		sinkRecord, sinkOutcome, sinkErr = r.MarkFailed(t3)
	}
	if sinkOutcome != vmmstate.Applied || sinkErr != nil {
		b.Fatalf("MarkFailed = %v, %v", sinkOutcome, sinkErr)
	}
}

func BenchmarkCheckInOut(b *testing.B) {
	in := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2)}
	out := migration.Report{MigrationID: otherMig, State: migration.Completed, Generation: gen(3)}
	b.ReportAllocs()
	for b.Loop() {
		sinkErr = migration.CheckInOut(&in, &out)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}

func BenchmarkPredicates(b *testing.B) {
	r := benchRecord()
	r.Target.State = migration.Completed
	b.Run("IsTerminal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = r.IsTerminal()
		}
	})
	b.Run("EitherSideFailed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = r.EitherSideFailed()
		}
	})
	b.Run("EitherSideCompleted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = r.EitherSideCompleted()
		}
	})
	b.Run("State.IsTerminal", func(b *testing.B) {
		s := migration.InProgress
		b.ReportAllocs()
		for b.Loop() {
			sinkBool = s.IsTerminal()
		}
	})
	b.Run("Validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = r.Validate()
		}
	})
}

func BenchmarkFold(b *testing.B) {
	cur := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	b.ReportAllocs()
	for b.Loop() {
		sinkReport, sinkBool, sinkErr = migration.Fold(cur, true, migID, migration.Completed, t2)
	}
	if !sinkBool || sinkErr != nil {
		b.Fatalf("Fold = %v, %v", sinkBool, sinkErr)
	}
}

func BenchmarkHalt(b *testing.B) {
	cur := migration.Report{MigrationID: migID, State: migration.InProgress, Generation: gen(2), TimeUpdated: t1}
	b.ReportAllocs()
	for b.Loop() {
		sinkReport, sinkBool, sinkErr = migration.Halt(cur, t2)
	}
	if !sinkBool || sinkErr != nil {
		b.Fatalf("Halt = %v, %v", sinkBool, sinkErr)
	}
}

// Zero allocations is a promise, not a measurement: hold it in the test run.
func TestHotPathsDoNotAllocate(t *testing.T) {
	r := benchRecord()
	rep := migration.Report{MigrationID: migID, State: migration.Completed, Generation: gen(3), TimeUpdated: t2}
	in := migration.Report{MigrationID: otherMig}
	for name, f := range map[string]func(){
		"ApplySource": func() { sinkRecord, sinkOutcome, sinkErr = r.ApplySource(vmm1, rep) },
		"ApplyTarget": func() { sinkRecord, sinkOutcome, sinkErr = r.ApplyTarget(vmm2, rep) },
		"MarkFailed":  func() { sinkRecord, sinkOutcome, sinkErr = r.MarkFailed(t3) },
		"CheckInOut":  func() { sinkErr = migration.CheckInOut(&in, &rep) },
		"Predicates":  func() { sinkBool = r.IsTerminal() || r.EitherSideFailed() || r.EitherSideCompleted() },
		"Fold":        func() { sinkReport, sinkBool, sinkErr = migration.Fold(rep, true, migID, migration.Failed, t3) },
		"Halt":        func() { sinkReport, sinkBool, sinkErr = migration.Halt(rep, t3) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times per call", name, n)
		}
	}
}
