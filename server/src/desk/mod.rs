//! The order desk: every order for one database goes through ONE writer task. It takes all the
//! orders waiting in its bounded queue, applies them in arrival order inside one transaction,
//! commits once (one fsync for the whole batch), and only then answers each caller.
//!
//! Plain Rust: no web or database types, and generic over what a job is (the stores' writers
//! take orders, queue joins, leaves and admission rounds; the Postgres rate limits take client
//! checks). The writer is a [`BatchWriter`]: `store::sqlite::writer`, `store::postgres::writer`,
//! and an in-memory one in the tests here.

pub mod usher;

use app::admission::Pace;
use app::store::StoreError;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Applies a batch of jobs (orders, queue joins, admission rounds) atomically per job and durably
/// as a whole.
#[async_trait]
pub trait BatchWriter: Send + 'static {
    type Job: Send + 'static;
    type Outcome: Send + 'static;

    /// Applies `jobs` in order inside one transaction: a job that cannot be done gets its own
    /// refusal in its outcome and leaves no trace, the others go in. Returns one outcome per job,
    /// in order, and only after the commit succeeded; `Err` means nothing of the batch was
    /// written.
    async fn write_batch(&mut self, jobs: Vec<Self::Job>)
        -> Result<Vec<Self::Outcome>, StoreError>;

    /// Whether the last batch committed changed the database. A commit that changed nothing
    /// (an admission round with nobody to admit) wrote nothing, so it says nothing about
    /// whether writes can succeed (a full disk still takes it).
    fn last_batch_wrote(&self) -> bool {
        true
    }
}

struct Ticket<J, O> {
    job: J,
    reply: oneshot::Sender<Result<O, StoreError>>,
}

/// The handle callers use; cheap to clone.
pub struct Desk<J, O> {
    queue: mpsc::Sender<Ticket<J, O>>,
    pace: Arc<Pace>,
}

impl<J, O> Clone for Desk<J, O> {
    fn clone(&self) -> Self {
        Desk {
            queue: self.queue.clone(),
            pace: self.pace.clone(),
        }
    }
}

impl<J: Send + 'static, O: Send + 'static> Desk<J, O> {
    /// Starts the writer task. `capacity` bounds the jobs waiting (beyond it callers are told
    /// to retry at once); `max_batch` bounds one transaction.
    pub fn start<W: BatchWriter<Job = J, Outcome = O>>(
        writer: W,
        capacity: usize,
        max_batch: usize,
    ) -> (Desk<J, O>, JoinHandle<()>) {
        let (queue, jobs) = mpsc::channel(capacity.max(1));
        let pace = Pace::new();
        let task = tokio::spawn(run(writer, jobs, max_batch.max(1), pace.clone()));
        (Desk { queue, pace }, task)
    }

    /// How fast this desk writes (time per job over recent batches), for the order gate.
    pub fn pace(&self) -> Arc<Pace> {
        self.pace.clone()
    }

    /// Whether the writer task still takes jobs.
    pub fn is_running(&self) -> bool {
        !self.queue.is_closed()
    }

    /// Queues a job and waits for its committed outcome. If the caller goes away, the job is
    /// still applied (and a retry with the same idempotency key finds it). `Err` means the job
    /// was not written: the queue was full, or its batch failed to commit (worth a retry).
    pub async fn submit(&self, job: J) -> Result<O, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Ticket { job, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => {
                    StoreError::busy("the order desk queue is full")
                }
                mpsc::error::TrySendError::Closed(_) => {
                    StoreError::busy("the order desk has stopped")
                }
            })?;
        answer
            .await
            .map_err(|_| StoreError::unexpected("the order desk stopped before answering"))?
    }
}

