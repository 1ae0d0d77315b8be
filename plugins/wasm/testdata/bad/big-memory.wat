;; A plugin that asks for 512 pages (32 MiB) of memory at start.
(module
  (memory (export "memory") 512)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
