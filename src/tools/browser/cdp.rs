//! The Chrome DevTools Protocol over the pipe Chromium opens with
//! `--remote-debugging-pipe`: it reads commands on its fd 3 and writes
//! answers and events on its fd 4, each message a JSON text ended by a NUL
//! byte. No port is opened, so nothing else on the machine can drive the
//! browser. Commands are matched to their answers by id; events go to the
//! subscriber of the page session they belong to.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

/// The largest message read from the browser (a page's HTML, axe's results).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// An event of one page session.
#[derive(Debug)]
pub struct Event {
    pub method: String,
    pub params: Value,
}

type Answer = Result<Value, String>;

#[derive(Default)]
struct Routes {
    pending: HashMap<u64, oneshot::Sender<Answer>>,
    subscribers: HashMap<String, mpsc::UnboundedSender<Event>>,
    /// Why the pipe closed, once it has.
    closed: Option<String>,
}

/// One browser's protocol connection.
pub struct Connection {
    writer: tokio::sync::Mutex<pipe::Sender>,
    next_id: AtomicU64,
    routes: Arc<Mutex<Routes>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock(routes: &Mutex<Routes>) -> std::sync::MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Connection {
    /// Speaks over `commands` (the browser's fd 3) and `answers` (its fd 4).
    pub fn new(commands: pipe::Sender, answers: pipe::Receiver) -> Connection {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let reader = tokio::spawn(read_messages(answers, routes.clone()));
        Connection {
            writer: tokio::sync::Mutex::new(commands),
            next_id: AtomicU64::new(1),
            routes,
            reader,
        }
    }

    /// Sends `method` (to the page session `session`, or to the browser)
    /// and waits for its answer; an error answer is an `Err` with its text.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Answer {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = oneshot::channel();
        {
            let mut routes = lock(&self.routes);
            if let Some(reason) = &routes.closed {
                return Err(reason.clone());
            }
            routes.pending.insert(id, answer);
        }
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        let written = self.writer.lock().await.write_all(&bytes).await;
        if let Err(err) = written {
            lock(&self.routes).pending.remove(&id);
            return Err(format!("the browser stopped reading: {err}"));
        }
        answered
            .await
            .unwrap_or_else(|_| Err("the browser closed its pipe".to_string()))
            .map_err(|e| format!("{method}: {e}"))
    }

    /// The events of the page session `session` from now on.
    pub fn subscribe(&self, session: &str) -> mpsc::UnboundedReceiver<Event> {
        let (sender, receiver) = mpsc::unbounded_channel();
        lock(&self.routes).subscribers.insert(session.to_string(), sender);
        receiver
    }

    pub fn unsubscribe(&self, session: &str) {
        lock(&self.routes).subscribers.remove(session);
    }
}

/// Reads NUL-ended messages until the pipe closes, then fails every call
/// still waiting.
async fn read_messages(mut answers: pipe::Receiver, routes: Arc<Mutex<Routes>>) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let reason = loop {
        let read = match answers.read(&mut chunk).await {
            Ok(0) => break "the browser closed its pipe".to_string(),
            Ok(read) => read,
            Err(err) => break format!("reading from the browser failed: {err}"),
        };
        let scanned = buffer.len();
        buffer.extend_from_slice(&chunk[..read]);
        let mut start = 0;
        let mut from = scanned;
        while let Some(end) = buffer[from..].iter().position(|&b| b == 0).map(|i| from + i) {
            route(&buffer[start..end], &routes);
            start = end + 1;
            from = start;
        }
        buffer.drain(..start);
        if buffer.len() > MAX_MESSAGE_BYTES {
            break format!("the browser sent a message over {MAX_MESSAGE_BYTES} bytes");
        }
    };
    let mut routes = lock(&routes);
    for (_, waiting) in routes.pending.drain() {
        let _ = waiting.send(Err(reason.clone()));
    }
    routes.subscribers.clear();
    routes.closed = Some(reason);
}

/// Hands one message to the call it answers or the session it is about.
fn route(message: &[u8], routes: &Mutex<Routes>) {
    let Ok(mut message) = serde_json::from_slice::<Value>(message) else {
        tracing::debug!("the browser sent a message that is not JSON");
        return;
    };
    let mut routes = lock(routes);
    if let Some(id) = message.get("id").and_then(Value::as_u64) {
        if let Some(waiting) = routes.pending.remove(&id) {
            let answer = match message.get_mut("error") {
                Some(error) => Err(error["message"].as_str().unwrap_or("an error").to_string()),
                None => Ok(message["result"].take()),
            };
            let _ = waiting.send(answer);
        }
        return;
    }
    let (Some(session), Some(method)) = (
        message.get("sessionId").and_then(Value::as_str),
        message.get("method").and_then(Value::as_str),
    ) else {
        return;
    };
    if let Some(subscriber) = routes.subscribers.get(session) {
        let _ = subscriber.send(Event {
            method: method.to_string(),
            params: message["params"].take(),
        });
    }
}
