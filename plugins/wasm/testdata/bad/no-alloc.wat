;; An ABI v1 plugin missing tollgate_alloc.
(module
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
