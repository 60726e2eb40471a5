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
//! The read writes nothing to the store and holds no lock on it: the rows are staged in the
//! connection's temp database (on disk, so a first sync of a million sessions does not sit in
//! memory), and the store is written in ONE transaction once the read is complete, replaying
//! the staged rows as they arrived. Any error (network, auth, bad JSON, a page cap, counts
//! that do not add up) leaves the store exactly as it was, and a collect, a query, a chart or
//! another sync can use the store while Tautulli is being read.
//!
//! Speed (a first sync reads every session there is): rows are parsed into the one
//! [`HistoryRow`] shape, whose unused fields are checked but not kept; the next page is requested while the current one is staged, once it is
//! certain to be read; staged rows are numbers only (texts kept once each); each page is
//! written oldest id first (the table fills its pages instead of splitting them); and into an
//! empty store the indexes are dropped and built once at the end, inside the same
//! transaction.

use std::collections::HashSet;
use std::sync::Arc;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};
use serde::Deserialize;

use crate::analytics::session::{MediaType, Session, StreamDecision};
use crate::analytics::store::{
    self, decision_code, decision_of_code, media_code, media_of_code, set_sync_state, upsert_user,
    SessionWriter, Store, Upsert, STATE_LAST_SYNC, STATE_LEFT_OUT, STATE_MAX_STARTED,
    STATE_RECORDS,
};
use crate::config::ReadMode;
use crate::error::{Error, Result};
use crate::hash::FxHashMap;
use crate::sanitize::{clean_owned, clean_text};
use crate::tautulli::client::{Client, Command};
use crate::tautulli::reader::merge::Part;
use crate::tautulli::reader::{
    day_counts, ClientPages, PageSource, PagedRow, Query, ReadOutcome, Since, WindowSource,
};
use crate::tautulli::reader::{Reader, WindowOptions};
use crate::tautulli::rows::{HistoryPage, HistoryRow};
use crate::timefmt::{row_time, valid_time, RowTime, LAST_TIME};

/// The pinned `get_history` parameters of a session page.
pub fn session_params(q: &Query) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("grouping", "0".to_string()),
        ("include_activity", "0".to_string()),
        ("order_column", "date".to_string()),
        ("order_dir", "desc".to_string()),
        ("start", q.start.to_string()),
        ("length", q.length.max(1).to_string()),
    ];
    p.extend(q.day_params());
    p
}

/// The session pages of a sync, read ahead (see [`ClientPages`]), counted per day by
/// `get_plays_by_date` (ungrouped, every user, Tautulli's Total series).
pub fn session_pages(client: Arc<Client>) -> ClientPages<SessionPage> {
    ClientPages::new(client, session_params)
        .with_counter(|client, days| day_counts(client, days, false, None, None))
}

/// How the history is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncOptions {
    /// Day windows or `start` paging (`tautulli.history.read`).
    pub read: ReadMode,
    /// Rows a day window is planned to hold (`tautulli.history.window_rows`).
    pub window_rows: u32,
    /// Rows per page of a paged read (`tautulli.history.per_page`).
    pub per_page: u32,
    /// Pages per pass at most (`tautulli.history.max_pages`); reaching it fails the sync.
    pub max_pages: u32,
    /// `analytics.sync_overlap_hours`, in seconds.
    pub overlap_seconds: i64,
}

/// What a sync did: the contract's payload type itself, so the plugin and hosts share one
/// definition of the report.
pub use crosswatch_contract::payload::SyncReport;

/// `data` of `get_history` as the sync reads it: its rows as [`SessionRow`]s.
pub type SessionPage = HistoryPage<SessionRow>;

/// A `get_history` row (the one [`HistoryRow`] shape) as the sync reads it: an ungrouped
/// session (`grouping=0`), stored as Tautulli has it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct SessionRow(pub HistoryRow);

/// An ungrouped row is its own viewing: the reader knows it by its session id.
impl PagedRow for SessionRow {
    fn row_id(&self) -> Option<i64> {
        self.0.row_id
    }
    // The reader's group key: an ungrouped row's group is the session itself.
    #[allow(clippy::misnamed_getters)]
    fn reference_id(&self) -> Option<i64> {
        self.0.row_id
    }
    fn date(&self) -> Option<i64> {
        valid_time(self.0.date).or(valid_time(self.0.started))
    }
}

/// Sessions are never merged: each is stored as Tautulli has it.
impl Part for SessionRow {
    fn chain(&self) -> Option<i64> {
        None
    }
    fn starts_chain(&self) -> bool {
        true
    }
    fn absorb(&mut self, _older: SessionRow) {}
}

/// Whether a row's times can be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimes {
    Usable,
    /// No `started` (nor `date` in its place).
    NoStart,
    /// A time outside [`crate::timefmt::TIME_RANGE`], or a duration longer than the range.
    Bad,
}

