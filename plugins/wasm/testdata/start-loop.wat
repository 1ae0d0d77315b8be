;; A module whose start function never returns: instantiating it must fail
;; at the start deadline, not hang.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func $start (loop $l (br $l)))
  (start $start)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
