//! External tools: real scanners run as child processes, each described by
//! a data file in `descriptors/` (command, arguments, which files it looks
//! at, its output format, what its exit codes mean, how to install it).
//!
//! A tool whose command cannot be found is unavailable (with its install
//! hint), never a crash. A run is classified from the exit code *and* the
//! output: findings, a clean run, or a tool error (unknown exit code, output
//! that does not parse, a SARIF error notification), since exit codes alone
//! lie for several scanners.

mod batch;
mod parse;
pub(crate) mod process;
pub mod rules;
mod shared;

use crate::model::{Category, Ecosystem, Finding, Scanner, Severity, TargetKind};
use crate::tools::{
    Availability, FileEntry, Inventory, Tool, ToolContext, ToolError, ToolSpec, ToolTarget, Workspace,
};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use parse::Format;
pub use shared::SharedRun;

/// Every descriptor shipped with livescan.
const DESCRIPTORS: &[(&str, &str)] = &[
    ("bandit", include_str!("descriptors/bandit.toml")),
    ("ruff", include_str!("descriptors/ruff.toml")),
    ("semgrep", include_str!("descriptors/semgrep.toml")),
    ("shellcheck", include_str!("descriptors/shellcheck.toml")),
    ("hadolint", include_str!("descriptors/hadolint.toml")),
    ("yamllint", include_str!("descriptors/yamllint.toml")),
    ("checkov", include_str!("descriptors/checkov.toml")),
    ("pylint", include_str!("descriptors/pylint.toml")),
    ("sqlfluff", include_str!("descriptors/sqlfluff.toml")),
    ("codespell", include_str!("descriptors/codespell.toml")),
    ("lizard", include_str!("descriptors/lizard.toml")),
    ("flawfinder", include_str!("descriptors/flawfinder.toml")),
    ("detect-secrets", include_str!("descriptors/detect-secrets.toml")),
    ("eslint", include_str!("descriptors/eslint.toml")),
    ("html-validate", include_str!("descriptors/html-validate.toml")),
    ("stylelint", include_str!("descriptors/stylelint.toml")),
    (
        "eslint-security",
        include_str!("descriptors/eslint-security.toml"),
    ),
    ("zizmor", include_str!("descriptors/zizmor.toml")),
    ("cfn-lint", include_str!("descriptors/cfn-lint.toml")),
    ("spectral", include_str!("descriptors/spectral.toml")),
    ("htmlhint", include_str!("descriptors/htmlhint.toml")),
    ("vulture", include_str!("descriptors/vulture.toml")),
    ("mypy", include_str!("descriptors/mypy.toml")),
    ("typos", include_str!("descriptors/typos.toml")),
    ("ansible-lint", include_str!("descriptors/ansible-lint.toml")),
    ("biome", include_str!("descriptors/biome.toml")),
    ("oxlint", include_str!("descriptors/oxlint.toml")),
    ("dclint", include_str!("descriptors/dclint.toml")),
    ("markdownlint", include_str!("descriptors/markdownlint.toml")),
    ("secretlint", include_str!("descriptors/secretlint.toml")),
    ("solhint", include_str!("descriptors/solhint.toml")),
    ("eslint-a11y", include_str!("descriptors/eslint-a11y.toml")),
    ("cppcheck", include_str!("descriptors/cppcheck.toml")),
    ("perlcritic", include_str!("descriptors/perlcritic.toml")),
    ("rubocop", include_str!("descriptors/rubocop.toml")),
    ("phpcs-security", include_str!("descriptors/phpcs-security.toml")),
    ("luacheck", include_str!("descriptors/luacheck.toml")),
    ("chktex", include_str!("descriptors/chktex.toml")),
    ("jscpd", include_str!("descriptors/jscpd.toml")),
    ("eslint-dom-xss", include_str!("descriptors/eslint-dom-xss.toml")),
    ("eslint-sdl", include_str!("descriptors/eslint-sdl.toml")),
    ("tsc", include_str!("descriptors/tsc.toml")),
    ("dlint", include_str!("descriptors/dlint.toml")),
    ("djlint", include_str!("descriptors/djlint.toml")),
    ("njsscan", include_str!("descriptors/njsscan.toml")),
    ("doc8", include_str!("descriptors/doc8.toml")),
    ("cmakelint", include_str!("descriptors/cmakelint.toml")),
    ("checkstyle", include_str!("descriptors/checkstyle.toml")),
    ("phpmd", include_str!("descriptors/phpmd.toml")),
    ("puppet-lint", include_str!("descriptors/puppet-lint.toml")),
    (
        "eslint-react-hooks",
        include_str!("descriptors/eslint-react-hooks.toml"),
    ),
    ("eslint-vue", include_str!("descriptors/eslint-vue.toml")),
    ("eslint-regexp", include_str!("descriptors/eslint-regexp.toml")),
    ("alex", include_str!("descriptors/alex.toml")),
    (
        "check-jsonschema",
        include_str!("descriptors/check-jsonschema.toml"),
    ),
    ("bashate", include_str!("descriptors/bashate.toml")),
    ("proselint", include_str!("descriptors/proselint.toml")),
    ("mobsfscan", include_str!("descriptors/mobsfscan.toml")),
    ("mobsfscan-ios", include_str!("descriptors/mobsfscan-ios.toml")),
    ("pyright", include_str!("descriptors/pyright.toml")),
    ("eslint-sonarjs", include_str!("descriptors/eslint-sonarjs.toml")),
    (
        "eslint-no-secrets",
        include_str!("descriptors/eslint-no-secrets.toml"),
    ),
    ("eslint-node", include_str!("descriptors/eslint-node.toml")),
    ("eslint-promise", include_str!("descriptors/eslint-promise.toml")),
    ("eslint-toml", include_str!("descriptors/eslint-toml.toml")),
    ("eslint-jsonc", include_str!("descriptors/eslint-jsonc.toml")),
];

