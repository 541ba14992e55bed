//! Every atom BaileysEx auth data is made of, gathered from the lists the
//! layout and the codecs work from.
//!
//! The VM's safe decoder refuses atoms it does not have yet, and a fresh VM
//! that has loaded only the persistence modules lacks many of these
//! (`:key_pair` lives in BaileysEx's Curve module), so the original cannot
//! read its own creds.etf there. The NIF creates exactly this set when it
//! loads: every file BaileysEx writes then decodes, and any other atom is
//! still refused.

use crate::json;
use crate::layout::PERSISTED_KEY_TYPES;

/// Atoms of BaileysEx's terms that no list names: the struct key, a key the
/// JSON codecs write inline, and the keys of `default_disappearing_mode`,
/// which only ETF files hold as atoms (the JSON codec keeps them as strings).
const UNLISTED: [&str; 4] = [
    "__struct__",
    "sender_timestamp",
    "ephemeral_expiration",
    "ephemeral_setting_timestamp",
];

/// Key types, struct modules and fields, the legacy allow-lists and the rest
/// of BaileysEx's auth atoms; a name may come more than once.
pub fn auth_vocabulary() -> impl Iterator<Item = &'static str> {
    PERSISTED_KEY_TYPES
        .iter()
        .copied()
        .chain(json::vocabulary())
        .chain(UNLISTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_list_is_in_the_vocabulary() {
        let all: Vec<&str> = auth_vocabulary().collect();
        let lists = [
            PERSISTED_KEY_TYPES.to_vec(),
            json::vocabulary().collect(),
            UNLISTED.to_vec(),
        ];
        for list in lists {
            for name in list {
                assert!(all.contains(&name), "{name} is missing");
            }
        }
    }

    #[test]
    fn names_are_short_enough_for_an_atom() {
        for name in auth_vocabulary() {
            assert!(!name.is_empty() && name.chars().count() <= 255, "{name}");
        }
    }
}
