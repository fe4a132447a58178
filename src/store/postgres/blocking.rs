//! A blocking handle on a PostgreSQL pool, for the stores whose traits are synchronous (the
//! lifecycle state): one thread with its own single-threaded runtime owns the pool and runs
//! each call to completion; callers wait for the answer. Callable from any thread, inside an
//! async runtime or not (the pool's connections live on the handle's own runtime).

use super::{PgPool, backend_msg};
use crate::Result;
use std::future::Future;
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&tokio::runtime::Runtime, PgPool) + Send>;

/// The blocking handle. Dropping it (every clone) stops its thread.
#[derive(Debug, Clone)]
pub(crate) struct BlockingPg {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> crate::Error {
    backend_msg("the PostgreSQL connection thread has stopped; reopen the store")
}

impl BlockingPg {
    /// Connect to `url` (migrating the schema) on a new thread.
    pub(crate) fn connect(url: &str) -> Result<Self> {
        let url = url.to_string();
        let (jobs, rx) = mpsc::channel::<Job>();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<()>>();
        std::thread::Builder::new()
            .name("mlcycle-postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(backend_msg(format!(
                            "cannot start the PostgreSQL connection thread's runtime: {e}"
                        ))));
                        return;
                    }
                };
                let pool = match rt.block_on(PgPool::connect(&url)) {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                while let Ok(job) = rx.recv() {
                    job(&rt, pool.clone());
                }
            })
            .map_err(|e| {
                backend_msg(format!(
                    "cannot start the PostgreSQL connection thread: {e}"
                ))
            })?;
        ready_rx.recv().map_err(|_| stopped())??;
        Ok(BlockingPg { jobs })
    }

    /// Run `f` on the handle's runtime and wait for its answer.
    pub(crate) fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(PgPool) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>>,
    {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move |rt, pool| {
            let _ = tx.send(rt.block_on(f(pool)));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        rx.recv().map_err(|_| stopped())?
    }
}
