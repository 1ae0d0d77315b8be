;; Traps that are not for want of memory. The request hook traps at once;
;; the response hook asks for more memory than any limit allows, copes with
;; the refusal and answers continue.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (unreachable))
  (func (export "tollgate_on_response") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 65536)))
    (i64.const 0)))
