//! Where a file comes from: written in this repository (source), or not —
//! vendored (a copy of someone else's library), generated (by a build, a
//! code generator, a package manager), minified, or binary. Decided once per
//! file when the tree is walked; tools see the source files (and a few look
//! further, such as the lock files dependency tools read), so findings are
//! about code someone here wrote, not `jquery.min.js` or `node_modules`.
//!
//! Evidence, strongest first: `linguist-vendored` / `linguist-generated` in
//! the root `.gitattributes` (either way); the path (well-known vendor and
//! build-output directories, library and generated file names); the file's
//! first bytes (a NUL byte; a library's release banner; a generated-file
//! header; minified lines).
//!
//! Paths also tell test code and documentation, which are source but where
//! findings are mostly samples rather than what runs in production.

pub use crate::model::Origin;
use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use std::sync::LazyLock;

/// Directories whose contents are other people's code.
const VENDOR_DIRS: &[&str] = &[
    "node_modules",
    "bower_components",
    "jspm_packages",
    "web_modules",
    "vendor",
    "vendors",
    "third_party",
    "third-party",
    "thirdparty",
    "3rdparty",
    "external",
    "externals",
    "site-packages",
    "dist-packages",
    "__pypackages__",
    ".venv",
    "venv",
    "virtualenv",
    "Pods",
    "Carthage",
    ".bundle",
];

/// Directories a build writes into.
const OUTPUT_DIRS: &[&str] = &[
    "dist",
    "build",
    "out",
    "coverage",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".output",
    "target",
    "__pycache__",
];

/// Well-known libraries copied into a tree by name (`jquery-3.4.1.js`,
/// `bootstrap.bundle.min.css`, `angular.js`).
static LIBRARY_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^(jquery([.-][\w.-]*)?|bootstrap([.-][\w.-]*)?|angular([.-][\w.-]*)?|react(-dom)?([.-][\w.-]*)?|vue([.-][\w.-]*)?|lodash([.-][\w.-]*)?|underscore([.-][\w.-]*)?|moment([.-][\w.-]*)?|d3([.-][\w.-]*)?|chart([.-][\w.-]*)?|highlight([.-][\w.-]*)?|prism([.-][\w.-]*)?|modernizr([.-][\w.-]*)?|popper([.-][\w.-]*)?|select2([.-][\w.-]*)?|datatables([.-][\w.-]*)?|font-?awesome([.-][\w.-]*)?|three([.-][\w.-]*)?|socket\.io([.-][\w.-]*)?|require([.-][\w.-]*)?|backbone([.-][\w.-]*)?|knockout([.-][\w.-]*)?|handlebars([.-][\w.-]*)?|mustache([.-][\w.-]*)?|codemirror([.-][\w.-]*)?|ace|tinymce([.-][\w.-]*)?|ckeditor([.-][\w.-]*)?|swagger-ui([.-][\w.-]*)?|polyfills?([.-][\w.-]*)?|html5shiv([.-][\w.-]*)?|respond([.-][\w.-]*)?)\.(js|css)$",
    )
    .expect("a valid pattern")
});

/// Extensions of files that are never text.
const BINARY_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "ico", "bmp", "webp", "tif", "tiff", "pdf", "zip", "gz", "tgz", "bz2", "xz",
    "7z", "rar", "tar", "jar", "war", "ear", "class", "exe", "dll", "so", "dylib", "o", "a", "lib", "obj",
    "pyc", "pyo", "woff", "woff2", "ttf", "otf", "eot", "mp3", "mp4", "m4a", "wav", "ogg", "webm", "avi",
    "mov", "wasm", "sqlite", "db", "psd", "bin", "dat",
];

/// Extensions minification applies to.
const MINIFIABLE: &[&str] = &["js", "mjs", "cjs", "css", "html", "htm", "svg"];

/// What `.gitattributes` at the root says about paths.
pub struct Attributes {
    vendored: GlobSet,
    not_vendored: GlobSet,
    generated: GlobSet,
    not_generated: GlobSet,
}

impl Attributes {
    /// The attributes a `.gitattributes` file of this text sets.
    pub fn parse(text: &str) -> Attributes {
        let mut sets: [GlobSetBuilder; 4] = std::array::from_fn(|_| GlobSetBuilder::new());
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else { continue };
            let globs = gitattributes_globs(pattern);
            for attribute in words {
                let (name, set) = match attribute.strip_prefix('-') {
                    Some(name) => (name, false),
                    None => match attribute.split_once('=') {
                        Some((name, value)) => (name, value != "false"),
                        None => (attribute, true),
                    },
                };
                let slot = match (name, set) {
                    ("linguist-vendored", true) => 0,
                    ("linguist-vendored", false) => 1,
                    ("linguist-generated", true) => 2,
                    ("linguist-generated", false) => 3,
                    _ => continue,
                };
                for glob in &globs {
                    if let Ok(glob) = Glob::new(glob) {
                        sets[slot].add(glob);
                    }
                }
            }
        }
        let [vendored, not_vendored, generated, not_generated] =
            sets.map(|set| set.build().unwrap_or_else(|_| GlobSet::empty()));
        Attributes {
            vendored,
            not_vendored,
            generated,
            not_generated,
        }
    }
}

