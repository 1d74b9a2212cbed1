//! Rule files written for livescan and compiled into it, which descriptors
//! name in a `[[config]]` entry (`shipped = "semgrep/python.yml"`): a scan
//! never depends on rule files outside the binary, or on a network.

/// Every shipped rule file, by its name under `rules/`.
pub const SHIPPED: &[(&str, &str)] = &[
    ("semgrep/python.yml", include_str!("rules/semgrep/python.yml")),
    ("semgrep/jinja.yml", include_str!("rules/semgrep/jinja.yml")),
    (
        "semgrep/javascript.yml",
        include_str!("rules/semgrep/javascript.yml"),
    ),
    ("semgrep/ejs.yml", include_str!("rules/semgrep/ejs.yml")),
    (
        "semgrep/handlebars.yml",
        include_str!("rules/semgrep/handlebars.yml"),
    ),
    ("semgrep/pug.yml", include_str!("rules/semgrep/pug.yml")),
    ("semgrep/php.yml", include_str!("rules/semgrep/php.yml")),
    ("semgrep/twig.yml", include_str!("rules/semgrep/twig.yml")),
    ("semgrep/ruby.yml", include_str!("rules/semgrep/ruby.yml")),
    ("semgrep/erb.yml", include_str!("rules/semgrep/erb.yml")),
    ("semgrep/java.yml", include_str!("rules/semgrep/java.yml")),
    ("semgrep/go.yml", include_str!("rules/semgrep/go.yml")),
];

/// The text of a shipped rule file.
pub fn shipped(name: &str) -> Option<&'static str> {
    SHIPPED.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}
