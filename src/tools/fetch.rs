//! Fetching URL targets under the target address policy: http and https only,
//! and (unless private targets are allowed) no loopback, private, link-local,
//! multicast or metadata addresses — checked on the addresses DNS returns, which
//! are the only ones the client may connect to, and on every redirect.
//!
//! Redirects are followed here, hop by hop, so a page knows its redirect
//! chain; bodies are decompressed here, so a page knows what crossed the
//! wire. Requests to one host are spaced out and capped ([`HOST_INTERVAL`],
//! [`HOST_CONCURRENCY`]) however many tools and sessions ask, and within a
//! session every URL is fetched once and shared by all its tools ([`Pages`]).

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, Semaphore};

/// Bodies are read up to this many bytes; the rest is dropped and `truncated` set.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
const MAX_REDIRECTS: usize = 10;
/// The least time between two requests to the same host.
pub const HOST_INTERVAL: Duration = Duration::from_millis(50);
/// Requests in flight to one host at most.
pub const HOST_CONCURRENCY: usize = 4;

/// One hop of a redirect chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    pub url: String,
    pub status: u16,
}

/// One fetched page.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The URL as given in the target.
    pub url: String,
    /// The URL after redirects.
    pub final_url: String,
    pub status: u16,
    /// Header names lowercased, in the order received (of the final hop).
    pub headers: Vec<(String, String)>,
    /// The body, decompressed.
    pub body: String,
    pub truncated: bool,
    /// The redirects followed to get here, in order.
    pub redirects: Vec<Redirect>,
    /// Body bytes as they crossed the wire (compressed, if the server compressed).
    pub wire_bytes: usize,
    /// From the first request to the final response's headers.
    pub ttfb: Duration,
    /// From the first request to the end of the body.
    pub elapsed: Duration,
}

impl Page {
    /// The first value of a header (name is case-insensitive).
    pub fn header<'a>(&'a self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, e.g. each `set-cookie`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_https(&self) -> bool {
        self.final_url.starts_with("https://")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("fetching {url} failed: {reason}")]
    Http { url: String, reason: String },
    /// The session's earlier fetch of this URL failed.
    #[error("{0}")]
    Shared(String),
}

/// Parses and checks a target URL: scheme http(s), a host, and an allowed
/// address when the host is an IP literal. Host names are checked when resolved.
pub fn check_target_url(raw: &str, allow_private: bool) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("`{raw}` is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{raw}` must use http or https, not `{}`", url.scheme()));
    }
    let Some(host) = url.host() else {
        return Err(format!("`{raw}` has no host"));
    };
    if !allow_private {
        let ip = match host {
            url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = ip.filter(|ip| !is_public(*ip)) {
            return Err(format!(
                "`{raw}` points at {ip}, a loopback, private or otherwise non-public address \
                 (start the server with --allow-private-targets to scan those)"
            ));
        }
    }
    Ok(url)
}

/// Whether an address is globally routable (not loopback, private, link-local,
/// shared, multicast, documentation, unspecified, deprecated, or an IPv6 form
/// that carries or reaches one of those).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_public_v4(v4);
            }
            let [first, second, third, ..] = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || (first & 0xffc0) == 0xfec0 // site local (deprecated, RFC 3879)
                || (first == 0x0064 && second == 0xff9b && third == 0x0001) // local-use NAT64 (RFC 8215): a private network's translator
                || (first == 0x2001 && second == 0x0000) // Teredo (RFC 4380): tunnels to an IPv4 address it hides
                || (first == 0x2001 && (second & 0xfff0) == 0x0010) // ORCHID (RFC 4843)
                || (first == 0x2001 && (second & 0xfff0) == 0x0020) // ORCHIDv2 (RFC 7343)
                || (first == 0x2001 && second == 0x0002 && third == 0) // benchmarking
                || (first == 0x0100 && second == 0 && third == 0 && v6.segments()[3] == 0) // discard only
                || (first == 0x2001 && second == 0x0db8) // documentation
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)) // cloud metadata
        }
    }
}

/// The IPv4 address an IPv6 address carries and routes to: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`, RFC 2765),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) and 6to4
/// (`2002:AABB:CCDD::/48`).
fn embedded_ipv4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let from = |hi: u16, lo: u16| {
        Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        ))
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => from(hi, lo),
        [0, 0, 0, 0, 0xffff, 0, hi, lo] => from(hi, lo),
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 => from(hi, lo),
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => from(hi, lo),
        [0x2002, hi, lo, ..] => from(hi, lo),
        _ => None,
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local() // includes 169.254.169.254, the metadata address
        || v4.is_unspecified()
        || v4.is_multicast()
        || v4.is_broadcast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space
        || (a == 192 && b == 0)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

