//! The `dangerous-calls` tool: calls that run code or shell commands built
//! from strings, deserialise untrusted data, build SQL by concatenation or
//! write raw HTML, in Python, JavaScript/TypeScript, Go, Java, PHP, Ruby and
//! shell.

use super::lang::Lang::{self, *};
use super::rules::{LineRule, LineRules, line_rule as rule};
use crate::model::{Category, Ecosystem, Severity::*, TargetKind};
use crate::tools::ToolSpec;

static SPEC: ToolSpec = ToolSpec {
    id: "dangerous-calls",
    category: Category::Security,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 2,
    summary: "eval/exec, shell commands built from strings, unsafe deserialisation, SQL built by concatenation, innerHTML",
};

const CODE_INJECTION: &str = "https://cwe.mitre.org/data/definitions/95.html";
const COMMAND_INJECTION: &str = "https://cwe.mitre.org/data/definitions/78.html";
const DESERIALIZATION: &str = "https://cwe.mitre.org/data/definitions/502.html";
const SQL_INJECTION: &str = "https://cwe.mitre.org/data/definitions/89.html";
const XSS: &str = "https://cwe.mitre.org/data/definitions/79.html";

const EVAL_LANGS: &[Lang] = &[Python, JavaScript, Php, Ruby];

static RULES: &[LineRule] = &[
    rule!(
        "eval",
        High,
        EVAL_LANGS,
        r"(^|[^.\w])eval\s*\(",
        "eval() runs a string as code; parse the data instead (json.loads, JSON.parse, a lookup table)",
        CODE_INJECTION
    ),
    rule!(
        "python-exec",
        High,
        &[Python],
        r"(^|[^.\w])exec\s*\(",
        "exec() runs a string as code; call the code directly",
        CODE_INJECTION
    ),
    rule!(
        "js-new-function",
        High,
        &[JavaScript],
        r"\bnew\s+Function\s*\(",
        "new Function() compiles a string into code, like eval()",
        CODE_INJECTION
    ),
    rule!(
        "js-string-timer",
        Medium,
        &[JavaScript],
        r#"\bset(Timeout|Interval)\s*\(\s*["'`]"#,
        "setTimeout/setInterval with a string argument evaluates it as code; pass a function",
        CODE_INJECTION
    ),
    rule!(
        "python-shell-true",
        High,
        &[Python],
        r"\bsubprocess\.\w+\(.*\bshell\s*=\s*True",
        "subprocess with shell=True runs the command through a shell; pass an argument list without shell=True",
        COMMAND_INJECTION
    ),
    rule!(
        "python-os-system",
        High,
        &[Python],
        r"\bos\.(system|popen)\s*\(",
        "os.system/os.popen run a command through a shell; use subprocess.run([...]) with an argument list",
        COMMAND_INJECTION
    ),
    rule!(
        "js-child-process-exec",
        High,
        &[JavaScript],
        r"\bexec(Sync)?\s*\(\s*(`[^`]*\$\{|[^,)]*\+)",
        "child_process.exec with a built string runs it through a shell; use execFile/spawn with an argument array",
        COMMAND_INJECTION
    ),
    rule!(
        "go-shell-command",
        High,
        &[Go],
        r#"\bexec\.Command(Context)?\(\s*(ctx,\s*)?"(/bin/)?(sh|bash)",\s*"-c""#,
        "exec.Command(\"sh\", \"-c\", ...) runs a shell; run the program directly with separate arguments",
        COMMAND_INJECTION
    ),
    rule!(
        "java-runtime-exec",
        High,
        &[Java, Kotlin],
        r"\bRuntime\.getRuntime\(\)\.exec\s*\(",
        "Runtime.exec with a command string is split naively and easy to inject; use ProcessBuilder with a list",
        COMMAND_INJECTION
    ),
    rule!(
        "php-shell-call",
        High,
        &[Php],
        r"(^|[^\w>:])(system|shell_exec|exec|passthru|popen|proc_open)\s*\(\s*[^)]*\$",
        "a shell command built from a variable; use escapeshellarg() on every argument or avoid the shell",
        COMMAND_INJECTION
    ),
    rule!(
        "ruby-shell-interpolation",
        High,
        &[Ruby],
        r#"(\bsystem\s*\(?\s*"[^"]*#\{|%x\(|`[^`]*#\{)"#,
        "a shell command with interpolated values; use system(\"cmd\", arg1, arg2) with separate arguments",
        COMMAND_INJECTION
    ),
    rule!(
        "shell-eval",
        Medium,
        &[Shell],
        r"(^|[;&|]\s*)eval\s",
        "eval re-parses its arguments as shell code; quoting mistakes become code execution",
        CODE_INJECTION
    ),
    rule!(
        "shell-curl-pipe",
        High,
        &[Shell],
        r"\b(curl|wget)\b[^|#]*\|\s*(sudo\s+)?(ba|z|da)?sh\b",
        "a script downloaded and piped into a shell runs whatever the server sends; download, verify a checksum, then run",
        COMMAND_INJECTION
    ),
    rule!(
        "python-pickle",
        High,
        &[Python],
        r"\b(c?pickle|dill|shelve|marshal)\.(loads?|open)\s*\(",
        "pickle/marshal/shelve load arbitrary objects and can run code; never load them from untrusted input",
        DESERIALIZATION
    ),
    rule!(
        "python-yaml-load",
        High,
        &[Python],
        r"\byaml\.(load|load_all|unsafe_load)\s*\(",
        "",
        &["safeloader", "safe_load", "csafeloader"],
        "yaml.load without SafeLoader can construct arbitrary objects; use yaml.safe_load",
        DESERIALIZATION
    ),
    rule!(
        "java-object-input-stream",
        High,
        &[Java, Kotlin],
        r"\bnew\s+ObjectInputStream\s*\(",
        "Java deserialisation of untrusted data runs gadget chains; use a data format (JSON) or an allow-list filter",
        DESERIALIZATION
    ),
    rule!(
        "php-unserialize",
        High,
        &[Php],
        r"\bunserialize\s*\(\s*\$",
        "unserialize() on request data can instantiate arbitrary objects; use json_decode",
        DESERIALIZATION
    ),
    rule!(
        "ruby-unsafe-load",
        High,
        &[Ruby],
        r"\b(Marshal\.load|YAML\.load|YAML\.unsafe_load)\s*\(",
        "",
        &["safe_load"],
        "Marshal.load / YAML.load on untrusted data can instantiate arbitrary objects; use YAML.safe_load or JSON",
        DESERIALIZATION
    ),
    rule!(
        "sql-concatenation",
        High,
        &[Python, JavaScript, Java, Kotlin, Go, Php, Ruby, CSharp],
        r#"(?i)\b(execute|executemany|executequery|executeupdate|query|queryrow|exec|raw|where|mysqli_query)\s*\(\s*([^,)]*,\s*)?(f?"[^"]*\b(select|insert|update|delete|where)\b[^"]*("\s*(\+|%|\.)|\{|\$\w)|f?'[^']*\b(select|insert|update|delete|where)\b[^']*('\s*(\+|%|\.)|\{|\$\w)|`[^`]*\b(select|insert|update|delete|where)\b[^`]*\$\{)"#,
        "SQL built from strings and values is injectable; use placeholders (?, $1, %s) and pass the values separately",
        SQL_INJECTION
    ),
    rule!(
        "js-inner-html",
        Medium,
        &[JavaScript],
        r"\.(innerHTML|outerHTML)\s*\+?=[^=]",
        "assigning HTML strings to innerHTML/outerHTML runs injected markup; use textContent or sanitise",
        XSS
    ),
    rule!(
        "js-document-write",
        Medium,
        &[JavaScript],
        r"\bdocument\.write(ln)?\s*\(",
        "document.write inserts raw HTML; build DOM nodes instead",
        XSS
    ),
    rule!(
        "react-dangerously-set-html",
        Medium,
        &[JavaScript],
        r"\bdangerouslySetInnerHTML\s*=",
        "dangerouslySetInnerHTML renders raw HTML; sanitise it (DOMPurify) or render text",
        XSS
    ),
    rule!(
        "go-template-html",
        Medium,
        &[Go],
        r"\btemplate\.(HTML|JS|URL)\s*\(",
        "template.HTML/JS/URL turn off html/template's escaping for this value",
        XSS
    ),
];

