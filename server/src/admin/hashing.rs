//! Where owner passwords are hashed: a few threads of their own, never tokio's blocking pool
//! (the SQLite order desk's), each lane with a short queue. A login that finds its lane full is
//! refused at once ("busy, try again in a moment") instead of queueing: a flood of wrong
//! passwords costs the shop at most these threads' CPU and 19 MiB of memory a thread, and
//! checkout goes on. The owner's own devices (they logged in from it before) have a lane of
//! their own, so a flood from strangers cannot keep the owner out.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type Job = Box<dyn FnOnce() + Send>;

/// The lane is full: try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Threads that run hashing jobs, with room for `queue` more waiting.
pub struct HashLane {
    tx: Sender<Job>,
    /// One permit per job running or waiting: the lane's whole capacity.
    slots: Arc<Semaphore>,
}

/// A place on a lane, reserved before anything else is spent on a login; given back when its
/// job is done (or when it is dropped unused).
pub struct Slot<'a> {
    lane: &'a HashLane,
    permit: OwnedSemaphorePermit,
}

impl HashLane {
    pub fn new(name: &str, threads: usize, queue: usize) -> std::io::Result<HashLane> {
        let threads = threads.max(1);
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || work(&rx))?;
        }
        Ok(HashLane {
            tx,
            slots: Arc::new(Semaphore::new(threads + queue)),
        })
    }

    /// A place on the lane, or [`Busy`] at once when every place is taken.
    pub fn reserve(&self) -> Result<Slot<'_>, Busy> {
        self.slots
            .clone()
            .try_acquire_owned()
            .map(|permit| Slot { lane: self, permit })
            .map_err(|_| Busy)
    }

    /// Runs `job` on the lane's threads, or answers [`Busy`] at once when the lane is full.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.reserve()?.run(job).await
    }
}

impl Slot<'_> {
    /// Runs `job` in this place; the place is free again once the job is done.
    pub async fn run<T: Send + 'static>(
        self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let permit = self.permit;
        self.lane
            .tx
            .send(Box::new(move || {
                let out = job();
                // free before answering: whoever was answered may reserve again at once
                drop(permit);
                let _ = done.send(out);
            }))
            .map_err(|_| Busy)?;
        answer.await.map_err(|_| Busy)
    }
}

fn work(rx: &Mutex<Receiver<Job>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// The two lanes: anyone's logins and setup, and logins from the owner's known devices.
pub struct Hashers {
    pub anyone: HashLane,
    pub known_devices: HashLane,
}

impl Hashers {
    pub fn new() -> std::io::Result<Hashers> {
        Ok(Hashers {
            anyone: HashLane::new("hash", 1, 3)?,
            known_devices: HashLane::new("hash-known", 1, 2)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_lane_refuses_at_once_and_serves_again_when_free() {
        let Ok(lane) = HashLane::new("test", 1, 1) else {
            panic!("threads")
        };
        let lane = Arc::new(lane);
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        // one job runs (blocked on the gate), one waits; the third is refused
        let mut running = Vec::new();
        for _ in 0..2 {
            let (lane, gate) = (lane.clone(), gate.clone());
            running.push(tokio::spawn(async move {
                lane.run(move || gate.lock().map(|g| g.recv().is_ok()).unwrap_or(false))
                    .await
            }));
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(lane.run(|| 3).await, Err(Busy), "refused, not queued");
        for _ in 0..2 {
            let _ = release.send(());
        }
        for r in running {
            assert_eq!(r.await.ok(), Some(Ok(true)));
        }
        assert_eq!(lane.run(|| 4).await, Ok(4));
    }

    #[tokio::test]
    async fn a_reserved_place_counts_until_it_is_used_or_dropped() {
        let Ok(lane) = HashLane::new("test", 1, 0) else {
            panic!("threads")
        };
        let slot = lane.reserve();
        assert!(slot.is_ok());
        assert!(lane.reserve().is_err(), "the only place is taken");
        drop(slot);
        let Ok(slot) = lane.reserve() else {
            panic!("given back when dropped")
        };
        assert_eq!(slot.run(|| 5).await, Ok(5));
        assert!(lane.reserve().is_ok(), "given back when done");
    }
}
