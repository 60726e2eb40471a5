//! What one request is answered from: the scenario, its lookup tables and a consistent copy
//! of the play data, handed to every command's answer so none of them touches the server's
//! locks.

use crate::catalog::{Catalog, PlayItem};
use crate::clock::Zone;
use crate::scenario::{ActivitySession, Client, Scenario, Session, User};

/// What the rows are made of: the data behind one server state.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub scenario: &'a Scenario,
    pub catalog: &'a Catalog,
    pub sessions: &'a [Session],
    /// `catalog.items` index of each session's item.
    pub session_items: &'a [u32],
    pub activity: &'a [ActivitySession],
    /// The host's time zone (local days of `before`/`after`, graph buckets).
    pub zone: &'a Zone,
}

impl<'a> Ctx<'a> {
    pub fn item_of_session(&self, i: u32) -> &'a PlayItem {
        &self.catalog.items[self.session_items[i as usize] as usize]
    }
    pub fn item_of_activity(&self, i: u32) -> &'a PlayItem {
        let rk = self.activity[i as usize].rating_key;
        let idx = self
            .catalog
            .item_index(rk)
            .expect("activity items are validated");
        &self.catalog.items[idx as usize]
    }
    pub fn client(&self, index: u32) -> &'a Client {
        static DEFAULT: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
        self.scenario
            .clients
            .get(index as usize)
            .unwrap_or_else(|| DEFAULT.get_or_init(Client::default))
    }
    pub fn user(&self, user_id: i64) -> Option<&'a User> {
        self.catalog.user(self.scenario, user_id)
    }
}

/// SQL's `CASE WHEN friendly_name IS NULL OR TRIM(friendly_name) = '' THEN username ELSE
/// friendly_name END`.
pub fn display_name(ctx: &Ctx, user_id: i64) -> String {
    ctx.user(user_id)
        .map(|u| match u.friendly_name.as_deref() {
            Some(f) if !f.trim_matches(' ').is_empty() => f.to_owned(),
            _ => u.username.clone(),
        })
        .unwrap_or_default()
}
