//! A tool that finds (or claims) an enormous number of problems: its report
//! keeps the worst findings up to the server's cap and counts the rest,
//! every field is bounded, summaries still count everything, and a report
//! past gRPC's 4 MiB default still reaches the CLI. (Memory with many
//! watchers is measured by `cargo bench --bench watch_memory`.)

use crate::common::{self, TestServer};
use futures::future::BoxFuture;
use livescan::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use livescan::tools::{Catalog, Tool, ToolContext, ToolError, ToolSpec};
use serde_json::json;
use std::sync::Arc;

/// Emits `count` findings, one in ten of them high, each with a message of
/// `message_chars` characters.
struct Flood {
    spec: ToolSpec,
    count: usize,
    message_chars: usize,
}

impl Tool for Flood {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }
    fn run(self: Arc<Self>, ctx: Arc<ToolContext>) -> BoxFuture<'static, Result<(), ToolError>> {
        Box::pin(async move {
            let message = "m".repeat(self.message_chars);
            for i in 0..self.count {
                let severity = if i % 10 == 0 {
                    Severity::High
                } else {
                    Severity::Low
                };
                ctx.findings
                    .extend([Finding::new("flood", severity, message.clone())
                        .at_path(&format!("f{i}.txt"), Some(1), None)
                        .fingerprinted(&i.to_string())]);
            }
            Ok(())
        })
    }
}

fn flood(count: usize, message_chars: usize) -> Catalog {
    let mut catalog = Catalog::default();
    catalog.add(Arc::new(Flood {
        spec: ToolSpec {
            id: "flood",
            category: Category::CodeQuality,
            ecosystem: Ecosystem::Any,
            targets: &[TargetKind::Directory],
            cost: 1,
            summary: "finds a great many problems",
        },
        count,
        message_chars,
    }));
    catalog
}

fn target() -> serde_json::Value {
    json!({ "target": { "directory": common::fixtures().join("dir-clean") }, "tools": ["flood"] })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_keeps_the_worst_findings_up_to_the_cap_and_counts_the_rest() {
    let server = TestServer::with_config(flood(50_000, 10_000), |config| {
        config.max_findings_per_report = 1000
    })
    .await;
    let id = server.start_session(target()).await;
    let session = server.wait_finished(&id).await;
    let report = &session["toolReports"]["flood"];
    assert_eq!(report["findingsCount"], 50_000, "{report:#}");
    let findings = report["result"]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1000);
    // The worst are kept: all 5,000 high findings cannot fit, so every kept one is high.
    assert!(findings.iter().all(|f| f["severity"] == "high"));
    let omitted = &report["result"]["omitted"];
    assert_eq!(omitted["count"], 49_000, "{omitted}");
    assert_eq!(omitted["bySeverity"]["high"], 4_000, "{omitted}");
    assert_eq!(omitted["bySeverity"]["low"], 45_000, "{omitted}");
    assert_eq!(session["summary"]["totalFindings"], 50_000);
    assert_eq!(session["summary"]["bySeverity"]["high"], 5_000);
    assert_eq!(session["summary"]["bySeverity"]["low"], 45_000);
    // Each message is cut to its bound, saying so.
    let message = findings[0]["message"].as_str().unwrap();
    assert!(message.chars().count() < 4100, "{} characters", message.len());
    assert!(
        message.ends_with("(10000 characters)"),
        "{}",
        &message[message.len() - 40..]
    );

    // gRPC says the same (to a client that takes what the server sends, as
    // the SDKs and the CLI do: with the analysis this session is over 4 MiB).
    let mut grpc = server.grpc().await.max_decoding_message_size(usize::MAX);
    let got = grpc
        .get_session(livescan::proto::GetSessionRequest {
            session_id: id,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let report = &got.session.unwrap().tool_reports[0];
    assert_eq!((report.findings_count, report.findings.len()), (50_000, 1000));
    let omitted = report.omitted.unwrap();
    assert_eq!(
        (omitted.count, omitted.high, omitted.low),
        (49_000, 4_000, 45_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_past_four_mebibytes_reaches_the_cli() {
    // 12,000 findings of 500 characters: about 7 MB of report.
    let server = TestServer::with_config(flood(12_000, 500), |config| {
        config.max_findings_per_report = 20_000
    })
    .await;
    let dir = common::fixtures().join("dir-clean");
    let (code, stdout, stderr) = common::livescan(&[
        "scan",
        dir.to_str().unwrap(),
        "--server",
        &server.base,
        "--api-key",
        &server.key,
        "--tools",
        "flood",
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let flood = &report["toolReports"]["flood"];
    assert_eq!(
        flood["findingsCount"],
        12_000,
        "{}",
        &stdout[..stdout.len().min(2000)]
    );
    assert!(stdout.len() > 4 * 1024 * 1024, "{} bytes", stdout.len());
}