/// Test code calls these on purpose, with its own fixtures.
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
                ("eval", "a.py", "result = eval(user_input)"),
                ("python-exec", "a.py", "exec(code)"),
                ("js-new-function", "a.js", "const f = new Function('a', body);"),
                ("js-string-timer", "a.js", "setTimeout(\"run()\", 100);"),
                ("python-shell-true", "a.py", "subprocess.call(cmd, shell=True)"),
                ("python-os-system", "a.py", "os.system('rm -rf ' + path)"),
                ("js-child-process-exec", "a.ts", "exec(`git log ${branch}`, cb);"),
                (
                    "sql-concatenation",
                    "A.java",
                    "rs = st.executeQuery(\"SELECT * FROM users WHERE name = '\" + name + \"'\");",
                ),
                (
                    "go-shell-command",
                    "a.go",
                    "cmd := exec.Command(\"sh\", \"-c\", line)",
                ),
                ("java-runtime-exec", "A.java", "Runtime.getRuntime().exec(cmd);"),
                ("php-shell-call", "a.php", "$out = shell_exec('ls ' . $dir);"),
                ("ruby-shell-interpolation", "a.rb", "system(\"tar xf #{file}\")"),
                ("shell-eval", "a.sh", "eval $cmd"),
                (
                    "shell-curl-pipe",
                    "a.sh",
                    "curl -fsSL https://get.example.sh | sudo bash",
                ),
                ("python-pickle", "a.py", "obj = pickle.loads(data)"),
                ("python-yaml-load", "a.py", "cfg = yaml.load(stream)"),
                (
                    "java-object-input-stream",
                    "A.java",
                    "in = new ObjectInputStream(socket.getInputStream());",
                ),
                ("php-unserialize", "a.php", "$o = unserialize($_COOKIE['s']);"),
                ("ruby-unsafe-load", "a.rb", "data = Marshal.load(blob)"),
                (
                    "sql-concatenation",
                    "a.py",
                    "cur.execute(f\"SELECT * FROM users WHERE id = {uid}\")",
                ),
                ("js-inner-html", "a.js", "el.innerHTML = userText;"),
                ("js-document-write", "a.js", "document.write(html);"),
                (
                    "react-dangerously-set-html",
                    "a.jsx",
                    "<div dangerouslySetInnerHTML={{__html: x}} />",
                ),
                ("go-template-html", "a.go", "return template.HTML(s)"),
            ],
            &SPEC,
        );
    }

    #[test]
    fn safe_forms_and_comments_are_quiet() {
        super::super::rules::assert_quiet(
            &tool(),
            &[
                ("a.py", "# eval(x) is dangerous"),
                ("a.py", "value = literal_eval(text)"),
                ("a.py", "subprocess.run(['ls', path], check=True)"),
                ("a.py", "cfg = yaml.load(stream, Loader=yaml.SafeLoader)"),
                (
                    "a.py",
                    "cur.execute(\"SELECT * FROM users WHERE id = %s\", (uid,))",
                ),
                ("a.js", "el.textContent = userText;"),
                ("a.js", "if (a.innerHTML === b) {}"),
                ("a.js", "db.query('SELECT * FROM t WHERE id = ?', [id]);"),
                ("a.go", "cmd := exec.Command(\"git\", \"log\", branch)"),
                ("a.rb", "data = YAML.safe_load(text)"),
                ("a.sh", "curl -fsSL -o install.sh https://example.com/install.sh"),
                ("README.md", "never call eval(input) on user data"),
            ],
        );
    }
}
