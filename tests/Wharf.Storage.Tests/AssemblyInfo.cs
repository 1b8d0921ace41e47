// The tests are dominated by disk I/O and fsync, and one measures allocations process-wide:
// run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
