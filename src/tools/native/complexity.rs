//! The `complexity` tool: functions that are too long, too deeply nested or
//! have too many paths through them, measured on a real syntax tree
//! (tree-sitter) for Python, JavaScript/TypeScript, Rust and Go.
//!
//! Cyclomatic complexity is 1 plus one for every branch point in the
//! function's own body (`if`, loops, `case`/`match` arms, `catch`, the
//! ternary, `&&`/`||`/`and`/`or`); nested functions are measured on their
//! own. Nesting depth counts control-flow constructs inside each other.

use super::lang::Lang;
use super::rules::to_u32;
use crate::model::{Category, Ecosystem, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use std::sync::LazyLock;
use tree_sitter::{Language, Node, Parser, Tree};

static SPEC: ToolSpec = ToolSpec {
    id: "complexity",
    category: Category::CodeQuality,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "Long functions, deep nesting and high cyclomatic complexity (Python, JS/TS, Rust, Go; tree-sitter)",
};

pub const MAX_LINES: usize = 80;
pub const MAX_COMPLEXITY: usize = 15;
pub const MAX_NESTING: usize = 4;
const HELP: &str = "https://en.wikipedia.org/wiki/Cyclomatic_complexity";

/// What counts as what in one grammar.
struct Grammar {
    functions: &'static [&'static str],
    /// Nodes that add a path (loops, conditions, arms, handlers).
    branches: &'static [&'static str],
    /// Nodes that nest (their bodies are one level deeper).
    nesting: &'static [&'static str],
    /// Binary operators that add a path (short-circuit logic).
    logical: &'static [&'static str],
}

const PYTHON: Grammar = Grammar {
    functions: &["function_definition", "lambda"],
    branches: &[
        "if_statement",
        "elif_clause",
        "for_statement",
        "while_statement",
        "except_clause",
        "conditional_expression",
        "case_clause",
        "for_in_clause",
        "if_clause",
    ],
    nesting: &[
        "if_statement",
        "for_statement",
        "while_statement",
        "try_statement",
        "with_statement",
        "match_statement",
    ],
    logical: &["and", "or"],
};

const JAVASCRIPT: Grammar = Grammar {
    functions: &[
        "function_declaration",
        "function_expression",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
        "function",
    ],
    branches: &[
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "catch_clause",
        "ternary_expression",
        "switch_case",
    ],
    nesting: &[
        "if_statement",
        "for_statement",
        "for_in_statement",
        "while_statement",
        "do_statement",
        "try_statement",
        "switch_statement",
    ],
    logical: &["&&", "||", "??"],
};

const RUST: Grammar = Grammar {
    functions: &["function_item", "closure_expression"],
    branches: &[
        "if_expression",
        "for_expression",
        "while_expression",
        "loop_expression",
        "match_arm",
    ],
    nesting: &[
        "if_expression",
        "for_expression",
        "while_expression",
        "loop_expression",
        "match_expression",
    ],
    logical: &["&&", "||"],
};

const GO: Grammar = Grammar {
    functions: &["function_declaration", "method_declaration", "func_literal"],
    branches: &[
        "if_statement",
        "for_statement",
        "expression_case",
        "type_case",
        "communication_case",
    ],
    nesting: &[
        "if_statement",
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
    ],
    logical: &["&&", "||"],
};

/// What each node kind of one language is, by kind id, so the walk over a
/// tree compares numbers, not names.
struct Kinds {
    language: Language,
    flags: Vec<u8>,
    /// The field holding a binary expression's operator.
    operator: Option<u16>,
    /// The field holding an `if`'s `else` branch.
    alternative: Option<u16>,
}

const FUNCTION: u8 = 1;
const BRANCH: u8 = 1 << 1;
const NESTING: u8 = 1 << 2;
/// A binary expression, which adds a path when its operator is logical.
const BINARY: u8 = 1 << 3;
const LOGICAL: u8 = 1 << 4;
const IF: u8 = 1 << 5;
const ELSE: u8 = 1 << 6;

impl Kinds {
    fn new(language: Language, grammar: &Grammar) -> Kinds {
        let flags = (0..language.node_kind_count())
            .map(|id| {
                let id = id as u16;
                let kind = language.node_kind_for_id(id).unwrap_or("");
                let named = language.node_kind_is_named(id);
                let mut flags = 0;
                for (set, flag) in [
                    (grammar.branches, BRANCH),
                    (grammar.nesting, NESTING),
                    (grammar.logical, LOGICAL),
                    (&["binary_expression", "boolean_operator"][..], BINARY),
                    (&["if_statement", "if_expression"][..], IF),
                    (&["else_clause"][..], ELSE),
                ] {
                    if set.contains(&kind) {
                        flags |= flag;
                    }
                }
                // Keywords such as `function` share a function's name but
                // are leaves, not functions.
                if named && grammar.functions.contains(&kind) {
                    flags |= FUNCTION;
                }
                flags
            })
            .collect();
        Kinds {
            operator: language.field_id_for_name("operator").map(u16::from),
            alternative: language.field_id_for_name("alternative").map(u16::from),
            flags,
            language,
        }
    }

