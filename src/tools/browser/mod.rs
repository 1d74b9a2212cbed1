//! A headless Chromium for URL tools that need the page as a browser sees
//! it (content written by scripts, the requests they make, their errors).
//!
//! One browser per session, started on first use and killed with the
//! session (its process group, and by the kernel if the server dies). Each
//! URL is rendered once per session, in a browser context of its own, and
//! the rendering is shared by every browser tool ([`Rendered`]). Every
//! request the page makes goes through the session's [`guard::Guard`] for
//! that page: the target address policy and the page's budget hold for
//! scripts, images and fetches, not only for the first request. The browser
//! is driven over `--remote-debugging-pipe` (no port), with its background
//! services (updates, sync, safe browsing, DNS prefetch) off.

mod cdp;
pub mod guard;

use crate::tools::Workspace;
use crate::tools::external::process::{GroupKiller, confined};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// What a rendering may take.
#[derive(Clone, Copy, Debug)]
pub struct PageBudget {
    /// From navigation to the page being quiet.
    pub time: Duration,
    pub requests: usize,
    pub bytes: u64,
}

impl Default for PageBudget {
    fn default() -> Self {
        PageBudget {
            time: Duration::from_secs(20),
            requests: 300,
            bytes: 30 * 1024 * 1024,
        }
    }
}

/// Where the browser and the scripts injected into pages are.
#[derive(Clone, Debug, Default)]
pub struct BrowserSetup {
    /// The Chromium executable, if this machine has one.
    pub chromium: Option<PathBuf>,
    /// axe-core's `axe.min.js`, if installed.
    pub axe_script: Option<PathBuf>,
    pub budget: Option<PageBudget>,
}

impl BrowserSetup {
    /// Finds Chromium (`LIVESCAN_CHROMIUM`, else `chromium`, `chromium-browser`,
    /// `google-chrome` on `PATH`) and axe-core beside the npm tools of
    /// `tool_dirs` (`…/node_modules/.bin/../axe-core/axe.min.js`).
    pub fn discover(tool_dirs: &[PathBuf]) -> BrowserSetup {
        let chromium = std::env::var_os("LIVESCAN_CHROMIUM")
            .map(PathBuf::from)
            .filter(|path| path.is_file())
            .or_else(|| {
                let path = std::env::var_os("PATH")?;
                std::env::split_paths(&path)
                    .flat_map(|dir| {
                        [
                            "chromium",
                            "chromium-browser",
                            "google-chrome",
                            "google-chrome-stable",
                        ]
                        .map(|name| dir.join(name))
                    })
                    .find(|candidate| candidate.is_file())
            });
        let axe_script = tool_dirs
            .iter()
            .map(|dir| dir.join("../axe-core/axe.min.js"))
            .find(|path| path.is_file());
        BrowserSetup {
            chromium,
            axe_script,
            budget: None,
        }
    }
}

/// A request the page made, as the browser saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Request {
    pub url: String,
    /// The browser's resource type: `Document`, `Script`, `Stylesheet`, `Image`, `Fetch`, …
    pub kind: String,
    pub status: Option<u16>,
    /// Bytes received, as encoded on the wire.
    pub bytes: u64,
    /// Why it failed (`net::ERR_…`), if it did.
    pub failed: Option<String>,
}

/// An error the page's scripts raised or logged while it loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptError {
    /// `exception` (uncaught) or `console` (`console.error`).
    pub kind: &'static str,
    pub text: String,
    /// The script and line it came from, when known.
    pub source: Option<String>,
}

/// A request for plain HTTP made by an HTTPS page, as Chromium reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct MixedContent {
    /// The insecure URL the page asked for.
    pub url: String,
    /// What it was for: `Script`, `Image`, `Stylesheet`, `Form`, …
    pub resource: String,
    /// What the browser did: `MixedContentBlocked`,
    /// `MixedContentAutomaticallyUpgraded` or `MixedContentWarning`.
    pub resolution: String,
}

