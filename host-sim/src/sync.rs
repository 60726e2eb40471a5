//! Running pairs: Tautulli -> Tracker imports (staged batch by batch while the plugin reads,
//! then merged in one Tracker transaction), and writes aimed at the read-only source, which
//! the plugin must refuse. The read holds no lock on the Tracker: another run can use it
//! meanwhile, and this one waits for the write lock only to merge.
//!
//! An import passes the source's stored checkpoint to the plugin (index option
//! `checkpoint`) and stores the one the plugin's report gives in the same transaction as the
//! items, so a killed or failed import leaves both where they were and the next read covers
//! those plays again.

use std::path::Path;

use crosswatch_contract::payload::{IndexOptions, IndexReport};
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::config::{EngineConfig, Pair};
use crate::error::{HostError, Result};
use crate::plugin::{Answer, Plugin, Source};
use crate::progress::ProgressDisplay;
use crate::tracker::{CheckpointUpdate, ImportOutcome, SnapshotInfo, Tracker};

/// The provider name of the plugin's source and of the Tracker.
pub const TAUTULLI: &str = "TAUTULLI";
pub const CROSSWATCH: &str = "CROSSWATCH";

/// Loads the plugin file and opens its source provider for `instance`.
pub fn open_source(plugin: &Path, cfg: &EngineConfig, instance: &str) -> Result<Source> {
    Plugin::load(plugin)?.open_source(&cfg.plugin_config(), instance)
}

/// What one pair did (or, in a dry run, would do).
#[derive(Debug, Serialize)]
pub struct PairResult {
    pub source: String,
    pub target: String,
    pub feature: String,
    pub dry_run: bool,
    #[serde(flatten)]
    pub kind: PairKind,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PairKind {
    /// Tautulli -> Tracker.
    Import {
        /// The plugin's index report (pages, rows, skipped by reason, unresolved, complete...),
        /// echoed as the plugin sent it.
        report: Box<Answer<IndexReport>>,
        added: u64,
        updated: u64,
        unchanged: u64,
        total_after: u64,
        sample_added: Vec<String>,
        sample_updated: Vec<String>,
        snapshot: Option<SnapshotInfo>,
        snapshots_pruned: usize,
        unresolved_file: Option<String>,
        /// What the import did to the source's stored checkpoint.
        checkpoint: CheckpointAction,
    },
    /// Tracker -> Tautulli: every item refused by the read-only source.
    Rejected {
        code: String,
        message: String,
        rejected_keys: u64,
        sample_keys: Vec<String>,
    },
}

/// What an import did to the source's stored checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointAction {
    /// The report's checkpoint was committed with the items.
    Stored,
    /// The report gave none (an incomplete read): the stored one stays.
    Kept,
    /// `--reset-checkpoint`, and the report gave none: the stored one is gone.
    Cleared,
    /// A dry run stores nothing.
    DryRun,
}

/// What the user asked of the plugin's own state for this read.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// Forget cached `get_metadata` answers first (after fixing matches in Plex).
    pub clear_metadata_cache: bool,
    /// Ignore the stored checkpoint: this read is a full one, and the checkpoint it gives
    /// replaces the stored one once the import commits.
    pub reset_checkpoint: bool,
}

impl ReadOptions {
    /// The plugin's index options for a read starting from `checkpoint` (the token stored
    /// in the Tracker), which `reset_checkpoint` leaves out.
    pub fn options(self, dry_run: bool, checkpoint: Option<&str>) -> IndexOptions {
        IndexOptions {
            dry_run,
            clear_metadata_cache: self.clear_metadata_cache,
            reset_checkpoint: self.reset_checkpoint,
            checkpoint: checkpoint
                .filter(|_| !self.reset_checkpoint)
                .map(str::to_owned),
        }
    }

    /// What the import does with the report's `checkpoint` when it commits.
    fn checkpoint_update(self, report: &IndexReport) -> CheckpointUpdate {
        match &report.checkpoint {
            Some(token) => CheckpointUpdate::Replace(token.clone()),
            None if self.reset_checkpoint => CheckpointUpdate::Clear,
            None => CheckpointUpdate::Keep,
        }
    }
}

/// Runs every pair of the config in order, for the plugin instance `instance`, with the
/// default options for the plugin's state.
pub fn run_pairs(
    source: &mut Source,
    cfg: &EngineConfig,
    instance: &str,
    dry_run: bool,
    progress: bool,
    clock: &dyn Clock,
) -> Result<Vec<PairResult>> {
    run_pairs_with(
        source,
        cfg,
        instance,
        dry_run,
        progress,
        ReadOptions::default(),
        clock,
    )
}

