//! The Tautulli v2 command set: which commands exist, which change data, which this fake
//! answers, and the small read commands (users, libraries, info). Adding a read command means
//! adding a [`Read`] variant, its name in [`Read::parse`] and a handler in the server's dispatch.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::ctx::Ctx;
use crate::graphs::GraphKind;

/// Read commands the fake answers from the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Read {
    History,
    Metadata,
    TautulliInfo,
    Users,
    LibraryNames,
    LibrariesTable,
    Status,
    /// `get_plays_*`, `get_concurrent_streams_by_stream_type`, `get_stream_type_by_top_10_*`.
    Graph(GraphKind),
    CollectionsTable,
    ChildrenMetadata,
    ItemWatchTimeStats,
    ItemUserStats,
    Settings,
}

impl Read {
    fn parse(cmd: &str) -> Option<Read> {
        Some(match cmd {
            "get_history" => Read::History,
            "get_metadata" => Read::Metadata,
            "get_tautulli_info" => Read::TautulliInfo,
            "get_users" => Read::Users,
            "get_library_names" => Read::LibraryNames,
            "get_libraries_table" => Read::LibrariesTable,
            "status" => Read::Status,
            "get_collections_table" => Read::CollectionsTable,
            "get_children_metadata" => Read::ChildrenMetadata,
            "get_item_watch_time_stats" => Read::ItemWatchTimeStats,
            "get_item_user_stats" => Read::ItemUserStats,
            "get_settings" => Read::Settings,
            _ => return GraphKind::parse(cmd).map(Read::Graph),
        })
    }
}

/// What kind of command a `cmd` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Read(Read),
    /// Changes data on a real server: recorded and answered `success {}` here (tests assert a
    /// read-only client never sends one).
    Write,
    /// A real read command this fake does not model yet: HTTP 500, marked with the header
    /// `X-Fake-Tautulli: not-implemented`.
    NotImplemented,
}

/// Tautulli 2.17's API v2 command names.
pub const KNOWN_COMMANDS: &[&str] = &[
    "add_newsletter_config",
    "add_notifier_config",
    "arnold",
    "backup_config",
    "backup_db",
    "delete_all_library_history",
    "delete_all_user_history",
    "delete_cache",
    "delete_export",
    "delete_history",
    "delete_hosted_images",
    "delete_image_cache",
    "delete_library",
    "delete_login_log",
    "delete_lookup_info",
    "delete_media_info_cache",
    "delete_mobile_device",
    "delete_newsletter",
    "delete_newsletter_log",
    "delete_notification_log",
    "delete_notifier",
    "delete_recently_added",
    "delete_synced_item",
    "delete_temp_sessions",
    "delete_user",
    "docs",
    "docs_md",
    "download_config",
    "download_database",
    "download_export",
    "download_log",
    "download_plex_log",
    "edit_library",
    "edit_user",
    "export_metadata",
    "get_activity",
    "get_apikey",
    "get_children_metadata",
    "get_collections_table",
    "get_concurrent_streams_by_stream_type",
    "get_date_formats",
    "get_export_fields",
    "get_exports_table",
    "get_geoip_lookup",
    "get_history",
    "get_home_stats",
    "get_item_user_stats",
    "get_item_watch_time_stats",
    "get_libraries",
    "get_libraries_table",
    "get_library",
    "get_library_media_info",
    "get_library_names",
    "get_library_user_stats",
    "get_library_watch_time_stats",
    "get_logs",
    "get_metadata",
    "get_new_rating_keys",
    "get_newsletter_config",
    "get_newsletter_log",
    "get_newsletters",
    "get_notification_log",
    "get_notifier_config",
    "get_notifier_parameters",
    "get_notifiers",
    "get_old_rating_keys",
    "get_playlists_table",
    "get_plays_by_date",
    "get_plays_by_dayofweek",
    "get_plays_by_hourofday",
    "get_plays_by_source_resolution",
    "get_plays_by_stream_resolution",
    "get_plays_by_stream_type",
    "get_plays_by_top_10_platforms",
    "get_plays_by_top_10_users",
    "get_plays_per_month",
    "get_plex_log",
    "get_pms_token",
    "get_pms_update",
    "get_recently_added",
    "get_server_friendly_name",
    "get_server_id",
    "get_server_identity",
    "get_server_info",
    "get_server_list",
    "get_server_pref",
    "get_servers_info",
    "get_settings",
    "get_stream_data",
    "get_stream_type_by_top_10_platforms",
    "get_stream_type_by_top_10_users",
    "get_synced_items",
    "get_tautulli_info",
    "get_user",
    "get_user_ips",
    "get_user_logins",
    "get_user_names",
    "get_user_player_stats",
    "get_user_watch_time_stats",
    "get_users",
    "get_users_table",
    "get_whois_lookup",
    "import_config",
    "import_database",
    "logout_user_session",
    "notify",
    "notify_newsletter",
    "notify_recently_added",
    "pms_image_proxy",
    "refresh_libraries_list",
    "refresh_users_list",
    "register_device",
    "regroup_history",
    "restart",
    "search",
    "server_status",
    "set_mobile_device_config",
    "set_newsletter_config",
    "set_notifier_config",
    "sql",
    "status",
    "terminate_session",
    "undelete_library",
    "undelete_user",
    "update",
    "update_check",
    "update_metadata_details",
];

