//! `plua --fibaro`: QuickApps written the way published ones are (class-based children,
//! `fibaro.setTimeout` chains, `net.HTTPClient` against a local server, UI callbacks) load,
//! reach the end of `onInit` and behave as on a hub.

mod support;

use support::{Output, TempDir, plua, python_server, run};

/// Writes `files` (name, source) into a fresh dir and runs `plua --fibaro <opts> <qas>` there.
fn run_qas(files: &[(&str, &str)], opts: &[&str], qas: &[&str]) -> Output {
    let dir = TempDir::new();
    for (name, source) in files {
        dir.write(name, source);
    }
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .args(["--fibaro", "--no-api"])
        .args(opts)
        .args(qas);
    run(cmd)
}

/// The message parts of the console lines (`[date][time][TYPE][TAG]: message`).
fn messages(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter_map(|line| line.split_once("]: ").map(|(_, m)| m.to_owned()))
        .collect()
}

fn assert_message(out: &Output, wanted: &str) {
    assert!(
        messages(out).iter().any(|m| m == wanted),
        "no console line {wanted:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.stdout,
        out.stderr
    );
}

#[test]
fn a_minimal_quickapp_logs_in_the_hub_format_and_ends_with_its_timers() {
    let out = run_qas(
        &[(
            "minimal.lua",
            "--%%name:Minimal\n--%%save:minimal.fqa\nfunction QuickApp:onInit() self:debug('onInit', self.id, self.name) QuickApp:debug('on the class') self:debug('globals', type(mqtt.Client.connect), type(net.HTTPClient), fibaro.plua ~= nil) end\n",
        )],
        &["-o"],
        &["minimal.lua"],
    );
    out.assert_no_panic().assert_code(0);
    let line = out.stdout.lines().next().unwrap_or_default();
    let shape = regex_like(line);
    assert!(shape, "not a hub console line: {line:?}");
    assert_message(&out, "onInit 5555 Minimal");
    assert_message(&out, "on the class");
    assert_message(&out, "globals function function true");
    out.assert_stderr_contains("packed minimal.lua -> minimal.fqa");
}

/// `[dd.mm.yyyy][hh:mm:ss][DEBUG  ][QUICKAPP5555]: ` without a regex crate.
fn regex_like(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 44
        && b[0] == b'['
        && b[3] == b'.'
        && b[6] == b'.'
        && b[11] == b']'
        && b[12] == b'['
        && b[15] == b':'
        && b[18] == b':'
        && b[22..].starts_with(b"[DEBUG  ][QUICKAPP5555]: ")
}

#[test]
fn header_dialects_give_typed_values_ui_rows_files_and_warnings() {
    let out = run_qas(
        &[
            (
                "dialects.lua",
                "--%%name=\"Quoted Name\"\n\
                 --%%type=com.fibaro.multilevelSwitch\n\
                 --%%u1={button='b1',text='One',onReleased='one'}\n\
                 --%%u2={{button='b2',text='Two',onReleased='two'},{slider='s1',onChanged='slid'}}\n\
                 --%%u:{label='l1',text='hi'}\n\
                 --%%quickVars={x=1, y='two', z={1,2}}\n\
                 --%%var:w=true\n\
                 --%%var:city=Stockholm\n\
                 --%%file:lib/inc.lua,helper\n\
                 --%%file:lib/inc2.lua:helper2\n\
                 --%%bogus:1\n\
                 function QuickApp:onInit()\n\
                   print(self.name, self.type, self:getVariable('x') + 1, self:getVariable('y'), #self:getVariable('z'), self:getVariable('w'))\n\
                   print(helper(), helper2(), self:getVariable('city'))\n\
                   local cbs = {}\n\
                   for _, cb in ipairs(self.properties.uiCallbacks) do cbs[#cbs + 1] = cb.name .. '.' .. cb.eventType .. '=' .. cb.callback end\n\
                   print(table.concat(cbs, ' '))\n\
                 end\n",
            ),
            ("lib/inc.lua", "function helper() return 'inc' end\n"),
            ("lib/inc2.lua", "function helper2() return 'inc2' end\n"),
        ],
        &["-o"],
        &["dialects.lua"],
    );
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "Quoted Name com.fibaro.multilevelSwitch 2 two 2 true");
    assert_message(&out, "inc inc2 Stockholm");
    assert_message(
        &out,
        "b1.onReleased=one b2.onReleased=two s1.onChanged=slid",
    );
    out.assert_stderr_contains("dialects.lua:11: unknown header key 'bogus'");
}