/// The addresses of `host` that the policy allows connecting to.
pub async fn allowed_addresses(
    host: &str,
    port: u16,
    allow_private: bool,
) -> std::io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await?
        .filter(|addr| allow_private || is_public(addr.ip()))
        .collect();
    if addrs.is_empty() {
        return Err(std::io::Error::other(format!(
            "{host} resolves only to non-public addresses, which this server does not scan"
        )));
    }
    Ok(addrs)
}

/// The base64 SHA-256 of a DER certificate's SubjectPublicKeyInfo.
fn spki_fingerprint(der: &[u8]) -> Option<String> {
    use base64::Engine;
    use sha2::Digest;
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    let digest = sha2::Sha256::digest(certificate.public_key().raw);
    Some(base64::engine::general_purpose::STANDARD.encode(digest))
}

/// Resolves host names and keeps only the addresses the policy allows.
struct PolicyResolver;

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let addrs = allowed_addresses(name.as_str(), 0, false).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Spacing and a cap for the requests to one host.
#[derive(Debug)]
struct HostGate {
    next_start: tokio::sync::Mutex<Instant>,
    in_flight: Arc<Semaphore>,
}

/// The HTTP client every URL tool uses.
#[derive(Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    /// The roots certificates are checked against: the public web's, plus
    /// any given (a company's own CA).
    tls: Arc<rustls::ClientConfig>,
    /// The given roots' public keys, as the browser is told to trust them.
    extra_root_keys: Vec<String>,
}

impl Fetcher {
    pub fn new(allow_private: bool) -> Self {
        Self::with_roots(allow_private, Vec::new())
    }

    /// A fetcher that also trusts `extra_roots` (DER certificates).
    pub fn with_roots(
        allow_private: bool,
        extra_roots: Vec<rustls::pki_types::CertificateDer<'static>>,
    ) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let extra_root_keys = extra_roots
            .iter()
            .filter_map(|der| spki_fingerprint(der))
            .collect();
        let (_, ignored) = roots.add_parsable_certificates(extra_roots);
        if ignored > 0 {
            tracing::warn!(
                ignored,
                "some extra CA certificates could not be parsed and are not trusted"
            );
        }
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
        let mut builder = reqwest::Client::builder()
            .use_preconfigured_tls(tls.clone())
            .user_agent(concat!("livescan/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            // Bodies are decompressed here, to count what crossed the wire.
            .no_gzip()
            .no_brotli()
            // A proxy would resolve and connect for us, past the address policy.
            .no_proxy();
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PolicyResolver));
        }
        Fetcher {
            client: builder.build().expect("the HTTP client configuration is valid"),
            allow_private,
            hosts: Mutex::new(HashMap::new()),
            tls: Arc::new(tls),
            extra_root_keys,
        }
    }

    /// The SHA-256 fingerprints (base64) of the public keys of the extra
    /// roots this fetcher trusts, for Chromium's
    /// `--ignore-certificate-errors-spki-list`.
    pub fn extra_root_keys(&self) -> &[String] {
        &self.extra_root_keys
    }

    /// The TLS client configuration fetches use, for tools that inspect TLS itself.
    pub fn tls_config(&self) -> Arc<rustls::ClientConfig> {
        self.tls.clone()
    }

    /// Whether private addresses may be fetched (a test, a trusted network).
    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// The addresses of `host` this fetcher may connect to.
    pub async fn addresses(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        allowed_addresses(host, port, self.allow_private).await
    }

    /// Waits for this host's turn; the permit keeps a place among its requests in flight.
    async fn host_turn(&self, url: &Url) -> tokio::sync::OwnedSemaphorePermit {
        let key = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let gate = self
            .hosts
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(key)
            .or_insert_with(|| {
                Arc::new(HostGate {
                    next_start: tokio::sync::Mutex::new(Instant::now()),
                    in_flight: Arc::new(Semaphore::new(HOST_CONCURRENCY)),
                })
            })
            .clone();
        let permit = gate
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let mut next = gate.next_start.lock().await;
        tokio::time::sleep_until((*next).into()).await;
        *next = Instant::now() + HOST_INTERVAL;
        permit
    }

    pub async fn fetch(&self, raw: &str) -> Result<Page, FetchError> {
        let mut url = check_target_url(raw, self.allow_private).map_err(FetchError::Refused)?;
        let http_error = |reason: String| FetchError::Http {
            url: raw.to_string(),
            reason,
        };
        let started = Instant::now();
        let mut redirects = Vec::new();
        let (mut response, _permit) = loop {
            let permit = self.host_turn(&url).await;
            let response = self
                .client
                .get(url.clone())
                .header(reqwest::header::ACCEPT_ENCODING, "gzip, deflate, br")
                .send()
                .await
                .map_err(|e| http_error(error_chain(&e)))?;
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .filter(|_| response.status().is_redirection());
            let Some(location) = location else {
                break (response, permit);
            };
            if redirects.len() >= MAX_REDIRECTS {
                return Err(http_error(format!("more than {MAX_REDIRECTS} redirects")));
            }
            let next = url
                .join(location)
                .map_err(|e| http_error(format!("bad redirect to `{location}`: {e}")))?;
            redirects.push(Redirect {
                url: url.to_string(),
                status: response.status().as_u16(),
            });
            url = check_target_url(next.as_str(), self.allow_private)
                .map_err(|reason| http_error(format!("redirect refused: {reason}")))?;
        };
        let ttfb = started.elapsed();
        let final_url = response.url().to_string();
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut wire = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| http_error(error_chain(&e)))? {
            let room = MAX_BODY_BYTES - wire.len();
            if chunk.len() > room {
                wire.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            wire.extend_from_slice(&chunk);
        }
        let encoding = headers
            .iter()
            .find(|(n, _)| n == "content-encoding")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let (body, cut) = decode(encoding.as_deref(), &wire)
            .map_err(|e| http_error(format!("cannot decompress the body: {e}")))?;
        Ok(Page {
            url: raw.to_string(),
            final_url,
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            truncated: truncated || cut,
            redirects,
            wire_bytes: wire.len(),
            ttfb,
            elapsed: started.elapsed(),
        })
    }
}