    fn of(&self, node: Node) -> u8 {
        self.flags.get(usize::from(node.kind_id())).copied().unwrap_or(0)
    }
}

/// The grammars, each with its kind tables, built on first use.
fn kinds(rel: &str, lang: Lang) -> Option<&'static Kinds> {
    static PYTHON_KINDS: LazyLock<Kinds> =
        LazyLock::new(|| Kinds::new(tree_sitter_python::LANGUAGE.into(), &PYTHON));
    static TYPESCRIPT_KINDS: LazyLock<Kinds> =
        LazyLock::new(|| Kinds::new(tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(), &JAVASCRIPT));
    static TSX_KINDS: LazyLock<Kinds> =
        LazyLock::new(|| Kinds::new(tree_sitter_typescript::LANGUAGE_TSX.into(), &JAVASCRIPT));
    static JAVASCRIPT_KINDS: LazyLock<Kinds> =
        LazyLock::new(|| Kinds::new(tree_sitter_javascript::LANGUAGE.into(), &JAVASCRIPT));
    static RUST_KINDS: LazyLock<Kinds> =
        LazyLock::new(|| Kinds::new(tree_sitter_rust::LANGUAGE.into(), &RUST));
    static GO_KINDS: LazyLock<Kinds> = LazyLock::new(|| Kinds::new(tree_sitter_go::LANGUAGE.into(), &GO));
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    Some(match (lang, ext.as_deref()) {
        (Lang::Python, _) => &PYTHON_KINDS,
        (Lang::JavaScript, Some("ts" | "mts" | "cts")) => &TYPESCRIPT_KINDS,
        (Lang::JavaScript, Some("tsx")) => &TSX_KINDS,
        (Lang::JavaScript, _) => &JAVASCRIPT_KINDS,
        (Lang::Rust, _) => &RUST_KINDS,
        (Lang::Go, _) => &GO_KINDS,
        _ => return None,
    })
}

/// One function's measurements.
#[derive(Debug, PartialEq, Eq)]
struct Measure {
    name: String,
    line: usize,
    lines: usize,
    complexity: usize,
    nesting: usize,
}

impl Measure {
    /// Whether any of the limits is passed, so the function is reported.
    fn exceeds(&self) -> bool {
        self.complexity > MAX_COMPLEXITY || self.nesting > MAX_NESTING || self.lines > MAX_LINES
    }
}

fn name_of(node: Node, source: &[u8]) -> String {
    let named = node
        .child_by_field_name("name")
        .or_else(|| {
            // `const f = () => ...` and `f = function () ...`: the variable names it.
            let parent = node.parent()?;
            parent
                .child_by_field_name("name")
                .or_else(|| parent.child_by_field_name("left"))
        })
        .and_then(|n| n.utf8_text(source).ok());
    named.unwrap_or("<anonymous>").to_string()
}

/// Where the walk is: for the current node, the function whose body it is
/// in (an index into the measures), how deeply control flow nests there,
/// and its kind.
#[derive(Clone, Copy)]
struct Level {
    function: Option<usize>,
    depth: usize,
    kind: u16,
    flags: u8,
}

/// Measures every function of `tree` in one walk over its nodes. Each node
/// counts toward the innermost function around it, so nested functions are
/// measured on their own.
///
/// Functions are named (which walks their parents) only when `named` says
/// so, once measured.
fn measure(tree: &Tree, kinds: &Kinds, source: &[u8], named: fn(&Measure) -> bool) -> Vec<Measure> {
    let mut out: Vec<Measure> = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut cursor = tree.walk();
    // The levels of the nodes from the root to the cursor.
    let mut path: Vec<Level> = Vec::new();
    loop {
        let node = cursor.node();
        let flags = kinds.of(node);
        let kind = node.kind_id();
        let level = if flags & FUNCTION != 0 {
            nodes.push(node);
            out.push(Measure {
                name: String::new(),
                line: node.start_position().row + 1,
                lines: node.end_position().row - node.start_position().row + 1,
                complexity: 1,
                nesting: 0,
            });
            Level {
                function: Some(out.len() - 1),
                depth: 0,
                kind,
                flags,
            }
        } else if let Some(parent) = path.last()
            && let Some(index) = parent.function
        {
            let function = &mut out[index];
            let logical = flags & BINARY != 0
                && kinds
                    .operator
                    .and_then(|field| node.child_by_field_id(field))
                    .is_some_and(|op| kinds.of(op) & LOGICAL != 0);
            function.complexity += usize::from(flags & BRANCH != 0) + usize::from(logical);
            // An `else if` continues its `if` rather than nesting inside it.
            let else_if = flags & IF != 0
                && (parent.flags & ELSE != 0
                    || parent.kind == kind && cursor.field_id().map(u16::from) == kinds.alternative);
            let depth = parent.depth + usize::from(flags & NESTING != 0 && !else_if);
            function.nesting = function.nesting.max(depth);
            Level {
                function: Some(index),
                depth,
                kind,
                flags,
            }
        } else {
            Level {
                function: None,
                depth: 0,
                kind,
                flags,
            }
        };
        path.push(level);
        if cursor.goto_first_child() {
            continue;
        }
        loop {
            path.pop();
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                for (measure, node) in out.iter_mut().zip(nodes) {
                    if named(measure) {
                        measure.name = name_of(node, source);
                    }
                }
                return out;
            }
        }
    }
}