/// Commands that change something on a real server (data, config, files, process).
pub fn is_write(cmd: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "add_",
        "backup_",
        "delete_",
        "edit_",
        "import_",
        "notify",
        "refresh_",
        "set_",
        "undelete_",
    ];
    const NAMES: &[&str] = &[
        "export_metadata",
        "logout_user_session",
        "regroup_history",
        "register_device",
        "restart",
        "sql",
        "terminate_session",
        "update",
        "update_metadata_details",
    ];
    PREFIXES.iter().any(|p| cmd.starts_with(p)) || NAMES.contains(&cmd)
}

pub fn classify(cmd: &str) -> Option<Command> {
    if !KNOWN_COMMANDS.contains(&cmd) {
        return None;
    }
    Some(if let Some(r) = Read::parse(cmd) {
        Command::Read(r)
    } else if is_write(cmd) {
        Command::Write
    } else {
        Command::NotImplemented
    })
}

/// Tautulli's message for an unknown `cmd`.
pub fn unknown_command_message(cmd: &str) -> String {
    format!(
        "Unknown command: {cmd}. Possible commands are: {}",
        KNOWN_COMMANDS.join(", ")
    )
}

pub fn tautulli_info(ctx: &Ctx) -> Value {
    json!({
        "tautulli_install_type": "git",
        "tautulli_version": ctx.scenario.server.tautulli_version,
        "tautulli_branch": "master",
        "tautulli_commit": "0000000000000000000000000000000000000000",
        "tautulli_platform": "Linux",
        "tautulli_platform_release": "6.1.0",
        "tautulli_platform_version": "#1 SMP",
        "tautulli_platform_linux_distro": "Debian GNU/Linux 12",
        "tautulli_platform_device_name": "fake-tautulli",
        "tautulli_python_version": "3.11.2",
    })
}

pub fn users(ctx: &Ctx) -> Value {
    let sections: Vec<String> = ctx
        .scenario
        .libraries
        .iter()
        .map(|l| l.section_id.to_string())
        .collect();
    let rows: Vec<Value> = ctx
        .scenario
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let local = u.user_id == 0;
            let plex = |v: Value| if local { Value::Null } else { v };
            json!({
                "row_id": i + 1,
                "user_id": u.user_id,
                "username": u.username,
                "friendly_name": u.friendly_name,
                "thumb": u.thumb,
                "email": u.email,
                "is_active": 1,
                "is_admin": u8::from(u.is_admin),
                "is_home_user": plex(json!(1)),
                "is_allow_sync": plex(json!(1)),
                "is_restricted": plex(json!(0)),
                "do_notify": 1,
                "keep_history": 1,
                "allow_guest": 0,
                "shared_libraries": if local { Vec::new() } else { sections.clone() },
                "filter_all": null,
                "filter_movies": null,
                "filter_tv": null,
                "filter_music": null,
                "filter_photos": null,
            })
        })
        .collect();
    Value::Array(rows)
}