#[test]
fn a_malformed_header_value_is_an_error_naming_file_and_line() {
    let out = run_qas(
        &[(
            "broken.lua",
            "--%%name:Broken\n\n--%%u:{button='b1',\nfunction QuickApp:onInit() end\n",
        )],
        &["-o"],
        &["broken.lua"],
    );
    out.assert_no_panic()
        .assert_stderr_contains("broken.lua:3: bad value for header 'u'");
}

#[test]
fn fqa_exports_of_every_form_load_and_broken_json_is_a_clear_error() {
    let modern = r#"{"name":"Modern","type":"com.fibaro.binarySwitch","apiVersion":"1.3",
      "files":[{"name":"main","isMain":true,"content":"function QuickApp:onInit() print('modern', helper(), self:getVariable('n'), self:getVariable('j').k) end"},
               {"name":"lib","isMain":false,"content":"function helper() return 'lib' end"}],
      "initialProperties":{"quickAppVariables":[{"name":"n","value":5},{"name":"j","value":{"k":"v"}},{"name":"pw","value":"x","type":"password"}],
        "uiCallbacks":[{"name":"b1","eventType":"onReleased","callback":"press"}],"viewLayout":{"$jason":{"body":{"sections":{"items":[]}}}}}}"#;
    let old = r#"{"name":"Old","type":"com.fibaro.binarySwitch","apiVersion":"1.0",
      "initialProperties":{"mainFunction":"function QuickApp:onInit() print('old style', self:getVariable('v')) end",
        "quickAppVariables":[{"name":"v","value":null}]}}"#;
    let out = run_qas(
        &[
            ("modern.fqa", modern),
            ("old.fqa", old),
            ("bad.fqa", "{\"name\": broken\n"),
        ],
        &["-o"],
        &["modern.fqa", "old.fqa", "bad.fqa"],
    );
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "modern lib 5 v");
    assert_message(&out, "old style nil");
    out.assert_stderr_contains("bad.fqa: not valid JSON at line 1");
}

#[test]
fn on_init_runs_after_the_files_load_and_before_top_level_timers() {
    let out = run_qas(
        &[(
            "order.lua",
            "print('top level')\n\
             setTimeout(function() print('timer set at top level') end, 0)\n\
             function QuickApp:onInit() print('onInit') end\n",
        )],
        &["-o"],
        &["order.lua"],
    );
    out.assert_code(0);
    assert_eq!(
        messages(&out),
        vec!["top level", "onInit", "timer set at top level"]
    );
}

#[test]
fn an_error_in_on_init_is_logged_with_file_and_line_and_other_quickapps_run() {
    let out = run_qas(
        &[
            (
                "bad.lua",
                "function QuickApp:onInit()\n  local x = nil\n  return x.field\nend\n",
            ),
            (
                "good.lua",
                "function QuickApp:onInit() fibaro.setTimeout(50, function() self:debug('still running') end) end\n",
            ),
        ],
        &["-o"],
        &["bad.lua", "good.lua"],
    );
    out.assert_no_panic().assert_code(0);
    out.assert_stdout_contains("[ERROR  ][QUICKAPP5555]: bad.lua:3: attempt to index a nil value");
    assert_message(&out, "still running");
}

#[test]
fn update_property_reaches_a_refresh_state_subscriber_and_the_api() {
    let out = run_qas(
        &[(
            "events.lua",
            "function QuickApp:onInit()\n\
               local sub = RefreshStateSubscriber()\n\
               sub:subscribe(function(e) return e.type == 'DevicePropertyUpdatedEvent' and e.data.id == self.id end,\n\
                 function(e) print('event', e.data.property, e.data.newValue) sub:stop() end)\n\
               sub:run()\n\
               self:updateProperty('value', true)\n\
               print('api', api.get('/devices/' .. self.id).properties.value, fibaro.getValue(self.id, 'value'))\n\
             end\n",
        )],
        &["-o"],
        &["events.lua"],
    );
    out.assert_code(0);
    assert_message(&out, "api true true");
    assert_message(&out, "event value true");
}

