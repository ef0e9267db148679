//! Plugin projects outside this repository (`tessera plugin new/build/test`): a directory with
//! a build file (`tessera-plugin.toml`: name and language), the language's template, and test
//! cases (`tests/<case>/`: a partition, input files and the expected output files). Built with
//! the kits the binary embeds ([`crate::kit`]) and the toolchains they install, as
//! `cargo xtask plugins` builds the examples here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

/// The build file at a plugin project's root.
pub const MANIFEST: &str = "tessera-plugin.toml";

/// A language with a kit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Rust,
    C,
    JavaScript,
    Python,
    Zig,
    AssemblyScript,
}

impl Language {
    /// Every language, in the order help texts list them.
    pub const ALL: [Language; 6] = [
        Language::Rust,
        Language::C,
        Language::JavaScript,
        Language::Python,
        Language::Zig,
        Language::AssemblyScript,
    ];

    /// The name the build file and `--lang` use.
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::C => "c",
            Language::JavaScript => "js",
            Language::Python => "python",
            Language::Zig => "zig",
            Language::AssemblyScript => "assemblyscript",
        }
    }

    /// `rust`, `c`, `js` (or `javascript`), `python` (or `py`), `zig`, `assemblyscript` (or
    /// `as`).
    pub fn parse(text: &str) -> Result<Language, String> {
        match text.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Ok(Language::Rust),
            "c" => Ok(Language::C),
            "js" | "javascript" => Ok(Language::JavaScript),
            "python" | "py" => Ok(Language::Python),
            "zig" => Ok(Language::Zig),
            "assemblyscript" | "as" => Ok(Language::AssemblyScript),
            other => Err(format!(
                "no kit for the language {other:?}; the kits are {}",
                Language::ALL.map(Language::name).join(", ")
            )),
        }
    }

    /// The template's file in the kit and its name in a new project.
    fn template(self) -> (&'static str, &'static str) {
        match self {
            Language::Rust => ("rust/template/src/lib.rs", "src/lib.rs"),
            Language::C => ("c/template/plugin.c", "plugin.c"),
            Language::JavaScript => ("js/template/plugin.js", "plugin.js"),
            Language::Python => ("python/template/app.py", "app.py"),
            Language::Zig => ("zig/template/plugin.zig", "plugin.zig"),
            Language::AssemblyScript => ("assemblyscript/template/plugin.ts", "plugin.ts"),
        }
    }
}

/// What a project's build file holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: its file is `<name>.wasm`.
    pub name: String,
    /// A language with a kit (`rust`, `c`, `js`, `python`, `zig`, `assemblyscript`).
    pub language: String,
}

/// A new project's directory and the files written.
#[derive(Debug)]
pub struct Created {
    pub dir: PathBuf,
    pub files: Vec<PathBuf>,
}

fn write(dir: &Path, relative: &str, bytes: &[u8], files: &mut Vec<PathBuf>) -> Result<(), String> {
    let to = dir.join(relative);
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    fs::write(&to, bytes).map_err(|e| format!("cannot write {}: {e}", to.display()))?;
    files.push(to);
    Ok(())
}

fn valid_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Creates `parent/name/`: the language's template, the build file, a `.gitignore`, and the
/// template's test cases (a Rust plugin's tests are in its source, run natively).
pub fn create(parent: &Path, name: &str, language: Language) -> Result<Created, String> {
    if !valid_name(name) {
        return Err(format!(
            "{name:?} is not a plugin name: lower-case letters, digits and `_`, starting with a \
             letter (it names the plugin's file and, in Rust, its crate)"
        ));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(format!("{} already exists", dir.display()));
    }
    let kit = crate::kit::materialize()?;
    let sdk = kit.join("plugin-sdk");
    let mut files = Vec::new();
    let (from, to) = language.template();
    let template =
        fs::read(sdk.join(from)).map_err(|e| format!("cannot read the {from} template: {e}"))?;
    write(&dir, to, &template, &mut files)?;
    if language == Language::Rust {
        write(
            &dir,
            "Cargo.toml",
            cargo_manifest(name, &sdk.join("rust")).as_bytes(),
            &mut files,
        )?;
    } else {
        let cases = sdk.join("template-tests");
        for file in crate::stamp::files_under(&cases, &[])? {
            let relative = file.strip_prefix(&cases).unwrap_or(&file);
            let bytes =
                fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            write(
                &dir,
                &Path::new("tests").join(relative).to_string_lossy(),
                &bytes,
                &mut files,
            )?;
        }
    }
    let manifest = Manifest {
        name: name.to_string(),
        language: language.name().to_string(),
    };
    let text = format!(
        "# A Tessera plugin: `tessera plugin build` makes target/{name}.wasm, `tessera plugin \
         test` runs its tests.\n{}",
        toml::to_string(&manifest).map_err(|e| format!("cannot write {MANIFEST}: {e}"))?
    );
    write(&dir, MANIFEST, text.as_bytes(), &mut files)?;
    write(&dir, ".gitignore", b"target/\n", &mut files)?;
    Ok(Created { dir, files })
}