/// One URL as the browser rendered it.
#[derive(Debug, Default)]
pub struct Rendered {
    pub url: String,
    /// Where the page ended up after redirects.
    pub final_url: String,
    /// The DOM after scripts ran, serialised.
    pub html: String,
    pub requests: Vec<Request>,
    pub errors: Vec<ScriptError>,
    /// Requests the guard refused (policy or budget).
    pub refused: Vec<guard::Refusal>,
    /// Requests the browser saw as mixed content (plain HTTP from an HTTPS
    /// page), one per URL, in the order it reported them.
    pub mixed_content: Vec<MixedContent>,
    /// axe-core's violations (its JSON), or why axe could not run.
    pub axe: Option<Result<Vec<Value>, String>>,
    /// The page did not get quiet within its budget; what was seen is kept.
    pub cut_short: Option<String>,
}

/// One rendering, done once per session: the page or why it failed.
type RenderSlot = Arc<OnceCell<Result<Arc<Rendered>, String>>>;

/// A session's browser and its renderings.
#[derive(Default)]
pub struct Renderings {
    browser: OnceCell<Result<Arc<Browser>, String>>,
    pages: Mutex<HashMap<String, RenderSlot>>,
}

impl Renderings {
    /// `url` rendered (once per session, shared), starting the browser if
    /// this is the first rendering.
    pub async fn get(
        &self,
        url: &str,
        setup: &BrowserSetup,
        workspace: &Workspace,
        fetcher: &crate::tools::Fetcher,
    ) -> Result<Arc<Rendered>, String> {
        let slot = self
            .pages
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .entry(url.to_string())
            .or_default()
            .clone();
        slot.get_or_init(|| async {
            let browser = self
                .browser
                .get_or_init(|| async {
                    Browser::launch(setup, workspace, fetcher.extra_root_keys())
                        .await
                        .map(Arc::new)
                })
                .await
                .clone()?;
            browser
                .render(url, setup, fetcher.allows_private())
                .await
                .map(Arc::new)
        })
        .await
        .clone()
    }
}

/// A running Chromium.
struct Browser {
    connection: cdp::Connection,
    _child: tokio::process::Child,
    _killer: GroupKiller,
    _profile: tempfile::TempDir,
}

/// Where a browser sends what leaves outside a page's own proxy: a closed
/// port on loopback.
const PAGE_PROXY_ONLY: &str = "http://127.0.0.1:9";

/// The flags that keep Chromium quiet and private, in `profile` (else where
/// whoever starts it chooses), with every request through `proxy`
/// (loopback included), accepting certificate chains that hold one of
/// `trusted_keys` (SPKI fingerprints of the server's own CAs).
pub(crate) fn flags(profile: Option<&Path>, proxy: &str, trusted_keys: &[String]) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--headless=new",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--no-pings",
        "--dns-prefetch-disable",
        "--disable-features=Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,\
         NetworkTimeServiceQuerying,AutofillServerCommunication,CertificateTransparencyComponentUpdater,\
         InterestFeedContentSuggestions,PrivacySandboxSettings4",
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
        "--disable-gpu",
        "--mute-audio",
        "--hide-scrollbars",
        "--window-size=1280,800",
    ]
    .map(String::from)
    .to_vec();
    // Chromium's sandbox refuses to start as root.
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        flags.push("--no-sandbox".into());
    }
    flags.push(format!("--proxy-server={proxy}"));
    if let Some(profile) = profile {
        flags.push(format!("--user-data-dir={}", profile.display()));
    }
    if !trusted_keys.is_empty() {
        flags.push(format!(
            "--ignore-certificate-errors-spki-list={}",
            trusted_keys.join(",")
        ));
    }
    flags
}

/// A pipe whose both ends close on exec.
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array it is given.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by no one else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Memory a browser may map: V8 and the renderers reserve far more
/// address space than they use.
const BROWSER_MEMORY: u64 = 8 * 1024 * 1024 * 1024;
/// How long Chromium may take to answer its first command.
const START_TIMEOUT: Duration = Duration::from_secs(20);

