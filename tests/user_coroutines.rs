//! Waiting calls (`_PY.sleep`, sync sockets, `http_request_sync`) inside a script's own
//! coroutines suspend the whole task and come back: a `coroutine.wrap` generator that sleeps
//! still yields its values in order to its caller, and a resume loop the script drives sees
//! only the script's own yields.

mod support;

use support::{python_server, run_script};

#[test]
fn a_generator_that_sleeps_yields_its_values_in_order() {
    let out = run_script(
        "local gen = coroutine.wrap(function()\n\
           for i = 1, 3 do\n\
             _PY.sleep(0.01)\n\
             coroutine.yield(i)\n\
           end\n\
           return 'done'\n\
         end)\n\
         print(gen(), gen(), gen(), gen())\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["1\t2\t3\tdone"]);
}

#[test]
fn a_resume_loop_driven_by_the_script_sees_only_its_own_yields() {
    let out = run_script(
        "local co = coroutine.create(function(a)\n\
           local b = coroutine.yield(a + 1)\n\
           _PY.sleep(0.01)\n\
           local c = coroutine.yield(b * 2)\n\
           _PY.sleep(0.01)\n\
           return c .. '!'\n\
         end)\n\
         print(coroutine.resume(co, 1))\n\
         print(coroutine.resume(co, 5))\n\
         print(coroutine.resume(co, 'end'))\n\
         print(coroutine.status(co), coroutine.resume(co))\n",
        &[],
    );
    out.assert_code(0).assert_lines(&[
        "true\t2",
        "true\t10",
        "true\tend!",
        "dead\tfalse\tcannot resume dead coroutine",
    ]);
}

#[test]
fn nested_generators_in_a_timer_callback_wait_and_compose() {
    let out = run_script(
        "setTimeout(function()\n\
           local outer = coroutine.wrap(function()\n\
             local inner = coroutine.wrap(function()\n\
               _PY.sleep(0.01) coroutine.yield('in')\n\
             end)\n\
             coroutine.yield(inner() .. '+out')\n\
           end)\n\
           print(outer())\n\
         end, 0)\n\
         setTimeout(function() print('other timer') end, 1)\n",
        &[],
    );
    // The other timer runs while the generator's task sleeps.
    out.assert_code(0).assert_lines(&["other timer", "in+out"]);
}

#[test]
fn a_sync_socket_read_inside_a_generator_returns_to_the_generator() {
    let (_peer, port) = python_server(
        "
import socket, time
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen()
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
time.sleep(0.1)
c.sendall(b'hello')
time.sleep(2)
",
        &[],
    );
    let out = run_script(
        &format!(
            "local lines = coroutine.wrap(function()\n\
               local ok, id = _PY.tcp_connect_sync('127.0.0.1', {port})\n\
               coroutine.yield('connected ' .. tostring(ok))\n\
               local ok, data = _PY.tcp_read_sync(id, 5)\n\
               coroutine.yield('read ' .. tostring(data))\n\
               _PY.tcp_close_sync(id)\n\
             end)\n\
             print(lines())\n\
             print(lines())\n"
        ),
        &[],
    );
    out.assert_code(0)
        .assert_lines(&["connected true", "read hello"]);
}

#[test]
fn an_error_in_a_wrapped_generator_propagates_like_stock_lua() {
    let out = run_script(
        "local bad = coroutine.wrap(function() _PY.sleep(0.01) error('boom') end)\n\
         print(pcall(bad))\n\
         local co = coroutine.create(function() _PY.sleep(0.01) error({code = 7}) end)\n\
         local ok, err = coroutine.resume(co)\n\
         print(ok, type(err), err.code, coroutine.status(co))\n",
        &[],
    );
    out.assert_code(0)
        .assert_lines(&["false\tscript.lua:1: boom", "false\ttable\t7\tdead"]);
}

#[test]
fn a_generator_resumed_where_nothing_can_yield_blocks_instead() {
    let out = run_script(
        "local printed = false\n\
         table.sort({3, 2, 1}, function(a, b)\n\
           if not printed then\n\
             printed = true\n\
             local g = coroutine.wrap(function() _PY.sleep(0.01) coroutine.yield('blocked, then yielded') end)\n\
             print(g())\n\
           end\n\
           return a < b\n\
         end)\n",
        &[],
    );
    out.assert_no_panic()
        .assert_code(0)
        .assert_lines(&["blocked, then yielded"]);
}
