//! The optional narrative of an analysis, written by a language model
//! behind an OpenAI-compatible chat-completions endpoint (a local
//! llama.cpp, Ollama or vLLM server, or a hosted one). The model gets the
//! merged issues only — severities, rules, CWEs, places, never a finding's
//! message, so never a secret's value — and its answer is recorded as a
//! `narrative` event after the session's end: the deterministic analysis is
//! published first, and a slow, failing or malformed answer neither fails
//! nor delays the session.

use crate::model::Intelligence;
use serde_json::{Value, json};
use std::time::Duration;

/// The longest narrative kept, in characters.
pub const MAX_NARRATIVE_CHARS: usize = 8_000;
/// The largest answer read from the model, in bytes.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// The issues the model is told about (the worst ones).
const ISSUES_TOLD: usize = 40;

const INSTRUCTIONS: &str = "You explain the results of an automated code and web security scan to the \
    developers who own the target. You get the merged issues as JSON: severity, confidence (0-100), CWE, \
    OWASP category, where, what kind of place that is, and the tools and rules that reported it. Write \
    three short paragraphs of plain text, no lists and no headings: what matters most and why, what to fix \
    first, and what can wait. Do not invent issues that are not in the data.";

/// Where the model is, and how long it may take.
#[derive(Clone, Debug)]
pub struct NarratorConfig {
    /// The API's base URL (`…/v1`), or its full `…/chat/completions` URL.
    pub url: String,
    pub model: String,
    /// Sent as `Authorization: Bearer …` when given.
    pub api_key: Option<String>,
    pub timeout: Duration,
}

/// A client of one chat-completions endpoint.
pub struct Narrator {
    config: NarratorConfig,
    client: reqwest::Client,
}

impl Narrator {
    pub fn new(config: NarratorConfig) -> Result<Narrator, String> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot make the model's HTTP client: {e}"))?;
        Ok(Narrator { config, client })
    }

    pub fn model(&self) -> &str {
        &self.config.model
    }

    fn endpoint(&self) -> String {
        let url = self.config.url.trim_end_matches('/');
        match url.ends_with("/chat/completions") {
            true => url.to_string(),
            false => format!("{url}/chat/completions"),
        }
    }

    /// Why a request to the model failed, as its readers may see it: the
    /// model's address and the transport's details go to the log only.
    fn unreachable(&self, err: &reqwest::Error) -> String {
        tracing::warn!(error = %err, "the model could not be asked");
        if err.is_timeout() {
            format!(
                "the model did not answer within {} ms",
                self.config.timeout.as_millis()
            )
        } else {
            "the model could not be reached".to_string()
        }
    }

    /// The model's narrative of `analysis`, or why there is none, in words
    /// fit for the session's readers.
    pub async fn narrate(&self, analysis: &Intelligence) -> Result<String, String> {
        let body = json!({
            "model": self.config.model,
            "temperature": 0.2,
            "messages": [
                { "role": "system", "content": INSTRUCTIONS },
                { "role": "user", "content": told(analysis).to_string() },
            ],
        });
        let mut request = self.client.post(self.endpoint()).json(&body);
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.unreachable(&e))? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(format!("the model's answer is over {MAX_ANSWER_BYTES} bytes"));
            }
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            tracing::warn!(%status, body = %crate::model::text::bounded(&text, 300), "the model failed");
            return Err(format!("the model answered {status}"));
        }
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::warn!(error = %e, "the model's answer is not JSON");
            "the model's answer is not JSON".to_string()
        })?;
        let content = answer
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .ok_or("the model's answer has no choices[0].message.content")?;
        Ok(crate::model::text::bounded(content, MAX_NARRATIVE_CHARS))
    }
}

/// What the model is told: the grade and the worst issues, without any
/// finding's message (a message may quote what a tool found).
fn told(analysis: &Intelligence) -> Value {
    let issues: Vec<Value> = analysis
        .issues
        .iter()
        .take(ISSUES_TOLD)
        .map(|issue| {
            json!({
                "severity": issue.severity,
                "confidence": issue.confidence,
                "cwe": issue.cwe,
                "owasp": issue.owasp,
                "where": issue.location,
                "exposure": issue.exposure,
                "reportedBy": issue
                    .seen_by
                    .iter()
                    .map(|seen| format!("{}/{}", seen.tool, seen.rule_id))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "grade": analysis.grade,
        "riskScore": analysis.risk_score,
        "issueCount": analysis.issue_count,
        "issues": issues,
    })
}
