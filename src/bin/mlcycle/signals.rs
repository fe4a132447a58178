//! Stopping on SIGINT (Ctrl-C) and, on Unix, SIGTERM.
//!
//! The handlers are installed when [`Shutdown::install`] is called, not when the returned
//! future is first polled: a signal that arrives while the command is still busy (a first
//! step, a startup) is then held for the wait instead of ending the process at once.

/// Installed signal handlers; [`Shutdown::wait`] completes on the first signal.
pub struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Install the handlers now (inside a Tokio runtime). A handler that cannot be installed
    /// is left out, and that signal keeps its default action.
    pub fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Shutdown {
                term: signal(SignalKind::terminate()).ok(),
                int: signal(SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Shutdown {}
        }
    }

    /// Wait for the first signal; its name.
    pub async fn wait(self) -> &'static str {
        #[cfg(unix)]
        {
            async fn recv(s: Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = recv(self.int) => "SIGINT",
                () = recv(self.term) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}