#[test]
fn fibaro_call_with_no_one_and_several_arguments_to_self_another_quickapp_and_a_child() {
    let out = run_qas(
        &[
            (
                "caller.lua",
                "--%%name:Caller\n\
                 class 'Child'(QuickAppChild)\n\
                 function Child:__init(d) QuickAppChild.__init(self, d) end\n\
                 function Child:ping(a, b) self:debug('child ping', a, b) end\n\
                 function QuickApp:onInit()\n\
                   local child = self:createChildDevice({name = 'Kid', type = 'com.fibaro.binarySwitch'}, Child)\n\
                   fibaro.call(self.id, 'none')\n\
                   fibaro.call(self.id, 'one', 1)\n\
                   fibaro.call(self.id, 'several', 1, 'two', {3})\n\
                   fibaro.setTimeout(0, function() fibaro.call(5556 + 1, 'remote', 'hello') end)\n\
                   fibaro.call(child.id, 'ping', 'a', 'b')\n\
                 end\n\
                 function QuickApp:none(...) self:debug('none', select('#', ...)) end\n\
                 function QuickApp:one(a) self:debug('one', a) end\n\
                 function QuickApp:several(a, b, c) self:debug('several', a, b, c[1]) end\n",
            ),
            (
                "callee.lua",
                "--%%name:Callee\nfunction QuickApp:remote(msg) self:debug('remote', self.id, msg) end\n",
            ),
        ],
        &["-o"],
        &["caller.lua", "callee.lua"],
    );
    out.assert_no_panic().assert_code(0);
    for wanted in [
        "none 0",
        "one 1",
        "several 1 two 3",
        "remote 5557 hello",
        "child ping a b",
    ] {
        assert_message(&out, wanted);
    }
}

#[test]
fn a_parent_with_three_child_types_finds_them_through_the_api_and_routes_actions_and_ui() {
    let out = run_qas(
        &[(
            "parent.lua",
            "--%%name:Parent\n--%%type:com.fibaro.deviceController\n\
             class 'Lamp'(QuickAppChild)\n\
             function Lamp:__init(d) QuickAppChild.__init(self, d) end\n\
             function Lamp:turnOn() self:updateProperty('value', true) self:debug('lamp on', self.id) end\n\
             class 'Dimmer'(QuickAppChild)\n\
             function Dimmer:__init(d) QuickAppChild.__init(self, d) end\n\
             function Dimmer:setValue(v) self:updateProperty('value', v) end\n\
             class 'Sensor'(QuickAppChild)\n\
             function Sensor:__init(d) QuickAppChild.__init(self, d) self:registerUICallback('reset', 'onReleased', 'onReset') end\n\
             function Sensor:onReset() self:debug('sensor reset', self.id) end\n\
             function QuickApp:onInit()\n\
               self:initChildDevices({['com.fibaro.binarySwitch'] = Lamp, ['com.fibaro.multilevelSwitch'] = Dimmer, ['com.fibaro.temperatureSensor'] = Sensor})\n\
               local lamp = self:createChildDevice({name = 'Lamp', type = 'com.fibaro.binarySwitch'}, Lamp)\n\
               local dim = self:createChildDevice({name = 'Dim', type = 'com.fibaro.multilevelSwitch'}, Dimmer)\n\
               local sensor = self:createChildDevice({name = 'Temp', type = 'com.fibaro.temperatureSensor', initialInterfaces = {'battery'}}, Sensor)\n\
               local kids = api.get('/devices?parentId=' .. self.id)\n\
               print('children', #kids, kids[1].name, kids[2].name, kids[3].name, sensor:hasInterface('battery'), sensor:hasInterface('quickAppChild'))\n\
               fibaro.call(lamp.id, 'turnOn')\n\
               api.post('/devices/' .. dim.id .. '/action/setValue', {args = {42}})\n\
               api.post('/plugins/callUIEvent', {deviceID = sensor.id, elementName = 'reset', eventType = 'onReleased', values = {}})\n\
               fibaro.setTimeout(50, function()\n\
                 print('values', fibaro.getValue(lamp.id, 'value'), fibaro.getValue(dim.id, 'value'), #self.childDevices == 0)\n\
                 print('by type', #api.get('/devices?type=com.fibaro.multilevelSwitch'), #api.get('/devices?interface=battery'))\n\
               end)\n\
             end\n",
        )],
        &["-o"],
        &["parent.lua"],
    );
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "children 3 Lamp Dim Temp true true");
    assert_message(&out, "lamp on 5556");
    assert_message(&out, "sensor reset 5558");
    assert_message(&out, "values true 42 true");
    assert_message(&out, "by type 1 1");
}

