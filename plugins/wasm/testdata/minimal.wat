;; The smallest ABI v1 plugin: a request hook that answers continue. The
;; benchmarks use it to measure the cost of one crossing; its buffer holds
;; documents up to 60 KiB.
(module
  ;; Imported so that the host can add its cheap deadline checks.
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32)
    (if (i32.gt_u (local.get 0) (i32.const 61440)) (then (unreachable)))
    (i32.const 4096))
  (func (export "tollgate_on_request") (param i32 i32) (result i64)
    (i64.const 0)))