/// Checks a row's times before it becomes a [`Session`]. The start is `started`, else
/// `date`; `stopped` may be missing (null, `""` or 0), but one that is there must be a
/// usable time too; `play_duration`, `duration` and `paused_counter` may not exceed
/// [`LAST_TIME`] (no play lasts longer than the whole range, and the session's end is their
/// sum with the start). A bad time must never be stored: it would overwrite a good copy,
/// and a start past 9999 would become the re-sync's cutoff.
pub fn session_times(SessionRow(r): &SessionRow) -> SessionTimes {
    let start = match row_time(r.started) {
        RowTime::Missing => row_time(r.date),
        t => t,
    };
    let long = |d: Option<i64>| d.is_some_and(|d| d > LAST_TIME);
    match (start, row_time(r.stopped)) {
        (RowTime::Bad, _) | (_, RowTime::Bad) => SessionTimes::Bad,
        _ if long(r.play_duration) || long(r.duration) || long(r.paused_counter) => {
            SessionTimes::Bad
        }
        (RowTime::Missing, _) => SessionTimes::NoStart,
        (RowTime::At(_), _) => SessionTimes::Usable,
    }
}

/// Turns an ungrouped history row into a stored session, taking its strings; `None` for a
/// row without an id or a start time (an in-progress session, or garbage), or with a bad
/// time ([`session_times`]).
pub fn session_from_row(row: SessionRow) -> Option<Session> {
    let id = row.0.row_id?;
    if session_times(&row) != SessionTimes::Usable {
        return None;
    }
    let SessionRow(r) = row;
    let started = valid_time(r.started).or(valid_time(r.date))?;
    Some(Session {
        id,
        reference_id: r.reference_id.unwrap_or(id),
        user_id: r.user_id.unwrap_or(0),
        user: clean_owned(r.friendly_name.or(r.user).unwrap_or_default()),
        started,
        stopped: valid_time(r.stopped),
        paused_seconds: r.paused_counter.unwrap_or(0),
        play_seconds: r.play_duration.or(r.duration).unwrap_or(0),
        media_type: MediaType::parse(r.media_type.as_deref().unwrap_or("")),
        live: r.live.unwrap_or(0) != 0,
        rating_key: r.rating_key.unwrap_or(0),
        parent_rating_key: r.parent_rating_key,
        grandparent_rating_key: r.grandparent_rating_key,
        section_id: r.section_id,
        decision: StreamDecision::parse(r.transcode_decision.as_deref().unwrap_or("")),
        platform: clean_owned(r.platform.unwrap_or_default()),
        player: clean_owned(r.player.unwrap_or_default()),
        title: clean_owned(r.full_title.or(r.title).unwrap_or_default()),
    })
}

/// Syncs `source` into `store`: reads with no lock held, staging every row, then writes the
/// store in one transaction; on any error nothing is written. `now` (epoch seconds) is
/// recorded as the sync time.
pub fn sync<S>(
    store: &mut Store,
    source: &mut S,
    opts: &SyncOptions,
    now: i64,
) -> Result<SyncReport>
where
    S: WindowSource<SessionPage> + PageSource<SessionPage>,
{
    let path = store.path().map(|p| p.to_path_buf());
    let err = |e: rusqlite::Error| store::db_error(path.as_deref(), e);
    let conn = store.conn();
    // Where the store stood when the read began: one read, no lock kept.
    let (held_before, max_started, last_sync) = {
        let tx = conn.unchecked_transaction().map_err(err)?;
        let held = count_sessions(&tx).map_err(err)?;
        let max_started: Option<i64> = tx
            .query_row("SELECT MAX(started) FROM session_rows", [], |r| r.get(0))
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
        (held, max_started, last_sync)
    };

    let mut report = SyncReport {
        first_sync: last_sync.is_none() && held_before == 0,
        ..SyncReport::default()
    };
    let mut staging = Staging::new(conn).map_err(err)?;
    let mut pass = Pass {
        staging: &mut staging,
        report: &mut report,
        left_out: HashSet::new(),
        users: HashSet::new(),
        err: &err,
    };
    // A re-sync reads from a little below the newest session held; a first sync reads all.
    let since = max_started.map(|m| Since {
        max_row_id: i64::MIN,
        cutoff_date: m.saturating_sub(opts.overlap_seconds),
        records: 0,
    });
    let mut outcome = pass.run(&mut *source, opts, since)?;
    // `recordsTotal` counts every session Tautulli has, and the sync asks for all of them:
    // short of it, a session was written below the overlap (late), so everything is read.
    // Sessions left out by the last sync that this one did not read again still count
    // (else one bad row below the overlap would make every re-sync read everything).
    let total = |o: &ReadOutcome| o.records_total.unwrap_or(o.records_filtered);
    // Sessions left out by the last sync that this one did not read again still count
    // (else one bad row below the overlap would make every re-sync read everything).
    let mut left_out = pass.unheld_left_out()?;
    if since.is_some() {
        let earlier = store::sync_state_in(conn, STATE_LEFT_OUT).map_err(err)?;
        let earlier = earlier.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        if pass.held_after()? + left_out.max(earlier) < total(&outcome) {
            outcome = pass.run(&mut *source, opts, None)?;
            left_out = pass.unheld_left_out()?;
        } else {
            left_out = left_out.max(earlier);
        }
    }
    drop(pass);
    let counts = Counts {
        records: total(&outcome),
        catch_up_passes: outcome.catch_up_passes,
        left_out,
    };
    staging.merge(&mut report, counts, now, &err)?;
    Ok(report)
}