impl Browser {
    /// Starts Chromium, trusting certificate chains that hold one of
    /// `trusted_keys` (the server's own CAs, when the site presents them).
    async fn launch(
        setup: &BrowserSetup,
        workspace: &Workspace,
        trusted_keys: &[String],
    ) -> Result<Browser, String> {
        let chromium = setup
            .chromium
            .as_ref()
            .ok_or("no Chromium on this machine (install Debian's `chromium`, or set LIVESCAN_CHROMIUM)")?;
        std::fs::create_dir_all(&workspace.dir)
            .map_err(|e| format!("cannot make a private directory: {e}"))?;
        let profile = tempfile::Builder::new()
            .prefix("browser-")
            .tempdir_in(&workspace.dir)
            .map_err(|e| format!("cannot make the browser's profile: {e}"))?;
        let (commands_read, commands_write) = pipe().map_err(|e| e.to_string())?;
        let (answers_read, answers_write) = pipe().map_err(|e| e.to_string())?;
        let memory = workspace.child_memory.map(|cap| cap.max(BROWSER_MEMORY));
        let mut command = confined(chromium, profile.path(), workspace, memory);
        command
            .args(flags(Some(profile.path()), PAGE_PROXY_ONLY, trusted_keys))
            .arg("--remote-debugging-pipe")
            .arg("about:blank")
            .env("PATH", "/usr/bin:/bin")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (child_reads, child_writes) = (commands_read.as_raw_fd(), answers_write.as_raw_fd());
        // SAFETY: the closure runs in the forked child before exec and only
        // makes async-signal-safe calls (fcntl, dup2). The browser reads
        // commands on fd 3 and answers on fd 4.
        unsafe {
            command.pre_exec(move || {
                let reads = libc::fcntl(child_reads, libc::F_DUPFD_CLOEXEC, 10);
                let writes = libc::fcntl(child_writes, libc::F_DUPFD_CLOEXEC, 10);
                if reads < 0 || writes < 0 || libc::dup2(reads, 3) < 0 || libc::dup2(writes, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
        drop((commands_read, answers_write));
        let killer = GroupKiller(child.id());
        let commands =
            tokio::net::unix::pipe::Sender::from_owned_fd(commands_write).map_err(|e| e.to_string())?;
        let answers =
            tokio::net::unix::pipe::Receiver::from_owned_fd(answers_read).map_err(|e| e.to_string())?;
        let connection = cdp::Connection::new(commands, answers);
        let version = tokio::time::timeout(
            START_TIMEOUT,
            connection.call(None, "Browser.getVersion", json!({})),
        )
        .await
        .map_err(|_| format!("{} did not start within {START_TIMEOUT:?}", chromium.display()))??;
        tracing::debug!(product = %version["product"], "browser started");
        Ok(Browser {
            connection,
            _child: child,
            _killer: killer,
            _profile: profile,
        })
    }

    /// Renders `url` in a context of its own behind a guard of its own.
    async fn render(&self, url: &str, setup: &BrowserSetup, allow_private: bool) -> Result<Rendered, String> {
        let budget = setup.budget.unwrap_or_default();
        let guard = guard::Guard::start(
            allow_private,
            guard::Budget {
                requests: budget.requests,
                bytes: budget.bytes,
            },
        )
        .await
        .map_err(|e| format!("cannot start the page's guard: {e}"))?;
        let context = self
            .connection
            .call(
                None,
                "Target.createBrowserContext",
                json!({ "disposeOnDetach": true, "proxyServer": format!("http://{}", guard.address),
                        "proxyBypassList": "<-loopback>" }),
            )
            .await?;
        let context = context["browserContextId"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // A page whose scripts never yield would keep every command after
        // the load waiting: the whole rendering has a bound too.
        let bound = budget.time + AXE_TIMEOUT + AFTER_LOAD;
        let rendered = tokio::time::timeout(bound, self.render_in(&context, url, setup, budget, &guard))
            .await
            .unwrap_or_else(|_| Err(format!("{url} did not answer the browser within {bound:?}")));
        let disposed = self
            .connection
            .call(
                None,
                "Target.disposeBrowserContext",
                json!({ "browserContextId": context }),
            )
            .await;
        if let Err(err) = disposed {
            tracing::debug!(error = %err, "a page's browser context could not be disposed");
        }
        let mut rendered = rendered?;
        rendered.refused = guard.refused();
        if rendered.cut_short.is_none() {
            rendered.cut_short = guard.exhausted();
        }
        Ok(rendered)
    }

    async fn render_in(
        &self,
        context: &str,
        url: &str,
        setup: &BrowserSetup,
        budget: PageBudget,
        guard: &guard::Guard,
    ) -> Result<Rendered, String> {
        let target = self
            .connection
            .call(
                None,
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context }),
            )
            .await?;
        let attached = self
            .connection
            .call(
                None,
                "Target.attachToTarget",
                json!({ "targetId": target["targetId"], "flatten": true }),
            )
            .await?;
        let session = attached["sessionId"].as_str().unwrap_or_default().to_string();
        let mut events = self.connection.subscribe(&session);
        let page = PageSession {
            connection: &self.connection,
            session: &session,
        };
        let loaded = async {
            for domain in [
                "Page.enable",
                "Runtime.enable",
                "Network.enable",
                "Log.enable",
                "Audits.enable",
            ] {
                page.call(domain, json!({})).await?;
            }
            // The page's CSP must not keep axe out.
            page.call("Page.setBypassCSP", json!({ "enabled": true })).await?;
            let navigated = page.call("Page.navigate", json!({ "url": url })).await?;
            if let Some(error) = navigated["errorText"].as_str().filter(|e| !e.is_empty()) {
                let refused = guard.refused();
                return Err(match refused.first() {
                    Some(refusal) => format!("{url}: refused: {}", refusal.reason),
                    None => format!("{url} did not load: {error}"),
                });
            }
            Ok(())
        };
        let mut seen = Seen::default();
        let outcome = tokio::time::timeout(budget.time, async {
            loaded.await?;
            seen.until_quiet(&mut events).await;
            Ok::<(), String>(())
        })
        .await;
        let cut_short = match outcome {
            Ok(result) => {
                result?;
                None
            }
            Err(_) => Some(format!("the page was still busy after {:?}", budget.time)),
        };
        while let Ok(event) = events.try_recv() {
            seen.note(&event);
        }
        // A page whose scripts never yield answers nothing: say so early.
        let final_url = tokio::time::timeout(AFTER_LOAD, page.evaluate("location.href"))
            .await
            .map_err(|_| format!("{url}: the page's scripts keep it busy; nothing can be read from it"))?
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_else(|| url.to_string());
        let html = page
            .evaluate("document.documentElement ? document.documentElement.outerHTML : ''")
            .await?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let axe = match &setup.axe_script {
            Some(script) => Some(run_axe(&page, script).await),
            None => None,
        };
        self.connection.unsubscribe(&session);
        Ok(Rendered {
            url: url.to_string(),
            final_url,
            html,
            requests: seen.requests,
            errors: seen.errors,
            mixed_content: seen.mixed_content,
            refused: Vec::new(),
            axe,
            cut_short,
        })
    }
}

/// Commands to one page.
struct PageSession<'a> {
    connection: &'a cdp::Connection,
    session: &'a str,
}

impl PageSession<'_> {
    async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.connection.call(Some(self.session), method, params).await
    }