pub fn library_names(ctx: &Ctx) -> Value {
    ctx.scenario
        .libraries
        .iter()
        .map(|l| {
            json!({
                "section_id": l.section_id,
                "section_name": l.section_name,
                "section_type": l.section_type,
                "agent": l.agent,
            })
        })
        .collect()
}

#[derive(Default)]
struct LibStats {
    plays: std::collections::HashSet<i64>,
    duration: i64,
    last_accessed: Option<i64>,
    last_session: Option<usize>,
}

/// `get_libraries_table` (default order: `section_name` descending, like the real one).
pub fn libraries_table(ctx: &Ctx, grouping: bool) -> Value {
    let s = ctx.scenario;
    let mut stats: HashMap<i64, LibStats> = HashMap::new();
    for (i, sess) in ctx.sessions.iter().enumerate() {
        let item = &ctx.catalog.items[ctx.session_items[i] as usize];
        let st = stats.entry(item.section_id).or_default();
        st.plays.insert(if grouping {
            sess.reference_id()
        } else {
            sess.id
        });
        st.duration += sess.play_duration();
        st.last_accessed = Some(
            st.last_accessed
                .map_or(sess.started, |t| t.max(sess.started)),
        );
        let newer = st.last_session.is_none_or(|j| ctx.sessions[j].id < sess.id);
        if newer {
            st.last_session = Some(i);
        }
    }
    let mut libs: Vec<_> = s.libraries.iter().collect();
    libs.sort_by(|a, b| {
        b.section_name
            .to_ascii_lowercase()
            .cmp(&a.section_name.to_ascii_lowercase())
    });
    let rows: Vec<Value> = libs
        .into_iter()
        .map(|l| {
            let movie = l.section_type == "movie";
            let (count, parent_count, child_count) = if movie {
                let n = s
                    .movies
                    .iter()
                    .filter(|m| m.section_id == l.section_id)
                    .count();
                (n, Value::Null, Value::Null)
            } else {
                let shows: Vec<_> = s
                    .shows
                    .iter()
                    .filter(|x| x.section_id == l.section_id)
                    .collect();
                let seasons: usize = shows.iter().map(|x| x.seasons.len()).sum();
                let episodes: usize = shows
                    .iter()
                    .flat_map(|x| &x.seasons)
                    .map(|x| x.episodes.len())
                    .sum();
                (shows.len(), json!(seasons), json!(episodes))
            };
            let st = stats.remove(&l.section_id).unwrap_or_default();
            let last = st.last_session.map(|i| {
                (
                    &ctx.sessions[i],
                    &ctx.catalog.items[ctx.session_items[i] as usize],
                )
            });
            let num = |v: Option<i64>| v.map_or(json!(""), |v| json!(v));
            let kind = if movie { "movie" } else { "show" };
            json!({
                "row_id": l.section_id,
                "server_id": s.server.pms_identifier,
                "section_id": l.section_id,
                "section_name": l.section_name,
                "section_type": l.section_type,
                "count": count,
                "parent_count": parent_count,
                "child_count": child_count,
                "library_thumb": format!("/:/resources/{kind}.png"),
                "library_art": format!("/:/resources/{kind}-fanart.jpg"),
                "plays": st.plays.len(),
                "duration": st.duration,
                "last_accessed": st.last_accessed,
                "history_row_id": last.map(|(x, _)| x.id),
                "last_played": last.map(|(_, it)| it.full_title.clone()),
                "rating_key": last.map(|(_, it)| it.rating_key),
                "media_type": last.map(|(_, it)| it.media_type.as_str()),
                "thumb": last.map(|(_, it)| it.thumb.clone()),
                "parent_title": last.map(|(_, it)| it.parent_title.clone()),
                "year": last.map(|(_, it)| num(it.year)),
                "media_index": last.map(|(_, it)| num(it.media_index)),
                "parent_media_index": last.map(|(_, it)| num(it.parent_media_index)),
                "content_rating": last.map(|(_, it)| content_rating(ctx, it.rating_key)),
                "labels": [],
                "live": last.map(|(x, it)| u8::from(x.live || it.live)),
                "originally_available_at": last.map(|(_, it)| it.originally_available_at.clone()),
                "guid": last.map(|(_, it)| it.guid.clone()),
                "do_notify": 1,
                "do_notify_created": 1,
                "keep_history": 1,
                "is_active": 1,
            })
        })
        .collect();
    json!({
        "recordsFiltered": rows.len(),
        "recordsTotal": rows.len(),
        "data": rows,
        "draw": 1,
    })
}

