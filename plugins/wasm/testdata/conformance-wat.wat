;; The ABI v1 conformance plugin, written by hand in the WebAssembly text
;; format without any SDK: the proof that ABI v1 is language-neutral. It
;; passes the same conformance suite as the Go SDK's plugin. Strings live
;; at fixed offsets in the data segments at the end; code refers to each by
;; (offset, length), so an edited string moves the ones after it.
;;
;; Behaviour is chosen by the request's model ("conf-deny", ...), found by a
;; substring search of the input document.
(module
  ;; Imported so that the host can add its deadline checks (docs/plugin-abi.md).
  (import "wasi_snapshot_preview1" "sched_yield" (func $sched_yield (result i32)))
  (import "tollgate" "log" (func $log (param i32 i32 i32)))
  (import "tollgate" "config" (func $config (param i32 i32) (result i32)))
  (import "tollgate" "deliver" (func $deliver (param i32 i32 i32 i32) (result i32)))
  (import "tollgate" "emit" (func $emit (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  ;; 0..4095: strings; 4096..8191: answers built at run time;
  ;; 8192..: the input buffer handed out by tollgate_alloc.
  (global $in (mut i32) (i32.const 0))
  (global $inlen (mut i32) (i32.const 0))

  (func (export "tollgate_abi_v1"))
  (func (export "tollgate_hooks") (result i32) (i32.const 15))

  ;; tollgate_alloc returns 8192, growing memory so that size bytes fit.
  (func (export "tollgate_alloc") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u (i32.add (i32.add (local.get $size) (i32.const 8192)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.eq (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const -1))
        (then (unreachable)))))
    (i32.const 8192))

  ;; pack makes a hook's result: address << 32 | length.
  (func $pack (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32)) (i64.extend_i32_u (local.get $len))))

  ;; has reports whether the input document contains the needle.
  (func $has (param $n i32) (param $nlen i32) (result i32)
    (local $i i32) (local $j i32) (local $end i32)
    (local.set $end (i32.sub (i32.add (global.get $in) (global.get $inlen)) (local.get $nlen)))
    (local.set $i (global.get $in))
    (block $done
      (loop $outer
        (br_if $done (i32.gt_s (local.get $i) (local.get $end)))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $inner
            (if (i32.eq (local.get $j) (local.get $nlen)) (then (return (i32.const 1))))
            (br_if $mismatch (i32.ne (i32.load8_u (i32.add (local.get $i) (local.get $j)))
                                     (i32.load8_u (i32.add (local.get $n) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $inner)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (i32.const 0))

  ;; copy copies len bytes from src to dst and returns dst + len.
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; config_answer responds with the plugin's config as the body.
  (func $config_answer (result i64)
    (local $p i32) (local $n i32)
    (local.set $p (call $copy (i32.const 4096) (i32.const 720) (i32.const 40)))
    (local.set $n (call $config (local.get $p) (i32.sub (i32.const 8190) (local.get $p))))
    (if (i32.gt_u (local.get $n) (i32.sub (i32.const 8190) (local.get $p))) (then (unreachable)))
    (local.set $p (i32.add (local.get $p) (local.get $n)))
    (i32.store8 (local.get $p) (i32.const 125)) ;; }
    (call $pack (i32.const 4096) (i32.sub (i32.add (local.get $p) (i32.const 1)) (i32.const 4096))))

  ;; code_answer responds with {"code":N} for a host function result in -9..9.
  (func $code_answer (param $code i32) (result i64)
    (local $p i32)
    (local.set $p (call $copy (i32.const 4096) (i32.const 919) (i32.const 48)))
    (if (i32.lt_s (local.get $code) (i32.const 0))
      (then
        (i32.store8 (local.get $p) (i32.const 45)) ;; -
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $code (i32.sub (i32.const 0) (local.get $code)))))
    (i32.store8 (local.get $p) (i32.add (i32.const 48) (local.get $code)))
    (i32.store16 (i32.add (local.get $p) (i32.const 1)) (i32.const 0x7d7d)) ;; }}
    (call $pack (i32.const 4096) (i32.sub (i32.add (local.get $p) (i32.const 3)) (i32.const 4096))))

  (func $input (param $ptr i32) (param $len i32)
    (global.set $in (local.get $ptr))
    (global.set $inlen (local.get $len)))

  (func (export "tollgate_on_request") (param $ptr i32) (param $len i32) (result i64)
    (call $input (local.get $ptr) (local.get $len))
    (if (call $has (i32.const 16) (i32.const 19)) (then (return (call $pack (i32.const 35) (i32.const 92)))))
    (if (call $has (i32.const 127) (i32.const 22)) (then (return (call $pack (i32.const 149) (i32.const 52)))))
    (if (call $has (i32.const 201) (i32.const 20)) (then (return (call $pack (i32.const 221) (i32.const 46)))))
    (if (call $has (i32.const 267) (i32.const 20)) (then (return (call $pack (i32.const 287) (i32.const 44)))))
    (if (call $has (i32.const 331) (i32.const 19)) (then (return (call $pack (i32.const 350) (i32.const 101)))))
    (if (call $has (i32.const 451) (i32.const 19)) (then (return (call $pack (i32.const 470) (i32.const 54)))))
    (if (call $has (i32.const 524) (i32.const 19)) (then (return (call $pack (i32.const 543) (i32.const 49)))))
    (if (call $has (i32.const 592) (i32.const 19)) (then (unreachable)))
    (if (call $has (i32.const 611) (i32.const 19)) (then (loop $spin (br $spin))))
    (if (call $has (i32.const 630) (i32.const 18)) (then (loop $grow (br_if $grow (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) (unreachable)))
    (if (call $has (i32.const 648) (i32.const 18)) (then (call $log (i32.const 1) (i32.const 666) (i32.const 33))))
    (if (call $has (i32.const 699) (i32.const 21)) (then (return (call $config_answer))))
    (if (call $has (i32.const 782) (i32.const 29)) (then (return (call $code_answer (call $deliver (i32.const 860) (i32.const 29) (i32.const 894) (i32.const 25))))))
    (if (call $has (i32.const 760) (i32.const 22)) (then (return (call $code_answer (call $deliver (i32.const 830) (i32.const 30) (i32.const 894) (i32.const 25))))))
    (if (call $has (i32.const 811) (i32.const 19)) (then (return (call $code_answer (call $emit (i32.const 889) (i32.const 5) (i32.const 894) (i32.const 25))))))
    (if (call $has (i32.const 967) (i32.const 21)) (then (return (i64.const 0x7fff000000000010))))
    (if (call $has (i32.const 988) (i32.const 22)) (then (return (call $pack (i32.const 1010) (i32.const 10)))))
    (i64.const 0))

  (func (export "tollgate_on_response") (param $ptr i32) (param $len i32) (result i64)
    (call $input (local.get $ptr) (local.get $len))
    (if (call $has (i32.const 1020) (i32.const 17)) (then (return (call $pack (i32.const 1037) (i32.const 47)))))
    (i64.const 0))

  (func (export "tollgate_on_stream_event") (param $ptr i32) (param $len i32) (result i64)
    (call $input (local.get $ptr) (local.get $len))
    (if (call $has (i32.const 1084) (i32.const 9)) (then (return (call $pack (i32.const 1093) (i32.const 17)))))
    (if (call $has (i32.const 1110) (i32.const 10)) (then (return (call $pack (i32.const 1120) (i32.const 35)))))
    (i64.const 0))

  ;; The usage hook delivers the whole batch document to the vendor.
  (func (export "tollgate_on_usage") (param $ptr i32) (param $len i32) (result i64)
    (call $input (local.get $ptr) (local.get $len))
    (if (call $has (i32.const 1155) (i32.const 15)) (then (return (call $pack (i32.const 1170) (i32.const 65)))))
    (if (i32.ne (call $deliver (i32.const 1235) (i32.const 29) (global.get $in) (global.get $inlen)) (i32.const 0))
      (then (return (call $pack (i32.const 1170) (i32.const 65)))))
    (i64.const 0))

  (data (i32.const 16) "\"model\":\"conf-deny\"") ;; $m_deny
  (data (i32.const 35) "{\"action\":\"deny\",\"status\":403,\"code\":\"conformance\",\"message\":\"denied by conformance plugin\"}") ;; $o_deny
  (data (i32.const 127) "\"model\":\"conf-respond\"") ;; $m_respond
  (data (i32.const 149) "{\"action\":\"respond\",\"status\":200,\"body\":{\"ok\":true}}") ;; $o_respond
  (data (i32.const 201) "\"model\":\"conf-model\"") ;; $m_model
  (data (i32.const 221) "{\"action\":\"continue\",\"model\":\"conf-rewritten\"}") ;; $o_model
  (data (i32.const 267) "\"model\":\"conf-route\"") ;; $m_route
  (data (i32.const 287) "{\"action\":\"continue\",\"upstream\":\"secondary\"}") ;; $o_route
  (data (i32.const 331) "\"model\":\"conf-body\"") ;; $m_body
  (data (i32.const 350) "{\"action\":\"continue\",\"body\":{\"model\":\"conf-body2\",\"messages\":[{\"role\":\"user\",\"content\":\"replaced\"}]}}") ;; $o_body
  (data (i32.const 451) "\"model\":\"conf-meta\"") ;; $m_meta
  (data (i32.const 470) "{\"action\":\"continue\",\"metadata\":{\"conformance\":\"yes\"}}") ;; $o_meta
  (data (i32.const 524) "\"model\":\"conf-fail\"") ;; $m_fail
  (data (i32.const 543) "{\"action\":\"fail\",\"message\":\"conformance failure\"}") ;; $o_fail
  (data (i32.const 592) "\"model\":\"conf-trap\"") ;; $m_trap
  (data (i32.const 611) "\"model\":\"conf-loop\"") ;; $m_loop
  (data (i32.const 630) "\"model\":\"conf-oom\"") ;; $m_oom
  (data (i32.const 648) "\"model\":\"conf-log\"") ;; $m_log
  (data (i32.const 666) "hello from the conformance plugin") ;; $s_log
  (data (i32.const 699) "\"model\":\"conf-config\"") ;; $m_config
  (data (i32.const 720) "{\"action\":\"respond\",\"status\":200,\"body\":") ;; $o_config
  (data (i32.const 760) "\"model\":\"conf-deliver\"") ;; $m_deliver
  (data (i32.const 782) "\"model\":\"conf-deliver-denied\"") ;; $m_denied
  (data (i32.const 811) "\"model\":\"conf-emit\"") ;; $m_emit
  (data (i32.const 830) "https://allowed.example/ingest") ;; $d_allowed
  (data (i32.const 860) "https://denied.example/ingest") ;; $d_denied
  (data (i32.const 889) "audit") ;; $s_audit
  (data (i32.const 894) "{\"conformance\":\"payload\"}") ;; $s_payload
  (data (i32.const 919) "{\"action\":\"respond\",\"status\":200,\"body\":{\"code\":") ;; $o_code
  (data (i32.const 967) "\"model\":\"conf-badptr\"") ;; $m_badptr
  (data (i32.const 988) "\"model\":\"conf-garbage\"") ;; $m_garbage
  (data (i32.const 1010) "{\"action\":") ;; $o_garbage
  (data (i32.const 1020) "conf-resp-rewrite") ;; $m_rewrite
  (data (i32.const 1037) "{\"action\":\"continue\",\"body\":{\"rewritten\":true}}") ;; $o_rewrite
  (data (i32.const 1084) "conf-drop") ;; $m_drop
  (data (i32.const 1093) "{\"action\":\"drop\"}") ;; $o_drop
  (data (i32.const 1110) "conf-upper") ;; $m_upper
  (data (i32.const 1120) "{\"action\":\"continue\",\"data\":\"CONF\"}") ;; $o_upper
  (data (i32.const 1155) "conf-usage-fail") ;; $m_ufail
  (data (i32.const 1170) "{\"action\":\"fail\",\"message\":\"usage refused by conformance plugin\"}") ;; $o_ufail
  (data (i32.const 1235) "https://allowed.example/usage") ;; $d_usage
)