/// The rule of the finding that says a scanner failed on one file (which
/// the rest of its report does not cover).
pub const FILE_NOT_ANALYZED: &str = "file-not-analyzed";

/// Where `scripts/install-test-tools` installs the scanners, relative to the
/// project; `serve` and `scan` look there by default ([`default_tool_dirs`]).
pub const DEFAULT_TOOL_DIRS: &[&str] = &[
    ".tools/scanners/bin",
    ".tools/detect-secrets/bin",
    ".tools/linters/bin",
    ".tools/ansible/bin",
    ".tools/libsast/bin",
    ".tools/check-jsonschema/bin",
    ".tools/node/node_modules/.bin",
];

/// The directories of [`DEFAULT_TOOL_DIRS`] that exist, absolute, under
/// each of: the current directory; the checkout this executable lives in
/// (the nearest directory above it that holds `.tools`, as for
/// `target/release/livescan`); and the data home, `$XDG_DATA_HOME/livescan`
/// (by default `~/.local/share/livescan`), where an installed `livescan`
/// finds scanners copied or installed there.
pub fn default_tool_dirs() -> Vec<PathBuf> {
    let mut bases = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        bases.push(cwd);
    }
    if let Some(checkout) = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|dir| dir.join(".tools").is_dir())
                .map(Path::to_path_buf)
        })
    {
        bases.push(checkout);
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share")));
    if let Some(data_home) = data_home {
        bases.push(data_home.join("livescan"));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for base in bases {
        for dir in DEFAULT_TOOL_DIRS {
            let dir = base.join(dir);
            if dir.is_dir() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// Where the child runs.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WorkDir {
    /// A fresh empty directory (the tool cannot pick up config from the tree).
    Temp,
    /// The scanned directory (for tools that only see files under their cwd).
    Root,
}

/// Where the report comes from.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    Stdout,
    /// A file the tool writes; `{out}` is the run's private directory.
    File(String),
}

/// A file written into the run's private directory before the tool starts
/// (rules, configuration), so no tool depends on files outside livescan:
/// its `content` inline, or a `shipped` rule file (see [`rules`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// A relative path under the private directory; may have folders.
    pub name: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub shipped: Option<String>,
    /// Globs of the files this file is for (a language's rule pack): it is
    /// written only when the run sees such a file. Empty: always.
    #[serde(default)]
    pub when: Vec<String>,
}

/// One external tool, as its descriptor file says.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Descriptor {
    pub id: String,
    pub category: Category,
    pub ecosystem: Ecosystem,
    pub cost: u32,
    pub summary: String,
    pub command: String,
    /// Arguments; `{root}` is the scanned directory, `{files}` the matching
    /// files (one argument each), `{out}` the run's private directory.
    pub args: Vec<String>,
    /// Glob patterns (relative to the root) of the files the tool looks at.
    pub files: Vec<String>,
    pub cwd: WorkDir,
    pub format: Format,
    pub output: Output,
    pub findings_exit: Vec<i32>,
    pub clean_exit: Vec<i32>,
    pub install_hint: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub config: Vec<ConfigFile>,
    /// The tool's levels (lowercase) to severities; unlisted levels use the
    /// SARIF defaults (error: high, warning: medium, note: low, none: info).
    #[serde(default)]
    pub levels: BTreeMap<String, Severity>,
    /// Severities of particular rules, reviewed one by one; they win over
    /// the level and over a rule's own `security-severity` score.
    #[serde(default)]
    pub severities: BTreeMap<String, Severity>,
    /// The CWE of rules whose output does not name one; `"*"` is every
    /// other rule's.
    #[serde(default)]
    pub cwe: BTreeMap<String, u32>,
    /// For `format = "lines"`: a regular expression over each line of the
    /// tool's output, with named groups `path` and `message` (and any of
    /// `line`, `column`, `rule`, `level`).
    #[serde(default, with = "line_pattern")]
    pub line_pattern: Option<regex::Regex>,
    /// Only files whose first 64 KiB hold one of these strings are the
    /// tool's (a CloudFormation template, an OpenAPI document): a linter of
    /// one YAML or JSON format must not judge every YAML or JSON file. Needs
    /// `{files}` in `args`.
    #[serde(default)]
    pub contains: Vec<String>,
    /// Rules of a security scanner reviewed as hygiene rather than a
    /// weakness (a cache left in an image, a missing health probe): they
    /// carry no CWE, whatever `"*"` says.
    #[serde(default)]
    pub no_weakness: Vec<String>,
    /// The scanner's rules overlap (a data-flow rule and a pattern rule on
    /// the same call): one finding per weakness per line is kept. Without
    /// it, distinct rules on one line are distinct problems (no CPU limit,
    /// no memory limit on one container).
    #[serde(default)]
    pub overlapping_rules: bool,
    /// Rule ids that report a problem with the run, not with the code.
    #[serde(default)]
    pub error_rules: Vec<String>,
    /// How much of the server's capacity for running tools a run takes: a
    /// scanner process is 2 by default, a heavy one more.
    #[serde(default = "default_weight")]
    pub weight: usize,
    /// The least memory cap, in MiB, this scanner can start under, for
    /// runtimes that reserve more address space than they use. The server's
    /// cap (`--tool-memory-mb`) is raised to this for this tool only.
    #[serde(default)]
    pub min_memory_mb: Option<u64>,
    /// Rule ids whose messages quote a secret value (a hard-coded password):
    /// every quoted value in them is redacted before the report is stored.
    #[serde(default)]
    pub secret_rules: Vec<String>,
    /// Never give one run two files that Python imports under the same
    /// module name (`app/orders.py` in two projects of one repository):
    /// mypy refuses the whole run.
    #[serde(default)]
    pub python_modules_apart: bool,
    /// Arguments that take the place of `{files}` in one run before the
    /// runs over the scanned files, to fill `{cache}` with what does not
    /// depend on them (mypy's analysis of the standard library). Each run
    /// over the scanned files then starts from a copy of that cache, so
    /// nothing one run caches of the scanned files reaches another.
    #[serde(default)]
    pub warm_up: Vec<String>,
    /// A run shared with the session's other tools of the same kind
    /// (`"eslint"`: one eslint process for all of them, see [`shared`]).
    #[serde(default)]
    pub shared: Option<SharedRun>,
}

