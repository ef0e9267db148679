//! A headless Chromium driven over the DevTools protocol, for the UI's browser tests: the
//! protocol's pipe transport (`--remote-debugging-pipe`: JSON messages ended by a NUL byte on
//! file descriptors 3 and 4) needs no WebSocket client and no port. Debian's `chromium` is
//! installed when missing and this process may (root, with apt-get), like the C toolchain;
//! otherwise a test needing it fails saying what to install.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Debian's package and the binary it installs.
const PACKAGE: &str = "chromium";
const BINARY: &str = "/usr/bin/chromium";

/// How long one protocol call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The Chromium binary: `TESSERA_CHROMIUM`, else Debian's, installed first when missing and
/// this process is root with apt-get. Panics saying what to install otherwise: a browser test
/// without a browser must fail, never pass quietly.
pub fn chromium() -> PathBuf {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find_or_install) {
        Ok(p) => p.clone(),
        Err(e) => panic!("{e}"),
    }
}

fn find_or_install() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("TESSERA_CHROMIUM") {
        return Ok(PathBuf::from(p));
    }
    if Path::new(BINARY).exists() {
        return Ok(PathBuf::from(BINARY));
    }
    let install = format!("apt-get install -y {PACKAGE}");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !(root && Path::new("/usr/bin/apt-get").exists()) {
        return Err(format!(
            "the browser tests need Chromium; on Debian: `{install}` (or set TESSERA_CHROMIUM)"
        ));
    }
    eprintln!("installing Chromium for the browser tests: {install}");
    let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
    let updated = ok(Command::new("apt-get").args(["update", "-q"]));
    let installed = ok(Command::new("apt-get")
        .args(["install", "-y", "-q", PACKAGE])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    if updated && installed && Path::new(BINARY).exists() {
        Ok(PathBuf::from(BINARY))
    } else {
        Err(format!(
            "installing Chromium failed; run `{install}` and try again"
        ))
    }
}

/// One headless Chromium process.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    from_browser: Receiver<Value>,
    /// Events read while waiting for a reply, for [`Page::events`].
    events: Mutex<VecDeque<Value>>,
    next_id: u64,
    /// Where Chromium's own output goes.
    log: PathBuf,
    _profile: tempfile::TempDir,
}

/// Browsers launched by this process, to name their logs.
static LAUNCHES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Browser {
    /// Starts Chromium headless with a fresh profile and none of its background traffic.
    pub fn launch() -> Browser {
        let binary = chromium();
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("a profile directory: {e}"));
        let (ours_read, theirs_write) =
            std::io::pipe().unwrap_or_else(|e| panic!("a pipe for Chromium: {e}"));
        let (theirs_read, ours_write) =
            std::io::pipe().unwrap_or_else(|e| panic!("a pipe for Chromium: {e}"));
        let mut cmd = Command::new(&binary);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
            "--remote-debugging-pipe",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        // Its own messages go to a file under target/browser: a browser that dies leaves
        // its reason there (the panic names the file).
        let log = crate::repo_root()
            .join("target")
            .join("browser")
            .join(format!(
                "chromium-{}-{}.log",
                std::process::id(),
                LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
        let stderr = std::fs::create_dir_all(log.parent().unwrap_or(&log))
            .and_then(|()| std::fs::File::create(&log))
            .map_or_else(|_| Stdio::null(), Stdio::from);
        cmd.stderr(stderr);
        {
            use std::os::fd::AsRawFd;
            use std::os::unix::process::CommandExt;
            let read_fd = theirs_read.as_raw_fd();
            let write_fd = theirs_write.as_raw_fd();
            #[allow(unsafe_code)]
            // SAFETY: between fork and exec only fcntl, dup2 and close run, which are
            // async-signal-safe; the descriptors are open (owned by this function until the
            // child has started).
            unsafe {
                cmd.pre_exec(move || {
                    // Copies above 4 first: a pipe end may already be fd 3 or 4, and dup2 onto
                    // itself would keep its close-on-exec flag (Chromium then finds no pipe),
                    // while dup2 onto the other end's number would close that end.
                    let read_copy = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                    let write_copy = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                    if read_copy < 0
                        || write_copy < 0
                        || libc::dup2(read_copy, 3) < 0
                        || libc::dup2(write_copy, 4) < 0
                    {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(read_copy);
                    libc::close(write_copy);
                    Ok(())
                });
            }
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        drop(theirs_read);
        drop(theirs_write);
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(ours_read);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        Browser {
            child,
            to_browser: ours_write,
            from_browser: rx,
            events: Mutex::default(),
            next_id: 0,
            log,
            _profile: profile,
        }
    }

    /// Calls a protocol method (on a page's session when given) and returns its result.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: &Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": &params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        if let Err(e) = self.to_browser.write_all(&bytes) {
            panic!("Chromium's pipe closed ({e}) during {method}");
        }
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) if v.get("id").and_then(Value::as_u64) == Some(id) => {
                    if let Some(e) = v.get("error") {
                        panic!("{method}: {e}");
                    }
                    return v.get("result").cloned().unwrap_or(Value::Null);
                }
                Ok(v) => self
                    .events
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push_back(v),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer in {CALL_TIMEOUT:?}"),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{method}: Chromium exited ({}; its output is in {})",
                    self.child
                        .try_wait()
                        .ok()
                        .flatten()
                        .map_or_else(|| "still running".to_string(), |s| s.to_string()),
                    self.log.display()
                ),
            }
        }
    }

    /// A new tab of `width`×`height` CSS pixels, in light or dark colour scheme.
    pub fn page(&mut self, width: u32, height: u32, dark: bool) -> Page<'_> {
        let target = self.call(
            None,
            "Target.createTarget",
            &json!({ "url": "about:blank" }),
        );
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = self.call(
            None,
            "Target.attachToTarget",
            &json!({ "targetId": target_id, "flatten": true }),
        );
        let session = attached["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session for the new tab: {attached}"))
            .to_string();
        // In front: a tab behind another gets no animation frames, and draws nothing.
        self.call(
            None,
            "Target.activateTarget",
            &json!({ "targetId": target_id }),
        );
        let mut page = Page {
            browser: self,
            session,
            target_id,
        };
        page.call("Page.enable", &json!({}));
        page.call("Runtime.enable", &json!({}));
        page.call(
            "Emulation.setDeviceMetricsOverride",
            &json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        );
        page.call(
            "Emulation.setEmulatedMedia",
            &json!({ "features": [{ "name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" } }] }),
        );
        page
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One tab.
#[derive(Debug)]
pub struct Page<'b> {
    browser: &'b mut Browser,
    session: String,
    target_id: String,
}

