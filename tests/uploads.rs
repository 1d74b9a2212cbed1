//! Uploaded targets, through a real server on 127.0.0.1: a directory sent
//! as a tar or tar.gz is scanned as the same directory on the server would
//! be, stored once per content, private to its owner, removed when unused;
//! and archives no upload may hold (paths out, links out, device files,
//! bombs, sizes past the limits) are refused before anything is kept.

mod common;

use common::TestServer;
use flate2::Compression;
use flate2::write::GzEncoder;
use livescan::engine::uploads::UploadLimits;
use livescan::proto as pb;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// `dir` as a tar archive (symbolic links kept as links, as `tar` does).
fn tar_of(dir: &Path) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(".", dir).unwrap();
    builder.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// One tar entry written by hand, so that it can say what `tar::Builder`
/// would refuse to write: `..`, absolute names, links anywhere, devices.
fn raw_entry(name: &str, kind: u8, link: &str, size: u64, data: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0001750");
    header[116..123].copy_from_slice(b"0001750");
    header[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    header[136..147].copy_from_slice(b"14712345670");
    header[156] = kind;
    header[157..157 + link.len()].copy_from_slice(link.as_bytes());
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|&b| u32::from(b)).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut entry = header.to_vec();
    entry.extend_from_slice(data);
    entry.resize(entry.len().div_ceil(512) * 512, 0);
    entry
}

