//! One eslint process for all the eslint tools of a session. Each eslint
//! tool (`shared = "eslint"` in its descriptor) is eslint with a
//! configuration of its own; run apart, each starts Node, loads eslint and
//! parses every file again, which costs far more than its rules. The first
//! of a session's eslint tools to start runs eslint once with every one of
//! their configurations merged; the others wait for it without holding any
//! capacity, and each takes from the one report the findings of the rules
//! its own configuration turns on, on the files it looks at, as its own run
//! would have found them.

use super::parse;
use super::process::{Outcome, Run};
use super::{ConfigFile, Descriptor, ExternalTool};
use crate::tools::{Inventory, SharedWork, ToolContext, ToolError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A run several tools share.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum SharedRun {
    /// eslint with flat configurations: each tool's `eslint.config.mjs`.
    Eslint,
}

/// The configuration file an eslint tool's descriptor must ship.
const CONFIG: &str = "eslint.config.mjs";

impl SharedRun {
    /// Why `descriptor` cannot take part in this shared run, if it cannot.
    pub fn refuses(self, descriptor: &Descriptor) -> Option<String> {
        let SharedRun::Eslint = self;
        if descriptor.command != "eslint" || descriptor.format != parse::Format::EslintJson {
            return Some("shared = \"eslint\" is for eslint with format eslint-json".into());
        }
        if descriptor.cwd != super::WorkDir::Root || descriptor.output != super::Output::Stdout {
            return Some("shared = \"eslint\" needs cwd = \"root\" and output = \"stdout\"".into());
        }
        if descriptor.findings_exit != [1] || descriptor.clean_exit != [0] {
            return Some(
                "shared = \"eslint\" needs eslint's exit codes: findings_exit = [1], clean_exit = [0]".into(),
            );
        }
        if !descriptor
            .config
            .iter()
            .any(|file| file.name == CONFIG && file.when.is_empty())
        {
            return Some(format!(
                "shared = \"eslint\" needs a config file `{CONFIG}` without `when`"
            ));
        }
        None
    }
}

/// The tools of one shared run, in catalog order.
pub struct Group {
    kind: SharedRun,
    members: Vec<ExternalTool>,
    /// The program's version, asked once for all of them.
    pub version: Arc<tokio::sync::OnceCell<Option<String>>>,
}

/// What the shared process left behind.
struct SharedReport {
    outcome: Outcome,
    /// The report, read once: eslint's results and, for each rule, the
    /// tools whose configurations turn it on.
    parsed: Option<Merged>,
}

#[derive(Deserialize)]
struct Merged {
    owners: HashMap<String, Vec<String>>,
    results: Vec<Value>,
}

impl Group {
    /// The groups of `descriptors`, each tool found in `tool_dirs`.
    pub fn all(descriptors: &[Descriptor], tool_dirs: &[PathBuf]) -> HashMap<SharedRun, Arc<Group>> {
        let mut members: HashMap<SharedRun, Vec<ExternalTool>> = HashMap::new();
        for descriptor in descriptors {
            if let Some(kind) = descriptor.shared {
                members
                    .entry(kind)
                    .or_default()
                    .push(ExternalTool::new(descriptor.clone(), tool_dirs));
            }
        }
        members
            .into_iter()
            .map(|(kind, members)| {
                let group = Group {
                    kind,
                    members,
                    version: Arc::default(),
                };
                (kind, Arc::new(group))
            })
            .collect()
    }

    /// What the shared run found for the tool `id`, read as that tool's own
    /// run. The first of the session's tools to ask runs the process; the
    /// others give their capacity back and wait.
    pub async fn classified(
        &self,
        id: &str,
        ctx: &ToolContext,
        inventory: &Inventory,
        root: &Path,
    ) -> Result<parse::Classified, ToolError> {
        let member = self
            .members
            .iter()
            .find(|m| m.descriptor.id == id)
            .ok_or_else(|| ToolError::Failed(format!("{id} is not in its shared run")))?;
        let run = ctx
            .shared
            .value::<SharedWork<Arc<SharedReport>>>(&format!("{:?}", self.kind));
        let report = run
            .get(ctx, || self.execute(id, ctx, inventory, root))
            .await?
            .clone();
        parse::classify(&member.descriptor, root, member_outcome(member, &report, root))
    }

    /// Runs eslint once with the configuration of every tool of the group
    /// that the session runs and that has files here (`asking` always).
    async fn execute(
        &self,
        asking: &str,
        ctx: &ToolContext,
        inventory: &Inventory,
        root: &Path,
    ) -> Result<Arc<SharedReport>, ToolError> {
        let members: Vec<&ExternalTool> = self
            .members
            .iter()
            .filter(|m| {
                let id = m.descriptor.id.as_str();
                (id == asking || ctx.shared.selects(id)) && m.candidates(inventory).next().is_some()
            })
            .collect();
        let leader = members
            .iter()
            .find(|m| m.descriptor.id == asking)
            .ok_or_else(|| ToolError::Failed(format!("{asking} has nothing to analyse")))?;
        let executable = leader.executable.clone().map_err(ToolError::Failed)?;
        let mut config: Vec<ConfigFile> = members
            .iter()
            .flat_map(|m| {
                m.config_for(inventory).into_iter().map(|file| ConfigFile {
                    name: format!("{}/{}", m.descriptor.id, file.name),
                    ..file.clone()
                })
            })
            .collect();
        let ids: Vec<&str> = members.iter().map(|m| m.descriptor.id.as_str()).collect();
        config.push(ConfigFile {
            name: CONFIG.into(),
            content: merged_config(&ids),
            shipped: None,
            when: Vec::new(),
        });
        config.push(ConfigFile {
            name: FORMATTER.into(),
            content: FORMATTER_MODULE.into(),
            shipped: None,
            when: Vec::new(),
        });
        let descriptor = Descriptor {
            args: [
                "-c",
                "{out}/eslint.config.mjs",
                "-f",
                &format!("{{out}}/{FORMATTER}"),
                "--no-warn-ignored",
                ".",
            ]
            .map(String::from)
            .to_vec(),
            ..leader.descriptor.clone()
        };
        let config: Vec<&ConfigFile> = config.iter().collect();
        let outcome = Run {
            descriptor: &descriptor,
            config: &config,
            executable: &executable,
            root,
            files: &[],
            tool_dirs: &leader.tool_dirs,
            workspace: &ctx.workspace,
            cancel: &ctx.cancel,
            cache: super::process::Cache::Fresh,
        }
        .execute()
        .await?;
        let parsed = serde_json::from_str(&outcome.report).ok();
        Ok(Arc::new(SharedReport { outcome, parsed }))
    }
}

/// What `member`'s own run would have left: eslint's JSON with the
/// messages of the rules its configuration turns on (and the parse errors)
/// on the files it looks at, and the exit code that goes with them. A run
/// that failed (a crash, a report that does not parse) fails every tool.
fn member_outcome(member: &ExternalTool, report: &SharedReport, root: &Path) -> Outcome {
    let outcome = &report.outcome;
    let failed = Outcome {
        exit_code: outcome.exit_code,
        report: outcome.report.clone(),
        stderr: outcome.stderr.clone(),
        memory_limit: outcome.memory_limit,
        cwd: outcome.cwd.clone(),
    };
    let (Some(merged), Some(0 | 1)) = (&report.parsed, outcome.exit_code) else {
        return failed;
    };
    let id = &member.descriptor.id;
    let mut found = false;
    let results: Vec<Value> = merged
        .results
        .iter()
        .filter(|file| {
            let path = Path::new(file["filePath"].as_str().unwrap_or(""));
            member.files.is_match(path.strip_prefix(root).unwrap_or(path))
        })
        .map(|file| {
            let messages: Vec<&Value> = file["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|message| match message["ruleId"].as_str() {
                    // A file eslint could not parse: every tool's problem.
                    None => true,
                    Some(rule) => merged.owners.get(rule).is_some_and(|owners| owners.contains(id)),
                })
                .collect();
            found |= !messages.is_empty();
            serde_json::json!({ "filePath": file["filePath"], "messages": messages })
        })
        .collect();
    Outcome {
        exit_code: Some(i32::from(found)),
        report: Value::Array(results).to_string(),
        ..failed
    }
}

