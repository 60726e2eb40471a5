//! Reading `get_history` pages through the shared client, one request ahead of the reader.

use std::sync::Arc;
use std::thread::JoinHandle;

use serde::de::DeserializeOwned;

use crate::config::HistoryConfig;
use crate::error::{Error, Result};
use crate::tautulli::client::{Client, Command, Received};
use crate::tautulli::reader::source::{history_params, DayCounts, PageSource, Query, WindowSource};
use crate::tautulli::rows::HistoryPage;

/// A page request sent ahead, its answer not read yet: its query and its thread.
type Sent = (Query, JoinHandle<Result<Received>>);

/// What the thread reading a prefetched page hands back: the page, and the guessed page
/// after it if it sent that request.
type Ahead<P> = (Result<P>, Option<Sent>);

/// The pinned `get_history` parameters of a query.
type Params = Arc<dyn Fn(&Query) -> Vec<(&'static str, String)> + Send + Sync>;

/// The per-day counts of a source: `get_plays_by_date` over so many days.
type Counter = Arc<dyn Fn(&Client, u32) -> Result<DayCounts> + Send + Sync>;

/// [`PageSource`] and [`WindowSource`] reading `get_history` pages of type `P` through a
/// shared [`Client`].
///
/// A prefetched page is requested and parsed on its own thread while the caller works on
/// the previous one, and a guessed next page is requested as soon as the prefetched page's
/// answer has arrived, so Tautulli builds it while we parse. Each request still goes out
/// only after the previous answer arrived: Tautulli never gets two of ours at once. Whatever
/// is still sent ahead when the read ends (or this is dropped) is waited for, so no request
/// outlives the read.
pub struct ClientPages<P> {
    client: Arc<Client>,
    params: Params,
    counter: Option<Counter>,
    /// The page sent ahead: its query and the thread requesting and parsing it.
    ahead: Option<(Query, JoinHandle<Ahead<P>>)>,
    /// The guessed page, requested by the thread of the page before it.
    guessed: Option<Sent>,
}

impl<P> std::fmt::Debug for ClientPages<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPages")
            .field("client", &self.client)
            .field("ahead", &self.ahead.as_ref().map(|a| a.0))
            .field("guessed", &self.guessed.as_ref().map(|g| g.0))
            .finish_non_exhaustive()
    }
}

impl ClientPages<HistoryPage> {
    /// The index's pages: grouped plays with [`history_params`], counted per day by
    /// `get_plays_by_date` (grouped, the same user, movies and episodes, Live TV when asked).
    pub fn index(client: Arc<Client>, history: &HistoryConfig) -> Self {
        let (user_id, include_live) = (history.user_id, history.include_live);
        let mut series = vec!["TV", "Movies"];
        if include_live {
            series.push("Live TV");
        }
        Self::new(client, move |q| history_params(user_id, include_live, q)).with_counter(
            move |client, days| day_counts(client, days, true, user_id, Some(&series)),
        )
    }
}

/// `get_plays_by_date` over `days` days as per-day counts: the sum of the named series
/// (`None`: the Total series, or the sum of all others when there is none).
pub fn day_counts(
    client: &Client,
    days: u32,
    grouping: bool,
    user_id: Option<i64>,
    series: Option<&[&str]>,
) -> Result<DayCounts> {
    let mut params = vec![
        ("time_range", days.max(1).to_string()),
        ("y_axis", "plays".to_string()),
        ("grouping", u8::from(grouping).to_string()),
    ];
    if let Some(id) = user_id {
        params.push(("user_id", id.to_string()));
    }
    let graph: crate::tautulli::rows::Graph = client.call(Command::GetPlaysByDate, &params)?;
    graph
        .day_counts(series)
        .map_err(|reason| Error::BadResponse {
            cmd: Command::GetPlaysByDate.as_str(),
            status: 200,
            // It quotes the server's categories and series names.
            reason: crate::sanitize::display_cut(&reason, 300, false),
            excerpt: String::new(),
        })
}

impl<P> ClientPages<P> {
    /// Waits for the page sent ahead and keeps the guess it sent.
    fn join_ahead(&mut self) -> Option<(Query, Result<P>)> {
        let (q, thread) = self.ahead.take()?;
        let (page, guessed) = thread.join().unwrap_or_else(|_| (Err(panicked()), None));
        if let Some(old) = std::mem::replace(&mut self.guessed, guessed) {
            let _ = joined(old.1);
        }
        Some((q, page))
    }