/// [`run_pairs`] with options for the plugin's state.
pub fn run_pairs_with(
    source: &mut Source,
    cfg: &EngineConfig,
    instance: &str,
    dry_run: bool,
    progress: bool,
    options: ReadOptions,
    clock: &dyn Clock,
) -> Result<Vec<PairResult>> {
    let mut results = Vec::new();
    for pair in &cfg.pairs {
        let read = Read {
            feature: &pair.feature,
            instance,
            dry_run,
            progress,
            options,
            clock,
        };
        results.push(run_pair(source, cfg, pair, read)?);
    }
    Ok(results)
}

/// The source's stored checkpoint for `feature`: what an `index` of it starts from. Reads
/// the Tracker without writing (none yet: no checkpoint).
pub fn stored_checkpoint(
    cfg: &EngineConfig,
    feature: &str,
    instance: &str,
) -> Result<Option<String>> {
    match Tracker::open_existing_read_only(&cfg.root_dir)? {
        Some(t) => Ok(t.checkpoint(feature, TAUTULLI, instance)?),
        None => Ok(None),
    }
}

fn run_pair(
    source: &mut Source,
    cfg: &EngineConfig,
    pair: &Pair,
    read: Read<'_>,
) -> Result<PairResult> {
    let dry_run = read.dry_run;
    let kind = match (pair.source.as_str(), pair.target.as_str()) {
        (TAUTULLI, CROSSWATCH) => import(source, cfg, read)?,
        (CROSSWATCH, TAUTULLI) => write_into_source(source, cfg, &pair.feature, dry_run)?,
        (s, t) => {
            return Err(HostError::Config(format!(
                "pair {s} -> {t} is not something this host runs: use TAUTULLI -> CROSSWATCH \
                 (import), or CROSSWATCH -> TAUTULLI (refused: Tautulli is read-only)"
            )))
        }
    };
    Ok(PairResult {
        source: pair.source.clone(),
        target: pair.target.clone(),
        feature: pair.feature.clone(),
        dry_run,
        kind,
    })
}

/// One import's parameters.
struct Read<'a> {
    feature: &'a str,
    instance: &'a str,
    dry_run: bool,
    progress: bool,
    options: ReadOptions,
    clock: &'a dyn Clock,
}

/// Reads the plugin's index, staging it in the Tracker's import, and folds it in with one
/// transaction, which also stores the checkpoint the read gave.
fn import(source: &mut Source, cfg: &EngineConfig, read: Read<'_>) -> Result<PairKind> {
    let Read {
        feature,
        instance,
        dry_run,
        progress,
        options,
        clock,
    } = read;
    // A dry run must not even create the Tracker: plan against the stored state, or an
    // empty throwaway one when there is none yet.
    let mut scratch = None;
    let mut tracker = if dry_run {
        match Tracker::open_existing_read_only(&cfg.root_dir)? {
            Some(t) => t,
            None => {
                let dir = tempfile::tempdir()
                    .map_err(|e| HostError::io("cannot create a scratch directory", e))?;
                let t = Tracker::open(dir.path())?;
                scratch = Some(dir);
                t
            }
        }
    } else {
        Tracker::open(&cfg.root_dir)?
    };
    let stored = tracker.checkpoint(feature, TAUTULLI, instance)?;
    let mut cursor = source.index(feature, &options.options(dry_run, stored.as_deref()))?;
    let mut display = ProgressDisplay::new(progress);
    let (outcome, report, checkpoint): (ImportOutcome, Answer<IndexReport>, CheckpointAction) = {
        let mut import = tracker.begin_import(feature, dry_run)?;
        let mut batch: Vec<(String, String)> = Vec::new();
        loop {
            let step = cursor.step()?;
            display.update(&step.progress);
            if !step.entries.is_empty() {
                batch.clear();
                batch.extend(
                    step.entries
                        .into_iter()
                        .map(|e| (e.key.into_string(), e.item_json.into_string())),
                );
                import.add_batch(&batch)?;
            }
            if step.done {
                break;
            }
        }
        // The report (and its checkpoint) before the commit: the checkpoint must commit
        // with the items it covers, or not at all.
        let report = cursor.report()?;
        let update = options.checkpoint_update(&report);
        let action = match (&update, dry_run) {
            (_, true) => CheckpointAction::DryRun,
            (CheckpointUpdate::Replace(_), false) => CheckpointAction::Stored,
            (CheckpointUpdate::Keep, false) => CheckpointAction::Kept,
            (CheckpointUpdate::Clear, false) => CheckpointAction::Cleared,
        };
        let now = clock.now_epoch();
        import.set_checkpoint(TAUTULLI, instance, update, now)?;
        (import.finish(now)?, report, action)
    };
    display.finish();
    crate::report::print_warnings(&report.warnings);

    let mut pruned = 0;
    let mut unresolved_file = None;
    if !dry_run {
        pruned = tracker.apply_retention(feature, cfg.retention, clock.now_epoch())?;
        let lines: Vec<String> = report
            .unresolved
            .iter()
            .map(|u| serde_json::to_string(u).unwrap_or_default())
            .collect();
        let path = tracker.write_unresolved(&lines)?;
        if !lines.is_empty() {
            unresolved_file = Some(path.display().to_string());
        }
    }
    drop(tracker);
    drop(scratch);
    Ok(PairKind::Import {
        report: Box::new(report),
        added: outcome.added,
        updated: outcome.updated,
        unchanged: outcome.unchanged,
        total_after: outcome.total_after,
        sample_added: outcome.sample_added,
        sample_updated: outcome.sample_updated,
        snapshot: outcome.snapshot,
        snapshots_pruned: pruned,
        unresolved_file,
        checkpoint,
    })
}