/// `COUNT(*)` of the stored sessions.
fn count_sessions(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM session_rows", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
}

/// What the read ended with, for the merge's count check.
#[derive(Debug, Clone, Copy)]
struct Counts {
    /// Sessions Tautulli reports (`recordsTotal`, else `recordsFiltered`).
    records: u64,
    catch_up_passes: u32,
    /// Sessions read (now or by an earlier sync) but left out for their times, not held.
    left_out: u64,
}

/// The sessions and users a sync has read, waiting in the connection's temp database until
/// the read is complete. Writing them takes no lock on the store, and a killed process
/// loses them with its temp file: only [`Staging::merge`] writes the store.
///
/// Staged sessions are numbers only: their texts (user, platform, player, title) are kept
/// once each in `texts`, in memory like the store's own string ids during a write (distinct
/// names and titles, not one per session), so a million staged sessions cost the temp
/// file ~60 MB and the merge reads them back without parsing text.
struct Staging<'c> {
    conn: &'c Connection,
    /// Distinct texts of the staged sessions; a staged session holds their indexes.
    texts: Vec<String>,
    text_ids: FxHashMap<String, i64>,
}

impl<'c> Staging<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Staging<'c>> {
        // Keyed by arrival: appending is the cheapest write, and the merge replays them in
        // the order they came (each page oldest id first), as they were written before.
        conn.execute_batch(
            "DROP TABLE IF EXISTS temp.sync_sessions;
             DROP TABLE IF EXISTS temp.sync_users;
             CREATE TEMP TABLE sync_sessions (
                 seq                    INTEGER PRIMARY KEY,
                 id                     INTEGER NOT NULL,
                 reference_id           INTEGER NOT NULL,
                 user_id                INTEGER NOT NULL,
                 user                   INTEGER NOT NULL,
                 started                INTEGER NOT NULL,
                 stopped                INTEGER,
                 paused_seconds         INTEGER NOT NULL,
                 play_seconds           INTEGER NOT NULL,
                 media                  INTEGER NOT NULL,
                 live                   INTEGER NOT NULL,
                 rating_key             INTEGER NOT NULL,
                 parent_rating_key      INTEGER,
                 grandparent_rating_key INTEGER,
                 section_id             INTEGER,
                 decision               INTEGER NOT NULL,
                 platform               INTEGER NOT NULL,
                 player                 INTEGER NOT NULL,
                 title                  INTEGER NOT NULL
             );
             CREATE TEMP TABLE sync_users (
                 user_id       INTEGER PRIMARY KEY,
                 username      TEXT,
                 friendly_name TEXT
             );",
        )?;
        Ok(Staging {
            conn,
            texts: Vec::new(),
            text_ids: FxHashMap::default(),
        })
    }

    /// The index of `text` in `texts`, added when new.
    fn text_id(&mut self, text: &str) -> i64 {
        if let Some(&id) = self.text_ids.get(text) {
            return id;
        }
        let id = self.texts.len() as i64;
        self.texts.push(text.to_owned());
        self.text_ids.insert(text.to_owned(), id);
        id
    }

    /// Stages one page: its new users (the first names seen win, as they would written
    /// directly) and its sessions in the order given. One transaction of the temp database.
    fn stage(
        &mut self,
        users: &[(i64, Option<String>, Option<String>)],
        sessions: &[Session],
    ) -> rusqlite::Result<()> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut user = tx.prepare_cached(
                "INSERT OR IGNORE INTO temp.sync_users (user_id, username, friendly_name) \
                 VALUES (?1, ?2, ?3)",
            )?;
            for (id, username, friendly_name) in users {
                user.execute(params![id, username, friendly_name])?;
            }
            let mut session = tx.prepare_cached(
                "INSERT INTO temp.sync_sessions (id, reference_id, user_id, user, started, \
                 stopped, paused_seconds, play_seconds, media, live, rating_key, \
                 parent_rating_key, grandparent_rating_key, section_id, decision, platform, \
                 player, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, \
                 ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            for s in sessions {
                let texts = [
                    self.text_id(&s.user),
                    self.text_id(&s.platform),
                    self.text_id(&s.player),
                    self.text_id(&s.title),
                ];
                session.execute(params![
                    s.id,
                    s.reference_id,
                    s.user_id,
                    texts[0],
                    s.started,
                    s.stopped,
                    s.paused_seconds,
                    s.play_seconds,
                    media_code(s.media_type),
                    i64::from(s.live),
                    s.rating_key,
                    s.parent_rating_key,
                    s.grandparent_rating_key,
                    s.section_id,
                    decision_code(s.decision),
                    texts[1],
                    texts[2],
                    texts[3],
                ])?;
            }
        }
        tx.commit()
    }

    /// Sessions the store would hold if the staged ones were written now.
    fn held_after(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM main.session_rows) + \
                 (SELECT COUNT(*) FROM (SELECT DISTINCT id FROM temp.sync_sessions) s \
                  WHERE NOT EXISTS (SELECT 1 FROM main.session_rows r WHERE r.id = s.id))",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
    }

    /// Writes everything staged in one transaction, taking the write lock first (waiting for
    /// another run's up to [`store::BUSY_TIMEOUT`]), and records the sync; counts in
    /// `report`. Fails, writing nothing, when the store would then hold fewer sessions than
    /// Tautulli reports.
    fn merge(
        &self,
        report: &mut SyncReport,
        counts: Counts,
        now: i64,
        err: &dyn Fn(rusqlite::Error) -> Error,
    ) -> Result<()> {
        let tx =
            Transaction::new_unchecked(self.conn, TransactionBehavior::Immediate).map_err(err)?;
        let held_before = count_sessions(&tx).map_err(err)?;
        // Into an empty store every row is new: the indexes are built once at the end.
        let indexes = if held_before == 0 {
            store::drop_session_indexes(&tx).map_err(err)?
        } else {
            Vec::new()
        };
        let held = self.write(&tx, report, held_before).map_err(err)?;
        let records = counts.records;
        if held + counts.left_out < records {
            return Err(Error::BadResponse {
                cmd: Command::GetHistory.as_str(),
                status: 200,
                reason: format!(
                    "the counts do not add up: the store holds {held} sessions (and {} were \
                     left out) but Tautulli reports {records} after {} catch-up passes; the \
                     history changed during the sync, run it again (nothing was written)",
                    counts.left_out, counts.catch_up_passes
                ),
                excerpt: String::new(),
            });
        }
        if held > records {
            report.warnings.push(format!(
                "Tautulli reports {records} sessions but the store holds {held}: sessions \
                 deleted in Tautulli are kept here"
            ));
        }
        store::create_indexes(&tx, &indexes).map_err(err)?;
        report.records_filtered = records;
        report.total_sessions = count_sessions(&tx).map_err(err)?;
        if report.requests == 0 {
            report.requests = report.pages;
        }
        set_sync_state(&tx, STATE_LAST_SYNC, now).map_err(err)?;
        set_sync_state(&tx, STATE_RECORDS, records as i64).map_err(err)?;
        set_sync_state(&tx, STATE_LEFT_OUT, counts.left_out as i64).map_err(err)?;
        let top: Option<i64> = tx
            .query_row("SELECT MAX(started) FROM session_rows", [], |r| r.get(0))
            .map_err(err)?;
        if let Some(top) = top {
            set_sync_state(&tx, STATE_MAX_STARTED, top).map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Upserts the staged users, then the staged sessions in the order they arrived;
    /// returns the sessions held after.
    fn write(
        &self,
        tx: &Transaction<'_>,
        report: &mut SyncReport,
        held_before: u64,
    ) -> rusqlite::Result<u64> {
        let mut users =
            tx.prepare("SELECT user_id, username, friendly_name FROM temp.sync_users")?;
        let mut rows = users.query([])?;
        while let Some(r) = rows.next()? {
            let (id, username, friendly_name): (i64, Option<String>, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?);
            upsert_user(tx, id, username.as_deref(), friendly_name.as_deref())?;
        }
        let mut held = held_before;
        let mut writer = SessionWriter::new(tx)?;
        let mut sessions = tx.prepare(
            "SELECT id, reference_id, user_id, user, started, stopped, paused_seconds, \
             play_seconds, media, live, rating_key, parent_rating_key, grandparent_rating_key, \
             section_id, decision, platform, player, title FROM temp.sync_sessions \
             ORDER BY seq",
        )?;
        let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
            let id: i64 = r.get(i)?;
            Ok(self.texts[id as usize].clone())
        };
        let mut rows = sessions.query([])?;
        while let Some(r) = rows.next()? {
            let s = Session {
                id: r.get(0)?,
                reference_id: r.get(1)?,
                user_id: r.get(2)?,
                user: text(r, 3)?,
                started: r.get(4)?,
                stopped: r.get(5)?,
                paused_seconds: r.get(6)?,
                play_seconds: r.get(7)?,
                media_type: media_of_code(r.get(8)?),
                live: r.get::<_, i64>(9)? != 0,
                rating_key: r.get(10)?,
                parent_rating_key: r.get(11)?,
                grandparent_rating_key: r.get(12)?,
                section_id: r.get(13)?,
                decision: decision_of_code(r.get(14)?),
                platform: text(r, 15)?,
                player: text(r, 16)?,
                title: text(r, 17)?,
            };
            match writer.upsert(&s)? {
                Upsert::Inserted => {
                    report.inserted += 1;
                    held += 1;
                }
                Upsert::Updated => report.updated += 1,
                Upsert::Unchanged => report.unchanged += 1,
            }
        }
        Ok(held)
    }
}