/// A tar archive of `entries`, with its end.
fn raw_tar(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut tar = entries.concat();
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

async fn upload(client: &reqwest::Client, base: &str, body: Vec<u8>) -> (u16, Value) {
    let response = client
        .post(format!("{base}/api/uploads"))
        .header("content-type", "application/gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The files in `dir` and below (none when it does not exist).
fn files_in(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files.extend(files_in(&entry.path()));
        } else {
            files.push(entry.path().display().to_string());
        }
    }
    files
}

/// Each tool's findings of a finished session, as (tool, rule, file, line).
fn findings(session: &Value) -> Vec<(String, String, String, Value)> {
    let mut all: Vec<_> = session["toolReports"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(tool, report)| {
            let listed = report["result"]["findings"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            listed.into_iter().map(move |f| {
                (
                    tool.clone(),
                    f["ruleId"].as_str().unwrap_or_default().to_string(),
                    f["path"].as_str().unwrap_or_default().to_string(),
                    f["line"].clone(),
                )
            })
        })
        .collect();
    all.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_directory_is_scanned_as_the_same_directory_on_the_server() {
    let server = TestServer::start().await;
    let planted = common::fixtures().join("dir-planted");
    let archive = gzip(&tar_of(&planted));
    let (status, first) = upload(&server.client(), &server.base, archive.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        first["digest"],
        format!("sha256:{:x}", Sha256::digest(&archive)),
        "{first}"
    );
    assert_eq!(first["bytes"], archive.len() as u64);
    assert_eq!(first["files"], files_in(&planted).len() as u64, "{first}");

    // The same content again: a second upload, one stored archive.
    let (status, second) = upload(&server.client(), &server.base, archive.clone()).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(first["uploadId"], second["uploadId"]);
    assert_eq!(first["digest"], second["digest"]);
    let archives = server.data_dir.path().join("uploads/archives");
    assert_eq!(files_in(&archives).len(), 1, "identical archives are stored once");

    let tools = json!([
        "secrets",
        "dangerous-calls",
        "debug-statements",
        "dockerfile",
        "todo-comments"
    ]);
    let uploaded = server
        .start_session(json!({ "target": { "upload": first["uploadId"] }, "tools": tools }))
        .await;
    let on_server = server
        .start_session(json!({ "target": { "directory": planted.display().to_string() }, "tools": tools }))
        .await;
    let uploaded = server.wait_finished(&uploaded).await;
    let on_server = server.wait_finished(&on_server).await;
    assert_eq!(uploaded["status"], "completed", "{uploaded}");
    assert_eq!(uploaded["target"], json!({ "upload": first["uploadId"] }));
    assert!(findings(&uploaded).len() > 10, "{}", uploaded["summary"]);
    assert_eq!(findings(&uploaded), findings(&on_server));

    // The unpacked tree is removed once the session has ended.
    let unpacked = server.data_dir.path().join("work/uploads");
    for _ in 0..100 {
        if files_in(&unpacked).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(files_in(&unpacked), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_archives_are_refused_and_nothing_is_kept() {
    let server = TestServer::start().await;
    let file = |name: &str| raw_entry(name, b'0', "", 5, b"hello");
    // 1 GiB of zeros in about a megabyte: one gzip member of a mebibyte of
    // zeros, repeated (a gzip stream may hold many members).
    let bomb = {
        let mut bomb = gzip(&raw_entry("zeros", b'0', "", 1 << 30, &[]));
        let mut member = GzEncoder::new(Vec::new(), Compression::best());
        member.write_all(&vec![0u8; 1 << 20]).unwrap();
        let member = member.finish().unwrap();
        for _ in 0..1024 {
            bomb.extend_from_slice(&member);
        }
        bomb.extend_from_slice(&gzip(&[0u8; 1024]));
        bomb
    };
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a path with ..",
            raw_tar(&[file("ok.txt"), file("a/../../escaped.txt")]),
            400,
            "`..`",
        ),
        (
            "an absolute path",
            raw_tar(&[file("/tmp/livescan-absolute.txt")]),
            400,
            "absolute",
        ),
        (
            "a symbolic link out",
            raw_tar(&[raw_entry("etc", b'2', "/etc", 0, &[])]),
            400,
            "outside the archive",
        ),
        (
            "a relative symbolic link out",
            raw_tar(&[raw_entry("a/up", b'2', "../../..", 0, &[])]),
            400,
            "outside the archive",
        ),
        (
            "a hard link out",
            raw_tar(&[raw_entry("passwd", b'1', "/etc/passwd", 0, &[])]),
            400,
            "hard link",
        ),
        (
            "a file inside a file",
            raw_tar(&[file("a"), file("a/b")]),
            400,
            "which is a file",
        ),
        (
            "a file over a directory",
            raw_tar(&[file("a/b"), file("a")]),
            400,
            "has a directory",
        ),
        (
            "a directory over a file",
            raw_tar(&[file("a"), raw_entry("a/", b'5', "", 0, &[])]),
            400,
            "has a file",
        ),
        (
            "a device file",
            raw_tar(&[raw_entry("null", b'3', "", 0, &[])]),
            400,
            "device file",
        ),
        (
            "a FIFO",
            raw_tar(&[raw_entry("pipe", b'6', "", 0, &[])]),
            400,
            "FIFO",
        ),
        (
            "not an archive",
            b"just some text, not a tar".repeat(40),
            400,
            "tar",
        ),
        ("nothing", Vec::new(), 400, "empty"),
        ("a gzip bomb", bomb, 413, "ratio"),
    ];
    for (what, body, status, says) in cases {
        let (got, answer) = upload(&server.client(), &server.base, body).await;
        assert_eq!(got, status, "{what}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
    }
    let uploads = server.data_dir.path().join("uploads");
    assert_eq!(
        files_in(&uploads),
        Vec::<String>::new(),
        "nothing refused is kept"
    );
    assert!(!Path::new("/tmp/livescan-absolute.txt").exists());

    // A symbolic link that stays inside is left out; a hard link inside is a copy.
    let inside = raw_tar(&[
        file("a/real.txt"),
        raw_entry("a/alias", b'2', "real.txt", 0, &[]),
        raw_entry("a/copy.txt", b'1', "a/real.txt", 0, &[]),
    ]);
    let (status, answer) = upload(&server.client(), &server.base, inside).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["files"], 2, "{answer}");
    assert_eq!(answer["unpackedBytes"], 10, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_held_to_their_limits_and_kept_from_other_accounts() {
    let server = TestServer::with_config(common::test_catalog(), |config| {
        let uploads = config.uploads.as_mut().unwrap();
        uploads.limits = UploadLimits {
            archive_bytes: 64 * 1024,
            files: 3,
            quota_bytes: 100 * 1024,
            ..UploadLimits::default()
        };
    })
    .await;
    let noise = |n: usize| (0..n).map(|i| (i * 7919 % 251) as u8).collect::<Vec<u8>>();
    let file = |name: &str, data: &[u8]| raw_entry(name, b'0', "", data.len() as u64, data);

    let too_many = raw_tar(&[file("1", b"1"), file("2", b"2"), file("3", b"3"), file("4", b"4")]);
    let (status, answer) = upload(&server.client(), &server.base, too_many).await;
    assert_eq!(
        (status, &answer["error"]["details"]["limit"]),
        (413, &json!("files")),
        "{answer}"
    );

    let too_big = raw_tar(&[file("big", &noise(80 * 1024))]);
    let (status, answer) = upload(&server.client(), &server.base, too_big).await;
    assert_eq!(
        (status, &answer["error"]["details"]["limit"]),
        (413, &json!("archiveBytes")),
        "{answer}"
    );

    // 40 KiB each: two fit the 100 KiB quota, a third does not.
    for round in 0..3u8 {
        let mut data = noise(40 * 1024);
        data[0] = round;
        let (status, answer) = upload(&server.client(), &server.base, raw_tar(&[file("f", &data)])).await;
        match round {
            2 => assert_eq!(
                (status, &answer["error"]["details"]["limit"]),
                (413, &json!("quotaBytes")),
                "{answer}"
            ),
            _ => assert_eq!(status, 201, "{answer}"),
        }
    }
    assert_eq!(
        files_in(&server.data_dir.path().join("uploads/archives")).len(),
        2,
        "an upload past the quota is not kept"
    );

    // Another account cannot scan (or learn of) this account's upload.
    let (status, mine) = upload(&server.client(), &server.base, raw_tar(&[file("x", b"x")])).await;
    assert_eq!(status, 201, "{mine}");
    let (_, other) = server.account("other", 1000).await;
    let response = other
        .post(server.url("/api/sessions"))
        .json(&json!({ "target": { "upload": mine["uploadId"] }, "tools": ["secrets"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["error"]["details"]["field"], "target.upload", "{refusal}");
    let (status, answer) = server
        .post(
            "/api/sessions",
            json!({ "target": { "upload": "upl-../../../etc/passwd" } }),
        )
        .await;
    assert_eq!(
        (status, &answer["error"]["details"]["field"]),
        (400, &json!("target.upload"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_upload_leaves_nothing_and_unused_uploads_are_removed() {
    let server = TestServer::with_config(common::test_catalog(), |config| {
        config.uploads.as_mut().unwrap().limits.retention = Duration::from_secs(2);
    })
    .await;
    // The client goes away a sixteenth of the way through its body.
    {
        use tokio::io::AsyncWriteExt;
        let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        let head = format!(
            "POST /api/uploads HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-length: {}\r\n\r\n",
            server.addr,
            server.key,
            1 << 20
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        tcp.write_all(&[0u8; 64 * 1024]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let uploads = server.data_dir.path().join("uploads");
    for _ in 0..100 {
        if files_in(&uploads).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        files_in(&uploads),
        Vec::<String>::new(),
        "a cut-off upload is not kept"
    );

    let (status, answer) = upload(
        &server.client(),
        &server.base,
        raw_tar(&[raw_entry("a.txt", b'0', "", 1, b"a")]),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(files_in(&uploads.join("archives")).len(), 1);
    // Unused for twice the retention: removed, and its archive with it.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(files_in(&uploads), Vec::<String>::new());
    let (status, refusal) = server
        .post(
            "/api/sessions",
            json!({ "target": { "upload": answer["uploadId"] } }),
        )
        .await;
    assert_eq!(status, 400, "{refusal}");
    assert!(
        refusal["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 seconds"),
        "{refusal}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_uploaded_over_grpc_is_scanned_by_its_id() {
    let server = TestServer::start().await;
    let archive = tar_of(&common::fixtures().join("dir-planted"));
    let chunks: Vec<pb::UploadArchiveRequest> = archive
        .chunks(16 * 1024)
        .map(|chunk| pb::UploadArchiveRequest {
            chunk: chunk.to_vec(),
        })
        .collect();
    let mut grpc = server.grpc().await;
    let upload = grpc
        .upload_archive(futures::stream::iter(chunks))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(upload.digest, format!("sha256:{:x}", Sha256::digest(&archive)));
    assert_eq!(upload.bytes, archive.len() as u64);
    let started = grpc
        .start_session(pb::StartSessionRequest {
            target: Some(pb::Target {
                upload: upload.upload_id.clone(),
                ..Default::default()
            }),
            tools: vec!["secrets".to_string()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let session = server.wait_finished(&started.session_id).await;
    assert_eq!(session["status"], "completed", "{session}");
    assert!(
        session["toolReports"]["secrets"]["findingsCount"]
            .as_u64()
            .unwrap()
            > 0,
        "{session}"
    );

    // A hostile archive over gRPC: INVALID_ARGUMENT naming the entry.
    let hostile = raw_tar(&[raw_entry("../x", b'0', "", 1, b"x")]);
    let refused = grpc
        .upload_archive(futures::stream::iter([pb::UploadArchiveRequest {
            chunk: hostile,
        }]))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert!(refused.message().contains("../x"), "{refused:?}");
}

/// Sizes and intervals past what the server can count are refused when it
/// starts, naming the flag, where they used to wrap round (an upload limit
/// of `2^44` MiB became 0 bytes) or overflow (a panic).
#[test]
fn serve_refuses_sizes_and_intervals_too_large_to_count() {
    // A data directory that cannot be made: were a value taken, the server
    // would stop there instead of serving.
    let file = tempfile::NamedTempFile::new().unwrap();
    let data_dir = file.path().join("data");
    for (flag, value, saying) in [
        ("--upload-max-mb", "17592186044416", "is not in 0..=1073741824"),
        (
            "--upload-quota-mb",
            "18446744073709551615",
            "is not in 0..=1073741824",
        ),
        (
            "--tool-memory-mb",
            "18446744073709551615",
            "is not in 0..=1073741824",
        ),
        ("--shutdown-timeout", "9999999999999999h", "is longer than 3650d"),
    ] {
        let (code, _, stderr) = common::livescan(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data_dir.to_str().unwrap(),
            flag,
            value,
        ]);
        assert_eq!(code, 2, "{flag} {value}: {stderr}");
        assert!(
            stderr.contains(&format!("invalid value '{value}' for '{flag}")) && stderr.contains(saying),
            "{flag} {value}: {stderr}"
        );
    }
}
