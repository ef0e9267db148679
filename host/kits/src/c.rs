//! Plugins written in C: bindings generated from the WIT with `wit-bindgen-c`, compiled by
//! clang for `wasm32-wasi` with the kit in `plugin-sdk/c/`, and wrapped into a component with
//! `wit-component` and the WASI preview 1 reactor adapter. Libraries, not installed tools:
//! nothing to fetch but clang and wasi-libc.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_bindgen_core::wit_parser::Resolve;

/// The Debian packages that give clang a `wasm32-wasi` target and its C library.
pub const DEBIAN_PACKAGES: &[&str] = &["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"];

/// The bindings' file stem: the kits' world with `_` for `-`, as `wit-bindgen-c` names them.
fn bindings_stem() -> String {
    crate::KIT_WORLD.replace('-', "_")
}

fn clang() -> String {
    std::env::var("TESSERA_CLANG").unwrap_or_else(|_| "clang".to_string())
}

/// Compiles and links a one-line C file for `wasm32-wasi`: the whole toolchain, libc included.
fn toolchain_works(scratch: &Path) -> bool {
    let source = scratch.join("probe.c");
    if fs::create_dir_all(scratch).is_err()
        || fs::write(
            &source,
            "#include <string.h>\nint probe(void) { return (int)strlen(\"x\"); }\n",
        )
        .is_err()
    {
        return false;
    }
    Command::new(clang())
        .args(["--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-o"])
        .arg(scratch.join("probe.wasm"))
        .arg(&source)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Makes sure clang can build for `wasm32-wasi`: installs the Debian packages when it cannot
/// and this process may (root, with apt-get), else says what to install.
pub fn ensure_toolchain(scratch: &Path) -> Result<(), String> {
    if toolchain_works(scratch) {
        return Ok(());
    }
    let install = format!("apt-get install -y {}", DEBIAN_PACKAGES.join(" "));
    let apt = Path::new("/usr/bin/apt-get").exists();
    if !(apt && is_root()) {
        return Err(format!(
            "C plugins need clang with a wasm32-wasi target and wasi-libc; on Debian: `{install}` \
             (or set TESSERA_CLANG to such a clang)"
        ));
    }
    eprintln!("installing the C toolchain for WebAssembly: {install}");
    // apt-get's report goes to stderr: stdout is the caller's.
    let ok = |c: &mut Command| {
        c.stdout(std::io::stderr())
            .status()
            .is_ok_and(|s| s.success())
    };
    let updated = ok(Command::new("apt-get").args(["update", "-q"]));
    let installed = ok(Command::new("apt-get")
        .args(["install", "-y", "-q"])
        .args(DEBIAN_PACKAGES)
        .env("DEBIAN_FRONTEND", "noninteractive"));
    if updated && installed && toolchain_works(scratch) {
        Ok(())
    } else {
        Err(format!(
            "installing the C toolchain failed; run `{install}` and try again"
        ))
    }
}

/// Writes `plugin_with_mappings.h`, `.c` and `_component_type.o` (named after the kits'
/// world) into `dir`, which holds nothing else afterwards.
pub fn generate_bindings(root: &Path, dir: &Path) -> Result<(), String> {
    let wit = root.join("plugin-sdk").join("wit");
    let mut resolve = Resolve::default();
    let (package, _) = resolve
        .push_dir(&wit)
        .map_err(|e| format!("cannot read the WIT in {}: {e:#}", wit.display()))?;
    let world = resolve
        .select_world(&[package], Some(crate::KIT_WORLD))
        .map_err(|e| format!("no world `{}`: {e:#}", crate::KIT_WORLD))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)
        .map_err(|e| format!("cannot generate the C bindings: {e:#}"))?;
    // Bindings of another world (an older kit's `plugin.h`) must not be compiled by mistake.
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (name, contents) in files.iter() {
        let path = dir.join(name);
        fs::write(&path, contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(())
}

/// Builds the C plugin whose sources (`*.c`) are in `source` into the component `out`.
/// `defines` are passed to the compiler as `-D` (e.g. `PLUGIN_CODE_VERSION="2"`).
pub fn build_plugin(
    root: &Path,
    source: &Path,
    bindings: &Path,
    out: &Path,
    defines: &[&str],
) -> Result<(), String> {
    let core = out.with_extension("core.wasm");
    build_core(root, source, bindings, &core, defines)?;
    let module = fs::read(&core).map_err(|e| format!("cannot read {}: {e}", core.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|e| {
            e.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )
        })
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| format!("cannot make a component of {}: {e:#}", core.display()))?;
    fs::write(out, component).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let _ = fs::remove_file(&core);
    Ok(())
}

/// Compiles the C plugin in `source` into the core module `core`: a `wasm32-wasi` reactor
/// with its component type embedded (what the host, or `wit-component`, makes a component).
pub fn build_core(
    root: &Path,
    source: &Path,
    bindings: &Path,
    core: &Path,
    defines: &[&str],
) -> Result<(), String> {
    let mut sources: Vec<PathBuf> = fs::read_dir(source)
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    if sources.is_empty() {
        return Err(format!("no .c files in {}", source.display()));
    }
    let kit = root.join("plugin-sdk").join("c");
    let mut command = Command::new(clang());
    command
        .args([
            "--target=wasm32-wasi",
            "-O2",
            "-mexec-model=reactor",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            // The generated bindings are not ours to warn about.
            "-Wno-unused-parameter",
            "-Wl,--strip-debug",
        ])
        .arg("-I")
        .arg(&kit)
        .arg("-I")
        .arg(bindings);
    for d in defines {
        command.arg(format!("-D{d}"));
    }
    command
        .args(&sources)
        .arg(kit.join("tessera.c"))
        .arg(bindings.join(format!("{}.c", bindings_stem())))
        .arg(bindings.join(format!("{}_component_type.o", bindings_stem())))
        .arg("-o")
        .arg(core);
    let output = command
        .output()
        .map_err(|e| format!("cannot run {}: {e}", clang()))?;
    if !output.status.success() {
        return Err(format!(
            "clang failed on {}:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(())
}

/// Builds every C plugin (`plugins/c/<name>/`) into `out/<name>.wasm`; returns their paths.
pub fn build_plugins(root: &Path, out: &Path) -> Result<Vec<PathBuf>, String> {
    let work = root.join("target").join("c-build");
    ensure_toolchain(&work.join("probe"))?;
    let bindings = work.join("bindings");
    generate_bindings(root, &bindings)?;
    fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    crate::build_each(root, "c", out, |source, file| {
        build_plugin(root, source, &bindings, file, &[])
    })
}
