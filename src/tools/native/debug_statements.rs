//! The `debug-statements` tool: debugger breakpoints and debug printing left
//! in code (`breakpoint()`, `pdb`, `debugger;`, `console.log`, `dbg!`,
//! `var_dump`, `binding.pry`, `printStackTrace`).

use super::lang::Lang::*;
use super::rules::{LineRule, LineRules, line_rule as rule};
use crate::model::{Category, Ecosystem, Severity::*, TargetKind};
use crate::tools::ToolSpec;

static SPEC: ToolSpec = ToolSpec {
    id: "debug-statements",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "Debugger breakpoints and debug printing left in code",
};

const HELP: &str = "https://cwe.mitre.org/data/definitions/489.html";

static RULES: &[LineRule] = &[
    rule!(
        "python-breakpoint",
        Medium,
        &[Python],
        r"^\s*(breakpoint\(\)|import\s+(i?pdb|pudb)\b|(i?pdb|pudb)\.set_trace\(\)|from\s+(i?pdb|pudb)\s+import\b)",
        "a debugger breakpoint stops the program waiting for a console",
        HELP
    ),
    rule!(
        "js-debugger",
        Medium,
        &[JavaScript],
        r"^\s*debugger\s*;?\s*$",
        "a `debugger` statement pauses the page whenever developer tools are open",
        HELP
    ),
    rule!(
        "js-console-log",
        Low,
        &[JavaScript],
        r"\bconsole\.(log|debug|trace|dir)\s*\(",
        "console logging left in code; remove it or use the project's logger",
        HELP
    ),
    rule!(
        "rust-dbg",
        Low,
        &[Rust],
        r"\bdbg!\s*\(",
        "dbg! prints to stderr; remove it before shipping",
        HELP
    ),
    rule!(
        "java-print-stack-trace",
        Low,
        &[Java, Kotlin],
        r"\.printStackTrace\s*\(\s*\)|\bSystem\.(out|err)\.print(ln)?\s*\(",
        "printing to the console instead of logging; use the project's logger",
        HELP
    ),
    rule!(
        "php-dump",
        Low,
        &[Php],
        r"(^|[^\w>:$])(var_dump|print_r|var_export|dd|dump)\s*\(",
        "var_dump/print_r/dd output left in code",
        HELP
    ),
    rule!(
        "ruby-debugger",
        Medium,
        &[Ruby],
        r"\b(binding\.(pry|irb)|byebug|debugger)\b",
        "a debugger breakpoint stops the program waiting for a console",
        HELP
    ),
    rule!(
        "go-debug-print",
        Low,
        &[Go],
        r"^\s*(println|print)\s*\(",
        "the built-in println writes to stderr and is meant for debugging; use fmt or log",
        HELP
    ),
];

/// Printing from tests is how tests explain themselves: it is left alone.
pub fn tool() -> LineRules {
    LineRules::new(&SPEC, RULES).outside_tests()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_fires_on_its_sample() {
        super::super::rules::assert_table(
            RULES,
            &[
                ("python-breakpoint", "a.py", "    import pdb; pdb.set_trace()"),
                ("js-debugger", "a.js", "  debugger;"),
                ("js-console-log", "a.ts", "console.log('user', user);"),
                ("rust-dbg", "a.rs", "let x = dbg!(compute());"),
                (
                    "java-print-stack-trace",
                    "A.java",
                    "} catch (Exception e) { e.printStackTrace(); }",
                ),
                ("php-dump", "a.php", "var_dump($request);"),
                ("ruby-debugger", "a.rb", "binding.pry"),
                ("go-debug-print", "a.go", "\tprintln(\"here\", n)"),
            ],
            &SPEC,
        );
    }

    #[test]
    fn ordinary_code_is_quiet() {
        super::super::rules::assert_quiet(
            &tool(),
            &[
                ("a.py", "logger.debug('state %s', state)"),
                ("a.js", "logger.info('ready');"),
                ("a.go", "fmt.Println(\"usage: tool FILE\")"),
                ("a.rs", "// dbg!(x)"),
                ("a.js", "const debuggerEnabled = false;"),
            ],
        );
    }
}
