//! The original's HC3 event queue in `_PY`: `addEvent` / `getEvents` (a ring of the last 1000
//! in the refreshStates shape) and `pollRefreshStates` against a refreshStates endpoint that a
//! plua HTTP server in the same script serves.

mod support;

use support::run_script;

#[test]
fn add_event_and_get_events_keep_the_last_thousand_in_the_refresh_states_shape() {
    let out = run_script(
        r#"
for i = 1, 1005 do _PY.addEvent({ type = "DevicePropertyUpdatedEvent", data = { id = i } }) end
local r = _PY.getEvents(1000)
print(r.status, #r.events, r.last, r.events[1].data.id, #r.changes)
print(math.type(r.timestamp), math.type(r.timestampMillis), r.timestampMillis // 1000 - r.timestamp <= 1)
print(#_PY.getEvents().events, _PY.getEvents(0).events[1].data.id)
print(_PY.addEvent('{"type":"CustomEvent"}').event_count, _PY.getEvents(1005).events[1].type)
print(_PY.addEvent("not json").status, _PY.addEventFromLua('{"type":"X"}').status)
local seen
_PY.newRefreshStatesEvent = function(json) seen = json end
_PY.addEvent({ type = "Hooked" })
print(seen)
print(pcall(_PY.addEvent, 42))
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic();
    let lines = out.lines();
    assert_eq!(lines[0], "IDLE\t5\t1005\t1001\t0");
    assert_eq!(lines[1], "integer\tinteger\ttrue");
    assert_eq!(lines[2], "1000\t6");
    assert_eq!(lines[3], "1006\tCustomEvent");
    assert_eq!(lines[4], "error\tadded");
    assert_eq!(lines[5], r#"{"type":"Hooked"}"#);
    assert!(
        lines[6].starts_with("false\t") && lines[6].contains("addEvent: bad argument #1"),
        "{lines:?}"
    );
}

#[test]
fn poll_refresh_states_adds_the_events_of_each_answer_until_stopped() {
    let out = run_script(
        r#"
local id, port
id, port = _PY.http_server_start("127.0.0.1", 0, function(req)
  local last = tonumber(req.query.last) or 0
  if last >= 3 then
    _PY.stopRefreshStates()
    _PY.http_server_stop(id)
    print("stopped", _PY.getRefreshStatesStatus().running)
    local r = _PY.getEvents(0)
    for _, e in ipairs(r.events) do print("event", e.type, e.n) end
    return 200, { last = last, events = {} }
  end
  return 200, { last = last + 1, events = { { type = "E", n = last } } }
end)
print(_PY.pollRefreshStates(0, "http://127.0.0.1:" .. port .. "/api/refreshStates?last=", {}).status)
print("running", _PY.getRefreshStatesStatus().running)
"#,
        &[],
    );
    out.assert_code(0).assert_no_panic().assert_lines(&[
        "started",
        "running\ttrue",
        "stopped\tfalse",
        "event\tE\t0",
        "event\tE\t1",
        "event\tE\t2",
    ]);
}