#[test]
fn set_variable_and_internal_storage_show_through_the_api_with_the_hub_status_codes() {
    let out = run_qas(
        &[(
            "store.lua",
            "function QuickApp:onInit()\n\
               self:setVariable('mode', 'auto')\n\
               local vars = api.get('/devices/' .. self.id).properties.quickAppVariables\n\
               print('variable', vars[1].name, vars[1].value, self:getVariable('mode'), self:getVariable('missing') == '')\n\
               print('set', self:internalStorageSet('k', {a = 1}), self:internalStorageSet('k', 2))\n\
               print('get', self:internalStorageGet('k'), self:internalStorageGet('nope'))\n\
               local list = api.get('/plugins/' .. self.id .. '/variables')\n\
               print('listed', #list, list[1].name)\n\
               print('remove', self:internalStorageRemove('k'), self:internalStorageRemove('k'), self:internalStorageClear())\n\
             end\n",
        )],
        &["-o"],
        &["store.lua"],
    );
    out.assert_code(0);
    assert_message(&out, "variable mode auto auto true");
    assert_message(&out, "set 201 200");
    assert_message(&out, "get 2 nil");
    assert_message(&out, "listed 1 k");
    assert_message(&out, "remove 200 404 200");
}

#[test]
fn speed_3600_makes_a_one_hour_fibaro_timeout_fire_in_about_a_second() {
    let out = run_qas(
        &[(
            "speedy.lua",
            "function QuickApp:onInit()\n\
               local t0 = os.time()\n\
               fibaro.setTimeout(3600 * 1000, function() print('elapsed', os.time() - t0 >= 3600 and os.time() - t0 < 7200) end)\n\
             end\n",
        )],
        &["-o", "--speed", "3600"],
        &["speedy.lua"],
    );
    out.assert_code(0);
    assert_message(&out, "elapsed true");
    assert!(
        out.elapsed < std::time::Duration::from_secs(10),
        "{:?}",
        out.elapsed
    );
}

#[test]
fn a_cloud_poller_reads_a_local_http_server_with_a_set_timeout_chain() {
    let (_server, port) = python_server(
        "
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_GET(self):
        H.n += 1
        body = json.dumps({'temperature': 20 + H.n}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
",
        &[],
    );
    let qa = format!(
        "--%%name:Weather\n--%%type:com.fibaro.temperatureSensor\n\
         --%%var:url=\"http://127.0.0.1:{port}/now\"\n\
         function QuickApp:poll(left)\n\
           self.http:request(self:getVariable('url'), {{\n\
             options = {{method = 'GET', timeout = 2000}},\n\
             success = function(resp)\n\
               local data = json.decode(resp.data)\n\
               self:updateProperty('value', data.temperature)\n\
               self:debug('status', resp.status, 'temperature', data.temperature)\n\
               if left > 1 then fibaro.setTimeout(10, function() self:poll(left - 1) end) end\n\
             end,\n\
             error = function(err) self:error('poll failed', err) end,\n\
           }})\n\
         end\n\
         function QuickApp:onInit()\n\
           self.http = net.HTTPClient({{timeout = 2000}})\n\
           self:poll(3)\n\
         end\n"
    );
    let out = run_qas(&[("weather.lua", &qa)], &["-o"], &["weather.lua"]);
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "status 200 temperature 21");
    assert_message(&out, "status 200 temperature 23");
}

