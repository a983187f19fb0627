// Package kcidb exports a run's results (report.Run) as KCIDB I/O data:
// the JSON the Linux kernel CI database (KernelCI's KCIDB) takes in, schema
// v5.3 as kernelci/kcidb-io defines it in kcidb_io/schema/v05_03.py (the
// newest version there; kcidb_io.schema.LATEST).
//
// The mapping, one run to one submission:
//
//   - Checkout: one per distinct kernel source and patch series (a boot's
//     source Digest and Series). Its patchset_hash is "" for series "none"
//     (KCIDB's "no patches applied"), the hash Options.Patchsets gives for
//     the series (see PatchsetHash) and absent otherwise. valid is true
//     when some boot of it was built (its series applied); absent when
//     none was, since a boot's record cannot tell a series that did not
//     apply from a config or tool that failed.
//   - Build: one per checkout, arch and build key. status is PASS for a
//     kernel built or taken from the cache; duration only for a kernel
//     built in this run. Boots that never got a kernel share one build per
//     checkout and arch whose status says why: "invalid" (the input does
//     not fit: series, config) is FAIL, "infra" and "interrupted" are MISS.
//     A compile error reaches the record as "infra" today, so it is MISS
//     too, until report.Boot says which it was.
//   - Test: one for each boot itself, its path the cell's UML flag set
//     ("none" for the flag set "-", "boot" outside a matrix), and one for
//     every KTAP test below it, the KTAP hierarchy joined with '.'. A KTAP
//     name becomes one path component: every character KCIDB does not
//     allow in one ([a-zA-Z0-9_-]) becomes '_', so "addr=0x6" is
//     "addr_0x6" and kselftest's "global.KILL_all" stays one node.
//
// Statuses: KTAP pass and xfail are PASS, fail is FAIL, skip and todo are
// SKIP, error is ERROR. A boot's own test is PASS for passed and flaky
// (the try that counted passed), FAIL for failed and panic (the kernel
// under test broke), ERROR for timeout (it never finished, and a hung test
// and a hung kernel look alike), MISS for infra, interrupted and invalid.
//
// Not exported: cells skipped for a reason outside the lab (status
// "skipped", their source variable unset) and boots whose source was never
// resolved: they ran nothing and name no code.
//
// Ids are "origin:run/…", run being Options.RunID or else the run's start
// time: a checkout is "src-" and a hash of its source digest and series, a
// build "build-" and a hash of its checkout, arch and build key, a test its
// cell ID (SuiteName outside a matrix), '/', and its path, with "~2", "~3"
// for a path met again in one boot. Every submission's objects are its own,
// and the same run always exports the same bytes. start_time is the run's
// start for every object: a record keeps no other.
package kcidb