/// The module name Python (and mypy) gives `rel`: its stem, under each
/// enclosing directory that is a package (one of `packages`, the
/// directories holding an `__init__.py`), up to the first that is not.
fn python_module(rel: &Path, packages: &std::collections::HashSet<&str>) -> String {
    let mut parts: Vec<String> = rel
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .filter(|stem| stem != "__init__")
        .into_iter()
        .collect();
    let mut dir = rel.parent();
    while let Some(package) = dir.filter(|d| d.to_str().is_some_and(|d| packages.contains(d))) {
        parts.extend(package.file_name().map(|n| n.to_string_lossy().into_owned()));
        dir = package.parent();
    }
    parts.reverse();
    parts.join(".")
}

fn default_weight() -> usize {
    2
}

/// A `line_pattern` read from a descriptor: compiled when it is parsed.
mod line_pattern {
    use serde::Deserialize;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<regex::Regex>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|pattern| regex::Regex::new(&pattern).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Parses a descriptor, naming the file in every error.
pub fn parse_descriptor(name: &str, text: &str) -> Result<Descriptor, String> {
    let descriptor: Descriptor = toml::from_str(text).map_err(|e| format!("descriptor {name}: {e}"))?;
    if descriptor.id != name {
        return Err(format!("descriptor {name}: its id is `{}`", descriptor.id));
    }
    globset(&descriptor.files).map_err(|e| format!("descriptor {name}: files: {e}"))?;
    let lines = descriptor.format == parse::Format::Lines;
    match &descriptor.line_pattern {
        None if lines => return Err(format!("descriptor {name}: format `lines` needs a line_pattern")),
        Some(_) if !lines => return Err(format!("descriptor {name}: line_pattern is for format `lines`")),
        Some(pattern)
            if !["path", "message"]
                .iter()
                .all(|g| pattern.capture_names().any(|n| n == Some(*g))) =>
        {
            return Err(format!(
                "descriptor {name}: line_pattern needs the named groups `path` and `message`"
            ));
        }
        _ => {}
    }
    if !descriptor.contains.is_empty() && !descriptor.args.iter().any(|arg| arg == "{files}") {
        return Err(format!(
            "descriptor {name}: contains: the tool must be given its files (`{{files}}` in args)"
        ));
    }
    let takes_files = descriptor.args.iter().any(|arg| arg == "{files}");
    let has_cache = descriptor.args.iter().any(|arg| arg.contains("{cache}"));
    let warms_up = !descriptor.warm_up.is_empty();
    if warms_up && !(takes_files && has_cache) {
        return Err(format!(
            "descriptor {name}: warm_up: the tool must be given its files (`{{files}}`) and a cache (`{{cache}}`) in args"
        ));
    }
    if let Some(refused) = descriptor.shared.and_then(|kind| kind.refuses(&descriptor)) {
        return Err(format!("descriptor {name}: shared: {refused}"));
    }
    let mut descriptor = descriptor;
    for file in &mut descriptor.config {
        let relative = Path::new(&file.name)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !relative {
            return Err(format!(
                "descriptor {name}: config name `{}` must be a relative path without `..`",
                file.name
            ));
        }
        globset(&file.when).map_err(|e| format!("descriptor {name}: config `{}`: when: {e}", file.name))?;
        match (&file.shipped, file.content.is_empty()) {
            (Some(shipped), true) => {
                file.content = rules::shipped(shipped)
                    .ok_or_else(|| {
                        format!(
                            "descriptor {name}: config `{}`: no shipped rule file `{shipped}`",
                            file.name
                        )
                    })?
                    .to_string();
            }
            (None, false) => {}
            _ => {
                return Err(format!(
                    "descriptor {name}: config `{}` needs either `content` or `shipped`",
                    file.name
                ));
            }
        }
    }
    Ok(descriptor)
}

fn globset(patterns: &[String]) -> Result<globset::GlobSet, globset::Error> {
    let mut set = globset::GlobSetBuilder::new();
    for pattern in patterns {
        set.add(globset::Glob::new(pattern)?);
    }
    set.build()
}

/// Finds `command` in `dirs`, then on `PATH`.
fn find_command(command: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    let path_dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.iter()
        .chain(path_dirs.iter())
        .map(|dir| dir.join(command))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

pub struct ExternalTool {
    descriptor: Descriptor,
    spec: ToolSpec,
    files: globset::GlobSet,
    /// For each configuration file, the files it is for (`when`), if any.
    config_when: Vec<Option<globset::GlobSet>>,
    /// The resolved executable, or why there is none.
    executable: Result<PathBuf, String>,
    /// Directories searched for commands, also put first on the child's PATH.
    tool_dirs: Vec<PathBuf>,
    /// The program's version, asked once (`--version`) at its first run;
    /// shared by the tools of a shared run, which run one program.
    version: Arc<tokio::sync::OnceCell<Option<String>>>,
    /// The tools this one shares its run with, itself among them.
    group: Option<Arc<shared::Group>>,
}

impl ExternalTool {
    pub fn new(descriptor: Descriptor, tool_dirs: &[PathBuf]) -> ExternalTool {
        let spec = ToolSpec {
            // Descriptors are loaded once per process; their ids live as long.
            id: Box::leak(descriptor.id.clone().into_boxed_str()),
            category: descriptor.category,
            ecosystem: descriptor.ecosystem,
            targets: &[TargetKind::Directory],
            cost: descriptor.cost,
            summary: Box::leak(descriptor.summary.clone().into_boxed_str()),
        };
        let executable = find_command(&descriptor.command, tool_dirs).ok_or_else(|| {
            let searched: Vec<String> = tool_dirs.iter().map(|d| d.display().to_string()).collect();
            format!(
                "`{}` was not found in {} or on PATH",
                descriptor.command,
                if searched.is_empty() {
                    "the tool directories".into()
                } else {
                    searched.join(", ")
                }
            )
        });
        let config_when = descriptor
            .config
            .iter()
            .map(|file| {
                (!file.when.is_empty())
                    .then(|| globset(&file.when).expect("descriptors are validated when parsed"))
            })
            .collect();
        ExternalTool {
            files: globset(&descriptor.files).expect("descriptors are validated when parsed"),
            config_when,
            descriptor,
            spec,
            executable,
            tool_dirs: tool_dirs.to_vec(),
            version: Arc::default(),
            group: None,
        }
    }

    /// The program and its version, asked once per process.
    async fn scanner(&self, executable: &Path, workspace: &Workspace) -> Scanner {
        let version = self
            .version
            .get_or_init(|| process::version_of(&self.descriptor, executable, &self.tool_dirs, workspace))
            .await;
        Scanner {
            name: self.descriptor.command.clone(),
            version: version.clone(),
        }
    }

    /// The source files of the inventory this tool looks at, as paths under
    /// `root` (the session's view, which holds the source files only).
    /// Reads the head of each candidate when the descriptor says what its
    /// files contain.
    fn matching(&self, inventory: &Inventory, root: &Path) -> Vec<PathBuf> {
        self.candidates(inventory)
            .filter(|f| self.descriptor.contains.is_empty() || self.holds_marker(inventory, f))
            .map(|f| root.join(&f.rel))
            .collect()
    }

    /// The matching files in the groups the scanner can take in one run:
    /// one group, or, with `python_modules_apart`, files that Python would
    /// import under the same module name in different groups.
    fn groups(&self, inventory: &Inventory, root: &Path) -> Vec<Vec<PathBuf>> {
        let files = self.matching(inventory, root);
        if !self.descriptor.python_modules_apart {
            return vec![files];
        }
        let packages: std::collections::HashSet<&str> = inventory
            .files_seen(|_| true)
            .filter_map(|f| {
                f.rel
                    .strip_suffix("/__init__.py")
                    .or_else(|| f.rel.strip_suffix("/__init__.pyi"))
            })
            .collect();
        batch::apart(files, |file| {
            python_module(file.strip_prefix(root).unwrap_or(file), &packages)
        })
    }

    /// The source files of the inventory whose paths the tool's globs match.
    fn candidates<'a>(&'a self, inventory: &'a Inventory) -> impl Iterator<Item = &'a FileEntry> {
        inventory
            .files_seen(|origin| self.sees(origin))
            .filter(|f| self.files.is_match(&f.rel))
    }

    /// Whether the first 64 KiB of `file` hold one of the descriptor's
    /// `contains` strings.
    fn holds_marker(&self, inventory: &Inventory, file: &FileEntry) -> bool {
        use std::io::Read;
        let mut head = Vec::new();
        let read = inventory
            .open(file)
            .and_then(|opened| opened.take(64 * 1024).read_to_end(&mut head));
        read.is_ok()
            && self
                .descriptor
                .contains
                .iter()
                .any(|marker| head.windows(marker.len()).any(|w| w == marker.as_bytes()))
    }
}

impl ExternalTool {
    /// The cache the descriptor's `warm_up` run fills, in a directory of the
    /// tool run's own; none when it has no warm-up or the warm-up failed
    /// (then each run starts with an empty cache, which is only slower).
    async fn warm_up(
        &self,
        executable: &Path,
        root: &Path,
        ctx: &ToolContext,
        config: &[&ConfigFile],
    ) -> Result<Option<tempfile::TempDir>, ToolError> {
        if self.descriptor.warm_up.is_empty() {
            return Ok(None);
        }
        let template = tempfile::Builder::new()
            .prefix("cache-")
            .tempdir_in(&ctx.workspace.dir)
            .map_err(|e| ToolError::Failed(format!("cannot make a private directory: {e}")))?;
        let descriptor = Descriptor {
            args: self
                .descriptor
                .args
                .iter()
                .flat_map(|arg| match arg.as_str() {
                    "{files}" => self.descriptor.warm_up.clone(),
                    _ => vec![arg.clone()],
                })
                .collect(),
            ..self.descriptor.clone()
        };
        let warmed = process::Run {
            descriptor: &descriptor,
            config,
            executable,
            root,
            files: &[],
            tool_dirs: &self.tool_dirs,
            workspace: &ctx.workspace,
            cancel: &ctx.cancel,
            cache: process::Cache::Fill(template.path()),
        }
        .execute()
        .await;
        match warmed {
            Ok(outcome)
                if outcome
                    .exit_code
                    .is_some_and(|code| self.descriptor.clean_exit.contains(&code)) =>
            {
                Ok(Some(template))
            }
            Err(ToolError::Cancelled) => Err(ToolError::Cancelled),
            Ok(outcome) => {
                tracing::debug!(tool = %self.descriptor.id, exit_code = ?outcome.exit_code, "the warm-up run failed; runs start with an empty cache");
                Ok(None)
            }
            Err(err) => {
                tracing::debug!(tool = %self.descriptor.id, error = %err, "the warm-up run failed; runs start with an empty cache");
                Ok(None)
            }
        }
    }

    /// The configuration files a run over `inventory` needs: those without
    /// `when`, and those for a kind of file the tool sees there.
    fn config_for(&self, inventory: &Inventory) -> Vec<&ConfigFile> {
        self.descriptor
            .config
            .iter()
            .zip(&self.config_when)
            .filter(|(_, when)| {
                when.as_ref().is_none_or(|when| {
                    inventory
                        .files_seen(|origin| self.sees(origin))
                        .any(|f| when.is_match(&f.rel))
                })
            })
            .map(|(file, _)| file)
            .collect()
    }
}

/// The external tools of every shipped descriptor, looking for their
/// commands in `tool_dirs` first.
pub fn all(tool_dirs: &[PathBuf]) -> Vec<Arc<dyn Tool>> {
    let descriptors: Vec<Descriptor> = DESCRIPTORS
        .iter()
        .map(|(name, text)| parse_descriptor(name, text).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let groups = shared::Group::all(&descriptors, tool_dirs);
    descriptors
        .into_iter()
        .map(|descriptor| {
            let tool = ExternalTool::new(descriptor, tool_dirs);
            let tool = match tool.descriptor.shared.and_then(|kind| groups.get(&kind)) {
                Some(group) => ExternalTool {
                    version: group.version.clone(),
                    group: Some(group.clone()),
                    ..tool
                },
                None => tool,
            };
            Arc::new(tool) as Arc<dyn Tool>
        })
        .collect()
}

impl Tool for ExternalTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn availability(&self) -> Availability {
        match &self.executable {
            Ok(_) => Availability::Available,
            Err(reason) => Availability::Unavailable {
                reason: reason.clone(),
                install_hint: self.descriptor.install_hint.clone(),
            },
        }
    }

    fn weight(&self) -> usize {
        self.descriptor.weight
    }

    fn quotes_secret(&self, rule: &str) -> bool {
        self.descriptor.secret_rules.iter().any(|r| r == rule)
    }

    fn version(&self) -> Option<String> {
        self.version.get().cloned().flatten()
    }

    fn has_work(&self, inventory: &Inventory) -> bool {
        self.candidates(inventory).next().is_some()
    }

    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let ToolTarget::Directory(inventory) = &ctx.target else {
                return Err(ToolError::UnsupportedTarget);
            };
            let executable = self.executable.clone().map_err(ToolError::Failed)?;
            // Scanners walk trees themselves and may follow links: they are
            // pointed at the session's view, which holds only the target's
            // own files.
            let view_inventory = inventory.clone();
            let work_dir = ctx.workspace.dir.clone();
            let this = self.clone();
            let (root, groups) = crate::tools::off_runtime(move || {
                let root = view_inventory.view(&work_dir)?.root().to_path_buf();
                let groups = this.groups(&view_inventory, &root);
                Ok::<_, String>((root, groups))
            })
            .await?
            .map_err(ToolError::Failed)?;
            if groups.iter().all(Vec::is_empty) {
                // None of the candidates is in the tool's format.
                return Ok(());
            }
            if let Some(group) = &self.group {
                let (classified, scanner) = tokio::join!(
                    group.classified(&self.descriptor.id, &ctx, inventory, &root),
                    self.scanner(&executable, &ctx.workspace)
                );
                ctx.findings.ran(scanner);
                let classified = classified?;
                ctx.findings.describe_rules(classified.rules);
                ctx.findings.extend(at_most_low_in_tests(
                    classified.findings,
                    self.descriptor.category,
                ));
                return Ok(());
            }
            let config = self.config_for(inventory);
            let template = self.warm_up(&executable, &root, &ctx, &config).await?;
            let cache = match &template {
                Some(template) => process::Cache::CopyOf(template.path()),
                None => process::Cache::Fresh,
            };
            let (this, executable, root, ctx_ref, config) = (&self, &executable, &root, &ctx, &config);
            let run_over = |files: Vec<PathBuf>| async move {
                let run = process::Run {
                    descriptor: &this.descriptor,
                    config,
                    executable,
                    root,
                    files: &files,
                    tool_dirs: &this.tool_dirs,
                    workspace: &ctx_ref.workspace,
                    cancel: &ctx_ref.cancel,
                    cache,
                };
                let outcome = run.execute().await?;
                let classified = parse::classify(&this.descriptor, root, outcome)?;
                ctx_ref.findings.describe_rules(classified.rules);
                let findings = match this.descriptor.overlapping_rules {
                    true => most_specific(classified.findings),
                    false => classified.findings,
                };
                Ok(at_most_low_in_tests(findings, this.descriptor.category))
            };
            // Asked beside the scan, so it adds no time to the first run.
            let scanner = self.scanner(executable, &ctx.workspace);
            if !self.descriptor.args.iter().any(|arg| arg == "{files}") {
                // The tool walks the root itself: one run.
                let (found, scanner) = tokio::join!(run_over(groups.concat()), scanner);
                ctx.findings.ran(scanner);
                ctx.findings.extend(found?);
                return Ok(());
            }
            let (isolated, scanner) = tokio::join!(batch::run_isolating(groups, run_over), scanner);
            ctx.findings.ran(scanner);
            let isolated = isolated?;
            ctx.findings.extend(isolated.found);
            ctx.findings
                .extend(isolated.not_analysed.into_iter().map(|(file, reason)| {
                    let rel = file
                        .strip_prefix(root)
                        .unwrap_or(&file)
                        .to_string_lossy()
                        .into_owned();
                    Finding::new(
                        FILE_NOT_ANALYZED,
                        Severity::Info,
                        format!(
                            "{} failed on this file, so problems in it may be missing: {reason}",
                            self.descriptor.command
                        ),
                    )
                    .at_path(&rel, None, None)
                    .fingerprinted(&rel)
                }));
            Ok(())
        })
    }
}