#[test]
fn offline_hub_endpoints_answer_with_the_hub_shapes() {
    let out = run_qas(
        &[(
            "hub.lua",
            "function QuickApp:onInit()\n\
               local function show(label, data, status) print(label, status, type(data) == 'table' and json.encode(data):sub(1, 1) or tostring(data)) end\n\
               show('info', api.get('/settings/info'))\n\
               print('info fields', api.get('/settings/info').serialNumber ~= nil, api.get('/settings/info').softVersion ~= nil, api.get('/settings/info').defaultLanguage)\n\
               show('location', api.get('/settings/location'))\n\
               show('home', api.get('/home'))\n\
               show('weather', api.get('/weather'))\n\
               show('rooms', api.get('/rooms'))\n\
               show('sections', api.get('/sections'))\n\
               show('globals empty', api.get('/globalVariables'))\n\
               show('create', api.post('/globalVariables', {name = 'G', value = '1'}))\n\
               show('trailing slash', api.get('/globalVariables/'))\n\
               fibaro.setGlobalVariable('G', 'two')\n\
               print('global', (fibaro.getGlobalVariable('G')))\n\
               show('custom event', api.post('/customEvents', {name = 'Ping', userDescription = 'd'}))\n\
               fibaro.emitCustomEvent('Ping')\n\
               show('panels', api.get('/panels/location'))\n\
               show('notifications', api.get('/notificationCenter'))\n\
               show('partitions', api.get('/alarms/v1/partitions'))\n\
               show('profiles', api.get('/profiles'))\n\
               print('device 1', api.get('/devices/1').properties.sunriseHour:match('^%d%d:%d%d$') ~= nil)\n\
               local refresh = api.get('/refreshStates?last=0')\n\
               local kinds = {}\n\
               for _, e in ipairs(refresh.events) do kinds[e.type] = true end\n\
               print('refresh', refresh.status, refresh.last > 0, kinds.GlobalVariableChangedEvent, kinds.CustomEvent)\n\
               show('unknown', api.get('/no/such/thing'))\n\
               show('missing device', api.get('/devices/9999'))\n\
             end\n",
        )],
        &["-o"],
        &["hub.lua"],
    );
    out.assert_no_panic().assert_code(0);
    for wanted in [
        "info 200 {",
        "info fields true true en",
        "location 200 {",
        "home 200 {",
        "weather 200 {",
        "rooms 200 [",
        "sections 200 [",
        "globals empty 200 [",
        "create 201 {",
        "trailing slash 200 [",
        "global two",
        "custom event 201 {",
        "panels 200 [",
        "notifications 200 [",
        "partitions 200 [",
        "profiles 200 {",
        "device 1 true",
        "refresh IDLE true true true",
        "unknown 501 {",
        "missing device 404 {",
    ] {
        assert_message(&out, wanted);
    }
}

