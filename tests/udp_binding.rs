//! Where UDP sockets bind when the script names no address: loopback, never every interface.
//! The local addresses are read from the kernel (`/proc/net/udp`, matched to the plua process
//! by socket inode), not from what plua reports about itself.

mod support;

use std::collections::HashSet;

use support::{PY_UDP_ECHO, Running, TempDir, python_server};

/// The local addresses (`ip:port`) of the IPv4 UDP sockets process `pid` has open.
fn udp_local_addresses(pid: u32) -> Vec<String> {
    let mut inodes = HashSet::new();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("read the fds of plua");
    for fd in fds.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                inodes.insert(inode.to_owned());
            }
        }
    }
    let table = std::fs::read_to_string("/proc/net/udp").expect("read /proc/net/udp");
    let mut addresses = Vec::new();
    for row in table.lines().skip(1) {
        let columns: Vec<&str> = row.split_whitespace().collect();
        if columns.len() < 10 || !inodes.contains(columns[9]) {
            continue;
        }
        let (ip, port) = columns[1].split_once(':').expect("address column");
        let ip = u32::from_str_radix(ip, 16).expect("hex ip");
        let port = u16::from_str_radix(port, 16).expect("hex port");
        // /proc prints the address in host byte order (little-endian here).
        let ip = std::net::Ipv4Addr::from(ip.to_le_bytes());
        addresses.push(format!("{ip}:{port}"));
    }
    addresses
}

/// Runs `script` (which prints "ready" once its sockets are open and then stays alive) and
/// returns its stdout and the local addresses of its UDP sockets at that point.
fn addresses_once_ready(script: &str) -> (String, Vec<String>) {
    let dir = TempDir::new();
    dir.write("udp.lua", script);
    let mut plua = Running::script(&dir, &[], "udp.lua");
    plua.wait_for_stdout("ready");
    let addresses = udp_local_addresses(plua.pid());
    let out = plua.kill_and_collect();
    (out.stdout, addresses)
}

#[test]
fn udp_bind_without_a_host_listens_on_loopback_only() {
    let (stdout, addresses) = addresses_once_ready(
        r#"
_PY.udp_bind(nil, 0, function(ok, id, msg, port)
  print(ok, msg)
  print("port=" .. port)
  print("ready")
end)
"#,
    );
    let port = stdout
        .lines()
        .find_map(|line| line.strip_prefix("port="))
        .expect("port line");
    assert!(
        stdout.contains(&format!("true\tUDP socket bound to 127.0.0.1:{port}")),
        "{stdout}"
    );
    assert_eq!(addresses, vec![format!("127.0.0.1:{port}")], "{stdout}");
}

#[test]
fn udp_bind_listens_on_every_interface_only_when_asked_with_0_0_0_0() {
    let (stdout, addresses) = addresses_once_ready(
        r#"
local id, port = _PY.udp_bind("0.0.0.0", 0)
print("port=" .. port)
print("ready")
"#,
    );
    let port = stdout
        .lines()
        .find_map(|line| line.strip_prefix("port="))
        .expect("port line");
    assert_eq!(addresses, vec![format!("0.0.0.0:{port}")], "{stdout}");
}

#[test]
fn net_udp_socket_first_used_to_receive_binds_loopback() {
    let (stdout, addresses) = addresses_once_ready(
        r#"
local net = require("net")
local sock = net.UDPSocket()
sock:receive({ success = function() end, error = function() end })
print("ready")
"#,
    );
    assert_eq!(addresses.len(), 1, "{addresses:?} {stdout}");
    assert!(addresses[0].starts_with("127.0.0.1:"), "{addresses:?}");
}

#[test]
fn net_udp_socket_sending_to_a_local_peer_binds_loopback_and_gets_the_reply() {
    let (peer, port) = python_server(PY_UDP_ECHO, &[]);
    let (stdout, addresses) = addresses_once_ready(&format!(
        r#"
local net = require("net")
local sock = net.UDPSocket({{ timeout = 5000 }})
sock:sendTo("hello", "127.0.0.1", {port}, {{ error = function(m) print("send error", m) end }})
sock:receive({{
  success = function(data, ip, port) print("reply", data, ip) print("ready") end,
  error = function(m) print("receive error", m) print("ready") end,
}})
"#
    ));
    drop(peer);
    assert!(stdout.contains("reply\techo:hello\t127.0.0.1"), "{stdout}");
    assert_eq!(addresses.len(), 1, "{addresses:?} {stdout}");
    assert!(addresses[0].starts_with("127.0.0.1:"), "{addresses:?}");
}

#[test]
fn udp_connect_to_a_loopback_peer_is_bound_to_loopback() {
    let (peer, port) = python_server(PY_UDP_ECHO, &[]);
    let (stdout, addresses) = addresses_once_ready(&format!(
        r#"
_PY.udp_connect("127.0.0.1", {port}, function(ok, id)
  _PY.udp_write(id, "ping", function()
    _PY.udp_read(id, 100, function(ok, data) print("reply", data) print("ready") end)
  end)
end)
"#
    ));
    drop(peer);
    assert!(stdout.contains("reply\techo:ping"), "{stdout}");
    assert_eq!(addresses.len(), 1, "{addresses:?} {stdout}");
    assert!(addresses[0].starts_with("127.0.0.1:"), "{addresses:?}");
}

#[test]
fn the_udp_socket_of_a_finished_script_is_gone() {
    // Guards the helper: a script whose socket is closed leaves no UDP socket behind.
    let (_, addresses) = addresses_once_ready(
        r#"
local id = _PY.udp_bind(nil, 0)
_PY.udp_close(id)
print("ready")
setTimeout(function() end, 60000)
"#,
    );
    assert!(addresses.is_empty(), "{addresses:?}");
}