/// A gitattributes pattern as globs over root-relative paths: a pattern
/// without a slash matches at any depth; a directory pattern (`dir/**`)
/// everything below it.
fn gitattributes_globs(pattern: &str) -> Vec<String> {
    let anchored = pattern.trim_start_matches('/');
    let base = if pattern.contains('/') && !pattern.ends_with('/') {
        anchored.to_string()
    } else {
        format!("**/{}", anchored.trim_end_matches('/'))
    };
    vec![base.clone(), format!("{base}/**")]
}

/// Where the file at `rel` (root-relative, `/`-separated) comes from, given
/// its first bytes (`head`, up to 64 KiB).
pub fn origin(rel: &str, head: &[u8], attributes: &Attributes) -> Origin {
    let is_vendored_attr = attributes.vendored.is_match(rel);
    let not_vendored_attr = attributes.not_vendored.is_match(rel);
    let is_generated_attr = attributes.generated.is_match(rel);
    let not_generated_attr = attributes.not_generated.is_match(rel);
    if is_vendored_attr && !not_vendored_attr {
        return Origin::Vendored;
    }
    if is_generated_attr && !not_generated_attr {
        return Origin::Generated;
    }
    let (dirs, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    if BINARY_EXTENSIONS.contains(&extension.as_str()) || head[..head.len().min(8192)].contains(&0) {
        return Origin::Binary;
    }
    if !not_vendored_attr
        && (dirs.split('/').any(|d| VENDOR_DIRS.contains(&d))
            || LIBRARY_FILE.is_match(name)
            || (MINIFIABLE.contains(&extension.as_str()) && library_banner(head)))
    {
        return Origin::Vendored;
    }
    if !not_generated_attr
        && (dirs.split('/').any(|d| OUTPUT_DIRS.contains(&d))
            || generated_name(name)
            || generated_header(head))
    {
        return Origin::Generated;
    }
    let lower = name.to_ascii_lowercase();
    if lower.contains(".min.") || (MINIFIABLE.contains(&extension.as_str()) && looks_minified(head)) {
        return Origin::Minified;
    }
    Origin::Source
}

/// Whether a path is test code by the usual conventions: a `test`, `tests`,
/// `spec`, `__tests__`, `e2e`, `cypress`, `testdata` or `fixtures`
/// directory, Maven's `src/it`, or a `test_*.py`, `*_test.go`,
/// `*.test.js`/`*.spec.ts`, `*Test.java` style name.
pub fn is_test_path(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    let (dirs, name) = lower.rsplit_once('/').unwrap_or(("", &lower));
    let original_name = rel.rsplit_once('/').map_or(rel, |(_, name)| name);
    dirs.split('/').any(|d| {
        matches!(
            d,
            "test"
                | "tests"
                | "spec"
                | "specs"
                | "__tests__"
                | "__mocks__"
                | "e2e"
                | "cypress"
                | "testdata"
                | "fixtures"
        )
    }) || lower.starts_with("src/it/")
        || lower.contains("/src/it/")
        || name.starts_with("test_")
        || name == "conftest.py"
        || name.contains("_test.")
        || name.contains(".test.")
        || name.contains(".spec.")
        || name.contains("_spec.")
        || ["Test.java", "Tests.java", "IT.java", "Test.kt", "Tests.kt"]
            .iter()
            .any(|suffix| original_name.ends_with(suffix))
}

/// Whether a path is documentation or example material: a Markdown,
/// reStructuredText or AsciiDoc file, or a file under a `docs`, `doc`,
/// `examples` or `samples` directory.
pub fn is_docs_path(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    let (dirs, name) = lower.rsplit_once('/').unwrap_or(("", &lower));
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    matches!(extension, "md" | "markdown" | "rst" | "adoc" | "asciidoc")
        || dirs.split('/').any(|d| {
            matches!(
                d,
                "docs" | "doc" | "documentation" | "examples" | "example" | "samples"
            )
        })
}

/// Lock files, source maps, protobuf and other generators' outputs.
fn generated_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".lock")
        || lower.ends_with("-lock.json")
        || lower.ends_with("-lock.yaml")
        || lower == "npm-shrinkwrap.json"
        || lower == "go.sum"
        || lower.ends_with(".map")
        || lower.ends_with(".pb.go")
        || lower.ends_with("_pb2.py")
        || lower.ends_with("_pb2_grpc.py")
        || lower.ends_with(".pb.cc")
        || lower.ends_with(".pb.h")
        || lower.ends_with(".g.dart")
        || lower.ends_with(".designer.cs")
        || lower.contains(".generated.")
        || lower.ends_with(".bundle.js")
        || lower.ends_with(".chunk.js")
}

/// A header saying the file is generated, in its first lines.
fn generated_header(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(2048)]);
    text.lines().take(5).any(|line| {
        let lower = line.to_ascii_lowercase();
        line.contains("@generated")
            || line.contains("Code generated")
            || line.contains("DO NOT EDIT")
            || lower.contains("this file is automatically generated")
            || lower.contains("this file was automatically generated")
            || lower.contains("auto-generated file")
    })
}

