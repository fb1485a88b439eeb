//! Event dispatch: due timers and finished socket operations and events go to their task
//! coroutines ([`Tasks`]), and how each resume ended is settled (an error in a callback is
//! reported and the run goes on; the foreground's outcome is the foreground's business).

use mlua::{MultiValue, Thread};

use super::Runtime;
use super::foreground::ForegroundKind;
use crate::event::NetEvent;
use crate::lua::interrupt::{self, Interrupt};
use crate::lua::tasks::{Outcome, describe_error};
use crate::lua::values::{request_table, to_lua_multi};
use crate::reactor::timers::TimerAction;
use crate::report::{self, Failed};

impl Runtime {
    pub(super) fn run_due_timers(&mut self) {
        let mut fired = std::mem::take(&mut self.fired);
        self.reactor.borrow_mut().timers.expire(&mut fired);
        for &token in &fired {
            let claimed = self.reactor.borrow_mut().timers.claim(token);
            let Some(timer) = claimed else {
                continue;
            };
            let id = timer.id;
            match timer.action {
                TimerAction::Callback => {
                    if let Some((thread, outcome)) = self.tasks.run_timer(id, timer.finished) {
                        self.settle(&thread, outcome, "timer");
                    }
                }
                TimerAction::Resume => {
                    if let Some((thread, outcome)) = self.tasks.resume_waiter(id, MultiValue::new())
                    {
                        self.settle(&thread, outcome, "timer");
                    }
                }
                TimerAction::Net => self.reactor.borrow_mut().net_timer(id),
            }
            if self.exit.is_some() {
                break;
            }
        }
        fired.clear();
        self.fired = fired;
    }

    /// Hands finished socket operations and socket events to Lua: the ones queued now, not
    /// those their callbacks queue (they wait for the next turn, so I/O is never starved).
    pub(super) fn dispatch_net_events(&mut self) {
        let pending = self.reactor.borrow().net.events.len();
        for _ in 0..pending {
            let event = self.reactor.borrow_mut().net.events.pop_front();
            let Some(event) = event else {
                break;
            };
            match event {
                NetEvent::Complete { op, values } => {
                    let values = match to_lua_multi(&self.lua, values) {
                        Ok(values) => values,
                        Err(error) => {
                            eprintln!("plua: {}", describe_error(&error));
                            continue;
                        }
                    };
                    if let Some((thread, outcome)) = self.tasks.complete(op, values) {
                        self.settle(&thread, outcome, "network");
                    }
                }
                NetEvent::Emit { owner, event, args } => {
                    if let Some((thread, outcome)) = self.tasks.emit_values(owner, event, args) {
                        self.settle(&thread, outcome, event);
                    }
                }
                NetEvent::HttpRequest {
                    server,
                    conn,
                    seq,
                    request,
                } => {
                    let req = match request_table(&self.lua, &request) {
                        Ok(req) => req,
                        Err(error) => {
                            eprintln!("plua: {}", describe_error(&error));
                            continue;
                        }
                    };
                    let args = (conn as i64, seq as i64, req);
                    let (thread, outcome) = self.tasks.emit(server, "request", args);
                    self.settle(&thread, outcome, "request");
                }
            }
            if self.exit.is_some() {
                break;
            }
        }
    }

    /// Acts on how a task's resume ended.
    pub(super) fn settle(&mut self, thread: &Thread, outcome: Outcome, kind: &str) {
        if interrupt::take_hooked() {
            // The task was stopped by the interrupt hook: not its error.
            match interrupt::requested() {
                Some(Interrupt::Signal(signal)) => self.begin_shutdown(signal),
                Some(Interrupt::Deadline) => self.exit = Some(0),
                None => {}
            }
            return;
        }
        if self.shutdown.is_none()
            && let Some(Interrupt::Deadline) = interrupt::requested()
        {
            self.exit = Some(0);
            return;
        }
        let is_foreground = self
            .foreground
            .as_ref()
            .is_some_and(|fg| fg.thread == *thread);
        if !is_foreground {
            if let Outcome::Failed(message) = outcome {
                report::failure(Failed::Callback(kind), &message);
            }
            return;
        }
        match outcome {
            Outcome::Suspended => {}
            Outcome::Finished(values) => {
                let finished = self.foreground.take();
                if finished.is_some_and(|fg| fg.kind == ForegroundKind::ReplLine) {
                    self.print_repl_values(values);
                }
            }
            Outcome::Failed(message) => {
                let finished = self.foreground.take();
                self.report_foreground_error(finished.map(|fg| fg.kind), &message);
            }
        }
    }
}
