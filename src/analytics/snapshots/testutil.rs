//! What the snapshot tests share: sessions of two collections around a fixed `NOW`, and a
//! store holding them.

use crate::analytics::collections::{save, Member, Origin, Resolution, ResolvedCollection};
use crate::analytics::session::{MediaType, Session};
use crate::analytics::store::tests::session;
use crate::analytics::store::{upsert_session, Store};

pub(super) const DAY: i64 = 86_400;

pub(super) const NOW: i64 = 1_000 * DAY;

pub(super) fn episode(
    id: i64,
    user: i64,
    ep: i64,
    season: i64,
    show: i64,
    started: i64,
) -> Session {
    let mut s = session(id, user, ep, started);
    s.media_type = MediaType::Episode;
    s.parent_rating_key = Some(season);
    s.grandparent_rating_key = Some(show);
    s
}

pub(super) fn sessions() -> Vec<Session> {
    let mut v = vec![
        // Movie 101: alice twice in one viewing (group 1), bob once, long ago.
        session(1, 1, 101, NOW - 2 * DAY),
        session(2, 1, 101, NOW - 2 * DAY + 700),
        session(3, 2, 101, NOW - 40 * DAY),
        // Show 199: two episodes by carol today.
        episode(4, 3, 201, 200, 199, NOW - 3600),
        episode(5, 3, 202, 200, 199, NOW - 1800),
        // Not a member.
        session(6, 1, 555, NOW - 100),
        // After `now`: ignored.
        session(7, 4, 101, NOW + 10),
    ];
    v[1].reference_id = 1;
    v[2].play_seconds = 1234;
    v
}

pub(super) fn store_with_collections() -> Store {
    let mut store = Store::open_in_memory().unwrap();
    for s in sessions() {
        upsert_session(store.conn(), &s).unwrap();
    }
    let m = |k| Member {
        rating_key: k,
        kind: None,
        title: None,
    };
    let res = Resolution {
        collections: vec![
            ResolvedCollection {
                section_id: 1,
                library: "Movies".into(),
                rating_key: 5001,
                name: "Favourites".into(),
                origin: Origin::Config,
                members: vec![m(101), m(104)],
            },
            ResolvedCollection {
                section_id: 2,
                library: "TV".into(),
                rating_key: 6001,
                name: "Favourites".into(),
                origin: Origin::Config,
                members: vec![m(199)],
            },
        ],
        ..Resolution::default()
    };
    save(&mut store, &res, false, 0).unwrap();
    store
}
