//! URL targets that reach loopback, private or deprecated addresses through
//! an IPv6 translation or tunnel form are refused before any connection is
//! tried. Run inside a network namespace of the test's own (loopback only),
//! so that a broken guard cannot send a packet off this machine.

use crate::common::{self, TestServer};
use livescan::tools::Catalog;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn translated_and_deprecated_ipv6_forms_are_refused() {
    if !common::in_own_network_namespace("addresses::translated_and_deprecated_ipv6_forms_are_refused") {
        return;
    }
    let server =
        TestServer::with_config(Catalog::builtin(), |config| config.policy.allow_private = false).await;
    for address in [
        "::ffff:0:7f00:1",
        "::ffff:127.0.0.1",
        "64:ff9b:1::a00:1",
        "64:ff9b::7f00:1",
        "fec0::1",
        "2001::5efe:7f00:1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2002:a9fe:a9fe::1",
        "fd00:ec2::254",
    ] {
        let (status, body) = server
            .post(
                "/api/sessions",
                json!({ "target": { "url": format!("http://[{address}]/") }, "tools": ["http-headers"] }),
            )
            .await;
        assert_eq!(status, 400, "{address}: {body}");
        assert_eq!(
            body["error"]["details"]["field"], "target.url",
            "{address}: {body}"
        );
    }
}
