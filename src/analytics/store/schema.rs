//! The store's SQL schema as a list of migrations, versioned with `PRAGMA user_version`: a
//! store of any older version is brought up to date in order, each step once, and a store
//! newer than this build is refused rather than misread.

/// Schema migrations; `MIGRATIONS[i]` brings `user_version` from `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE sessions (
    id                     INTEGER PRIMARY KEY,
    reference_id           INTEGER NOT NULL,
    user_id                INTEGER NOT NULL,
    user                   TEXT    NOT NULL,
    started                INTEGER NOT NULL,
    stopped                INTEGER,
    paused_seconds         INTEGER NOT NULL,
    play_seconds           INTEGER NOT NULL,
    media_type             TEXT    NOT NULL,
    live                   INTEGER NOT NULL,
    rating_key             INTEGER NOT NULL,
    parent_rating_key      INTEGER,
    grandparent_rating_key INTEGER,
    section_id             INTEGER,
    decision               TEXT    NOT NULL,
    platform               TEXT    NOT NULL,
    player                 TEXT    NOT NULL,
    title                  TEXT    NOT NULL
);
CREATE INDEX sessions_started ON sessions(started);
CREATE INDEX sessions_stopped ON sessions(stopped);
CREATE INDEX sessions_reference ON sessions(reference_id);
CREATE INDEX sessions_rating_key ON sessions(rating_key);
CREATE INDEX sessions_parent ON sessions(parent_rating_key);
CREATE INDEX sessions_grandparent ON sessions(grandparent_rating_key);

CREATE TABLE users (
    user_id       INTEGER PRIMARY KEY,
    username      TEXT,
    friendly_name TEXT
);

CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    section_id  INTEGER NOT NULL,
    library     TEXT    NOT NULL,
    rating_key  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    source      TEXT    NOT NULL CHECK (source IN ('config', 'discovered')),
    active      INTEGER NOT NULL DEFAULT 1,
    updated_at  INTEGER NOT NULL,
    UNIQUE (section_id, rating_key)
);

CREATE TABLE collection_members (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    rating_key    INTEGER NOT NULL,
    kind          TEXT,
    title         TEXT,
    PRIMARY KEY (collection_id, rating_key)
);

CREATE TABLE rotations (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    started_at INTEGER NOT NULL,
    note       TEXT
);

CREATE TABLE collection_snapshots (
    id               INTEGER PRIMARY KEY,
    collection_id    INTEGER NOT NULL REFERENCES collections(id),
    window_days      INTEGER NOT NULL,
    plays            INTEGER NOT NULL,
    watch_seconds    INTEGER NOT NULL,
    unique_users     INTEGER NOT NULL,
    items_with_plays INTEGER NOT NULL,
    total_items      INTEGER NOT NULL,
    collected_at     INTEGER NOT NULL,
    rotation_id      INTEGER NULL REFERENCES rotations(id)
);
CREATE INDEX snapshots_collection ON collection_snapshots(collection_id, collected_at);
CREATE INDEX snapshots_collected ON collection_snapshots(collected_at);
CREATE INDEX snapshots_rotation ON collection_snapshots(rotation_id);
"#,
    r#"
CREATE TABLE strings (
    id    INTEGER PRIMARY KEY,
    value TEXT    NOT NULL UNIQUE
);
INSERT INTO strings (value)
    SELECT user FROM sessions UNION SELECT platform FROM sessions
    UNION SELECT player FROM sessions UNION SELECT title FROM sessions;

CREATE TABLE session_rows (
    id                     INTEGER PRIMARY KEY,
    reference_id           INTEGER NOT NULL,
    started                INTEGER NOT NULL,
    stopped                INTEGER,
    play_seconds           INTEGER NOT NULL,
    paused_seconds         INTEGER NOT NULL,
    media                  INTEGER NOT NULL,
    live                   INTEGER NOT NULL,
    decision               INTEGER NOT NULL,
    user_id                INTEGER NOT NULL,
    user_sid               INTEGER NOT NULL,
    platform_sid           INTEGER NOT NULL,
    rating_key             INTEGER NOT NULL,
    parent_rating_key      INTEGER,
    grandparent_rating_key INTEGER,
    section_id             INTEGER,
    player_sid             INTEGER NOT NULL,
    title_sid              INTEGER NOT NULL
);
INSERT INTO session_rows
    SELECT s.id, s.reference_id, s.started, s.stopped, s.play_seconds, s.paused_seconds,
        CASE s.media_type WHEN 'movie' THEN 0 WHEN 'episode' THEN 1 WHEN 'track' THEN 2
            ELSE 3 END,
        s.live,
        CASE lower(trim(s.decision)) WHEN 'direct play' THEN 0 WHEN 'copy' THEN 1
            WHEN 'direct stream' THEN 1 WHEN 'transcode' THEN 2 ELSE 3 END,
        s.user_id,
        (SELECT id FROM strings WHERE value = s.user),
        (SELECT id FROM strings WHERE value = s.platform),
        s.rating_key, s.parent_rating_key, s.grandparent_rating_key, s.section_id,
        (SELECT id FROM strings WHERE value = s.player),
        (SELECT id FROM strings WHERE value = s.title)
    FROM sessions s ORDER BY s.id;
DROP TABLE sessions;

CREATE VIEW sessions (id, reference_id, user_id, user, started, stopped, paused_seconds,
    play_seconds, media_type, live, rating_key, parent_rating_key, grandparent_rating_key,
    section_id, decision, platform, player, title) AS
SELECT r.id, r.reference_id, r.user_id, u.value, r.started, r.stopped, r.paused_seconds,
    r.play_seconds,
    CASE r.media WHEN 0 THEN 'movie' WHEN 1 THEN 'episode' WHEN 2 THEN 'track' ELSE 'other' END,
    r.live, r.rating_key, r.parent_rating_key, r.grandparent_rating_key, r.section_id,
    CASE r.decision WHEN 0 THEN 'direct play' WHEN 1 THEN 'copy' WHEN 2 THEN 'transcode'
        ELSE '' END,
    p.value, pl.value, t.value
FROM session_rows r
    LEFT JOIN strings u ON u.id = r.user_sid
    LEFT JOIN strings p ON p.id = r.platform_sid
    LEFT JOIN strings pl ON pl.id = r.player_sid
    LEFT JOIN strings t ON t.id = r.title_sid;

CREATE INDEX session_rows_started ON session_rows(started);
CREATE INDEX session_rows_reference ON session_rows(reference_id);
CREATE INDEX session_rows_rating_key ON session_rows(rating_key);
CREATE INDEX session_rows_parent ON session_rows(parent_rating_key)
    WHERE parent_rating_key IS NOT NULL;
CREATE INDEX session_rows_grandparent ON session_rows(grandparent_rating_key)
    WHERE grandparent_rating_key IS NOT NULL;
"#,
    // Schema 3: every collect is a run of its own, numbered, so collects within one second
    // stay apart (the second alone merged them). Earlier runs are numbered by their time.
    r#"
ALTER TABLE collection_snapshots ADD COLUMN run INTEGER NOT NULL DEFAULT 0;
UPDATE collection_snapshots SET run = (
    SELECT COUNT(DISTINCT x.collected_at) FROM collection_snapshots x
    WHERE x.collected_at <= collection_snapshots.collected_at);
CREATE INDEX snapshots_run ON collection_snapshots(run);
"#,
];

/// The schema version this build writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
