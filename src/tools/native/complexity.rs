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
use crate::model::{Category, Finding, Severity, TargetKind};
use crate::tools::{FileCheck, FileEntry, ToolSpec};
use tree_sitter::{Language, Node, Parser};

static SPEC: ToolSpec = ToolSpec {
    id: "complexity",
    category: Category::CodeQuality,
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

fn grammar(rel: &str, lang: Lang) -> Option<(Language, &'static Grammar)> {
    let ext = rel.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match (lang, ext.as_str()) {
        (Lang::Python, _) => (tree_sitter_python::LANGUAGE.into(), &PYTHON),
        (Lang::JavaScript, "ts" | "mts" | "cts") => {
            (tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(), &JAVASCRIPT)
        }
        (Lang::JavaScript, "tsx") => (tree_sitter_typescript::LANGUAGE_TSX.into(), &JAVASCRIPT),
        (Lang::JavaScript, _) => (tree_sitter_javascript::LANGUAGE.into(), &JAVASCRIPT),
        (Lang::Rust, _) => (tree_sitter_rust::LANGUAGE.into(), &RUST),
        (Lang::Go, _) => (tree_sitter_go::LANGUAGE.into(), &GO),
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

/// Measures the body under `node` (not descending into nested functions).
fn walk(node: Node, grammar: &Grammar, depth: usize, complexity: &mut usize, nesting: &mut usize) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        let kind = child.kind();
        if grammar.functions.contains(&kind) {
            continue;
        }
        if grammar.branches.contains(&kind) {
            *complexity += 1;
        }
        let is_logical = matches!(kind, "binary_expression" | "boolean_operator")
            && child
                .child_by_field_name("operator")
                .is_some_and(|op| grammar.logical.contains(&op.kind()));
        if is_logical {
            *complexity += 1;
        }
        // An `else if` continues its `if` rather than nesting inside it.
        let if_like = matches!(kind, "if_statement" | "if_expression");
        let else_if = if_like
            && (node.kind() == "else_clause"
                || node.kind() == kind && node.child_by_field_name("alternative") == Some(child));
        let deeper = grammar.nesting.contains(&kind) && !else_if;
        let child_depth = depth + usize::from(deeper);
        *nesting = (*nesting).max(child_depth);
        walk(child, grammar, child_depth, complexity, nesting);
    }
}

fn measure(root: Node, grammar: &Grammar, source: &[u8], out: &mut Vec<Measure>) {
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if grammar.functions.contains(&node.kind()) {
            let (mut complexity, mut nesting) = (1, 0);
            walk(node, grammar, 0, &mut complexity, &mut nesting);
            out.push(Measure {
                name: name_of(node, source),
                line: node.start_position().row + 1,
                lines: node.end_position().row - node.start_position().row + 1,
                complexity,
                nesting,
            });
        }
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
}

fn measures(rel: &str, text: &str) -> Vec<Measure> {
    let Some((language, grammar)) = grammar(rel, Lang::of(rel, Some(text))) else {
        return Vec::new();
    };
    let mut parser = Parser::new();
    if parser.set_language(&language).is_err() {
        return Vec::new();
    }
    let Some(tree) = parser.parse(text, None) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    measure(tree.root_node(), grammar, text.as_bytes(), &mut out);
    out.sort_by_key(|m| m.line);
    out
}

pub struct Complexity;

impl FileCheck for Complexity {
    fn spec(&self) -> &ToolSpec {
        &SPEC
    }

    fn check(&self, file: &FileEntry, text: Option<&str>, out: &mut Vec<Finding>) {
        let Some(text) = text else { return };
        for m in measures(&file.rel, text) {
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
        let all = measures(rel, text);
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
        let all = measures("a.py", python);
        let found: Vec<(&str, usize)> = all.iter().map(|m| (m.name.as_str(), m.complexity)).collect();
        assert_eq!(found, vec![("outer", 1), ("inner", 2)]);
    }
}