/// Weaknesses of leaked credentials: a real key leaks from a test file too.
const CREDENTIAL_CWES: &[u32] = &[798, 259, 321, 522, 538];

/// Security findings in test code are at most low: tests do not run in
/// production, and what they exercise on purpose (an `eval` of a fixture,
/// a query built for a test database) is no attack surface. Leaked
/// credentials keep their severity.
fn at_most_low_in_tests(mut findings: Vec<Finding>, category: Category) -> Vec<Finding> {
    if category != Category::Security {
        return findings;
    }
    for finding in &mut findings {
        let in_tests = finding
            .path
            .as_deref()
            .is_some_and(crate::tools::origin::is_test_path);
        let credential = finding.cwe.is_some_and(|cwe| CREDENTIAL_CWES.contains(&cwe));
        if in_tests && !credential && finding.severity < Severity::Low {
            finding.severity = Severity::Low;
            finding.message.push_str(" (in test code)");
        }
    }
    findings
}

/// One finding per weakness per line: where a tool's rules overlap (a
/// data-flow rule and a pattern rule on the same call), the finding with
/// the higher severity, which is the more specific rule's, is kept.
fn most_specific(findings: Vec<Finding>) -> Vec<Finding> {
    let mut worst: std::collections::HashMap<(String, u32, u32), Severity> = std::collections::HashMap::new();
    let key = |f: &Finding| Some((f.path.clone()?, f.line?, f.cwe?));
    for finding in &findings {
        if let Some(key) = key(finding) {
            let entry = worst.entry(key).or_insert(finding.severity);
            *entry = (*entry).min(finding.severity);
        }
    }
    let mut kept = std::collections::HashSet::new();
    findings
        .into_iter()
        .filter(|f| match key(f) {
            Some(key) => worst[&key] == f.severity && kept.insert(key),
            None => true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mypy_never_gets_two_files_of_one_module_name_in_a_run() {
        let text = DESCRIPTORS.iter().find(|(name, _)| *name == "mypy").unwrap().1;
        let tool = ExternalTool::new(parse_descriptor("mypy", text).unwrap(), &[]);
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/external/mypy/planted");
        let inventory = Inventory::walk(&root, &[], &tokio_util::sync::CancellationToken::new()).unwrap();
        let groups: Vec<Vec<String>> = tool
            .groups(&inventory, &root)
            .iter()
            .map(|group| {
                let mut rels: Vec<String> = group
                    .iter()
                    .map(|f| f.strip_prefix(&root).unwrap().to_string_lossy().into_owned())
                    .collect();
                rels.sort();
                rels
            })
            .collect();
        assert_eq!(
            groups,
            [
                vec![
                    "billing/__init__.py",
                    "billing/invoice.py",
                    "billing/report.py",
                    "jobs/monthly/orders.py"
                ],
                vec!["jobs/nightly/orders.py"],
                vec!["jobs/weekly/orders.py"],
            ]
        );
    }

    #[test]
    fn python_modules_are_named_up_to_the_last_package() {
        let packages = ["shop/app", "shop/app/orders", "api"].into_iter().collect();
        let name = |rel: &str| python_module(Path::new(rel), &packages);
        assert_eq!(name("shop/app/orders/models.py"), "app.orders.models");
        assert_eq!(name("shop/app/__init__.py"), "app");
        assert_eq!(name("billing/orders.py"), "orders");
        assert_eq!(name("tools/orders.pyi"), "orders");
        assert_eq!(name("setup.py"), "setup");
    }

    #[test]
    fn a_configuration_file_with_when_is_written_only_for_its_kind_of_file() {
        let text = r#"
            id = "packs"
            category = "security"
            ecosystem = "any"
            cost = 1
            summary = "s"
            command = "true"
            args = []
            files = ["**/*.py", "**/*.php"]
            cwd = "temp"
            format = "sarif"
            output = "stdout"
            findings_exit = [1]
            clean_exit = [0]
            install_hint = "h"
            [[config]]
            name = "always.txt"
            content = "x"
            [[config]]
            name = "rules/python.yml"
            shipped = "semgrep/python.yml"
            when = ["**/*.py"]
            [[config]]
            name = "rules/php.yml"
            shipped = "semgrep/php.yml"
            when = ["**/*.php"]
        "#;
        let tool = ExternalTool::new(parse_descriptor("packs", text).unwrap(), &[]);
        let tree = tempfile::tempdir().unwrap();
        std::fs::create_dir(tree.path().join("app")).unwrap();
        std::fs::write(tree.path().join("app/views.py"), "x = 1\n").unwrap();
        let inventory =
            Inventory::walk(tree.path(), &[], &tokio_util::sync::CancellationToken::new()).unwrap();
        let names: Vec<&str> = tool
            .config_for(&inventory)
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["always.txt", "rules/python.yml"]);
        let unknown = text.replace("semgrep/php.yml", "semgrep/cobol.yml");
        let err = parse_descriptor("packs", &unknown).unwrap_err();
        assert!(err.contains("no shipped rule file `semgrep/cobol.yml`"), "{err}");
    }

    #[test]
    fn security_findings_in_tests_are_low_unless_they_leak_a_credential() {
        let at = |path: &str, cwe| {
            Finding::new("r", Severity::Critical, "m")
                .at_path(path, Some(1), None)
                .with_cwe(cwe)
        };
        let findings = vec![
            at("tests/test_api.py", 89),
            at("app/api.py", 89),
            at("tests/keys.py", 798),
        ];
        let severities: Vec<Severity> = at_most_low_in_tests(findings.clone(), Category::Security)
            .iter()
            .map(|f| f.severity)
            .collect();
        assert_eq!(
            severities,
            [Severity::Low, Severity::Critical, Severity::Critical]
        );
        let quality = at_most_low_in_tests(findings, Category::CodeQuality);
        assert!(quality.iter().all(|f| f.severity == Severity::Critical));
    }

    #[test]
    fn overlapping_rules_leave_the_most_specific_finding() {
        let at = |rule: &str, severity, line, cwe| {
            Finding::new(rule, severity, "m")
                .at_path("app.py", Some(line), None)
                .with_cwe(cwe)
        };
        let findings = vec![
            at("pattern-shell", Severity::Medium, 21, 78),
            at("taint-shell", Severity::Critical, 21, 78),
            at("taint-shell-again", Severity::Critical, 21, 78),
            at("sql-build", Severity::High, 14, 89),
            at("tls-off", Severity::Medium, 21, 295),
            Finding::new("no-location", Severity::Low, "m"),
        ];
        let rules: Vec<String> = most_specific(findings).into_iter().map(|f| f.rule_id).collect();
        assert_eq!(rules, ["taint-shell", "sql-build", "tls-off", "no-location"]);
    }

    #[test]
    fn every_shipped_descriptor_parses() {
        for (name, text) in DESCRIPTORS {
            let d = parse_descriptor(name, text).unwrap();
            assert!(
                !d.install_hint.is_empty() && !d.findings_exit.is_empty(),
                "{name}"
            );
            assert!(d.summary.len() <= 120, "{name}");
        }
    }

    #[test]
    fn descriptor_errors_name_the_file_and_field() {
        let err = parse_descriptor("x", "id = \"x\"\n").unwrap_err();
        assert!(
            err.contains("descriptor x") && err.contains("missing field"),
            "{err}"
        );
        let mut descriptor = parse_descriptor("bandit", DESCRIPTORS[0].1).unwrap();
        descriptor.command = "livescan-no-such-scanner".into();
        let missing = ExternalTool::new(descriptor, &[PathBuf::from("/nonexistent")]);
        let Availability::Unavailable { reason, install_hint } = missing.availability() else {
            panic!("a command that exists nowhere is unavailable");
        };
        assert!(
            reason.contains("`livescan-no-such-scanner` was not found in /nonexistent"),
            "{reason}"
        );
        assert!(install_hint.contains("pip install"), "{install_hint}");
    }

    #[test]
    fn only_eslint_tools_with_a_flat_configuration_share_a_run() {
        let bandit = DESCRIPTORS[0].1;
        let err = parse_descriptor("bandit", &format!("shared = \"eslint\"\n{bandit}")).unwrap_err();
        assert!(
            err.contains("descriptor bandit: shared:") && err.contains("eslint-json"),
            "{err}"
        );
        let eslint = DESCRIPTORS.iter().find(|(name, _)| *name == "eslint").unwrap().1;
        let renamed = eslint.replace("name = \"eslint.config.mjs\"", "name = \"other.mjs\"");
        let err = parse_descriptor("eslint", &renamed).unwrap_err();
        assert!(err.contains("a config file `eslint.config.mjs`"), "{err}");
        assert_eq!(
            parse_descriptor("eslint", eslint).unwrap().shared,
            Some(SharedRun::Eslint)
        );
    }

    #[test]
    fn line_patterns_and_contents_are_checked_when_a_descriptor_is_read() {
        let vulture = DESCRIPTORS.iter().find(|(name, _)| *name == "vulture").unwrap().1;
        let refused = |from: &str, to: &str| {
            let text = vulture.replacen(from, to, 1);
            assert_ne!(text, vulture, "`{from}` is in the descriptor");
            parse_descriptor("vulture", &text).unwrap_err()
        };
        let err = refused("(?P<message>", "(?P<text>");
        assert!(err.contains("named groups `path` and `message`"), "{err}");
        let err = refused("^(?P<path>", "^((?P<path>");
        assert!(err.contains("descriptor vulture"), "{err}");
        let err = refused("format = \"lines\"", "format = \"sarif\"");
        assert!(err.contains("line_pattern is for format `lines`"), "{err}");
        let err = refused("\"{files}\"]", "\"{root}\"]\ncontains = [\"x\"]");
        assert!(
            err.contains("contains: the tool must be given its files"),
            "{err}"
        );
    }
}
