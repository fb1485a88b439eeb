//! The lazy worker pool for blocking work that does not belong on the reactor thread (HTTP calls
//! forwarded to a real HC3, file-heavy tools). Threads are spawned on first use, not at start-up.
//! A job is a closure run on a worker; its result comes back to the reactor through a channel and
//! a `mio::Waker` nudge, and the reactor hands it to whoever submitted the job. Lua never runs on
//! a worker.
// The pool is scaffolding until the HTTP issue routes blocking calls through it; its unit tests
// below exercise it meanwhile.
#![allow(dead_code)]

use std::any::Any;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;

use mio::Waker;

/// What a job produces; the submitter downcasts it.
pub type JobOutput = Box<dyn Any + Send>;
type Job = Box<dyn FnOnce() -> JobOutput + Send>;

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("worker pool busy: {0} jobs already queued")]
    Busy(usize),
    #[error("worker pool could not start a thread: {0}")]
    Spawn(String),
}

struct Started {
    jobs: SyncSender<(u64, Job)>,
    results: Receiver<(u64, JobOutput)>,
}

/// A fixed number of worker threads behind a bounded queue.
pub struct WorkerPool {
    threads: usize,
    queue_limit: usize,
    waker: Arc<Waker>,
    started: Option<Started>,
    in_flight: usize,
}

impl WorkerPool {
    /// A pool of `threads` workers (spawned on first submit) with room for `queue_limit` queued
    /// jobs; finished jobs wake the reactor through `waker`.
    pub fn new(threads: usize, queue_limit: usize, waker: Arc<Waker>) -> Self {
        WorkerPool {
            threads: threads.max(1),
            queue_limit,
            waker,
            started: None,
            in_flight: 0,
        }
    }

    /// Jobs submitted whose results the reactor has not collected yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Queues `job` under `job_id`; fails at once with [`PoolError::Busy`] when the queue is full.
    pub fn submit(
        &mut self,
        job_id: u64,
        job: impl FnOnce() -> JobOutput + Send + 'static,
    ) -> Result<(), PoolError> {
        if self.started.is_none() {
            self.started = Some(self.start()?);
        }
        let Some(started) = &self.started else {
            return Err(PoolError::Spawn("pool not started".into()));
        };
        match started.jobs.try_send((job_id, Box::new(job))) {
            Ok(()) => {
                self.in_flight += 1;
                Ok(())
            }
            Err(TrySendError::Full(_)) => Err(PoolError::Busy(self.queue_limit)),
            Err(TrySendError::Disconnected(_)) => Err(PoolError::Spawn("workers gone".into())),
        }
    }

    /// Results that have arrived since the last call, in completion order.
    pub fn take_results(&mut self) -> Vec<(u64, JobOutput)> {
        let Some(started) = &self.started else {
            return Vec::new();
        };
        let results: Vec<_> = started.results.try_iter().collect();
        self.in_flight -= results.len();
        results
    }

    fn start(&self) -> Result<Started, PoolError> {
        let (jobs, job_queue) = mpsc::sync_channel::<(u64, Job)>(self.queue_limit);
        let (result_sender, results) = mpsc::channel();
        let job_queue = Arc::new(Mutex::new(job_queue));
        for index in 0..self.threads {
            let job_queue = Arc::clone(&job_queue);
            let result_sender = result_sender.clone();
            let waker = Arc::clone(&self.waker);
            thread::Builder::new()
                .name(format!("plua-worker-{index}"))
                .stack_size(256 * 1024)
                .spawn(move || worker_loop(&job_queue, &result_sender, &waker))
                .map_err(|error| PoolError::Spawn(error.to_string()))?;
        }
        Ok(Started { jobs, results })
    }
}

fn worker_loop(
    job_queue: &Mutex<Receiver<(u64, Job)>>,
    results: &mpsc::Sender<(u64, JobOutput)>,
    waker: &Waker,
) {
    loop {
        let next = match job_queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok((job_id, job)) = next else {
            return;
        };
        let output = job();
        if results.send((job_id, output)).is_err() {
            return;
        }
        // A failed wake only delays the result until the next event; nothing to do about it.
        let _ = waker.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll, Token};
    use std::time::Duration;

    #[test]
    fn results_come_back_through_the_waker() {
        let mut poll = Poll::new().expect("poll");
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).expect("waker"));
        let mut pool = WorkerPool::new(2, 8, waker);
        for job_id in 1..=4u64 {
            pool.submit(job_id, move || Box::new(job_id * 10) as JobOutput)
                .expect("submit");
        }
        let mut events = Events::with_capacity(8);
        let mut sum = 0;
        let mut seen = 0;
        while seen < 4 {
            poll.poll(&mut events, Some(Duration::from_secs(5)))
                .expect("poll");
            assert!(!events.is_empty(), "waker never fired");
            for (job_id, output) in pool.take_results() {
                let value = output.downcast::<u64>().expect("u64 output");
                assert_eq!(*value, job_id * 10);
                sum += *value;
                seen += 1;
            }
        }
        assert_eq!(sum, 100);
        assert_eq!(pool.in_flight(), 0);
    }

    #[test]
    fn a_full_queue_says_busy() {
        let poll = Poll::new().expect("poll");
        let waker = Arc::new(Waker::new(poll.registry(), Token(0)).expect("waker"));
        let mut pool = WorkerPool::new(1, 1, waker);
        let (release, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        pool.submit(1, move || {
            let _ = gate.lock().map(|gate| gate.recv());
            Box::new(()) as JobOutput
        })
        .expect("first job");
        let mut busy = false;
        for job_id in 2..10 {
            if let Err(PoolError::Busy(_)) = pool.submit(job_id, || Box::new(()) as JobOutput) {
                busy = true;
                break;
            }
        }
        let _ = release.send(());
        assert!(busy, "queue never reported busy");
    }
}
