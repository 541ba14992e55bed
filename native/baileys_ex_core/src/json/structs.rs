//! The structs BaileysEx auth data uses, with their fields and defaults, so
//! decoders can build them the way `struct/2` does (missing fields get the
//! default, unknown keys are dropped).

use super::term::{atom_map, make_struct};

use crate::value::Value;

pub const STATE: &str = "Elixir.BaileysEx.Auth.State";
pub const ADV_SIGNED_DEVICE_IDENTITY: &str =
    "Elixir.BaileysEx.Protocol.Proto.ADVSignedDeviceIdentity";
pub const MESSAGE_KEY: &str = "Elixir.BaileysEx.Protocol.Proto.MessageKey";
pub const SESSION_RECORD: &str = "Elixir.BaileysEx.Signal.SessionRecord";
pub const SENDER_KEY_RECORD: &str = "Elixir.BaileysEx.Signal.Group.SenderKeyRecord";
pub const SENDER_KEY_STATE: &str = "Elixir.BaileysEx.Signal.Group.SenderKeyState";
pub const SENDER_CHAIN_KEY: &str = "Elixir.BaileysEx.Signal.Group.SenderChainKey";
pub const SENDER_MESSAGE_KEY: &str = "Elixir.BaileysEx.Signal.Group.SenderMessageKey";

/// `%BaileysEx.Auth.State{}` fields, in the order the original's
/// `decode_explicit_credentials/1` evaluates them.
pub const STATE_FIELDS: [&str; 22] = [
    "account",
    "account_settings",
    "account_sync_counter",
    "additional_data",
    "adv_secret_key",
    "first_unuploaded_pre_key_id",
    "last_account_sync_timestamp",
    "last_prop_hash",
    "me",
    "my_app_state_key_id",
    "next_pre_key_id",
    "noise_key",
    "pairing_code",
    "pairing_ephemeral_key",
    "platform",
    "processed_history_messages",
    "registered",
    "registration_id",
    "routing_info",
    "signal_identities",
    "signed_identity_key",
    "signed_pre_key",
];

pub const ADV_FIELDS: [&str; 4] = [
    "details",
    "account_signature_key",
    "account_signature",
    "device_signature",
];
pub const MESSAGE_KEY_FIELDS: [&str; 4] = ["remote_jid", "from_me", "id", "participant"];
pub const SESSION_RECORD_FIELDS: [&str; 1] = ["sessions"];
pub const SENDER_KEY_RECORD_FIELDS: [&str; 1] = ["sender_key_states"];
pub const SENDER_KEY_STATE_FIELDS: [&str; 4] = [
    "sender_key_id",
    "sender_chain_key",
    "sender_signing_key",
    "sender_message_keys",
];
pub const SENDER_CHAIN_KEY_FIELDS: [&str; 2] = ["iteration", "seed"];
pub const SENDER_MESSAGE_KEY_FIELDS: [&str; 4] = ["iteration", "iv", "cipher_key", "seed"];

/// The default of a `%State{}` field (`defstruct` in state.ex).
pub fn state_default(field: &str) -> Value {
    match field {
        "registration_id" | "account_sync_counter" => Value::Integer(0),
        "signal_identities" | "processed_history_messages" => Value::List(Vec::new()),
        "account_settings" => default_account_settings(),
        "registered" => Value::boolean(false),
        "first_unuploaded_pre_key_id" | "next_pre_key_id" => Value::Integer(1),
        _ => Value::nil(),
    }
}

pub fn default_account_settings() -> Value {
    atom_map(vec![
        ("unarchive_chats", Value::boolean(false)),
        ("default_disappearing_mode", Value::nil()),
    ])
}

/// Every allow-listed struct module with its field names.
const STRUCTS: [(&str, &[&str]); 8] = [
    (STATE, &STATE_FIELDS),
    (ADV_SIGNED_DEVICE_IDENTITY, &ADV_FIELDS),
    (MESSAGE_KEY, &MESSAGE_KEY_FIELDS),
    (SESSION_RECORD, &SESSION_RECORD_FIELDS),
    (SENDER_KEY_RECORD, &SENDER_KEY_RECORD_FIELDS),
    (SENDER_KEY_STATE, &SENDER_KEY_STATE_FIELDS),
    (SENDER_CHAIN_KEY, &SENDER_CHAIN_KEY_FIELDS),
    (SENDER_MESSAGE_KEY, &SENDER_MESSAGE_KEY_FIELDS),
];

/// Field names of an allow-listed struct module.
pub fn fields_of(module: &str) -> Option<&'static [&'static str]> {
    STRUCTS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, fields)| *fields)
}

/// The struct modules and every field name.
pub fn vocabulary() -> impl Iterator<Item = &'static str> {
    STRUCTS
        .iter()
        .flat_map(|(module, fields)| std::iter::once(*module).chain(fields.iter().copied()))
}

fn default_of(module: &str, field: &str) -> Value {
    if module == STATE {
        state_default(field)
    } else {
        Value::nil()
    }
}

/// `struct(module, pairs)`: every field at its default, then each pair whose
/// key is a field (as an atom) overrides it, later pairs winning.
pub fn build(
    module: &'static str,
    fields: &'static [&'static str],
    pairs: Vec<(Value, Value)>,
) -> Value {
    let mut values: Vec<Option<Value>> = fields.iter().map(|_| None).collect();
    for (k, v) in pairs {
        if let Value::Atom(name) = &k {
            if let Some(i) = fields.iter().position(|f| f == name) {
                values[i] = Some(v);
            }
        }
    }
    make_struct(
        module,
        fields
            .iter()
            .zip(values)
            .map(|(f, v)| (*f, v.unwrap_or_else(|| default_of(module, f))))
            .collect(),
    )
}
