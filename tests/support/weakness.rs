//! A security tool's finding names its weakness (a CWE) and, through it,
//! its OWASP Top 10 category: what the analysis merges and counts issues
//! by. The tables live with each tool's rules, native or external; these
//! checks hold them complete.

use livescan::model::Finding;
use livescan::model::intelligence::{OUTSIDE_TOP_TEN, owasp_category};

/// What a security finding of `tool` lacks of its weakness, if anything:
/// a CWE, or a CWE that is in no OWASP Top 10 category and not on the list
/// of weaknesses outside it.
pub fn unnamed(tool: &str, finding: &Finding) -> Option<String> {
    let Some(cwe) = finding.cwe else {
        return Some(format!("{tool}/{}: no CWE", finding.rule_id));
    };
    (owasp_category(cwe).is_none() && !OUTSIDE_TOP_TEN.contains(&cwe)).then(|| {
        format!(
            "{tool}/{}: CWE-{cwe} is in no OWASP Top 10 category",
            finding.rule_id
        )
    })
}

/// Fails listing every security finding [`unnamed`] found wanting.
pub fn assert_all_named(mut unnamed: Vec<String>) {
    unnamed.sort();
    unnamed.dedup();
    assert!(
        unnamed.is_empty(),
        "security findings without their weakness:\n{}",
        unnamed.join("\n")
    );
}
