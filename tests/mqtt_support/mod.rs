//! A real `mosquitto` broker for the MQTT tests: started on free 127.0.0.1 ports from a
//! generated config with three listeners (anonymous plain TCP, TLS with the test PKI, and
//! plain TCP with a password file made by `mosquitto_passwd -b`), killed when dropped.
//! `set_tcp_nodelay` keeps the broker's small packets from waiting for our delayed ACKs
//! (40 ms each otherwise).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{Output, Pki, Running, TempDir, free_port, run_script, wait_until_accepting};

/// The user and password the broker's password listener accepts.
pub const USER: &str = "alice";
pub const PASSWORD: &str = "wonderland";

/// The mosquitto binary (Debian puts it in /usr/sbin, often not on PATH), if installed.
pub fn mosquitto_binary() -> Option<String> {
    if Path::new("/usr/sbin/mosquitto").exists() {
        return Some("/usr/sbin/mosquitto".to_owned());
    }
    let found = Command::new("sh")
        .args(["-c", "command -v mosquitto"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    (found.status.success() && !path.is_empty()).then_some(path)
}

/// A running broker.
pub struct Broker {
    /// Anonymous plain-TCP listener.
    pub port: u16,
    /// TLS listener (certificate from `pki`, valid for localhost and 127.0.0.1).
    pub tls_port: u16,
    /// Plain-TCP listener that wants `USER` / `PASSWORD`.
    pub auth_port: u16,
    pub pki: Pki,
    process: Running,
    _dir: TempDir,
}

impl Broker {
    /// Starts a broker, or prints why not and returns None when mosquitto is not installed
    /// (CI installs it, see .ci/run).
    pub fn start() -> Option<Broker> {
        let Some(binary) = mosquitto_binary() else {
            println!(
                "skipped: mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"
            );
            return None;
        };
        let dir = TempDir::new();
        let pki = Pki::new();
        let password_file = dir.path().join("passwords");
        let made = Command::new("mosquitto_passwd")
            .arg("-c")
            .arg("-b")
            .arg(&password_file)
            .args([USER, PASSWORD])
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_passwd (package mosquitto)");
        assert!(
            made.status.success(),
            "mosquitto_passwd failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let (port, tls_port, auth_port) = (free_port(), free_port(), free_port());
        let config = format!(
            "user root\npersistence false\nper_listener_settings true\nlog_dest stderr\n\
             log_type error\nlog_type warning\nlog_type notice\nlog_type information\n\
             log_type subscribe\nset_tcp_nodelay true\n\
             listener {port} 127.0.0.1\nallow_anonymous true\n\
             listener {tls_port} 127.0.0.1\nallow_anonymous true\ncertfile {cert}\nkeyfile {key}\n\
             listener {auth_port} 127.0.0.1\nallow_anonymous false\npassword_file {pw}\n",
            cert = pki.path("server.pem"),
            key = pki.path("server.key"),
            pw = password_file.display(),
        );
        let conf = dir.write("mosquitto.conf", &config);
        let mut cmd = Command::new(binary);
        cmd.arg("-c").arg(conf);
        let mut process = Running::start(cmd, false);
        for p in [port, tls_port, auth_port] {
            if !wait_until_accepting(p, Duration::from_secs(10)) {
                let running = process.is_running();
                panic!(
                    "mosquitto is not accepting on port {p} (running: {running})\n{}",
                    process.stderr_text()
                );
            }
        }
        Some(Broker {
            port,
            tls_port,
            auth_port,
            pki,
            process,
            _dir: dir,
        })
    }

    /// What the broker logged so far.
    pub fn log(&self) -> String {
        self.process.stderr_text()
    }

    /// Kills the broker (SIGKILL: no goodbye to its clients).
    pub fn kill(self) {
        drop(self.process.kill_and_collect());
    }

    /// `mosquitto_sub -F '%q %r %t %p' -t topic -q qos -C count` (prints one line per message:
    /// QoS, retain flag, topic, payload; exits after `count`), started and waited for until the
    /// broker has its subscription (from the broker's log: mosquitto_sub's own output is
    /// block-buffered in a pipe).
    pub fn subscriber(&mut self, topic: &str, qos: u8, count: usize) -> Running {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let id = format!("sub-{}", NEXT.fetch_add(1, Ordering::SeqCst));
        let mut cmd = Command::new("mosquitto_sub");
        cmd.args([
            "-h",
            "127.0.0.1",
            "-i",
            &id,
            "-F",
            "%q %r %t %p",
            "-t",
            topic,
        ])
        .args(["-q", &qos.to_string(), "-C", &count.to_string(), "-W", "15"])
        .args(["-p", &self.port.to_string()]);
        let sub = Running::start(cmd, false);
        self.process
            .wait_for_count(&format!(" {id} {qos} {topic}"), 1, true);
        sub
    }

    /// Runs `mosquitto_pub -t topic -m payload -q qos [extra]` against the plain listener.
    pub fn publish(&self, topic: &str, payload: &str, qos: u8, extra: &[&str]) {
        let out = Command::new("mosquitto_pub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-t", topic, "-m", payload, "-q", &qos.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("run mosquitto_pub (package mosquitto-clients)");
        assert!(
            out.status.success(),
            "mosquitto_pub failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The message lines of a `subscriber` run.
pub fn messages(sub: &Output) -> Vec<String> {
    sub.stdout.lines().map(str::to_owned).collect()
}

/// Lua lines every script starts with: the module, the broker port (first script argument)
/// and `watch(client, tag)`, which prints the client's `error` and `closed` events.
pub const PRELUDE: &str = r#"
local mqtt = require("mqtt")
local PORT = tonumber(arg[1])
local function watch(client, tag)
  tag = tag and (tag .. " ") or ""
  client:addEventListener("error", function(e) print(tag .. "error " .. e.code .. " " .. e.message) end)
  client:addEventListener("closed", function(e) print(tag .. "closed " .. tostring(e.reason)) end)
end
"#;

/// Runs `PRELUDE .. body` with `args` (the first is the broker port).
pub fn run_mqtt(body: &str, args: &[&str]) -> Output {
    run_script(&format!("{PRELUDE}{body}"), args)
}

/// Starts `PRELUDE .. body` with `args` and returns it running.
pub fn start_mqtt(body: &str, args: &[&str]) -> (TempDir, Running) {
    let dir = TempDir::new();
    dir.write("script.lua", &format!("{PRELUDE}{body}"));
    let running = Running::script_with_args(&dir, "script.lua", args);
    (dir, running)
}
