//! The `weak-crypto` tool: broken hashes used for passwords, MD5/SHA-1 as
//! integrity checks, DES/3DES/RC4/Blowfish ciphers, ECB mode, and
//! non-cryptographic random numbers used for tokens, keys and passwords.

use super::lang::Lang::*;
use super::rules::{LineRule, LineRules, line_rule as rule};
use crate::model::{Category, Ecosystem, Severity::*, TargetKind};
use crate::tools::ToolSpec;

static SPEC: ToolSpec = ToolSpec {
    id: "weak-crypto",
    category: Category::Security,
    ecosystem: Ecosystem::Any,
    targets: &[TargetKind::Directory],
    cost: 1,
    summary: "MD5/SHA-1 for passwords, DES/RC4/ECB, non-cryptographic randomness for tokens",
};

const WEAK_HASH: &str = "https://cwe.mitre.org/data/definitions/328.html";
/// CWE-916, "password hash with insufficient computational effort" (the
/// message says what to use instead).
const PASSWORD_HASH: &str = "https://cwe.mitre.org/data/definitions/916.html";
const WEAK_CIPHER: &str = "https://cwe.mitre.org/data/definitions/327.html";
const WEAK_RANDOM: &str = "https://cwe.mitre.org/data/definitions/338.html";

/// A line that handles a password.
const PASSWORD: &str = r"(?i)(passw(or)?d|passwd|\bpwd\b)";
/// A line that makes a secret value.
const SECRET_VALUE: &str = r"(?i)(token|secret|passw|api_?key|nonce|salt|otp|session_?id|reset_?code|csrf)";

/// MD5 or SHA-1 called in any of the supported languages.
const MD5_SHA1: &str = r#"(?i)(\bhashlib\.(md5|sha1)\s*\(|\bcreateHash\(\s*["'](md5|sha1)["']|\b(md5|sha1)\.(New|Sum)\s*\(|MessageDigest\.getInstance\(\s*"(md5|sha-?1)"|(^|[^.\w$>])(md5|sha1)\s*\(\s*\$|Digest::(MD5|SHA1)\b|DigestUtils\.(md5|sha1)(Hex)?\s*\()"#;

static RULES: &[LineRule] = &[
    rule!(
        "weak-password-hash",
        Critical,
        &[Python, JavaScript, Go, Java, Kotlin, Php, Ruby],
        MD5_SHA1,
        PASSWORD,
        &[],
        "a password hashed with MD5/SHA-1 is cracked in seconds; use argon2id, scrypt or bcrypt",
        PASSWORD_HASH
    ),
    rule!(
        "weak-hash",
        Medium,
        &[Python, JavaScript, Go, Java, Kotlin, Php, Ruby],
        MD5_SHA1,
        "",
        &["passw", "passwd", "usedforsecurity=false"],
        "MD5 and SHA-1 are broken for security uses (signatures, integrity, tokens); use SHA-256 or better",
        WEAK_HASH
    ),
    rule!(
        "weak-cipher",
        High,
        &[Python, JavaScript, Go, Java, Kotlin, Php, Ruby, CSharp],
        r#"(?i)(\b(algorithms\.)?(TripleDES|ARC4|Blowfish|DES3?)\.new\s*\(|\balgorithms\.(TripleDES|ARC4|Blowfish)\s*\(|Cipher\.getInstance\(\s*"(DES|DESede|RC4|ARCFOUR|Blowfish)|createCipher(iv)?\(\s*["'](des|des-ede3?|rc4|bf)[-"']|\b(des|rc4)\.New(Triple)?(DES)?Cipher\s*\(|openssl_encrypt\([^,]+,\s*["'](des|rc4|bf)|OpenSSL::Cipher\.new\(\s*["'](des|rc4|bf))"#,
        "DES, 3DES, RC4 and Blowfish are broken or too weak; use AES-GCM or ChaCha20-Poly1305",
        WEAK_CIPHER
    ),
    rule!(
        "ecb-mode",
        High,
        &[Python, JavaScript, Go, Java, Kotlin, Php, Ruby, CSharp],
        r#"(?i)(\bMODE_ECB\b|\bmodes\.ECB\s*\(|"[A-Z0-9]+/ECB/|["']aes-\d+-ecb["']|CipherMode\.ECB\b|NewECB(En|De)crypter)"#,
        "ECB mode encrypts equal blocks to equal ciphertext and leaks patterns; use an authenticated mode (GCM)",
        WEAK_CIPHER
    ),
    rule!(
        "insecure-random",
        Medium,
        &[Python, JavaScript, Go, Java, Kotlin, Php, Ruby],
        r"(\brandom\.(random|randint|randrange|choice|choices|getrandbits|sample)\s*\(|\bMath\.random\s*\(|\bnew\s+(java\.util\.)?Random\s*\(|\brand\.(Intn|Int63|Int31|Int|Read|Uint32|Uint64)\s*\(|(^|[^\w>:])(mt_rand|rand|uniqid)\s*\(|\bRandom\.rand\b|(^|[^\w.])rand\s*\()",
        SECRET_VALUE,
        &[
            "secrets.",
            "crypto.randombytes",
            "crypto.getrandomvalues",
            "securerandom",
            "random_bytes",
            "random_int"
        ],
        "tokens, keys and passwords from a non-cryptographic generator are predictable; use secrets/crypto.randomBytes/SecureRandom/crypto/rand",
        WEAK_RANDOM
    ),
];

pub fn tool() -> LineRules {
    LineRules::new(&SPEC, RULES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_fires_on_its_sample() {
        super::super::rules::assert_table(
            RULES,
            &[
                (
                    "weak-password-hash",
                    "a.py",
                    "digest = hashlib.md5(password.encode()).hexdigest()",
                ),
                (
                    "weak-hash",
                    "a.js",
                    "const h = crypto.createHash('sha1').update(body).digest('hex');",
                ),
                (
                    "weak-cipher",
                    "A.java",
                    "Cipher c = Cipher.getInstance(\"DESede/CBC/PKCS5Padding\");",
                ),
                ("ecb-mode", "a.py", "cipher = AES.new(key, AES.MODE_ECB)"),
                (
                    "insecure-random",
                    "a.js",
                    "const token = Math.random().toString(36).slice(2);",
                ),
            ],
            &SPEC,
        );
    }

    #[test]
    fn strong_forms_are_quiet() {
        super::super::rules::assert_quiet(
            &tool(),
            &[
                ("a.py", "digest = hashlib.sha256(body).hexdigest()"),
                ("a.py", "token = secrets.token_urlsafe(32)"),
                ("a.py", "jitter = random.random() * 0.1"),
                (
                    "a.py",
                    "etag = hashlib.md5(body, usedforsecurity=False).hexdigest()",
                ),
                ("a.js", "const token = crypto.randomBytes(32).toString('hex');"),
                ("a.go", "block, _ := aes.NewCipher(key)"),
                ("a.go", "n := rand.Intn(10) // shuffle order"),
            ],
        );
    }
}
