;; A flat-world plugin written by hand in the WebAssembly text format: the worked example of
;; `plugin-sdk/flat/README.md`. It declares one daily asset, `wat_echo`, whose value for a
;; partition is the materialize-context document the host sent (so it shows what a context
;; looks like), logs a line per call, and has no sensors.
;;
;; No toolchain but a WAT assembler: `cargo xtask plugins` assembles it into
;; `target/plugins/wat_echo.wasm`, a core module the host makes a component when it loads it.
(module
  ;; The host's `log(level, message, fields)`: level 2 is `info`; message and fields are
  ;; pointer/length pairs (fields: a list of key/value string pairs, 16 bytes each).
  (import "tessera" "log" (func $log (param i32 i32 i32 i32 i32)))

  ;; One page is plenty; `cabi_realloc` grows it when the host sends more.
  (memory (export "memory") 1)

  ;; Memory map: 0x000 the return area (20 bytes); 0x020 the outputs' byte lists (one
  ;; pointer/length pair); 0x100 onwards the constant documents; 0x1000 onwards the heap that
  ;; `cabi_realloc` hands out to the host for the arguments.
  (data (i32.const 0x100) "{\"computations\":[{\"name\":\"wat_echo\",\"assets\":[{\"key\":\"wat_echo\",\"description\":\"Each partition's value is the materialize-context document it was made with.\",\"partitions\":{\"Cadence\":{\"cadence\":\"Daily\",\"start\":\"2024-01-01\",\"end_offset\":0,\"minute_offset\":0,\"hour_offset\":0}},\"inputs\":[],\"code_version\":\"1\",\"metadata\":[]}]}],\"sensors\":[]}")
  (data (i32.const 0x600) "[{\"asset\":\"wat_echo\",\"metadata\":[{\"key\":\"written_in\",\"value\":{\"Text\":\"WebAssembly text\"}}]}]")
  (data (i32.const 0x680) "{\"Failed\":\"wat_echo has no sensors\"}")
  (data (i32.const 0x700) "echoing the context")

  (global $heap (mut i32) (i32.const 0x1000))

  ;; The host allocates every argument it passes (the documents, the data lists) with this:
  ;; a bump allocator that never frees, which is enough because every call runs in a fresh
  ;; instance.
  (func (export "cabi_realloc")
        (param $old i32) (param $old_len i32) (param $align i32) (param $new_len i32)
        (result i32)
    (local $ptr i32) (local $end i32)
    ;; Round the heap up to `align` (a power of two).
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $new_len)))
    ;; Grow the memory to cover the block, or trap (the host reports it).
    (if (i32.gt_u (local.get $end) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u
                  (i32.add
                    (i32.sub (local.get $end) (i32.shl (memory.size) (i32.const 16)))
                    (i32.const 0xffff))
                  (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    ;; A reallocation keeps what the old block held.
    (if (local.get $old)
      (then (memory.copy (local.get $ptr) (local.get $old) (local.get $old_len))))
    (local.get $ptr))

  ;; definitions() -> string: returns a pointer to (pointer, length) of the document.
  (func (export "tessera_definitions") (result i32)
    (i32.store (i32.const 0x000) (i32.const 0x100))
    (i32.store (i32.const 0x004) (i32.const 334))
    (i32.const 0x000))

  ;; materialize(context, inputs, data) -> result<tuple<string, list<list<u8>>>, string>:
  ;; three pointer/length pairs in; a pointer to the result out: a tag byte (0 ok, 1 error),
  ;; then at +4 the outputs document (pointer, length) and at +12 the list of the outputs'
  ;; bytes (pointer, length), or at +4 the error document.
  (func (export "tessera_materialize")
        (param $context i32) (param $context_len i32)
        (param $inputs i32) (param $inputs_len i32)
        (param $data i32) (param $data_len i32)
        (result i32)
    (call $log (i32.const 2) (i32.const 0x700) (i32.const 19) (i32.const 0) (i32.const 0))
    ;; One output, whose bytes are the context document itself.
    (i32.store (i32.const 0x020) (local.get $context))
    (i32.store (i32.const 0x024) (local.get $context_len))
    (i32.store8 (i32.const 0x000) (i32.const 0))
    (i32.store (i32.const 0x004) (i32.const 0x600))
    (i32.store (i32.const 0x008) (i32.const 92))
    (i32.store (i32.const 0x00c) (i32.const 0x020))
    (i32.store (i32.const 0x010) (i32.const 1))
    (i32.const 0x000))

  ;; evaluate-sensor(context) -> result<string, string>: declared no sensor, so the host never
  ;; calls it; it answers with an error document all the same.
  (func (export "tessera_evaluate_sensor") (param $context i32) (param $context_len i32) (result i32)
    (i32.store8 (i32.const 0x000) (i32.const 1))
    (i32.store (i32.const 0x004) (i32.const 0x680))
    (i32.store (i32.const 0x008) (i32.const 36))
    (i32.const 0x000)))
