;; A plugin importing a function tollgate does not provide.
(module
  (import "env" "open_socket" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
