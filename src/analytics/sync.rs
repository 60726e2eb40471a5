//! Incremental sync of Tautulli's ungrouped sessions into the local store.
//!
//! What is asked: `get_history` with `grouping=0` (one row per session, `reference_id` kept so
//! viewings can be counted as Tautulli does), `include_activity=0` (only finished sessions),
//! no `media_type` and no `user_id` filter (analytics wants every play: Live TV and music
//! included, every user), newest first (`order_column=date`, i.e. by start).
//!
//! How much is read:
//! - the first sync reads every page, to the end (a short or empty page);
//! - a re-sync reads from the top only until it has gone below
//!   `max(started) held - sync_overlap_hours` with a page whose rows were all already held.
//!   The overlap re-reads sessions Tautulli wrote late (a long play is written when it stops)
//!   or regrouped; rows are upserted by id, so a re-read row that did not change changes
//!   nothing.
//!
//! Count checks: at the end the store must hold at least Tautulli's `recordsFiltered`
//! sessions. Short of that, a re-sync keeps reading down instead of stopping early (a session
//! written later than the overlap is found this way), and a read that reached the end reads
//! again from the top (plays that arrived mid-read), a few times at most, then fails.
//!
//! The whole sync is one SQLite transaction: any error (network, auth, bad JSON, a page cap)
//! rolls it back and the store is left exactly as it was.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::TransactionBehavior;
use serde::Serialize;

use crate::analytics::session::{MediaType, Session, StreamDecision};
use crate::analytics::store::{
    self, set_sync_state, upsert_session, upsert_user, Store, Upsert, STATE_LAST_SYNC,
    STATE_MAX_STARTED, STATE_RECORDS,
};
use crate::client::{Client, Command};
use crate::error::{Error, Result};
use crate::history::PageSource;
use crate::rows::{HistoryPage, HistoryRow};

/// Passes from the top after a read that reached the end short of `recordsFiltered`.
pub const MAX_CATCH_UP_PASSES: u32 = 3;

/// The pinned `get_history` parameters of a session page.
pub fn session_params(start: u64, length: u64) -> Vec<(&'static str, String)> {
    vec![
        ("grouping", "0".to_string()),
        ("include_activity", "0".to_string()),
        ("order_column", "date".to_string()),
        ("order_dir", "desc".to_string()),
        ("start", start.to_string()),
        ("length", length.max(1).to_string()),
    ]
}

/// [`PageSource`] of ungrouped sessions read through a shared [`Client`].
#[derive(Debug, Clone)]
pub struct SessionPages {
    client: Arc<Client>,
}

impl SessionPages {
    pub fn new(client: Arc<Client>) -> Self {
        Self { client }
    }
}

impl PageSource for SessionPages {
    fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
        self.client
            .call(Command::GetHistory, &session_params(start, length))
    }
}

/// How pages are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Rows per page (`tautulli.history.per_page`).
    pub per_page: u32,
    /// Pages per pass at most (`tautulli.history.max_pages`); reaching it fails the sync.
    pub max_pages: u32,
    /// `analytics.sync_overlap_hours`, in seconds.
    pub overlap_seconds: i64,
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// True when the store had never been synced: every page was read.
    pub first_sync: bool,
    /// Pages read (catch-up passes included).
    pub pages: u64,
    /// `get_history` HTTP requests sent (retries included); equals `pages` when the source
    /// does not count requests.
    pub requests: u64,
    /// Rows received, repeats included.
    pub rows_seen: u64,
    pub inserted: u64,
    /// Held sessions whose Tautulli copy changed (e.g. a new `reference_id`).
    pub updated: u64,
    pub unchanged: u64,
    /// Rows without a session id or a start time, left out.
    pub skipped: u64,
    /// Passes from the top after the main pass.
    pub catch_up_passes: u32,
    /// Tautulli's `recordsFiltered` at the end of the read.
    pub records_filtered: u64,
    /// Sessions held after the sync.
    pub total_sessions: u64,
    /// Things the user should know (e.g. sessions deleted in Tautulli but kept here).
    pub warnings: Vec<String>,
}

/// Turns an ungrouped history row into a stored session; `None` for a row without an id or
/// a start time (an in-progress session, or garbage).
pub fn session_from_history_row(r: &HistoryRow) -> Option<Session> {
    let id = r.row_id?;
    let started = r.started.or(r.date)?;
    Some(Session {
        id,
        reference_id: r.reference_id.unwrap_or(id),
        user_id: r.user_id.unwrap_or(0),
        user: r
            .friendly_name
            .clone()
            .or_else(|| r.user.clone())
            .unwrap_or_default(),
        started,
        stopped: r.stopped.filter(|&s| s > 0),
        paused_seconds: r.paused_counter.unwrap_or(0),
        play_seconds: r.play_duration.or(r.duration).unwrap_or(0),
        media_type: MediaType::parse(r.media_type.as_deref().unwrap_or("")),
        live: r.is_live(),
        rating_key: r.rating_key.unwrap_or(0),
        parent_rating_key: r.parent_rating_key,
        grandparent_rating_key: r.grandparent_rating_key,
        section_id: r.section_id,
        decision: StreamDecision::parse(r.transcode_decision.as_deref().unwrap_or("")),
        platform: r.platform.clone().unwrap_or_default(),
        player: r.player.clone().unwrap_or_default(),
        title: r
            .full_title
            .clone()
            .or_else(|| r.title.clone())
            .unwrap_or_default(),
    })
}

