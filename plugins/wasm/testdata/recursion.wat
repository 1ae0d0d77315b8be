;; A request hook with no loop that does not finish: a naive recursive
;; Fibonacci of 60 (2^41 calls, at most 60 deep). The deadline must stop it
;; at a function entry.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "tollgate_on_request") (param i32 i32) (result i64)
    (drop (call $fib (i32.const 60)))
    (i64.const 0)))
