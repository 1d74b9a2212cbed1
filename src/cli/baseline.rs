//! `--baseline`: the findings of an earlier scan, by fingerprint, so a scan
//! can tell its new findings from those already there ("hold the line").
//! The baseline is a session on the server (`sess-…`, read from its full
//! view), a `--format json` report, or a SARIF file livescan wrote. Each
//! listed finding of the new scan is then marked `new` or `unchanged`
//! (`baselineState`), and the new ones are counted apart for
//! `--fail-on new:SEVERITY>N`. Fingerprints follow moved lines
//! ([`livescan::engine::fingerprints`]); findings a report only counted
//! (past the server's cap per report) are on neither side.

use super::scan::{call, rest_base, rest_client};
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::collections::HashSet;

/// The fingerprints of a baseline scan.
pub struct Baseline(HashSet<String>);

impl Baseline {
    /// Reads the baseline `spec` names: a file, or a session on `server`.
    pub async fn load(spec: &str, server: Option<&str>, key: Option<&str>) -> Result<Baseline> {
        let path = std::path::Path::new(spec);
        let document: Value = if path.is_file() {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("--baseline: cannot read {spec}"))?;
            serde_json::from_str(&text).with_context(|| format!("--baseline: {spec} is not JSON"))?
        } else if spec.starts_with("sess-") {
            let server = server.ok_or_else(|| anyhow!("--baseline {spec}: a session id needs --server"))?;
            let base = rest_base(server)?;
            let client = rest_client(key, Some(std::time::Duration::from_secs(60)))?;
            call(client.get(format!("{base}/api/sessions/{spec}")))
                .await
                .map_err(|error| {
                    error
                        .into_error()
                        .context(format!("--baseline: cannot read session {spec}"))
                })?
        } else {
            return Err(anyhow!(
                "--baseline: `{spec}` is neither a file nor a session id (sess-…)"
            ));
        };
        Ok(Baseline(fingerprints(&document)))
    }

    pub fn has(&self, fingerprint: &str) -> bool {
        self.0.contains(fingerprint)
    }
}

/// The finding fingerprints in a SARIF log (`partialFingerprints` of its
/// results) or in a livescan report or full view (`toolReports`, as an
/// object or a list).
fn fingerprints(document: &Value) -> HashSet<String> {
    let mut found = HashSet::new();
    if let Some(runs) = document["runs"].as_array() {
        for result in runs.iter().filter_map(|run| run["results"].as_array()).flatten() {
            if let Some(print) = result["partialFingerprints"]["livescan/v1"].as_str() {
                found.insert(print.to_string());
            }
        }
        return found;
    }
    let reports: Vec<&Value> = match &document["toolReports"] {
        Value::Object(by_tool) => by_tool.values().collect(),
        Value::Array(list) => list.iter().collect(),
        _ => Vec::new(),
    };
    for finding in reports
        .into_iter()
        .filter_map(|report| report["result"]["findings"].as_array())
        .flatten()
    {
        if let Some(print) = finding["fingerprint"].as_str() {
            found.insert(print.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_are_read_from_sarif_and_from_reports() {
        let sarif = json!({"runs": [{"results": [{"partialFingerprints": {"livescan/v1": "a1"}}]}]});
        assert_eq!(fingerprints(&sarif), HashSet::from(["a1".to_string()]));
        let report = json!({"toolReports": {"secrets": {"result": {"findings": [{"fingerprint": "b2"}]}}}});
        assert_eq!(fingerprints(&report), HashSet::from(["b2".to_string()]));
        let listed = json!({"toolReports": [{"result": {"findings": [{"fingerprint": "c3"}]}}]});
        assert_eq!(fingerprints(&listed), HashSet::from(["c3".to_string()]));
    }
}