#[test]
fn online_mode_forwards_unhandled_routes_with_basic_auth_and_a_slow_hub_blocks_only_its_caller() {
    let (_hub, port) = python_server(
        "
import http.server, json, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith('/api/slow'):
            time.sleep(0.6)
        body = json.dumps({'path': self.path, 'auth': self.headers.get('Authorization')}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
",
        &[],
    );
    let dir = TempDir::new();
    dir.write(
        "online.lua",
        "function QuickApp:onInit()\n\
           local data, status = api.get('/settings/info')\n\
           print('forwarded', status, data.path, data.auth)\n\
           local ticks = 0\n\
           local ticker = setInterval(function() ticks = ticks + 1 end, 50)\n\
           local slow = api.get('/slow/call')\n\
           clearInterval(ticker)\n\
           print('slow', slow.path, ticks >= 3)\n\
         end\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env("HC3_URL", format!("http://127.0.0.1:{port}"))
        .env("HC3_USER", "admin")
        .env("HC3_PASSWORD", "secret")
        .args(["--fibaro", "--no-api", "online.lua"]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0);
    // base64("admin:secret")
    assert_message(
        &out,
        "forwarded 200 /api/settings/info Basic YWRtaW46c2VjcmV0",
    );
    assert_message(&out, "slow /api/slow/call true");
}

#[test]
fn online_mode_without_a_configured_hub_is_an_error_on_the_call_not_at_start() {
    let dir = TempDir::new();
    dir.write(
        "nohub.lua",
        "function QuickApp:onInit()\n\
           local data, status = api.get('/settings/info')\n\
           print('answer', status, data.reason:match('no HC3 configured') ~= nil)\n\
         end\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env_remove("HC3_URL")
        .args(["--fibaro", "--no-api", "nohub.lua"]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "answer 503 true");
}

#[test]
fn a_ui_remote_handles_buttons_sliders_selects_and_updates_its_view() {
    let out = run_qas(
        &[(
            "remote.lua",
            "--%%name:Remote\n\
             --%%u:{label='status',text='ready'}\n\
             --%%u:{{button='power',text='Power',onReleased='power',onLongPressDown='hold'},{switch='mute',text='Mute',onReleased='mute'}}\n\
             --%%u:{slider='volume',text='Volume',min=0,max=100,onChanged='volume'}\n\
             --%%u:{select='input',text='Input',onToggled='input',options={{text='TV',type='option',value='tv'},{text='Radio',type='option',value='radio'}}}\n\
             --%%u:{multi='rooms',text='Rooms',onToggled='rooms',options={}}\n\
             function QuickApp:power(ev) self:debug('power', ev.eventType) self:updateView('status', 'text', 'on') end\n\
             function QuickApp:hold(ev) self:debug('hold', ev.eventType) end\n\
             function QuickApp:mute(ev) self:debug('mute', tostring(ev.values[1])) end\n\
             function QuickApp:volume(ev) self:debug('volume', ev.values[1]) self:updateView('volume', 'value', tostring(ev.values[1])) end\n\
             function QuickApp:input(ev) self:debug('input', ev.values[1]) self:updateView('input', 'selectedItem', ev.values[1]) end\n\
             function QuickApp:rooms(ev) self:debug('rooms', #ev.values[1]) end\n\
             function QuickApp:onInit()\n\
               local function ui(element, kind, ...) api.post('/plugins/callUIEvent', {deviceID = self.id, elementName = element, eventType = kind, values = {...}}) end\n\
               ui('power', 'onReleased')\n\
               ui('power', 'onLongPressDown')\n\
               ui('mute', 'onReleased', true)\n\
               ui('volume', 'onChanged', 35)\n\
               ui('input', 'onToggled', 'radio')\n\
               ui('rooms', 'onToggled', {'kitchen', 'hall'})\n\
               ui('nothing', 'onReleased')\n\
               fibaro.setTimeout(50, function()\n\
                 local view = api.get('/plugins/getView?id=' .. self.id)\n\
                 print('view', view.state.status.text, view.state.volume.value, view.state.input.selectedItem, #view.rows)\n\
                 local refresh = api.get('/refreshStates?last=0')\n\
                 local changed = 0\n\
                 for _, e in ipairs(refresh.events) do if e.type == 'PluginChangedViewEvent' then changed = changed + 1 end end\n\
                 print('view events', changed)\n\
               end)\n\
             end\n",
        )],
        &["-o"],
        &["remote.lua"],
    );
    out.assert_no_panic().assert_code(0);
    for wanted in [
        "power onReleased",
        "hold onLongPressDown",
        "mute true",
        "volume 35",
        "input radio",
        "rooms 2",
        "UI callback for element nothing not found.",
        "view on 35 radio 5",
        "view events 3",
    ] {
        assert_message(&out, wanted);
    }
}

#[test]
fn a_tcp_gateway_quickapp_talks_to_a_local_peer_with_net_tcp_socket() {
    let (_peer, port) = python_server(
        "
import socket
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
f = c.makefile('rwb')
for line in f:
    cmd = line.decode().strip()
    f.write(('OK ' + cmd.upper() + '\\n').encode())
    f.flush()
    if cmd == 'bye':
        break
",
        &[],
    );
    let qa = format!(
        "--%%name:Gateway\n--%%var:port={port}\n\
         function QuickApp:send(cmd, next_step)\n\
           self.sock:write(cmd .. '\\n', {{\n\
             success = function()\n\
               self.sock:readUntil('\\n', {{\n\
                 success = function(reply) self:debug('reply', reply) if next_step then next_step() end end,\n\
                 error = function(err) self:error('read', err) end,\n\
               }})\n\
             end,\n\
             error = function(err) self:error('write', err) end,\n\
           }})\n\
         end\n\
         function QuickApp:onInit()\n\
           self.sock = net.TCPSocket({{timeout = 2000}})\n\
           self.sock:connect('127.0.0.1', self:getVariable('port'), {{\n\
             success = function()\n\
               self:debug('connected')\n\
               self:send('status', function() self:send('bye', function() self.sock:close() end) end)\n\
             end,\n\
             error = function(err) self:error('connect', err) end,\n\
           }})\n\
         end\n"
    );
    let out = run_qas(&[("gateway.lua", &qa)], &["-o"], &["gateway.lua"]);
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "connected");
    assert_message(&out, "reply OK STATUS");
    assert_message(&out, "reply OK BYE");
}

#[test]
fn quickapps_share_global_variables_and_custom_events_through_the_hub() {
    let out = run_qas(
        &[
            (
                "writer.lua",
                "--%%name:Writer\n\
                 function QuickApp:onInit()\n\
                   api.post('/globalVariables', {name = 'Mode', value = 'day'})\n\
                   api.post('/customEvents', {name = 'Doorbell', userDescription = 'front'})\n\
                   fibaro.setTimeout(30, function()\n\
                     fibaro.setGlobalVariable('Mode', 'night')\n\
                     fibaro.emitCustomEvent('Doorbell')\n\
                   end)\n\
                 end\n",
            ),
            (
                "watcher.lua",
                "--%%name:Watcher\n\
                 function QuickApp:onInit()\n\
                   local seen = 0\n\
                   self.sub = RefreshStateSubscriber()\n\
                   self.sub:subscribe(function(e) return e.type == 'GlobalVariableChangedEvent' or e.type == 'CustomEvent' end,\n\
                     function(e)\n\
                       seen = seen + 1\n\
                       self:debug(e.type, e.data.variableName or e.data.name, e.data.newValue or e.data.value)\n\
                       if seen == 2 then self:debug('global now', (fibaro.getGlobalVariable('Mode'))) self.sub:stop() end\n\
                     end)\n\
                   self.sub:run()\n\
                 end\n",
            ),
        ],
        &["-o"],
        &["writer.lua", "watcher.lua"],
    );
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "GlobalVariableChangedEvent Mode night");
    assert_message(&out, "CustomEvent Doorbell front");
    assert_message(&out, "global now night");
}

#[test]
fn an_unreachable_hub_is_an_error_answer_and_the_quickapp_keeps_running() {
    let dir = TempDir::new();
    dir.write(
        "unreachable.lua",
        "function QuickApp:onInit()\n\
           local data, status = api.get('/settings/info')\n\
           print('answer', status, type(data.reason))\n\
           fibaro.setTimeout(20, function() print('still running') end)\n\
         end\n",
    );
    let mut cmd = plua();
    cmd.current_dir(dir.path())
        .env(
            "HC3_URL",
            format!("http://127.0.0.1:{}", support::free_port()),
        )
        .args(["--fibaro", "--no-api", "unreachable.lua"]);
    let out = run(cmd);
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "answer 503 string");
    assert_message(&out, "still running");
}

#[test]
fn plugin_restart_runs_the_quickapp_again_on_the_same_device() {
    let out = run_qas(
        &[(
            "restart.lua",
            "RUNS = (RUNS or 0) + 1\n\
             function QuickApp:onInit()\n\
               local count = tonumber(self:getVariable('runs')) or 0\n\
               self:setVariable('runs', count + 1)\n\
               print('onInit', self.id, count + 1)\n\
               if count == 0 then fibaro.setTimeout(10, function() plugin.restart() end) end\n\
             end\n",
        )],
        &["-o"],
        &["restart.lua"],
    );
    out.assert_no_panic().assert_code(0);
    assert_message(&out, "onInit 5555 1");
    assert_message(&out, "onInit 5555 2");
}