async fn run<W: BatchWriter>(
    mut writer: W,
    mut tickets: mpsc::Receiver<Ticket<W::Job, W::Outcome>>,
    max_batch: usize,
    pace: Arc<Pace>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    // ends when every Desk handle is dropped and the queue is drained
    while tickets.recv_many(&mut batch, max_batch).await > 0 {
        let (jobs, replies): (Vec<W::Job>, Vec<_>) =
            batch.drain(..).map(|t| (t.job, t.reply)).unzip();
        let size = jobs.len();
        let started = Instant::now();
        pace.batch_started(started);
        let written = writer.write_batch(jobs).await;
        let took = started.elapsed();
        pace.batch_done(size, took);
        metrics::histogram!("holdfast_desk_batch_jobs").record(size as f64);
        metrics::histogram!("holdfast_desk_commit_seconds").record(took.as_secs_f64());
        if written.is_err() {
            metrics::counter!("holdfast_desk_failed_batches_total").increment(1);
        }
        // one line per change of condition: a full disk fails every batch, and a line per
        // batch would fill what is left of it
        let wrote = written.is_ok() && writer.last_batch_wrote();
        match (&written, pace.batch_outcome(written.is_ok(), wrote)) {
            (Err(e), Some(true)) => tracing::error!(
                error = %e,
                "the order desk cannot commit: shoppers are told to try again until it can \
                 (a full disk? a database away?)"
            ),
            (Ok(_), Some(false)) => tracing::warn!("the order desk commits again"),
            _ => {}
        }
        match written {
            Ok(outcomes) if outcomes.len() == size => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    // a caller that went away has nothing to be told
                    let _ = reply.send(Ok(outcome));
                }
            }
            Ok(outcomes) => {
                tracing::error!(
                    size,
                    answers = outcomes.len(),
                    "batch writer answered the wrong number of jobs"
                );
                fail_all(replies, || {
                    StoreError::unexpected("order desk bookkeeping error")
                });
            }
            Err(e) => {
                tracing::debug!(size, error = %e, "batch not committed; callers told to retry");
                fail_all(replies, || {
                    StoreError::busy(format!("batch not committed: {e}"))
                });
            }
        }
    }
}

