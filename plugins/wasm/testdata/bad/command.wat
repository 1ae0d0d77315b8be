;; A WASI command (exports _start) rather than a reactor plugin.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