    /// The guessed answer if it is for `q`; any other guess is waited for and dropped, so
    /// no request is left running unseen.
    fn take_guess(&mut self, q: &Query) -> Option<JoinHandle<Result<Received>>> {
        let (s, thread) = self.guessed.take()?;
        if s == *q {
            return Some(thread);
        }
        let _ = joined(thread);
        None
    }

    /// Waits for everything sent ahead and drops it.
    fn wait_all(&mut self) {
        let _ = self.join_ahead();
        if let Some((_, thread)) = self.guessed.take() {
            let _ = joined(thread);
        }
    }
}

impl<P: DeserializeOwned + Send + 'static> ClientPages<P> {
    /// Pages requested with `params(query)`; no per-day counts (see [`Self::with_counter`]).
    pub fn new(
        client: Arc<Client>,
        params: impl Fn(&Query) -> Vec<(&'static str, String)> + Send + Sync + 'static,
    ) -> Self {
        Self {
            client,
            params: Arc::new(params),
            counter: None,
            ahead: None,
            guessed: None,
        }
    }

    /// Counts per day with `counter(client, days)`, so reads can be planned in windows.
    pub fn with_counter(
        mut self,
        counter: impl Fn(&Client, u32) -> Result<DayCounts> + Send + Sync + 'static,
    ) -> Self {
        self.counter = Some(Arc::new(counter));
        self
    }

    /// Sends the request for `q` on its own thread (none if no thread can be started: the
    /// reader then asks itself).
    fn send_ahead(client: &Arc<Client>, params: &Params, q: Query) -> Option<Sent> {
        let client = Arc::clone(client);
        let params = params(&q);
        std::thread::Builder::new()
            .name("tautulli-page".into())
            .spawn(move || client.send(Command::GetHistory, &params))
            .ok()
            .map(|thread| (q, thread))
    }
}

/// A thread's result, or an internal error if it panicked.
fn joined<T>(thread: JoinHandle<Result<T>>) -> Result<T> {
    thread.join().unwrap_or_else(|_| Err(panicked()))
}

fn panicked() -> Error {
    Error::Internal {
        reason: "the thread reading a history page panicked".into(),
    }
}

impl<P: DeserializeOwned + Send + 'static> PageSource<P> for ClientPages<P> {
    fn fetch(&mut self, start: u64, length: u64) -> Result<P> {
        self.fetch_query(&Query::page(start, length))
    }

    fn prefetch(&mut self, start: u64, length: u64, then: Option<u64>) {
        let then = then.map(|s| Query::page(s, length));
        self.prefetch_query(&Query::page(start, length), then)
    }

    fn settle(&mut self) {
        self.wait_all();
    }
}

impl<P: DeserializeOwned + Send + 'static> WindowSource<P> for ClientPages<P> {
    fn fetch_query(&mut self, q: &Query) -> Result<P> {
        if let Some((s, page)) = self.join_ahead() {
            if s == *q {
                return page;
            }
        }
        let received = match self.take_guess(q) {
            Some(thread) => joined(thread)?,
            None => self.client.send(Command::GetHistory, &(self.params)(q))?,
        };
        self.client.read(&received)
    }

    fn prefetch_query(&mut self, q: &Query, then: Option<Query>) {
        let _ = self.join_ahead();
        let guess = self.take_guess(q);
        let client = Arc::clone(&self.client);
        let params = Arc::clone(&self.params);
        let q = *q;
        let work = move || -> Ahead<P> {
            let received = match guess {
                Some(thread) => joined(thread),
                None => client.send(Command::GetHistory, &params(&q)),
            };
            // The answer is here: ask for the guessed page now, so Tautulli builds it while
            // this one is parsed. Only after an answer that looks like a page.
            let sent = match (&received, then) {
                (Ok(r), Some(n)) if r.looks_ok() => Self::send_ahead(&client, &params, n),
                _ => None,
            };
            (received.and_then(|r| client.read(&r)), sent)
        };
        // Without a thread, `fetch_query` simply asks itself.
        if let Ok(thread) = std::thread::Builder::new()
            .name("tautulli-page".into())
            .spawn(work)
        {
            self.ahead = Some((q, thread));
        }
    }

    fn day_counts(&mut self, days: u32) -> Result<Option<DayCounts>> {
        match &self.counter {
            Some(count) => count(&self.client, days).map(Some),
            None => Ok(None),
        }
    }
}

impl<P> Drop for ClientPages<P> {
    /// A read dropped midway (the host stopped it) still waits for what it sent: at most
    /// one page and one guess, each bounded by the client's timeout and retries.
    fn drop(&mut self) {
        self.wait_all();
    }
}