fn fail_all<O>(
    replies: Vec<oneshot::Sender<Result<O, StoreError>>>,
    error: impl Fn() -> StoreError,
) {
    for reply in replies {
        let _ = reply.send(Err(error()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::{CustomerInput, LineRequest, NewOrder, OrderCode, OrderStatus, OrderView};
    use app::store::CheckoutError;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// An in-memory shop: one product's stock, idempotency keys, and a log of every batch.
    #[derive(Default)]
    struct Shop {
        stock: i64,
        keys: HashMap<String, OrderView>,
        batches: Vec<Vec<String>>,
        fail_next_commit: bool,
    }

    struct FakeWriter(Arc<Mutex<Shop>>);

    type Outcome = Result<OrderView, CheckoutError>;
    type OrderDesk = Desk<NewOrder, Outcome>;

    /// What a shopper is told: a desk failure is a checkout failure too.
    trait Place {
        async fn place(&self, order: NewOrder) -> Outcome;
    }

    impl Place for OrderDesk {
        async fn place(&self, order: NewOrder) -> Outcome {
            self.submit(order).await.map_err(CheckoutError::Store)?
        }
    }

    #[async_trait]
    impl BatchWriter for FakeWriter {
        type Job = NewOrder;
        type Outcome = Outcome;
        async fn write_batch(&mut self, orders: Vec<NewOrder>) -> Result<Vec<Outcome>, StoreError> {
            // let more callers queue up, as a real fsync would
            tokio::task::yield_now().await;
            let mut shop = self
                .0
                .lock()
                .map_err(|_| StoreError::unexpected("poisoned"))?;
            let keys: Vec<String> = orders
                .iter()
                .map(|o| o.idempotency_key.as_str().to_owned())
                .collect();
            shop.batches.push(keys);
            // work on a copy: a failed commit must leave nothing behind
            let mut stock = shop.stock;
            let mut new_keys = shop.keys.clone();
            let mut outcomes = Vec::new();
            for (n, order) in orders.iter().enumerate() {
                let key = order.idempotency_key.as_str().to_owned();
                if let Some(first) = new_keys.get(&key) {
                    outcomes.push(Ok(first.clone()));
                    continue;
                }
                let q = i64::from(order.lines[0].1.get());
                if stock < q {
                    outcomes.push(Err(CheckoutError::SoldOut {
                        product_id: 1,
                        product_name: "x".into(),
                        available: stock,
                    }));
                    continue;
                }
                stock -= q;
                let code = OrderCode::from_random_bytes([
                    n as u8,
                    (n >> 8) as u8,
                    stock as u8,
                    (stock >> 8) as u8,
                    1,
                    2,
                    3,
                    4,
                ]);
                let view = OrderView {
                    order_code: code,
                    status: OrderStatus::AwaitingPayment,
                    total_cents: 100 * q,
                    lines: Vec::new(),
                    customer_name: String::new(),
                    phone: String::new(),
                    address: String::new(),
                    note: String::new(),
                    created_at: app::domain::At::from_millis(0),
                    pay_by: None,
                    tracking_number: String::new(),
                    live_token: String::new(),
                };
                new_keys.insert(key, view.clone());
                outcomes.push(Ok(view));
            }
            if shop.fail_next_commit {
                shop.fail_next_commit = false;
                return Err(StoreError::unexpected("disk full"));
            }
            shop.stock = stock;
            shop.keys = new_keys;
            Ok(outcomes)
        }
    }

    fn order(key: &str, quantity: i64) -> NewOrder {
        let customer = CustomerInput {
            name: "Ada".into(),
            phone: "+15550102030".into(),
            address: "1 Harbour Row".into(),
            note: String::new(),
        };
        NewOrder::parse(
            key,
            &[LineRequest {
                product_id: 1,
                quantity,
            }],
            &customer,
        )
        .unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn key(n: usize) -> String {
        format!("desk-test-key-{n:08}")
    }

    fn shop(stock: i64) -> Arc<Mutex<Shop>> {
        Arc::new(Mutex::new(Shop {
            stock,
            ..Shop::default()
        }))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thousands_of_racing_orders_sell_exactly_the_stock_in_few_batches() {
        let state = shop(100);
        let (desk, _task) = OrderDesk::start(FakeWriter(state.clone()), 10_000, 512);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..3000 {
            let desk = desk.clone();
            set.spawn(async move { desk.place(order(&key(i), 1)).await });
        }
        let (mut sold, mut sold_out) = (0, 0);
        while let Some(r) = set.join_next().await {
            match r.unwrap_or_else(|e| panic!("{e}")) {
                Ok(_) => sold += 1,
                Err(CheckoutError::SoldOut { .. }) => sold_out += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        let shop = state.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!((sold, sold_out), (100, 2900));
        assert_eq!(shop.stock, 0);
        assert!(
            shop.batches.len() < 3000,
            "orders were grouped: {} batches",
            shop.batches.len()
        );
    }

    #[tokio::test]
    async fn orders_are_applied_in_arrival_order() {
        let state = shop(1_000);
        let (desk, _task) = OrderDesk::start(FakeWriter(state.clone()), 1_000, 64);
        // join_all polls each future once, in order, and `place` queues on its first poll:
        // the queue receives key 0, 1, 2, …
        let keys: Vec<String> = (0..200).map(key).collect();
        let answers = futures::future::join_all(keys.iter().map(|k| desk.place(order(k, 1)))).await;
        assert!(answers.iter().all(Result::is_ok));
        let shop = state.lock().unwrap_or_else(|e| e.into_inner());
        let seen: Vec<String> = shop.batches.iter().flatten().cloned().collect();
        assert_eq!(seen, keys, "applied in arrival order, each exactly once");
        assert!(shop.batches.len() > 1, "max_batch 64 splits 200 orders");
    }

    #[tokio::test]
    async fn one_sold_out_order_does_not_sink_its_batch() {
        let state = shop(3);
        let (desk, _task) = OrderDesk::start(FakeWriter(state.clone()), 100, 100);
        let a = desk.place(order(&key(1), 2));
        let b = desk.place(order(&key(2), 5)); // more than is left
        let c = desk.place(order(&key(3), 1));
        let (a, b, c) = tokio::join!(a, b, c);
        assert!(a.is_ok());
        assert!(
            matches!(b, Err(CheckoutError::SoldOut { available: 1, .. })),
            "{b:?}"
        );
        assert!(c.is_ok());
        assert_eq!(state.lock().unwrap_or_else(|e| e.into_inner()).stock, 0);
    }

    #[tokio::test]
    async fn duplicate_keys_in_one_batch_and_across_batches_make_one_order() {
        let state = shop(100);
        let (desk, _task) = OrderDesk::start(FakeWriter(state.clone()), 100, 100);
        let same = || desk.place(order(&key(7), 2));
        let (a, b, c) = tokio::join!(same(), same(), same());
        let later = desk.place(order(&key(7), 2)).await;
        let codes: Vec<OrderCode> = [a, b, c, later]
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")).order_code)
            .collect();
        assert!(codes.windows(2).all(|w| w[0] == w[1]), "{codes:?}");
        assert_eq!(state.lock().unwrap_or_else(|e| e.into_inner()).stock, 98);
    }

    #[tokio::test]
    async fn a_failed_commit_tells_every_caller_in_the_batch_to_retry_and_writes_nothing() {
        let state = shop(10);
        state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fail_next_commit = true;
        let (desk, _task) = OrderDesk::start(FakeWriter(state.clone()), 100, 100);
        let (a, b) = tokio::join!(desk.place(order(&key(1), 1)), desk.place(order(&key(2), 1)));
        for r in [a, b] {
            assert!(
                matches!(r, Err(CheckoutError::Store(StoreError::Busy(_)))),
                "{r:?}"
            );
        }
        assert_eq!(
            state.lock().unwrap_or_else(|e| e.into_inner()).stock,
            10,
            "nothing taken"
        );
        // the retry goes through
        assert!(desk.place(order(&key(1), 1)).await.is_ok());
        assert_eq!(state.lock().unwrap_or_else(|e| e.into_inner()).stock, 9);
    }

    /// A writer that says when it holds a batch, then blocks until told to go.
    struct GatedWriter {
        holding: Arc<tokio::sync::Notify>,
        go: Arc<tokio::sync::Semaphore>,
    }

    #[async_trait]
    impl BatchWriter for GatedWriter {
        type Job = NewOrder;
        type Outcome = Outcome;
        async fn write_batch(&mut self, orders: Vec<NewOrder>) -> Result<Vec<Outcome>, StoreError> {
            self.holding.notify_one();
            let _go = self
                .go
                .acquire()
                .await
                .map_err(|_| StoreError::unexpected("closed"))?;
            Ok(orders
                .iter()
                .map(|_| Err(CheckoutError::KeyReused))
                .collect())
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let holding = Arc::new(tokio::sync::Notify::new());
        let go = Arc::new(tokio::sync::Semaphore::new(0));
        let writer = GatedWriter {
            holding: holding.clone(),
            go: go.clone(),
        };
        let (desk, _task) = OrderDesk::start(writer, 1, 1);
        let place = |i: usize| {
            let desk = desk.clone();
            tokio::spawn(async move { desk.place(order(&key(i), 1)).await })
        };
        let first = place(1);
        holding.notified().await; // the writer holds order 1
        let second = place(2);
        while desk.queue.capacity() > 0 {
            tokio::task::yield_now().await; // until order 2 fills the one-slot queue
        }
        let refused = desk.place(order(&key(3), 1)).await;
        assert!(
            matches!(refused, Err(CheckoutError::Store(StoreError::Busy(_)))),
            "{refused:?}"
        );
        go.add_permits(2);
        for held in [first, second] {
            let answer = held.await.unwrap_or_else(|e| panic!("{e}"));
            assert!(
                matches!(answer, Err(CheckoutError::KeyReused)),
                "{answer:?}"
            );
        }
    }
}
