//! The account commands of the real binary, run beside a live `livescan
//! serve` on the same data directory: the local key file, `keys create`
//! (the key alone on stdout), `credits grant|show`, `keys list|revoke`, and
//! a server log that never shows a key, even at debug level.

mod common;

use common::{RealServer, livescan};
use serde_json::Value;

async fn get(server: &RealServer, key: &str, path: &str) -> (u16, Value) {
    let response = common::http_with_key(key)
        .get(format!("{}{path}", server.base))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn secret_of(key: &str) -> &str {
    key.rsplit('_').next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_credits_are_managed_beside_a_running_server() {
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap();
    let server = RealServer::start_with(data_dir.path(), "127.0.0.1:0", "debug", &[]);

    // The local key: owner-only, and it works at once with the local balance.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data_dir.path().join("local.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (status, local) = get(&server, &server.key, "/api/account").await;
    assert_eq!(status, 200, "{local}");
    assert_eq!(local["userId"], "local");
    assert_eq!(local["balance"], 1_000_000);

    // keys create prints the key and nothing else on stdout.
    let (code, stdout, stderr) = livescan(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--credits",
        "5",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let key = stdout.trim_end_matches('\n').to_string();
    assert!(
        regex::Regex::new(r"^lsk_[a-z0-9]{12}_[A-Za-z0-9]{40}$")
            .unwrap()
            .is_match(&key),
        "{stdout:?}"
    );
    let key_id = &key[4..16];
    assert!(stderr.contains(key_id), "{stderr}");
    let (status, account) = get(&server, &key, "/api/account").await;
    assert_eq!((status, &account["balance"]), (200, &Value::from(5)), "{account}");

    // credits grant by key id; the server sees the new balance at once.
    let (code, stdout, stderr) = livescan(&[
        "credits",
        "grant",
        key_id,
        "7",
        "--note",
        "top-up",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("balance 12"), "{stdout}");
    let (_, account) = get(&server, &key, "/api/account").await;
    assert_eq!(account["balance"], 12);
    assert_eq!(account["ledger"][0]["note"], "top-up");
    let (code, stdout, _) = livescan(&["credits", "show", key_id, "--data-dir", dir]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("balance 12") && stdout.contains("top-up"),
        "{stdout}"
    );

    // A second key for the same account, expired on arrival.
    let (code, expired, stderr) = livescan(&[
        "keys",
        "create",
        "--name",
        "temp",
        "--user",
        key_id,
        "--expires-in",
        "0s",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let (status, body) = get(&server, expired.trim(), "/api/account").await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("expired at"),
        "{body}"
    );

    // keys list shows ids, owners, balances and states, never a key.
    let (code, list, _) = livescan(&["keys", "list", "--data-dir", dir]);
    assert_eq!(code, 0);
    assert!(
        list.contains(key_id) && list.contains("active") && list.contains("expired"),
        "{list}"
    );
    for secret in [&key, &server.key, &expired] {
        assert!(!list.contains(secret_of(secret.trim())), "{list}");
    }

    // Revoked: refused within a second (the server trusts a key record it
    // read for that long), saying so.
    let (code, stdout, stderr) = livescan(&["keys", "revoke", key_id, "--data-dir", dir]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("revoked key"), "{stdout}");
    let revoked_at = std::time::Instant::now();
    let (status, body) = loop {
        let (status, body) = get(&server, &key, "/api/sessions").await;
        if status != 200 {
            break (status, body);
        }
        assert!(
            revoked_at.elapsed()
                < livescan::engine::accounts::KEY_FRESH_FOR + std::time::Duration::from_millis(500),
            "a revoked key still works after a second"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("was revoked at"),
        "{body}"
    );

    // Operator mistakes are usage errors that name what is wrong.
    let (code, _, stderr) = livescan(&[
        "keys",
        "create",
        "--name",
        "x",
        "--user",
        "user-nobody",
        "--data-dir",
        dir,
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no user or key id `user-nobody`"), "{stderr}");
    let (code, _, stderr) = livescan(&["credits", "grant", "local", "0", "--data-dir", dir]);
    assert_eq!(code, 2);
    assert!(stderr.contains("credits"), "{stderr}");
    // A malformed expiry, and one too long for the clock (it used to wrap
    // round into a key expired on arrival): refused, naming the flag.
    for (expiry, saying) in [
        ("soon", "`soon` is not a duration"),
        ("99999999999999999d", "is longer than 3650d"),
    ] {
        let (code, _, stderr) = livescan(&[
            "keys",
            "create",
            "--name",
            "x",
            "--expires-in",
            expiry,
            "--data-dir",
            dir,
        ]);
        assert_eq!(code, 2);
        assert!(
            stderr.contains("--expires-in") && stderr.contains(saying),
            "{stderr}"
        );
    }

    // Keys sent in every wrong form, for the log check below.
    let plain = common::http();
    for header in [key.clone(), format!("Basic {key}"), format!("Bearer {key}x")] {
        let status = plain
            .get(format!("{}/api/sessions", server.base))
            .header("authorization", header)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/sessions"),
        "the log is really collected: {log}"
    );
    for secret in [&key, &server.key, &expired] {
        assert!(
            !log.contains(secret_of(secret.trim())),
            "the server log shows a key:\n{log}"
        );
    }
}