/// Syncs `source` into `store` in one transaction; on any error nothing is written.
/// `now` (epoch seconds) is recorded as the sync time.
pub fn sync<S: PageSource>(
    store: &mut Store,
    source: &mut S,
    opts: &SyncOptions,
    now: i64,
) -> Result<SyncReport> {
    let path = store.path().map(|p| p.to_path_buf());
    let err = |e: rusqlite::Error| store::db_error(path.as_deref(), e);
    let tx = store
        .conn_mut()
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let count = |tx: &rusqlite::Transaction<'_>| -> rusqlite::Result<u64> {
        tx.query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    };
    let held_before = count(&tx).map_err(err)?;
    let max_started: Option<i64> = tx
        .query_row("SELECT MAX(started) FROM sessions", [], |r| r.get(0))
        .map_err(err)?;
    let last_sync: Option<i64> = tx
        .query_row(
            "SELECT value FROM sync_state WHERE key = ?1",
            [STATE_LAST_SYNC],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(err)?;

    let mut report = SyncReport {
        first_sync: last_sync.is_none() && held_before == 0,
        ..SyncReport::default()
    };
    let mut pass = Pass {
        tx: &tx,
        source,
        opts,
        report: &mut report,
        held: held_before,
        users: HashSet::new(),
        err: &err,
    };
    // Main pass: from the top; early stop only when something is held.
    let cutoff = max_started.map(|m| m.saturating_sub(opts.overlap_seconds));
    let mut outcome = pass.run(cutoff)?;
    while outcome.reached_end && pass.held < outcome.records {
        if pass.report.catch_up_passes >= MAX_CATCH_UP_PASSES {
            return Err(Error::BadResponse {
                cmd: Command::GetHistory.as_str(),
                status: 200,
                reason: format!(
                    "the counts do not add up: the store holds {} sessions but Tautulli reports \
                     {} after {} catch-up passes; the history changed during the sync, run it \
                     again (nothing was written)",
                    pass.held, outcome.records, pass.report.catch_up_passes
                ),
                excerpt: String::new(),
            });
        }
        pass.report.catch_up_passes += 1;
        // What arrived mid-read sits at the top: read down to where everything is held.
        let top = pass
            .tx
            .query_row("SELECT MAX(started) FROM sessions", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(&err)?;
        outcome = pass.run(top.map(|m| m.saturating_sub(opts.overlap_seconds)))?;
    }
    let held = pass.held;
    drop(pass);

    if held > outcome.records {
        report.warnings.push(format!(
            "Tautulli reports {} sessions but the store holds {held}: sessions deleted in \
             Tautulli are kept here",
            outcome.records
        ));
    }
    report.records_filtered = outcome.records;
    report.total_sessions = count(&tx).map_err(err)?;
    if report.requests == 0 {
        report.requests = report.pages;
    }
    set_sync_state(&tx, STATE_LAST_SYNC, now).map_err(err)?;
    set_sync_state(&tx, STATE_RECORDS, outcome.records as i64).map_err(err)?;
    let top: Option<i64> = tx
        .query_row("SELECT MAX(started) FROM sessions", [], |r| r.get(0))
        .map_err(err)?;
    if let Some(top) = top {
        set_sync_state(&tx, STATE_MAX_STARTED, top).map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(report)
}

/// One read from the top, inside the sync's transaction.
struct Pass<'a, 't, S> {
    tx: &'a rusqlite::Transaction<'t>,
    source: &'a mut S,
    opts: &'a SyncOptions,
    report: &'a mut SyncReport,
    /// Sessions held now.
    held: u64,
    /// Users written in this sync.
    users: HashSet<i64>,
    err: &'a dyn Fn(rusqlite::Error) -> Error,
}

struct PassOutcome {
    /// The pass read a short (or empty) page: nothing below it.
    reached_end: bool,
    /// The latest `recordsFiltered`.
    records: u64,
}

impl<S: PageSource> Pass<'_, '_, S> {
    /// Reads pages from the top. With a `cutoff` it stops after a full page whose rows were
    /// all held already and whose oldest row started before `cutoff`, provided the store
    /// holds at least `recordsFiltered` sessions; without one it reads to the end.
    fn run(&mut self, cutoff: Option<i64>) -> Result<PassOutcome> {
        let per_page = u64::from(self.opts.per_page.max(1));
        let mut start = 0u64;
        let mut pages = 0u32;
        loop {
            if pages >= self.opts.max_pages.max(1) {
                return Err(Error::BadResponse {
                    cmd: Command::GetHistory.as_str(),
                    status: 200,
                    reason: format!(
                        "the sync stopped at tautulli.history.max_pages ({}) pages of {per_page} \
                         rows before reaching the end of the history; raise \
                         tautulli.history.max_pages or per_page (nothing was written)",
                        self.opts.max_pages
                    ),
                    excerpt: String::new(),
                });
            }
            let page = self.source.fetch(start, per_page)?;
            pages += 1;
            self.report.pages += 1;
            let records = u64::try_from(page.records_filtered).unwrap_or(0);
            let mut all_known = !page.data.is_empty();
            let mut oldest = i64::MAX;
            for row in &page.data {
                self.report.rows_seen += 1;
                let Some(s) = session_from_history_row(row) else {
                    self.report.skipped += 1;
                    continue;
                };
                oldest = oldest.min(s.started);
                if self.users.insert(s.user_id) {
                    upsert_user(
                        self.tx,
                        s.user_id,
                        row.user.as_deref(),
                        row.friendly_name.as_deref(),
                    )
                    .map_err(self.err)?;
                }
                match upsert_session(self.tx, &s).map_err(self.err)? {
                    Upsert::Inserted => {
                        self.report.inserted += 1;
                        self.held += 1;
                        all_known = false;
                    }
                    Upsert::Updated => self.report.updated += 1,
                    Upsert::Unchanged => self.report.unchanged += 1,
                }
            }
            if (page.data.len() as u64) < per_page {
                return Ok(PassOutcome {
                    reached_end: true,
                    records,
                });
            }
            if let Some(cutoff) = cutoff {
                if all_known && oldest < cutoff && self.held >= records {
                    return Ok(PassOutcome {
                        reached_end: false,
                        records,
                    });
                }
            }
            start += per_page;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (id, reference_id, started)
    type Sim = (i64, i64, i64);

    /// A date-descending ungrouped table that records every fetch.
    struct Table {
        rows: Vec<Sim>,
        fetches: Vec<(u64, u64)>,
        /// Fail on this fetch (0-based).
        fail_at: Option<usize>,
        /// Rows added just before this fetch.
        add_before: Option<(usize, Vec<Sim>)>,
    }

    impl Table {
        /// Sessions 1..=n, one hour apart, lone.
        fn new(n: i64) -> Table {
            Table {
                rows: (1..=n).map(|i| (i, i, 10_000 + i * 3600)).collect(),
                fetches: Vec::new(),
                fail_at: None,
                add_before: None,
            }
        }
    }

    impl PageSource for Table {
        fn fetch(&mut self, start: u64, length: u64) -> Result<HistoryPage> {
            if let Some((at, rows)) = &self.add_before {
                if *at == self.fetches.len() {
                    self.rows.extend(rows.iter().copied());
                }
            }
            if self.fail_at == Some(self.fetches.len()) {
                self.fetches.push((start, length));
                return Err(Error::Unreachable {
                    reason: "gone".into(),
                });
            }
            self.fetches.push((start, length));
            self.rows.sort_by_key(|r| std::cmp::Reverse((r.2, r.0)));
            let data = self
                .rows
                .iter()
                .skip(start as usize)
                .take(length as usize)
                .map(|&(id, reference_id, started)| HistoryRow {
                    row_id: Some(id),
                    reference_id: Some(reference_id),
                    started: Some(started),
                    date: Some(started),
                    stopped: Some(started + 600),
                    play_duration: Some(600),
                    user_id: Some(1),
                    user: Some("alice".into()),
                    media_type: Some("movie".into()),
                    rating_key: Some(100 + id),
                    full_title: Some(format!("Movie {id}")),
                    transcode_decision: Some("direct play".into()),
                    ..HistoryRow::default()
                })
                .collect();
            Ok(HistoryPage {
                records_filtered: self.rows.len() as i64,
                records_total: Some(self.rows.len() as i64),
                data,
            })
        }
    }

    fn opts(per_page: u32, overlap_hours: i64) -> SyncOptions {
        SyncOptions {
            per_page,
            max_pages: 100,
            overlap_seconds: overlap_hours * 3600,
        }
    }

    fn ids(store: &Store) -> Vec<(i64, i64)> {
        store
            .all_sessions()
            .unwrap()
            .into_iter()
            .map(|s| (s.id, s.reference_id))
            .collect()
    }

    #[test]
    fn params_are_pinned() {
        let p = session_params(40, 0);
        let get = |k: &str| p.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("grouping"), Some("0"));
        assert_eq!(get("include_activity"), Some("0"));
        assert_eq!(get("order_column"), Some("date"));
        assert_eq!(get("order_dir"), Some("desc"));
        assert_eq!(get("start"), Some("40"));
        assert_eq!(get("length"), Some("1"), "never 0 or -1");
        assert_eq!(get("media_type"), None, "every media type");
        assert_eq!(get("user_id"), None, "every user");
    }

    #[test]
    fn first_sync_reads_everything_then_a_resync_reads_only_the_top() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(10);
        let r = sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        assert!(r.first_sync);
        assert_eq!((r.pages, r.inserted, r.total_sessions), (3, 10, 10));
        assert_eq!(t.fetches, [(0, 4), (4, 4), (8, 4)]);

        // Nothing new: page 1 holds sessions 10..7; 7 started 3 h before 10, below the 2 h
        // overlap, and every row is held: one request.
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 2), 2).unwrap();
        assert!(!r.first_sync);
        assert_eq!(t.fetches, [(0, 4)]);
        assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 4));

        // Five new plays on top: pages 1 and 2 hold new rows; page 3 (sessions 9..6) is
        // all held and below the cutoff.
        t.rows.extend((11..=15).map(|i| (i, i, 10_000 + i * 3600)));
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 2), 3).unwrap();
        assert_eq!(t.fetches, [(0, 4), (4, 4), (8, 4)]);
        assert_eq!((r.inserted, r.total_sessions), (5, 15));
    }

    #[test]
    fn a_late_old_session_is_found_by_the_count_check() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(12);
        sync(&mut store, &mut t, &opts(4, 1), 1).unwrap();
        // A session that started long before the overlap is written late.
        t.rows.push((13, 13, 10_000 + 2 * 3600 - 1));
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 1), 2).unwrap();
        assert_eq!(r.inserted, 1);
        assert_eq!(r.total_sessions, 13);
        assert!(t.fetches.len() > 1, "it kept reading down: {:?}", t.fetches);
    }

    #[test]
    fn plays_arriving_mid_read_are_caught_up() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(10);
        t.add_before = Some((1, vec![(11, 11, 900_000), (12, 12, 900_001)]));
        let r = sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        assert_eq!(r.total_sessions, 12);
        assert_eq!(r.catch_up_passes, 1);
        assert_eq!(r.records_filtered, 12);
    }

    #[test]
    fn a_regrouped_session_is_updated() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(5);
        sync(&mut store, &mut t, &opts(10, 2), 1).unwrap();
        let g = t.rows.iter_mut().find(|r| r.0 == 5).unwrap();
        g.1 = 4;
        let r = sync(&mut store, &mut t, &opts(10, 2), 2).unwrap();
        assert_eq!((r.inserted, r.updated), (0, 1));
        assert!(ids(&store).contains(&(5, 4)));
    }

    #[test]
    fn an_error_rolls_everything_back() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(10);
        sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        let before = ids(&store);
        t.rows.extend((11..=20).map(|i| (i, i, 10_000 + i * 3600)));
        t.fail_at = Some(t.fetches.len() + 1);
        let e = sync(&mut store, &mut t, &opts(4, 2), 2).unwrap_err();
        assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
        assert_eq!(ids(&store), before, "page 1 was rolled back");
        assert_eq!(store.sync_state(STATE_LAST_SYNC).unwrap(), Some(1));
    }

    #[test]
    fn the_page_cap_fails_the_sync() {
        let mut store = Store::open_in_memory().unwrap();
        let mut t = Table::new(10);
        let o = SyncOptions {
            max_pages: 2,
            ..opts(4, 2)
        };
        let e = sync(&mut store, &mut t, &o, 1).unwrap_err().to_string();
        assert!(e.contains("max_pages (2)"), "{e}");
        assert_eq!(store.session_count().unwrap(), 0);
    }

    #[test]
    fn rows_convert_with_fallbacks() {
        let row = HistoryRow {
            row_id: Some(8),
            date: Some(50),
            stopped: Some(0),
            duration: Some(30),
            user: Some("bob".into()),
            title: Some("T".into()),
            live: Some(1),
            transcode_decision: Some("copy".into()),
            ..HistoryRow::default()
        };
        let s = session_from_history_row(&row).unwrap();
        assert_eq!(
            (s.id, s.reference_id, s.started, s.stopped),
            (8, 8, 50, None)
        );
        assert_eq!(
            (s.play_seconds, s.user.as_str(), s.title.as_str()),
            (30, "bob", "T")
        );
        assert!(s.live);
        assert_eq!(s.decision, StreamDecision::DirectStream);
        assert!(session_from_history_row(&HistoryRow::default()).is_none());
    }
}