/// The formatter's file name in the run's private directory.
const FORMATTER: &str = "livescan-formatter.mjs";

/// eslint's results as its `json` formatter writes them, beside the rules'
/// owners.
const FORMATTER_MODULE: &str = r#"import { owners } from "./eslint.config.mjs";

export default (results) => JSON.stringify({ owners, results });
"#;

/// The configuration that runs every tool's own, each from its folder:
/// their objects in catalog order, without the processor with which each
/// kept only its own rules' findings (the split is made from `owners`, the
/// tools whose objects turn each rule on).
fn merged_config(ids: &[&str]) -> String {
    let ids = serde_json::to_string(ids).expect("strings serialize");
    format!(
        r#"const members = {ids};
export const owners = {{}};
const merged = [];
for (const member of members) {{
  const {{ default: config }} = await import(`./${{member}}/eslint.config.mjs`);
  for (const object of config) {{
    const own = {{ ...object }};
    if (own.processor?.meta?.name === "livescan-keep-real-findings") delete own.processor;
    merged.push(own);
    for (const [rule, setting] of Object.entries(own.rules ?? {{}})) {{
      const level = Array.isArray(setting) ? setting[0] : setting;
      if (level !== "off" && level !== 0) (owners[rule] ??= []).push(member);
    }}
  }}
}}
// An eslint-disable comment of the scanned code that disables nothing is
// no problem of the code.
merged.push({{ linterOptions: {{ reportUnusedDisableDirectives: "off" }} }});
export default merged;
"#
    )
}