/// A Rust plugin's crate: the SDK from the kit, built small.
fn cargo_manifest(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{crate_name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the component; rlib: the native tests through the SDK's harness.
crate-type = ["cdylib", "rlib"]

[dependencies]
tessera-sdk = {{ path = {sdk:?} }}

# A workspace of its own, whatever directory it sits in.
[workspace]

# Fast code over small files: a component is compiled once (and cached), its code runs for
# every partition.
[profile.release]
opt-level = 3
strip = "debuginfo"
"#,
        crate_name = name.replace('_', "-"),
        sdk = sdk.display().to_string(),
    )
}

/// A plugin project on disk.
#[derive(Debug)]
pub struct Project {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub language: Language,
}

/// Named bytes: a partition key or an asset, and its data.
pub type Named = (String, Vec<u8>);

/// An output a case expects: the asset's value for the whole selection (`expected/<asset>`), or
/// for one key of it (`expected/<asset>/<key>`).
#[derive(Debug)]
pub struct Expected {
    pub asset: String,
    pub partition: Option<String>,
    pub data: Vec<u8>,
}

/// One test case: run `computation` for `partition` with the inputs, expect the outputs.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub computation: String,
    /// A key, or a range `A...B` (both ends included); absent: unpartitioned.
    pub partition: Option<String>,
    /// RFC 3339; absent: the time the test runs.
    pub now: Option<String>,
    /// Per upstream asset, its partitions (key, bytes) in key order.
    pub inputs: Vec<(String, Vec<Named>)>,
    /// The outputs and the bytes each must have.
    pub expected: Vec<Expected>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    computation: String,
    partition: Option<String>,
    now: Option<String>,
}

