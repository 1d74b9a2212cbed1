//! `livescan tools` on the console: a section per category, each tool with
//! its ecosystem, targets, version, cost and average duration (from the
//! runs stored in the data directory, when there is one), then the tools
//! that are missing here and how to install them.

use livescan::engine::ToolInfo;
use livescan::tools::Availability;
use std::fmt::Write;

/// A duration in milliseconds as people read it: `850 ms`, `12.4 s`, `3.1 min`.
fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1e3),
        _ => format!("{:.1} min", ms as f64 / 6e4),
    }
}

/// The console table of `tools`.
pub fn table(tools: &[ToolInfo]) -> String {
    let mut ordered: Vec<&ToolInfo> = tools.iter().collect();
    ordered.sort_by_key(|t| (t.category, t.ecosystem, t.id));
    let width = |column: fn(&ToolInfo) -> usize, heading: &str| {
        tools.iter().map(column).max().unwrap_or(0).max(heading.len())
    };
    let id_width = width(|t| t.id.len(), "ID");
    let version_width = width(|t| t.version.as_deref().map_or(1, str::len), "VERSION");
    let mut out = String::new();
    let mut missing = Vec::new();
    let mut category = None;
    for tool in ordered {
        if category != Some(tool.category) {
            category = Some(tool.category);
            let count = tools.iter().filter(|t| t.category == tool.category).count();
            let _ = writeln!(out, "\n{} ({count})", tool.category.as_str().to_uppercase());
            let _ = writeln!(
                out,
                "  {:<id_width$}  {:<14}  {:<14}  {:<9}  {:<version_width$}  {:>4}  {:>9}  SUMMARY",
                "ID", "ECOSYSTEM", "TARGETS", "AVAILABLE", "VERSION", "COST", "AVERAGE"
            );
        }
        let available = match &tool.availability {
            Availability::Available => "yes",
            Availability::Unavailable { reason, install_hint } => {
                missing.push(format!("  {}: {reason}; {install_hint}", tool.id));
                "no"
            }
        };
        let targets: Vec<&str> = tool.targets.iter().map(|k| k.as_str()).collect();
        let _ = writeln!(
            out,
            "  {:<id_width$}  {:<14}  {:<14}  {:<9}  {:<version_width$}  {:>4}  {:>9}  {}",
            tool.id,
            tool.ecosystem.as_str(),
            targets.join(","),
            available,
            tool.version.as_deref().unwrap_or("-"),
            tool.cost,
            tool.runs
                .as_ref()
                .map_or("-".into(), |runs| duration(runs.average_ms)),
            tool.summary
        );
    }
    let _ = writeln!(
        out,
        "\n{} tools, {} available here. analysis: {} credit. {}.",
        tools.len(),
        tools.len() - missing.len(),
        livescan::tools::ANALYSIS_COST,
        livescan::tools::ANALYSIS_SUMMARY
    );
    let _ = writeln!(
        out,
        "A scanner's version shows once it has run; AVERAGE is over the runs stored in the data directory."
    );
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "\nUnavailable here (asked for by name, they are skipped and refunded):"
        );
        for line in missing {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use livescan::store::ToolRuns;
    use livescan::tools::{Catalog, CatalogOptions};

    #[test]
    fn the_console_groups_by_category_and_shows_versions_and_averages() {
        let options = CatalogOptions {
            tool_dirs: vec!["/nonexistent".into()],
            ..CatalogOptions::default()
        };
        let catalog = Catalog::with_options(&options);
        let runs = [(
            "bandit".to_string(),
            ToolRuns {
                runs: 3,
                average_ms: 12_400,
                version: Some("1.9.4".into()),
            },
        )]
        .into();
        let infos = livescan::engine::tool_infos(&catalog, &Default::default(), &runs);
        let text = table(&infos);
        for tool in &infos {
            assert!(text.contains(&format!("  {} ", tool.id)), "{}", tool.id);
        }
        let headings: Vec<usize> = ["SECURITY (", "CODE-QUALITY (", "ACCESSIBILITY (", "PERFORMANCE ("]
            .iter()
            .map(|h| text.find(h).unwrap_or_else(|| panic!("{h}")))
            .collect();
        assert!(headings.is_sorted(), "{text}");
        let bandit = text.lines().find(|l| l.starts_with("  bandit ")).unwrap();
        assert!(
            bandit.contains(" 1.9.4 ") && bandit.contains(" 12.4 s "),
            "{bandit}"
        );
        let secrets = text.lines().find(|l| l.starts_with("  secrets ")).unwrap();
        assert!(secrets.contains(env!("CARGO_PKG_VERSION")), "{secrets}");
    }

    #[test]
    fn durations_read_in_the_unit_that_fits() {
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(186_000), "3.1 min");
    }
}
