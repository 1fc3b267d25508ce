//go:build vmlife_nodb

package main

import (
	"time"

	"github.com/vmlife/vmlife/datastore"
	"github.com/vmlife/vmlife/sim"
)

// openStore, in a vmlife built with -tags vmlife_nodb, refuses every DSN:
// this build links no database driver.
func openStore(string, bool, time.Duration) (datastore.Store, func(runErr error), error) {
	return nil, nil, badInput("--store", "this vmlife was built with -tags vmlife_nodb and links no database driver",
		"no --store (a fresh in-memory store), or a vmlife built without the tag")
}

// migrateStore, in a vmlife built with -tags vmlife_nodb, refuses every
// DSN as openStore does.
func migrateStore(string) (migrateJSON, error) {
	return migrateJSON{}, badInput("--store", "this vmlife was built with -tags vmlife_nodb and links no database driver",
		"a vmlife built without the tag")
}

// openKeeper is never reached in a vmlife built with -tags vmlife_nodb:
// openStore refuses first.
func openKeeper(datastore.Store, bool) (sim.Keeper, error) {
	return nil, badInput("--store", "this vmlife was built with -tags vmlife_nodb and links no database driver",
		"a vmlife built without the tag")
}