/// The body as sent before `encoding`, at most [`MAX_BODY_BYTES`] of it
/// (and whether it was cut there).
fn decode(encoding: Option<&str>, wire: &[u8]) -> std::io::Result<(Vec<u8>, bool)> {
    let reader: Box<dyn Read + '_> = match encoding {
        Some("gzip" | "x-gzip") => Box::new(flate2::read::GzDecoder::new(wire)),
        Some("deflate") => Box::new(flate2::read::ZlibDecoder::new(wire)),
        Some("br") => Box::new(brotli::Decompressor::new(wire, 8192)),
        _ => return Ok((wire.to_vec(), false)),
    };
    let mut body = Vec::new();
    reader.take(MAX_BODY_BYTES as u64 + 1).read_to_end(&mut body)?;
    let cut = body.len() > MAX_BODY_BYTES;
    body.truncate(MAX_BODY_BYTES);
    Ok((body, cut))
}

/// One URL's fetch, done once: the page or why it failed.
type PageSlot = Arc<OnceCell<Result<Arc<Page>, String>>>;

/// The pages of one session: each URL fetched once, on first use, and
/// shared by every tool that asks (a failed fetch is shared too).
pub struct Pages {
    fetcher: Arc<Fetcher>,
    cache: Mutex<HashMap<String, PageSlot>>,
    /// The same URLs rendered by a browser, for the tools that need one.
    pub renderings: crate::tools::browser::Renderings,
}

impl Pages {
    /// The fetcher behind these pages, for requests that are not page fetches.
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    pub fn new(fetcher: Arc<Fetcher>) -> Arc<Pages> {
        Arc::new(Pages {
            fetcher,
            cache: Mutex::new(HashMap::new()),
            renderings: Default::default(),
        })
    }

    pub async fn get(&self, url: &str) -> Result<Arc<Page>, FetchError> {
        let cell = self
            .cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(url.to_string())
            .or_default()
            .clone();
        let result = cell
            .get_or_init(|| async {
                self.fetcher
                    .fetch(url)
                    .await
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .await;
        result.clone().map_err(FetchError::Shared)
    }
}

/// An error with its causes, since reqwest's top-level message omits them.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_non_public_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "198.18.0.1",
            // Translation and tunnel forms that reach a private address.
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "64:ff9b:1::7f00:1",
            "64:ff9b:1:ffff::1",
            "fec0::1",
            "feff:ffff::1",
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:10::1",
            "2001:20::1",
            "2001:2::1",
            "100::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} should be refused");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "64:ff9b::808:808",
            "2002:808:808::",
            "::ffff:0:808:808",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} should be allowed");
        }
    }

    #[test]
    fn target_urls_are_checked() {
        assert!(
            check_target_url("ftp://example.com/", false)
                .unwrap_err()
                .contains("http or https")
        );
        assert!(check_target_url("not a url", false).is_err());
        assert!(
            check_target_url("http://127.0.0.1:8080/", false)
                .unwrap_err()
                .contains("--allow-private-targets")
        );
        assert!(check_target_url("http://[::1]/", false).is_err());
        assert!(check_target_url("http://127.0.0.1:8080/", true).is_ok());
        assert!(check_target_url("https://example.com/a?b=c", false).is_ok());
    }
}