/// The syntax tree of a file in one of the languages this tool measures,
/// with that language's kind tables.
fn parsed(rel: &str, text: &str) -> Option<(Tree, &'static Kinds)> {
    let kinds = kinds(rel, Lang::of(rel, Some(text)))?;
    let mut parser = Parser::new();
    parser.set_language(&kinds.language).ok()?;
    Some((parser.parse(text, None)?, kinds))
}

/// The syntax tree of `text` (at `rel`) when this tool measures its
/// language: what the tool costs at the least, for the benchmark.
pub fn parse(rel: &str, text: &str) -> Option<Tree> {
    parsed(rel, text).map(|(tree, _)| tree)
}

/// Every function of `text` (at `rel`), those that `named` picks with
/// their names.
fn measures(rel: &str, text: &str, named: fn(&Measure) -> bool) -> Vec<Measure> {
    let Some((tree, kinds)) = parsed(rel, text) else {
        return Vec::new();
    };
    let mut out = measure(&tree, kinds, text.as_bytes(), named);
    out.sort_by_key(|m| m.line);
    out
}

pub struct Complexity;

impl FileCheck for Complexity {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn wants(&self, file: &FileEntry) -> bool {
        Lang::by_name(&file.rel).is_none_or(|lang| kinds(&file.rel, lang).is_some())
    }

    fn parallel(&self) -> bool {
        true
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        for m in measures(&file.rel, text, Measure::exceeds) {
            let mut push = |rule: &str, severity: Severity, message: String| {
                out.push(
                    Finding::new(rule, severity, message)
                        .at_path(&file.rel, Some(to_u32(m.line)), None)
                        .with_help(HELP)
                        .fingerprinted(&m.name),
                );
            };
            if m.complexity > MAX_COMPLEXITY {
                push(
                    "high-complexity",
                    Severity::Medium,
                    format!(
                        "`{}` has a cyclomatic complexity of {} (more than {MAX_COMPLEXITY}); split it into smaller functions",
                        m.name, m.complexity
                    ),
                );
            }
            if m.nesting > MAX_NESTING {
                push(
                    "deep-nesting",
                    Severity::Low,
                    format!(
                        "`{}` nests control flow {} levels deep (more than {MAX_NESTING}); return early or extract the inner part",
                        m.name, m.nesting
                    ),
                );
            }
            if m.lines > MAX_LINES {
                push(
                    "long-function",
                    Severity::Low,
                    format!(
                        "`{}` is {} lines long (more than {MAX_LINES}); split it",
                        m.name, m.lines
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(rel: &str, text: &str) -> (String, usize, usize) {
        let all = measures(rel, text, |_| true);
        let m = all.first().unwrap_or_else(|| panic!("no function in {rel}"));
        (m.name.clone(), m.complexity, m.nesting)
    }

    #[test]
    fn complexity_and_nesting_per_language() {
        let python = "def f(a, b):\n    if a and b:\n        for x in a:\n            if x:\n                pass\n    elif b:\n        pass\n    return [y for y in b if y]\n";
        assert_eq!(one("a.py", python), ("f".into(), 8, 3));
        let js = "const f = (a) => {\n  if (a || b) { while (a) { a--; } }\n  return a ? 1 : 2;\n};\n";
        assert_eq!(one("a.ts", js), ("f".into(), 5, 2));
        let rust = "fn f(a: u8) -> u8 {\n    match a {\n        0 => 1,\n        _ if a > 3 && a < 9 => 2,\n        _ => 3,\n    }\n}\n";
        assert_eq!(one("a.rs", rust), ("f".into(), 5, 1));
        let go = "package a\n\nfunc F(a int) int {\n\tif a > 0 {\n\t\treturn 1\n\t} else if a < 0 {\n\t\treturn 2\n\t}\n\treturn 0\n}\n";
        assert_eq!(one("a.go", go), ("F".into(), 3, 1));
    }

    #[test]
    fn nested_functions_are_measured_on_their_own() {
        let python =
            "def outer():\n    def inner(x):\n        if x:\n            return 1\n    return inner\n";
        let all = measures("a.py", python, |_| true);
        let found: Vec<(&str, usize)> = all.iter().map(|m| (m.name.as_str(), m.complexity)).collect();
        assert_eq!(found, vec![("outer", 1), ("inner", 2)]);
    }
}