/// The files of `dir` by name, in name order, each read (the directory may be absent).
fn named_files(dir: &Path) -> Result<Vec<Named>, String> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            let bytes =
                fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            out.push((entry.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    out.sort();
    Ok(out)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

impl Project {
    /// The project at `dir`, read from its build file.
    pub fn open(dir: &Path) -> Result<Project, String> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| {
            format!(
                "{} is no plugin project ({e}); `tessera plugin new NAME --lang LANGUAGE` \
                 makes one",
                path.display()
            )
        })?;
        let manifest: Manifest =
            toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let language =
            Language::parse(&manifest.language).map_err(|e| format!("{}: {e}", path.display()))?;
        if !valid_name(&manifest.name) {
            return Err(format!(
                "{}: {:?} is not a plugin name (lower-case letters, digits and `_`)",
                path.display(),
                manifest.name
            ));
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            manifest,
            language,
        })
    }

    /// Where the build puts the plugin: `target/<name>.wasm`.
    pub fn output(&self) -> PathBuf {
        self.dir
            .join("target")
            .join(format!("{}.wasm", self.manifest.name))
    }

    /// Builds the plugin into [`Project::output`], installing or locating the language's
    /// toolchain as `cargo xtask plugins` does, or saying what is missing.
    pub fn build(&self) -> Result<PathBuf, String> {
        let kit = crate::kit::materialize()?;
        let out = self.output();
        let source = &self.dir;
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        match self.language {
            Language::Rust => self.build_rust(&out)?,
            Language::C => {
                let work = kit.join("target").join("c-build");
                crate::c::ensure_toolchain(&work.join("probe"))?;
                let bindings = work.join("bindings");
                crate::c::generate_bindings(&kit, &bindings)?;
                crate::c::build_plugin(&kit, source, &bindings, &out, &[])?;
            }
            Language::JavaScript => {
                let cli = crate::js::ensure_toolchain(&kit)?;
                crate::js::build_plugin(&kit, &cli, source, &out)?;
            }
            Language::Python => {
                let cli = crate::python::ensure_toolchain(&kit)?;
                crate::python::build_plugin(&kit, &cli, source, &out)?;
            }
            Language::Zig => {
                let zig = crate::zig::ensure_toolchain(&kit)?;
                crate::zig::build_plugin(&kit, &zig, source, &out)?;
            }
            Language::AssemblyScript => {
                let asc = crate::assemblyscript::ensure_toolchain(&kit)?;
                crate::assemblyscript::build_plugin(&kit, &asc, source, &out)?;
            }
        }
        Ok(out)
    }

    fn build_rust(&self, out: &Path) -> Result<(), String> {
        crate::ensure_rust_target()?;
        crate::run(Command::new(crate::cargo()).current_dir(&self.dir).args([
            "build",
            "--release",
            "--target",
            crate::RUST_TARGET,
        ]))?;
        // Cargo's own target directory, unless the environment moves it.
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| self.dir.join("target"), PathBuf::from);
        let built = target
            .join(crate::RUST_TARGET)
            .join("release")
            .join(format!("{}.wasm", self.manifest.name));
        fs::copy(&built, out)
            .map(drop)
            .map_err(|e| format!("cannot copy {} to {}: {e}", built.display(), out.display()))
    }

    /// A Rust plugin's own tests, natively (`cargo test`), their output passed through;
    /// whether they passed.
    pub fn cargo_test(&self) -> Result<bool, String> {
        let status = Command::new(crate::cargo())
            .current_dir(&self.dir)
            .arg("test")
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        Ok(status.success())
    }

    /// The test cases under `tests/`, in name order.
    pub fn cases(&self) -> Result<Vec<Case>, String> {
        let mut cases = Vec::new();
        for dir in subdirs(&self.dir.join("tests")) {
            let file = dir.join("case.toml");
            let text = fs::read_to_string(&file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let case: CaseFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
            let mut inputs = Vec::new();
            for input in subdirs(&dir.join("inputs")) {
                let asset = input
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                inputs.push((asset, named_files(&input)?));
            }
            let mut expected: Vec<Expected> = named_files(&dir.join("expected"))?
                .into_iter()
                .map(|(asset, data)| Expected {
                    asset,
                    partition: None,
                    data,
                })
                .collect();
            for per_key in subdirs(&dir.join("expected")) {
                let asset = per_key
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                for (key, data) in named_files(&per_key)? {
                    expected.push(Expected {
                        asset: asset.clone(),
                        partition: Some(key),
                        data,
                    });
                }
            }
            if expected.is_empty() {
                return Err(format!(
                    "{} expects nothing: put the expected output of each asset in \
                     expected/<asset> (or of each key in expected/<asset>/<key>)",
                    dir.display()
                ));
            }
            cases.push(Case {
                name: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                computation: case.computation,
                partition: case.partition,
                now: case.now,
                inputs,
                expected,
            });
        }
        Ok(cases)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn cases_read_inputs_and_expected_outputs_whole_or_per_key() {
        let dir = std::env::temp_dir().join(format!("tessera-kits-cases-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let case = dir.join("tests").join("range");
        for (path, text) in [
            (
                "case.toml",
                "computation = \"daily\"\npartition = \"2024-01-01...2024-01-02\"\n",
            ),
            ("inputs/up/2024-01-01", "a"),
            ("inputs/up/2024-01-02", "b"),
            ("expected/summary", "ab"),
            ("expected/daily/2024-01-01", "A"),
            ("expected/daily/2024-01-02", "B"),
        ] {
            let file = case.join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(&file, text).unwrap();
        }
        fs::write(dir.join(MANIFEST), "name = \"p\"\nlanguage = \"zig\"\n").unwrap();
        let cases = Project::open(&dir).and_then(|p| p.cases());
        let _ = fs::remove_dir_all(&dir);
        let cases = cases.unwrap();
        assert_eq!(cases.len(), 1);
        let c = &cases[0];
        assert_eq!(c.partition.as_deref(), Some("2024-01-01...2024-01-02"));
        assert_eq!(
            c.inputs,
            [(
                "up".to_string(),
                vec![
                    ("2024-01-01".to_string(), b"a".to_vec()),
                    ("2024-01-02".to_string(), b"b".to_vec())
                ]
            )]
        );
        let expected: Vec<(&str, Option<&str>, &[u8])> = c
            .expected
            .iter()
            .map(|e| (e.asset.as_str(), e.partition.as_deref(), e.data.as_slice()))
            .collect();
        assert_eq!(
            expected,
            [
                ("summary", None, &b"ab"[..]),
                ("daily", Some("2024-01-01"), &b"A"[..]),
                ("daily", Some("2024-01-02"), &b"B"[..]),
            ]
        );
    }

    #[test]
    fn languages_and_names() {
        assert_eq!(Language::parse("AS"), Ok(Language::AssemblyScript));
        assert_eq!(Language::parse("javascript"), Ok(Language::JavaScript));
        assert!(Language::parse("cobol").is_err());
        assert!(valid_name("hello_2"));
        assert!(!valid_name("2hello"));
        assert!(!valid_name("Hello"));
        assert!(!valid_name("he-llo"));
    }
}
