//! Which language a file is written in, from its name (and, for extensionless
//! scripts, its `#!` line), and how that language writes a line comment, so
//! line rules can skip commented-out code.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Python,
    /// JavaScript and TypeScript, with their JSX forms.
    JavaScript,
    Go,
    Java,
    Kotlin,
    CSharp,
    Php,
    Ruby,
    Shell,
    Rust,
    C,
    Dockerfile,
    Yaml,
    Json,
    Toml,
    Html,
    Css,
    Markdown,
    Other,
}

impl Lang {
    /// The language of a file at `rel` (a `/`-separated relative path) whose
    /// text starts with `text` (used only for extensionless scripts).
    pub fn of(rel: &str, text: Option<&str>) -> Lang {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let lower = name.to_ascii_lowercase();
        if lower == "dockerfile" || lower.starts_with("dockerfile.") || lower.ends_with(".dockerfile") {
            return Lang::Dockerfile;
        }
        let Some((_, ext)) = lower.rsplit_once('.') else {
            return text.map_or(Lang::Other, Lang::from_shebang);
        };
        match ext {
            "py" | "pyw" => Lang::Python,
            "js" | "jsx" | "mjs" | "cjs" | "ts" | "tsx" | "mts" | "cts" => Lang::JavaScript,
            "go" => Lang::Go,
            "java" => Lang::Java,
            "kt" | "kts" => Lang::Kotlin,
            "cs" => Lang::CSharp,
            "php" => Lang::Php,
            "rb" => Lang::Ruby,
            "sh" | "bash" | "zsh" | "ksh" => Lang::Shell,
            "rs" => Lang::Rust,
            "c" | "h" | "cc" | "cpp" | "cxx" | "hpp" => Lang::C,
            "yml" | "yaml" => Lang::Yaml,
            "json" => Lang::Json,
            "toml" => Lang::Toml,
            "html" | "htm" => Lang::Html,
            "css" | "scss" | "less" => Lang::Css,
            "md" | "markdown" => Lang::Markdown,
            _ => Lang::Other,
        }
    }

    /// The language of a file at `rel` as far as its name tells: `None` for
    /// a name without an extension, whose `#!` line may still name one.
    pub fn by_name(rel: &str) -> Option<Lang> {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let lang = Lang::of(rel, None);
        (lang != Lang::Other || name.contains('.')).then_some(lang)
    }

    fn from_shebang(text: &str) -> Lang {
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("#!") {
            return Lang::Other;
        }
        if first.contains("python") {
            Lang::Python
        } else if first.contains("node") {
            Lang::JavaScript
        } else if first.contains("ruby") {
            Lang::Ruby
        } else if ["sh", "bash", "zsh", "ksh", "dash"]
            .iter()
            .any(|shell| first.ends_with(&format!("/{shell}")) || first.contains(&format!(" {shell}")))
        {
            Lang::Shell
        } else {
            Lang::Other
        }
    }

    /// Whether the language is a programming language (not data or markup).
    pub fn is_code(self) -> bool {
        !matches!(
            self,
            Lang::Dockerfile
                | Lang::Yaml
                | Lang::Json
                | Lang::Toml
                | Lang::Html
                | Lang::Css
                | Lang::Markdown
                | Lang::Other
        )
    }

    /// Whether `line` (already trimmed) is a whole-line comment.
    pub fn is_comment(self, trimmed: &str) -> bool {
        let hash = trimmed.starts_with('#') && !trimmed.starts_with("#[") && !trimmed.starts_with("#!");
        let slashes = trimmed.starts_with("//") || trimmed.starts_with("/*") || trimmed.starts_with("* ");
        match self {
            Lang::Python | Lang::Ruby | Lang::Shell | Lang::Yaml | Lang::Toml | Lang::Dockerfile => hash,
            Lang::Php => hash || slashes,
            Lang::JavaScript
            | Lang::Go
            | Lang::Java
            | Lang::Kotlin
            | Lang::CSharp
            | Lang::Rust
            | Lang::C
            | Lang::Css => slashes,
            Lang::Html | Lang::Markdown => trimmed.starts_with("<!--"),
            Lang::Json | Lang::Other => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_follow_names_and_shebangs() {
        assert_eq!(Lang::of("src/app.tsx", None), Lang::JavaScript);
        assert_eq!(Lang::of("deploy/Dockerfile", None), Lang::Dockerfile);
        assert_eq!(Lang::of("build.Dockerfile", None), Lang::Dockerfile);
        assert_eq!(Lang::of(".github/workflows/ci.YML", None), Lang::Yaml);
        assert_eq!(Lang::of("bin/run", Some("#!/usr/bin/env bash\n")), Lang::Shell);
        assert_eq!(
            Lang::of("bin/tool", Some("#!/usr/bin/env python3\n")),
            Lang::Python
        );
        assert_eq!(Lang::of("LICENSE", Some("MIT")), Lang::Other);
        assert_eq!(Lang::by_name("src/app.tsx"), Some(Lang::JavaScript));
        assert_eq!(Lang::by_name("notes.txt"), Some(Lang::Other));
        assert_eq!(Lang::by_name("Dockerfile"), Some(Lang::Dockerfile));
        assert_eq!(Lang::by_name("bin/run"), None, "a script's #! line decides");
        assert!(Lang::Python.is_comment("# eval(x)"));
        assert!(!Lang::Rust.is_comment("#[derive(Debug)]"));
        assert!(Lang::Go.is_comment("// exec"));
    }
}