/// A release banner in the file's first comment, as libraries ship them
/// (`/*! Name v1.2.3 | MIT License | https://... */`): a version number,
/// a licence or copyright, and the project's address.
fn library_banner(head: &[u8]) -> bool {
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)\bv\d+\.\d+|@version\b|\bversion:?\s+\d+\.\d+").expect("valid"));
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]);
    let text = text.trim_start();
    if !text.starts_with("/*") {
        return false;
    }
    let comment = text.split_once("*/").map_or(text, |(comment, _)| comment);
    let lower = comment.to_ascii_lowercase();
    VERSION.is_match(comment)
        && (lower.contains("license") || lower.contains("licence") || lower.contains("copyright"))
        && (lower.contains("http://") || lower.contains("https://"))
}

/// Minified text: long lines, and few of them.
fn looks_minified(head: &[u8]) -> bool {
    if head.len() < 1024 {
        return false;
    }
    let lines = head.split(|b| *b == b'\n').count().max(1);
    let longest = head.split(|b| *b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
    head.len() / lines > 300 && longest > 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_text() -> Vec<u8> {
        b"function add(a, b) {\n  return a + b;\n}\n".repeat(40)
    }

    #[test]
    fn paths_names_and_contents_decide_where_a_file_comes_from() {
        let none = Attributes::parse("");
        let code = source_text();
        for (rel, head, expected) in [
            ("src/app.js", code.as_slice(), Origin::Source),
            ("node_modules/x/index.js", code.as_slice(), Origin::Vendored),
            ("public/vendor/lib.js", code.as_slice(), Origin::Vendored),
            ("static/js/jquery-3.4.1.js", code.as_slice(), Origin::Vendored),
            (
                "static/bootstrap.bundle.min.css",
                code.as_slice(),
                Origin::Vendored,
            ),
            ("dist/main.js", code.as_slice(), Origin::Generated),
            ("package-lock.json", b"{}".as_slice(), Origin::Generated),
            ("api/service.pb.go", code.as_slice(), Origin::Generated),
            (
                "gen/x.py",
                b"# Code generated by tool. DO NOT EDIT.\nx = 1\n".as_slice(),
                Origin::Generated,
            ),
            ("web/app.min.js", code.as_slice(), Origin::Minified),
            (
                "static/js/widgets.js",
                b"/*!\n * Widgets v2.4.1 (https://widgets.example)\n * MIT License\n */\nvar w = 1;\n"
                    .as_slice(),
                Origin::Vendored,
            ),
            (
                "src/billing.js",
                b"/*\n * Copyright 2024 Example Corp. All rights reserved.\n */\nvar w = 1;\n".as_slice(),
                Origin::Source,
            ),
            ("logo.png", b"\x89PNG".as_slice(), Origin::Binary),
            ("data/blob", b"ab\0cd".as_slice(), Origin::Binary),
        ] {
            assert_eq!(origin(rel, head, &none), expected, "{rel}");
        }
        let minified = format!("var a=1;{}", "function(b){return b+1};".repeat(200));
        assert_eq!(
            origin("static/app.js", minified.as_bytes(), &none),
            Origin::Minified
        );
        assert_eq!(
            origin("static/app.py", minified.as_bytes(), &none),
            Origin::Source,
            "not minifiable"
        );
    }

    #[test]
    fn test_code_and_documentation_are_told_by_their_paths() {
        for rel in [
            "tests/test_api.py",
            "app/conftest.py",
            "src/it/java/org/example/LoginIT.java",
            "src/test/java/org/example/LoginTest.java",
            "web/login.spec.ts",
            "test/cypress/e2e/login.cy.ts",
            "pkg/auth/token_test.go",
            "spec/models/user_spec.rb",
        ] {
            assert!(is_test_path(rel), "{rel}");
        }
        for rel in [
            "src/latest.java",
            "app/contest.py",
            "src/main/java/Testing.java",
            "locales/it/app.json",
        ] {
            assert!(!is_test_path(rel), "{rel}");
        }
        assert!(is_docs_path("README.md") && is_docs_path("docs/setup.html"));
        assert!(!is_docs_path("src/readme.py"));
    }

    #[test]
    fn gitattributes_win_both_ways() {
        let attributes = Attributes::parse(
            "# linguist\nlibs/** linguist-vendored\nvendor/ours/** -linguist-vendored\n*.gen.ts linguist-generated=true\napi/client.ts linguist-generated\n",
        );
        let code = source_text();
        assert_eq!(origin("libs/a/b.js", &code, &attributes), Origin::Vendored);
        assert_eq!(origin("vendor/ours/x.js", &code, &attributes), Origin::Source);
        assert_eq!(origin("src/types.gen.ts", &code, &attributes), Origin::Generated);
        assert_eq!(origin("api/client.ts", &code, &attributes), Origin::Generated);
        assert_eq!(origin("src/main.ts", &code, &attributes), Origin::Source);
    }
}
