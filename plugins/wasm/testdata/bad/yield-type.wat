;; Imports sched_yield with the wrong type: the host cannot yield through
;; it, and the module does not instantiate.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (param i64) (result i64)))
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