impl Drop for Staging<'_> {
    /// The staged rows go with the sync, whether it wrote them or not.
    fn drop(&mut self) {
        let _ = self.conn.execute_batch(
            "DROP TABLE IF EXISTS temp.sync_sessions; DROP TABLE IF EXISTS temp.sync_users;",
        );
    }
}

/// The sync's read, staging what it reads, fed by the one history reader.
struct Pass<'a, 'c> {
    staging: &'a mut Staging<'c>,
    report: &'a mut SyncReport,
    /// Ids of rows read but not stored (no start, or bad times): Tautulli counts them, so
    /// the count check does too.
    left_out: HashSet<i64>,
    /// Users staged in this sync.
    users: HashSet<i64>,
    err: &'a dyn Fn(rusqlite::Error) -> Error,
}

impl Pass<'_, '_> {
    /// Sessions read but left out that are neither held nor staged (a copy of a left-out
    /// row is counted with the held ones).
    fn unheld_left_out(&self) -> Result<u64> {
        let conn = self.staging.conn;
        let mut held = conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM main.session_rows WHERE id = ?1) \
                 OR EXISTS (SELECT 1 FROM temp.sync_sessions WHERE id = ?1)",
            )
            .map_err(self.err)?;
        let mut unheld = 0;
        for id in &self.left_out {
            if !held
                .query_row([id], |r| r.get::<_, bool>(0))
                .map_err(self.err)?
            {
                unheld += 1;
            }
        }
        Ok(unheld)
    }

    /// Reads the history (from `since`, or all of it) and stages every session; a read that
    /// could not be completed fails the sync.
    fn run<S>(&mut self, source: S, opts: &SyncOptions, since: Option<Since>) -> Result<ReadOutcome>
    where
        S: WindowSource<SessionPage> + PageSource<SessionPage>,
    {
        let window = WindowOptions {
            target: opts.window_rows.into(),
            max_pages: opts.max_pages.into(),
            horizon_days: crate::index::cursor::COUNT_HORIZON_DAYS,
            grouped: false,
        };
        let mut reader = Reader::new(source, opts.read, window, opts.per_page);
        if let Some(s) = since {
            reader = reader.since(s);
        }
        while let Some(page) = reader.next_page()? {
            self.stage(page.rows)?;
        }
        let outcome = reader.outcome();
        self.report.pages += outcome.pages;
        self.report.rows_seen += outcome.rows_seen;
        self.report.skipped += outcome.null_id_rows;
        self.report.catch_up_passes += outcome.catch_up_passes;
        if !outcome.complete {
            let why = outcome
                .incomplete_reason
                .clone()
                .unwrap_or_else(|| "the read ended early".into());
            return Err(Error::BadResponse {
                cmd: Command::GetHistory.as_str(),
                status: 200,
                reason: format!(
                    "the sync could not read the whole history: {why} (nothing was written)"
                ),
                excerpt: String::new(),
            });
        }
        Ok(outcome)
    }

    /// See [`Staging::held_after`].
    fn held_after(&self) -> Result<u64> {
        self.staging.held_after().map_err(self.err)
    }

    fn stage(&mut self, rows: Vec<SessionRow>) -> Result<()> {
        let mut sessions = Vec::with_capacity(rows.len());
        let mut users = Vec::new();
        for row in rows {
            let Some(id) = row.0.row_id else {
                self.report.skipped += 1;
                continue;
            };
            match session_times(&row) {
                SessionTimes::Usable => {}
                SessionTimes::NoStart => {
                    self.report.skipped += 1;
                    self.left_out.insert(id);
                    continue;
                }
                SessionTimes::Bad => {
                    if self.left_out.insert(id) {
                        self.report.bad_time += 1;
                    }
                    continue;
                }
            }
            let user_id = row.0.user_id.unwrap_or(0);
            if self.users.insert(user_id) {
                users.push((
                    user_id,
                    row.0.user.as_deref().map(|u| clean_text(u).into_owned()),
                    row.0
                        .friendly_name
                        .as_deref()
                        .map(|u| clean_text(u).into_owned()),
                ));
            }
            if let Some(s) = session_from_row(row) {
                sessions.push(s);
            }
        }
        // Oldest id first: the table's B-tree then fills pages instead of splitting them
        // (Tautulli answers newest first). Stable, so a repeated id keeps its order.
        sessions.sort_by_key(|s| s.id);
        self.staging.stage(&users, &sessions).map_err(self.err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::store::upsert_session;
    use crate::timefmt::TIME_RANGE;

    /// (id, reference_id, started)
    type Sim = (i64, i64, i64);

    /// A date-descending ungrouped table that records every request; its day filters and
    /// per-day counts use UTC days.
    struct Table {
        rows: Vec<Sim>,
        fetches: Vec<Query>,
        /// Fail on this fetch (0-based).
        fail_at: Option<usize>,
        /// Rows added just before this fetch.
        add_before: Option<(usize, Vec<Sim>)>,
        /// Run just before this fetch (another process using the store mid-read).
        during: Option<(usize, Box<dyn FnMut()>)>,
    }

    impl Table {
        /// Sessions 1..=n, one hour apart, lone.
        fn new(n: i64) -> Table {
            Table {
                rows: (1..=n).map(|i| (i, i, 10_000 + i * 3600)).collect(),
                fetches: Vec::new(),
                fail_at: None,
                add_before: None,
                during: None,
            }
        }

        fn starts(&self) -> Vec<u64> {
            self.fetches.iter().map(|q| q.start).collect()
        }
    }

    fn day_of(t: i64) -> jiff::civil::Date {
        jiff::Timestamp::from_second(t)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
    }

    impl PageSource<SessionPage> for Table {
        fn fetch(&mut self, start: u64, length: u64) -> Result<SessionPage> {
            self.fetch_query(&Query::page(start, length))
        }
    }

    impl WindowSource<SessionPage> for Table {
        fn fetch_query(&mut self, q: &Query) -> Result<SessionPage> {
            if let Some((at, rows)) = &self.add_before {
                if *at == self.fetches.len() {
                    self.rows.extend(rows.iter().copied());
                }
            }
            if let Some((at, f)) = &mut self.during {
                if *at == self.fetches.len() {
                    f();
                }
            }
            self.fetches.push(*q);
            if self.fail_at == Some(self.fetches.len() - 1) {
                return Err(Error::Unreachable {
                    reason: "gone".into(),
                });
            }
            self.rows.sort_by_key(|r| std::cmp::Reverse((r.2, r.0)));
            let inside: Vec<&Sim> = self
                .rows
                .iter()
                .filter(|r| {
                    let d = day_of(r.2);
                    q.after.is_none_or(|a| a <= d) && q.before.is_none_or(|b| d <= b)
                })
                .collect();
            let data: Vec<HistoryRow> = inside
                .iter()
                .skip(q.start as usize)
                .take(q.length as usize)
                .map(|&&(id, reference_id, started)| HistoryRow {
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
                records_filtered: inside.len() as i64,
                records_total: Some(self.rows.len() as i64),
                data: data.into_iter().map(SessionRow).collect(),
            })
        }

        fn day_counts(
            &mut self,
            _days: u32,
        ) -> Result<Option<crate::tautulli::reader::source::DayCounts>> {
            let mut days: std::collections::BTreeMap<jiff::civil::Date, u64> = Default::default();
            for r in &self.rows {
                *days.entry(day_of(r.2)).or_default() += 1;
            }
            Ok(Some(days.into_iter().collect()))
        }
    }

    /// Paged reads of `per_page` rows: the request patterns below are `start` pages.
    fn opts(per_page: u32, overlap_hours: i64) -> SyncOptions {
        SyncOptions {
            read: ReadMode::Paged,
            window_rows: 20_000,
            per_page,
            max_pages: 100,
            overlap_seconds: overlap_hours * 3600,
        }
    }

    fn windowed(window_rows: u32, overlap_hours: i64) -> SyncOptions {
        SyncOptions {
            read: ReadMode::Windowed,
            window_rows,
            ..opts(1000, overlap_hours)
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
        let p = session_params(&Query::page(40, 0));
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
        assert_eq!(t.starts(), [0, 4, 8]);

        // Nothing new: page 1 holds sessions 10..7; 7 started 3 h before 10, below the 2 h
        // overlap, and every row is held: one request.
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 2), 2).unwrap();
        assert!(!r.first_sync);
        assert_eq!(t.starts(), [0]);
        assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 4));

        // Five new plays on top: pages 1 and 2 hold new rows; page 3 (sessions 9..6) is
        // all held and below the cutoff.
        t.rows.extend((11..=15).map(|i| (i, i, 10_000 + i * 3600)));
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 2), 3).unwrap();
        assert_eq!(t.starts(), [0, 4, 8]);
        assert_eq!((r.inserted, r.total_sessions), (5, 15));
    }

    #[test]
    fn windowed_syncs_read_day_windows_and_a_resync_asks_one_filtered_request() {
        let mut store = Store::open_in_memory().unwrap();
        // 200 sessions an hour apart: about eight UTC days.
        let mut t = Table::new(200);
        let r = sync(&mut store, &mut t, &windowed(50, 2), 1).unwrap();
        assert_eq!((r.inserted, r.total_sessions), (200, 200));
        assert!(t.fetches.len() >= 4, "{:?}", t.fetches);
        assert!(t
            .fetches
            .iter()
            .all(|q| q.after.is_some() || q.before.is_some()));

        t.rows
            .extend((201..=210).map(|i| (i, i, 10_000 + i * 3600)));
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &windowed(50, 2), 2).unwrap();
        assert_eq!((r.inserted, r.total_sessions), (10, 210));
        assert_eq!(t.fetches.len(), 1, "{:?}", t.fetches);
        assert!(t.fetches[0].after.is_some() && t.fetches[0].before.is_none());
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
        assert!(
            t.fetches.len() > 1,
            "it read everything again: {:?}",
            t.fetches
        );
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

    /// A store in a file of its own (another connection can reach it).
    fn file_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        (dir, store)
    }

    /// Another process's connection to the store in `dir`, waiting for no lock.
    fn other_process(dir: &std::path::Path) -> Connection {
        let c = Connection::open(dir.join(store::FILE_NAME)).unwrap();
        c.busy_timeout(std::time::Duration::ZERO).unwrap();
        c
    }

    #[test]
    fn the_read_holds_no_lock_and_the_write_merges_on_top_of_what_others_wrote() {
        let (dir, mut store) = file_store();
        let mut t = Table::new(10);
        sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        t.rows.extend((11..=20).map(|i| (i, i, 10_000 + i * 3600)));
        // Mid-read, another process writes the store without waiting: a collect's rotation,
        // and a sync's copy of session 12 (which this sync then finds unchanged).
        let path = dir.path().to_path_buf();
        let twelve = {
            let mut one = Table::new(12);
            one.rows.retain(|r| r.0 == 12);
            let mut other = Store::open_in_memory().unwrap();
            sync(&mut other, &mut one, &opts(4, 2), 1).unwrap();
            other.session(12).unwrap().unwrap()
        };
        t.during = Some((
            1,
            Box::new(move || {
                let c = other_process(&path);
                c.execute(
                    "INSERT INTO rotations (name, started_at) VALUES ('meanwhile', 5)",
                    [],
                )
                .unwrap();
                upsert_session(&c, &twelve).unwrap();
            }),
        ));
        t.fetches.clear();
        let r = sync(&mut store, &mut t, &opts(4, 2), 2).unwrap();
        assert!(t.fetches.len() > 1, "the write came mid-read");
        // Pages 20..17, 16..13, 12..9 and 8..5: 12 and the six held before are unchanged.
        assert_eq!((r.inserted, r.unchanged), (9, 7), "{r:?}");
        assert_eq!(r.total_sessions, 20);
        assert_eq!(ids(&store), (1..=20).map(|i| (i, i)).collect::<Vec<_>>());
        assert_eq!(store.counts().unwrap().rotations, 1);
    }

    #[test]
    fn a_store_locked_past_the_wait_is_busy_and_nothing_is_written() {
        let (dir, mut store) = file_store();
        let mut t = Table::new(10);
        sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        let before = ids(&store);
        t.rows.extend((11..=20).map(|i| (i, i, 10_000 + i * 3600)));
        let lock = other_process(dir.path());
        lock.execute_batch("BEGIN IMMEDIATE; DELETE FROM rotations;")
            .unwrap();
        store
            .conn()
            .busy_timeout(std::time::Duration::from_millis(50))
            .unwrap();
        t.fetches.clear();
        let e = sync(&mut store, &mut t, &opts(4, 2), 2).unwrap_err();
        assert!(t.fetches.len() > 1, "it read everything first");
        assert!(matches!(e, Error::StoreBusy { .. }), "{e:?}");
        assert_eq!(e.code(), crosswatch_contract::ErrorCode::UNREACHABLE);
        let text = e.to_string();
        assert!(
            text.starts_with("another run is writing the analytics store "),
            "{text}"
        );
        assert!(text.contains(store::FILE_NAME), "{text}");
        assert!(text.contains("try again when it has finished"), "{text}");
        for wrong in ["internal", "disk", "locked"] {
            assert!(!text.contains(wrong), "{wrong:?} in {text}");
        }
        // Reads go on meanwhile (WAL), and see the store as it was.
        assert_eq!(ids(&store), before);
        drop(lock);
        assert_eq!(ids(&store), before);
        assert_eq!(store.sync_state(STATE_LAST_SYNC).unwrap(), Some(1));
        let r = sync(&mut store, &mut t, &opts(4, 2), 3).unwrap();
        assert_eq!((r.inserted, r.total_sessions), (10, 20));
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
        assert_eq!(store.counts().unwrap().sessions, 0);
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
        let s = session_from_row(SessionRow(row)).unwrap();
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
        assert!(session_from_row(SessionRow::default()).is_none());
    }

    #[test]
    fn session_times_refuse_garbage_and_sessions_never_carry_it() {
        let row = |v: serde_json::Value| -> SessionRow { serde_json::from_value(v).unwrap() };
        let base = serde_json::json!({"row_id": 3, "started": 100, "stopped": 700,
            "play_duration": 600, "paused_counter": 0});
        let with = |patch: serde_json::Value| {
            let mut v = base.clone();
            for (k, x) in patch.as_object().unwrap() {
                v[k] = x.clone();
            }
            row(v)
        };
        let cases = [
            (serde_json::json!({}), SessionTimes::Usable),
            (serde_json::json!({"stopped": 0}), SessionTimes::Usable),
            (
                serde_json::json!({"stopped": null, "date": -1}),
                SessionTimes::Usable,
            ),
            (
                serde_json::json!({"started": 0, "date": 50}),
                SessionTimes::Usable,
            ),
            (serde_json::json!({"started": null}), SessionTimes::NoStart),
            (
                serde_json::json!({"started": 0, "date": ""}),
                SessionTimes::NoStart,
            ),
            (serde_json::json!({"started": -5}), SessionTimes::Bad),
            (
                serde_json::json!({"started": null, "date": 10_000_000_000_000i64}),
                SessionTimes::Bad,
            ),
            (
                serde_json::json!({"started": "99999999999999999999"}),
                SessionTimes::Bad,
            ),
            (serde_json::json!({"stopped": i64::MAX}), SessionTimes::Bad),
            (serde_json::json!({"stopped": -5}), SessionTimes::Bad),
            (
                serde_json::json!({"play_duration": i64::MAX}),
                SessionTimes::Bad,
            ),
            (
                serde_json::json!({"paused_counter": 253_402_300_800i64}),
                SessionTimes::Bad,
            ),
        ];
        for (patch, want) in &cases {
            let r = with(patch.clone());
            assert_eq!(session_times(&r), *want, "{patch}");
            let s = session_from_row(r);
            assert_eq!(s.is_some(), *want == SessionTimes::Usable, "{patch}");
            if let Some(s) = s {
                assert!(TIME_RANGE.contains(&s.started), "{s:?}");
                assert!(s.stopped.is_none_or(|t| TIME_RANGE.contains(&t)), "{s:?}");
                assert!(s.end().is_some());
            }
        }
        // Durations are ints, not times: a digit string too large is a bad page.
        let mut v = base.clone();
        v["duration"] = serde_json::json!("99999999999999999999999");
        assert!(serde_json::from_value::<SessionRow>(v).is_err());
    }

    fn reference_page(name: &str) -> String {
        let path = format!("{}/fixtures/reference/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["response"]["data"].to_string()
    }

    #[test]
    fn every_reference_row_is_a_session() {
        for name in ["get_history_default.json", "get_history_grouping0.json"] {
            let page: SessionPage = serde_json::from_str(&reference_page(name)).unwrap();
            assert!(!page.data.is_empty(), "{name}");
            let sessions: Vec<_> = page.data.into_iter().map(session_from_row).collect();
            assert!(sessions.iter().all(Option::is_some), "{name}");
        }
    }

    #[test]
    fn session_rows_read_types_and_decisions_and_refuse_garbage() {
        let base = r#""row_id": 5, "started": 100"#;
        let cases = [
            (
                r#""media_type": "episode", "transcode_decision": " Direct Play""#,
                Some((MediaType::Episode, StreamDecision::DirectPlay)),
            ),
            (
                r#""media_type": 7, "transcode_decision": null, "platform": 12"#,
                Some((MediaType::Other, StreamDecision::Unknown)),
            ),
            (
                r#""media_type": "Episode ", "transcode_decision": "copy", "live": "1""#,
                Some((MediaType::Other, StreamDecision::DirectStream)),
            ),
            (
                r#""watched_status": "0.5", "percent_complete": 3.0, "product": 4"#,
                Some((MediaType::Other, StreamDecision::Unknown)),
            ),
            (
                r#""user": "", "friendly_name": "Ann", "full_title": "", "title": "T""#,
                Some((MediaType::Other, StreamDecision::Unknown)),
            ),
            (r#""year": "abc""#, None),
            (r#""watched_status": "x""#, None),
            (r#""group_ids": true"#, None),
            (r#""state": []"#, None),
            (r#""media_type": {}"#, None),
            (r#""transcode_decision": false"#, None),
            (
                r#""unknown_field": {"a": [1, 2]}"#,
                Some((MediaType::Other, StreamDecision::Unknown)),
            ),
        ];
        for (case, want) in cases {
            let json = format!("{{{base}, {case}}}");
            let got = serde_json::from_str::<SessionRow>(&json)
                .ok()
                .and_then(session_from_row)
                .map(|s| (s.media_type, s.decision));
            assert_eq!(got, want, "{case}");
        }
    }

    #[test]
    fn a_first_sync_builds_the_indexes_once_and_keeps_them() {
        let mut store = Store::open_in_memory().unwrap();
        let indexes = |store: &Store| -> Vec<(String, String)> {
            store
                .conn()
                .prepare(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                     AND tbl_name = 'session_rows' AND sql IS NOT NULL ORDER BY name",
                )
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap()
        };
        let before = indexes(&store);
        assert_eq!(before.len(), 5);
        // A failed first sync rolls the dropped indexes back too.
        let mut t = Table::new(10);
        t.fail_at = Some(1);
        sync(&mut store, &mut t, &opts(4, 2), 1).unwrap_err();
        assert_eq!(indexes(&store), before);
        let mut t = Table::new(10);
        sync(&mut store, &mut t, &opts(4, 2), 1).unwrap();
        assert_eq!(indexes(&store), before);
        assert_eq!(store.counts().unwrap().sessions, 10);
    }
}