    /// The value of a JavaScript expression (awaited if it is a promise).
    async fn evaluate(&self, expression: &str) -> Result<Value, String> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            let text = exception["exception"]["description"]
                .as_str()
                .or(exception["text"].as_str())
                .unwrap_or("an exception");
            return Err(crate::model::text::bounded(text, 300));
        }
        Ok(answer["result"]["value"].clone())
    }
}

/// How long reading a loaded page (its address, its HTML) may take.
const AFTER_LOAD: Duration = Duration::from_secs(10);
/// How long axe may take on one page.
const AXE_TIMEOUT: Duration = Duration::from_secs(30);

/// axe-core injected into the rendered page; its violations.
async fn run_axe(page: &PageSession<'_>, script: &Path) -> Result<Vec<Value>, String> {
    let source = tokio::fs::read_to_string(script)
        .await
        .map_err(|e| format!("cannot read {}: {e}", script.display()))?;
    let run = async {
        page.evaluate(&source).await?;
        let violations = page
            .evaluate(
                "axe.run(document, { resultTypes: ['violations'] }).then(r => JSON.stringify(r.violations))",
            )
            .await?;
        let text = violations.as_str().ok_or("axe returned no results")?;
        serde_json::from_str::<Vec<Value>>(text).map_err(|e| format!("axe's results are not JSON: {e}"))
    };
    tokio::time::timeout(AXE_TIMEOUT, run)
        .await
        .map_err(|_| format!("axe did not finish within {AXE_TIMEOUT:?}"))?
}

/// Quiet: no request in flight for this long after the load event.
const QUIET: Duration = Duration::from_millis(500);

/// What the page's events said while it loaded.
#[derive(Default)]
struct Seen {
    requests: Vec<Request>,
    by_id: HashMap<String, usize>,
    in_flight: usize,
    loaded: bool,
    errors: Vec<ScriptError>,
    mixed_content: Vec<MixedContent>,
}

