//! The `config-syntax` tool: JSON, YAML and TOML files that do not parse,
//! with the line the parser stopped at. YAML duplicate keys count as
//! errors. Files that are allowed comments (`tsconfig.json`, `*.jsonc`,
//! `.vscode/`) and templated YAML (Helm's `{{ }}`) are not parsed as plain
//! JSON or YAML.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};

static SPEC: ToolSpec = ToolSpec {
    id: "config-syntax",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Config,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "JSON, YAML and TOML files that do not parse (with the line), YAML duplicate keys",
};

pub struct ConfigSyntax;

/// JSON dialects with comments and trailing commas, by convention.
fn json_with_comments(rel: &str) -> bool {
    let name = rel.rsplit('/').next().unwrap_or(rel).to_ascii_lowercase();
    name.starts_with("tsconfig")
        || name.starts_with("jsconfig")
        || name.starts_with(".eslintrc")
        || name == "devcontainer.json"
        || name == ".babelrc"
        || rel.starts_with(".vscode/")
        || rel.contains("/.vscode/")
}

/// The parser places a duplicate key at the start of its mapping; the line
/// worth showing is the key's second appearance.
fn duplicate_key_line(text: &str, message: &str) -> Option<(usize, usize)> {
    let key = message
        .split("duplicate entry with key \"")
        .nth(1)?
        .split('"')
        .next()?;
    let prefix = format!("{key}:");
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim_start().trim_start_matches("- ").starts_with(&prefix))
        .nth(1)
        .map(|(index, line)| (index + 1, line.len() - line.trim_start().len() + 1))
}

/// The parse error of `text`, as (1-based line, column, message).
fn parse_error(lang: Lang, text: &str) -> Option<(usize, usize, String)> {
    match lang {
        Lang::Json => serde_json::from_str::<serde::de::IgnoredAny>(text)
            .err()
            .map(|e| (e.line().max(1), e.column().max(1), e.to_string())),
        Lang::Yaml => {
            for document in serde_yaml_ng::Deserializer::from_str(text) {
                if let Err(e) = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(document) {
                    let message = e.to_string();
                    let (line, column) = duplicate_key_line(text, &message)
                        .or(e.location().map(|l| (l.line(), l.column())))
                        .unwrap_or((1, 1));
                    return Some((line, column, message));
                }
            }
            None
        }
        Lang::Toml => text.parse::<toml::Table>().err().map(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let before = &text[..offset.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            (line, column, e.message().to_string())
        }),
        _ => None,
    }
}

impl FileCheck for ConfigSyntax {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        matches!(
            Lang::by_name(&file.rel),
            Some(Lang::Json | Lang::Yaml | Lang::Toml)
        )
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        let lang = Lang::of(&file.rel, Some(text));
        let (rule, help) = match lang {
            Lang::Json if !json_with_comments(&file.rel) && !file.rel.ends_with(".jsonc") => {
                ("invalid-json", "https://www.json.org/json-en.html")
            }
            Lang::Yaml if !text.contains("{{") => ("invalid-yaml", "https://yaml.org/spec/1.2.2/"),
            Lang::Toml => ("invalid-toml", "https://toml.io/en/v1.0.0"),
            _ => return,
        };
        if let Some((line, column, message)) = parse_error(lang, text) {
            let message = message.lines().next().unwrap_or("").to_string();
            out.push(
                Finding::new(rule, Severity::Medium, format!("does not parse: {message}"))
                    .at_path(&file.rel, Some(to_u32(line)), Some(to_u32(column)))
                    .with_help(help)
                    .fingerprinted(rule),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_their_line() {
        assert_eq!(
            parse_error(Lang::Json, "{\n  \"a\": 1,\n}\n").map(|e| e.0),
            Some(3)
        );
        assert_eq!(
            parse_error(Lang::Yaml, "a: 1\nb: [1, 2\nc: 3\n").map(|e| e.0),
            Some(3)
        );
        let duplicate = parse_error(Lang::Yaml, "a: 1\nb: 2\na: 3\n").unwrap();
        assert!(duplicate.2.contains("duplicate"), "{}", duplicate.2);
        assert_eq!(duplicate.0, 3);
        assert_eq!(
            parse_error(Lang::Toml, "[a]\nx = 1\nx = 2\n").map(|e| e.0),
            Some(3)
        );
        assert_eq!(parse_error(Lang::Yaml, "---\na: 1\n---\nb: 2\n"), None);
        assert_eq!(parse_error(Lang::Toml, "[a]\nx = 1\n"), None);
    }
}