fn content_rating(ctx: &Ctx, rating_key: i64) -> String {
    use crate::catalog::Node;
    let s = ctx.scenario;
    match ctx.catalog.node(rating_key) {
        Some(Node::Movie(i)) => s.movies[i].common.content_rating.clone(),
        Some(Node::Episode(si, _, _)) => s.shows[si].common.content_rating.clone(),
        _ => String::new(),
    }
}

/// `get_settings`: Tautulli's config sections (`key`: one section, `None` when there is no
/// such section, which the server answers as an error). The sections hold what the scenario
/// models, as 2.17 answers them: int settings as numbers (`group_history_tables: 0`), the
/// two keys it blanks (`pms_token`, `jwt_secret`) as null, and, as it does, the API key.
pub fn settings(ctx: &Ctx, key: Option<&str>) -> Option<Value> {
    let server = &ctx.scenario.server;
    let int = |b: bool| u8::from(b);
    let all = json!({
        "General": {
            "api_enabled": 1,
            "api_key": ctx.scenario.api_key.expose(),
            "date_format": "YYYY-MM-DD",
            "group_history_tables": int(server.grouping),
            "history_table_activity": int(server.include_activity),
            "http_root": "",
            "interface": "/opt/Tautulli/data/interfaces/",
            "interface_list": ["default"],
            "jwt_secret": null,
            "time_format": "HH:mm",
        },
        "Monitoring": {
            "movie_watched_percent": server.watched_percent.movie,
            "tv_watched_percent": server.watched_percent.episode,
        },
        "PMS": {
            "pms_identifier": server.pms_identifier,
            "pms_token": null,
        },
    });
    match key.map(str::trim).filter(|k| !k.is_empty()) {
        None => Some(all),
        Some(k) => all.get(k).cloned(),
    }
}

/// `status`: Tautulli's own health answer.
pub fn status() -> Value {
    json!({"result": "success", "message": "Ok"})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_commands() {
        assert_eq!(classify("get_history"), Some(Command::Read(Read::History)));
        assert_eq!(classify("delete_history"), Some(Command::Write));
        assert_eq!(classify("terminate_session"), Some(Command::Write));
        assert_eq!(classify("notify_recently_added"), Some(Command::Write));
        assert_eq!(classify("get_home_stats"), Some(Command::NotImplemented));
        assert_eq!(
            classify("get_plays_by_date"),
            Some(Command::Read(Read::Graph(GraphKind::PlaysByDate)))
        );
        assert_eq!(
            classify("get_children_metadata"),
            Some(Command::Read(Read::ChildrenMetadata))
        );
        assert_eq!(
            classify("get_plays_by_source_resolution"),
            Some(Command::NotImplemented)
        );
        assert_eq!(
            classify("get_settings"),
            Some(Command::Read(Read::Settings))
        );
        assert_eq!(classify("get_everything"), None);
        assert!(unknown_command_message("x").starts_with("Unknown command: x. "));
    }

    #[test]
    fn known_commands_are_sorted_and_getters_are_reads() {
        for cmd in KNOWN_COMMANDS {
            if cmd.starts_with("get_") {
                assert!(!is_write(cmd), "{cmd}");
            }
        }
        let mut sorted = KNOWN_COMMANDS.to_vec();
        sorted.sort_unstable();
        assert_eq!(
            sorted, KNOWN_COMMANDS,
            "kept sorted like Tautulli's message"
        );
    }
}
