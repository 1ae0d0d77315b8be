;; A request hook whose loop runs few iterations, each a 16 MiB memory.fill
;; (about a millisecond): a million of them. The deadline must stop it
;; although the loop head is passed only ~1,000 times a second.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 272)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (local $i i32)
    (loop $l
      (memory.fill (i32.const 65536) (local.get $i) (i32.const 16777216))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000))))
    (i64.const 0)))
