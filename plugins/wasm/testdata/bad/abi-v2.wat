;; A plugin for a future ABI v2: the host must refuse it with a message.
(module
  (memory (export "memory") 1)
  (func (export "tollgate_abi_v2"))
  (func (export "tollgate_alloc") (param i32) (result i32) (i32.const 0))
  (func (export "tollgate_on_request") (param i32 i32) (result i64) (i64.const 0)))