impl Drop for Page<'_> {
    fn drop(&mut self) {
        let target = json!({ "targetId": self.target_id });
        self.browser.call(None, "Target.closeTarget", &target);
    }
}

impl Page<'_> {
    pub fn call(&mut self, method: &str, params: &Value) -> Value {
        let session = self.session.clone();
        self.browser.call(Some(&session), method, params)
    }

    /// Navigates and waits for the document to load.
    pub fn goto(&mut self, url: &str) {
        self.call("Page.navigate", &json!({ "url": url }));
        self.wait_for(
            "document.readyState === 'complete'",
            Duration::from_secs(20),
        );
    }

    /// Evaluates JavaScript (awaiting a promise) and returns its value.
    pub fn eval(&mut self, js: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            &json!({ "expression": js, "returnByValue": true, "awaitPromise": true }),
        );
        if let Some(e) = r.get("exceptionDetails") {
            panic!("{js}: {e}");
        }
        r["result"].get("value").cloned().unwrap_or(Value::Null)
    }

    /// Waits until `condition` (JavaScript) is truthy; returns its value. Panics with the
    /// condition after `timeout`.
    pub fn wait_for(&mut self, condition: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.eval(&format!(
                "(() => {{ try {{ return ({condition}); }} catch (e) {{ return null; }} }})()"
            ));
            let truthy = match &v {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                panic!("waited {timeout:?} for `{condition}` (it is {v})");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The centre of the first element matching `selector`, scrolled into view.
    pub fn centre(&mut self, selector: &str) -> (f64, f64) {
        let sel = serde_json::to_string(selector).unwrap_or_default();
        let v = self.wait_for(
            &format!(
                "(() => {{ const e = document.querySelector({sel}); if (!e) return null; \
                 e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect(); \
                 return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; }})()"
            ),
            Duration::from_secs(10),
        );
        (v[0].as_f64().unwrap_or(0.0), v[1].as_f64().unwrap_or(0.0))
    }

    /// Clicks the first element matching `selector` with the mouse, as a person would.
    pub fn click(&mut self, selector: &str) {
        let (x, y) = self.centre(selector);
        self.click_at(x, y);
    }

    pub fn click_at(&mut self, x: f64, y: f64) {
        self.mouse("mouseMoved", x, y);
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                &json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Moves the mouse (hover).
    pub fn mouse(&mut self, kind: &str, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            &json!({ "type": kind, "x": x, "y": y }),
        );
    }

    /// Focuses the element and types `text` into it, replacing what it held.
    pub fn fill(&mut self, selector: &str, text: &str) {
        let sel = serde_json::to_string(selector).unwrap_or_default();
        self.wait_for(
            &format!("document.querySelector({sel})"),
            Duration::from_secs(10),
        );
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); e.focus(); e.select && e.select(); }})()"
        ));
        self.call("Input.insertText", &json!({ "text": text }));
        self.eval(&format!(
            "document.querySelector({sel}).dispatchEvent(new Event('change', {{bubbles: true}}))"
        ));
    }

    /// Presses a key (`Tab`, `Enter`) on the focused element.
    pub fn key(&mut self, key: &str) {
        let code = match key {
            "Enter" => 13,
            "Tab" => 9,
            " " => 32,
            _ => 0,
        };
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                &json!({ "type": kind, "key": key, "windowsVirtualKeyCode": code,
                        "text": if kind == "keyDown" && key == "Enter" { "\r" } else { "" } }),
            );
        }
    }

    /// Saves a PNG of the viewport.
    pub fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", &json!({ "format": "png" }));
        let data = base64_decode(shot["data"].as_str().unwrap_or_default());
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, data)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// The console errors and uncaught exceptions seen so far (read while waiting for
    /// replies).
    pub fn errors(&mut self) -> Vec<String> {
        let events = self
            .browser
            .events
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        events
            .iter()
            .filter(|e| e.get("sessionId").and_then(Value::as_str) == Some(self.session.as_str()))
            .filter_map(|e| match e["method"].as_str() {
                Some("Runtime.exceptionThrown") => {
                    Some(e["params"]["exceptionDetails"].to_string())
                }
                Some("Runtime.consoleAPICalled") if e["params"]["type"] == "error" => {
                    Some(e["params"]["args"].to_string())
                }
                _ => None,
            })
            .collect()
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips() {
        assert_eq!(super::base64_decode("aGVsbG8="), b"hello");
        assert_eq!(super::base64_decode("AAEC"), [0, 1, 2]);
    }
}