/// Sends the Tracker's items to the source's `add`: the plugin must refuse them all with
/// `read_only`. Any other answer is reported as the error it is.
fn write_into_source(
    source: &mut Source,
    cfg: &EngineConfig,
    feature: &str,
    dry_run: bool,
) -> Result<PairKind> {
    let state = match Tracker::open_existing_read_only(&cfg.root_dir)? {
        Some(t) => t.state(feature)?,
        None => Vec::new(),
    };
    let keys: Vec<String> = state.iter().map(|(k, _)| k.clone()).collect();
    let mut items = Vec::with_capacity(state.len());
    for (key, item) in &state {
        let v: Value = serde_json::from_str(item).map_err(|e| HostError::Protocol {
            what: "tracker item",
            reason: format!("{key}: {e}"),
        })?;
        items.push(v);
    }
    match source.add(feature, &Value::Array(items), dry_run) {
        Err(HostError::ReadOnly(message)) => Ok(PairKind::Rejected {
            code: "read_only".into(),
            message,
            rejected_keys: keys.len() as u64,
            sample_keys: keys.into_iter().take(20).collect(),
        }),
        Err(other) => Err(other),
        Ok(answer) => Err(HostError::Protocol {
            what: "write answer",
            reason: format!("a read-only source accepted a write: {}", answer.json()),
        }),
    }
}

/// Human-readable lines for one pair.
pub fn render_human(r: &PairResult) -> String {
    let mut out = format!(
        "{} -> {} ({}){}\n",
        r.source,
        r.target,
        r.feature,
        if r.dry_run {
            "  [dry run: nothing written]"
        } else {
            ""
        }
    );
    match &r.kind {
        PairKind::Import {
            report,
            added,
            updated,
            unchanged,
            total_after,
            sample_added,
            sample_updated,
            snapshot,
            snapshots_pruned,
            unresolved_file,
            checkpoint,
        } => {
            out += &crate::report::render_report(report);
            if r.dry_run {
                out += &format!("  plan: {added} to add, {unchanged} already present, {updated} newer play than stored\n");
                if !sample_added.is_empty() {
                    out += &format!(
                        "    e.g. to add: {}\n",
                        sample_added
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                if !sample_updated.is_empty() {
                    out += &format!(
                        "    e.g. newer: {}\n",
                        sample_updated
                            .iter()
                            .take(5)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            } else {
                out += &format!(
                    "  tracker: {added} added, {updated} updated (newer play), {unchanged} unchanged; {total_after} items in total\n"
                );
                match snapshot {
                    Some(s) => out += &format!("  snapshot {} ({} items)\n", s.stamp, s.item_count),
                    None => out += "  no change: no new snapshot\n",
                }
                if *snapshots_pruned > 0 {
                    out += &format!("  retention removed {snapshots_pruned} old snapshot(s)\n");
                }
                if let Some(f) = unresolved_file {
                    out += &format!("  unresolved items listed in {f}\n");
                }
                // Full mode reads everything anyway: the checkpoint only matters incrementally.
                if report.history_mode == "incremental" {
                    out += match checkpoint {
                        CheckpointAction::Stored => "  checkpoint stored with the import: the next sync reads only what is new\n",
                        CheckpointAction::Kept => "  no new checkpoint (the read was incomplete): the next sync starts from the previous one\n",
                        CheckpointAction::Cleared => "  checkpoint forgotten: the next sync reads the whole history\n",
                        CheckpointAction::DryRun => "",
                    };
                }
            }
        }
        PairKind::Rejected {
            code,
            message,
            rejected_keys,
            ..
        } => {
            out += &format!("  {rejected_keys} item(s) rejected: {code} ({message})\n");
        }
    }
    out
}