impl Seen {
    /// Notes events until the page has fired its load event and then had
    /// no request in flight for [`QUIET`].
    async fn until_quiet(&mut self, events: &mut tokio::sync::mpsc::UnboundedReceiver<cdp::Event>) {
        loop {
            let wait = if self.loaded && self.in_flight == 0 {
                QUIET
            } else {
                Duration::from_secs(3600)
            };
            match tokio::time::timeout(wait, events.recv()).await {
                Ok(Some(event)) => self.note(&event),
                // The page went away, or it has been quiet long enough.
                Ok(None) | Err(_) => return,
            }
        }
    }

    fn note(&mut self, event: &cdp::Event) {
        let params = &event.params;
        let id = params["requestId"].as_str().unwrap_or_default();
        match event.method.as_str() {
            "Page.loadEventFired" => self.loaded = true,
            "Network.requestWillBeSent" => {
                // A redirect reuses the id: the hop before it is done.
                if let Some(&index) = self.by_id.get(id) {
                    let hop = &mut self.requests[index];
                    hop.status = params["redirectResponse"]["status"].as_u64().map(|s| s as u16);
                } else {
                    self.in_flight += 1;
                }
                self.by_id.insert(id.to_string(), self.requests.len());
                self.requests.push(Request {
                    url: params["request"]["url"].as_str().unwrap_or_default().to_string(),
                    kind: params["type"].as_str().unwrap_or("Other").to_string(),
                    ..Request::default()
                });
            }
            "Network.responseReceived" => {
                if let Some(request) = self.by_id.get(id).map(|&i| &mut self.requests[i]) {
                    request.status = params["response"]["status"].as_u64().map(|s| s as u16);
                }
            }
            "Network.loadingFinished" | "Network.loadingFailed" => {
                if let Some(request) = self.by_id.remove(id).map(|i| &mut self.requests[i]) {
                    self.in_flight = self.in_flight.saturating_sub(1);
                    request.bytes = params["encodedDataLength"].as_f64().unwrap_or(0.0) as u64;
                    if event.method == "Network.loadingFailed" {
                        let reason = params["blockedReason"]
                            .as_str()
                            .or(params["errorText"].as_str())
                            .unwrap_or("failed");
                        request.failed = Some(reason.to_string());
                    }
                }
            }
            "Audits.issueAdded" if params["issue"]["code"] == "MixedContentIssue" => {
                let details = &params["issue"]["details"]["mixedContentIssueDetails"];
                let url = details["insecureURL"].as_str().unwrap_or_default();
                if !url.is_empty()
                    && self.mixed_content.len() < MAX_ERRORS
                    && !self.mixed_content.iter().any(|seen| seen.url == url)
                {
                    self.mixed_content.push(MixedContent {
                        url: url.to_string(),
                        resource: details["resourceType"].as_str().unwrap_or("Other").to_string(),
                        resolution: details["resolutionStatus"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                    });
                }
            }
            "Runtime.exceptionThrown" => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("an uncaught exception");
                self.push_error("exception", text, details);
            }
            "Runtime.consoleAPICalled" if params["type"] == "error" => {
                let text: Vec<String> = params["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|arg| match &arg["value"] {
                        Value::String(text) => text.clone(),
                        Value::Null => arg["description"].as_str().unwrap_or("").to_string(),
                        other => other.to_string(),
                    })
                    .collect();
                let frame = &params["stackTrace"]["callFrames"][0];
                self.push_error("console", &text.join(" "), frame);
            }
            _ => {}
        }
    }

    fn push_error(&mut self, kind: &'static str, text: &str, at: &Value) {
        if self.errors.len() >= MAX_ERRORS {
            return;
        }
        let source = at["url"]
            .as_str()
            .filter(|u| !u.is_empty())
            .map(|url| format!("{url}:{}", at["lineNumber"].as_u64().unwrap_or(0) + 1));
        // The first line: a stack trace follows it.
        let first = text.lines().next().unwrap_or_default();
        self.errors.push(ScriptError {
            kind,
            text: crate::model::text::bounded(first, 500),
            source,
        });
    }
}

/// Script errors kept per page.
const MAX_ERRORS: usize = 200;
