//! The `kubernetes` tool: workload manifests (Pod, Deployment, StatefulSet,
//! DaemonSet, ReplicaSet, Job, CronJob) whose containers run privileged,
//! share the host's namespaces, mount host paths, may run as root, or have
//! no resource limits.
//!
//! Each YAML document is parsed for its structure; findings point at the
//! line of the offending key, or of the container's `name:` when something
//! is missing.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use serde_yaml_ng::Value;

static SPEC: ToolSpec = ToolSpec {
    id: "kubernetes",
    category: Category::Security,
    ecosystem: Ecosystem::Containers,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Kubernetes workloads: privileged, host namespaces, hostPath, running as root, no resource limits",
};

const HELP: &str = "https://kubernetes.io/docs/concepts/security/pod-security-standards/";

/// The weakness each rule finds.
fn cwe(rule: &str) -> u32 {
    match rule {
        "no-resource-limits" => 770,                  // allocation without limits
        "host-path-volume" | "host-namespace" => 668, // resource exposed to the wrong sphere
        _ => 250,                                     // unnecessary privileges
    }
}
const WORKLOADS: &[&str] = &[
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
];

/// A document of a multi-document file, with the line it starts on (0-based).
fn documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut start = 0;
    let mut current = String::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            docs.push((start, std::mem::take(&mut current)));
            start = index + 1;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push((start, current));
    docs
}

fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

fn pod_spec(doc: &Value) -> Option<&Value> {
    match doc.get("kind")?.as_str()? {
        "Pod" => doc.get("spec"),
        "CronJob" => get(doc, &["spec", "jobTemplate", "spec", "template", "spec"]),
        _ => get(doc, &["spec", "template", "spec"]),
    }
}

/// Whether a securityContext keeps the process off uid 0.
fn non_root(context: Option<&Value>) -> Option<bool> {
    let context = context?;
    if context.get("runAsNonRoot").and_then(Value::as_bool) == Some(true) {
        return Some(true);
    }
    context
        .get("runAsUser")
        .and_then(Value::as_u64)
        .map(|uid| uid != 0)
}

pub struct Kubernetes;

impl FileCheck for Kubernetes {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        Lang::by_name(&file.rel) == Some(Lang::Yaml)
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        if Lang::of(&file.rel, Some(text)) != Lang::Yaml
            || !text.contains("apiVersion")
            || !text.contains("kind:")
        {
            return;
        }
        for (start, source) in documents(text) {
            let Ok(doc) = serde_yaml_ng::from_str::<Value>(&source) else {
                continue;
            };
            let Some(kind) = doc.get("kind").and_then(Value::as_str) else {
                continue;
            };
            if !WORKLOADS.contains(&kind) {
                continue;
            }
            let Some(spec) = pod_spec(&doc) else { continue };
            let lines: Vec<&str> = source.lines().collect();
            let mut push = |rule: &str, severity: Severity, line: usize, message: String, evidence: &str| {
                out.push(
                    Finding::new(rule, severity, message)
                        .at_path(&file.rel, Some(to_u32(start + line + 1)), None)
                        .with_help(HELP)
                        .with_cwe(cwe(rule))
                        .fingerprinted(evidence),
                );
            };
            // Keys that are wrong wherever they appear in a workload.
            for (index, line) in lines.iter().enumerate() {
                let trimmed = line.trim_start().trim_start_matches("- ");
                let value = |key: &str| {
                    trimmed
                        .strip_prefix(key)
                        .map(|v| v.split('#').next().unwrap_or("").trim())
                };
                if value("privileged:") == Some("true") {
                    push("privileged-container", Severity::High, index,
                        "a privileged container has every capability and the host's devices; it can take over the node".into(), "privileged");
                }
                for key in ["hostNetwork:", "hostPID:", "hostIPC:"] {
                    if value(key) == Some("true") {
                        push(
                            "host-namespace",
                            Severity::High,
                            index,
                            format!(
                                "`{} true` shares the host's namespace with the pod",
                                key.trim_end_matches(':')
                            ),
                            key,
                        );
                    }
                }
                if value("hostPath:").is_some() {
                    push(
                        "host-path-volume",
                        Severity::Medium,
                        index,
                        "a hostPath volume exposes the node's file system to the pod".into(),
                        "hostPath",
                    );
                }
                if value("allowPrivilegeEscalation:") == Some("true") {
                    push("privilege-escalation", Severity::Medium, index,
                        "allowPrivilegeEscalation lets a process gain more privileges than its parent (setuid binaries)".into(), "escalation");
                }
                if value("runAsUser:") == Some("0") {
                    push(
                        "runs-as-root",
                        Severity::High,
                        index,
                        "runAsUser: 0 runs the container as root".into(),
                        "uid-0",
                    );
                }
            }
            let pod_non_root = non_root(spec.get("securityContext"));
            for list in ["initContainers", "containers"] {
                let Some(containers) = spec.get(list).and_then(Value::as_sequence) else {
                    continue;
                };
                let list_line = lines
                    .iter()
                    .position(|l| l.trim_start().starts_with(&format!("{list}:")))
                    .unwrap_or(0);
                for container in containers {
                    let name = container.get("name").and_then(Value::as_str).unwrap_or("");
                    let name_line = lines[list_line..]
                        .iter()
                        .position(|l| {
                            let t = l.trim_start().trim_start_matches("- ");
                            t.strip_prefix("name:")
                                .is_some_and(|v| v.trim().trim_matches(['"', '\'']) == name)
                        })
                        .map_or(list_line, |offset| list_line + offset);
                    if get(container, &["resources", "limits"]).is_none() {
                        push(
                            "no-resource-limits",
                            Severity::Medium,
                            name_line,
                            format!(
                                "container `{name}` has no resource limits; one runaway pod can starve the node"
                            ),
                            name,
                        );
                    }
                    let container_non_root = non_root(container.get("securityContext"));
                    let explicit_root = container_non_root == Some(false)
                        || (container_non_root.is_none() && pod_non_root == Some(false));
                    if container_non_root.or(pod_non_root).is_none() && !explicit_root {
                        push(
                            "may-run-as-root",
                            Severity::Medium,
                            name_line,
                            format!(
                                "container `{name}` sets neither runAsNonRoot nor a non-zero runAsUser, so it runs as the image's user, often root"
                            ),
                            name,
                        );
                    }
                }
            }
        }
    }
}
