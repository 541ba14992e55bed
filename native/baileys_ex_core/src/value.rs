//! A BEAM term as plain Rust data.
//!
//! Codecs work on `Value` so that `cargo test` exercises them without a running
//! VM; only the NIF crate converts between `Value` and real terms. Atoms are kept
//! as names: turning a name back into a term only ever looks up an existing atom,
//! so nothing read from a file can grow the atom table.

use crate::bigint::BigInt;

/// Kinds of term that have no on-disk representation in the JSON backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpaqueKind {
    Pid,
    Port,
    Reference,
    Function,
    /// A bitstring whose size is not a whole number of bytes.
    Bitstring,
}

/// A term decoded from, or to be encoded into, the VM.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An atom by name, without the leading colon (`nil`, `true`, `Elixir.Foo`).
    Atom(String),
    Integer(i64),
    /// An integer outside the `i64` range.
    BigInteger(BigInt),
    Float(f64),
    Binary(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Map entries in no particular order. A struct is a map with an
    /// `__struct__` key whose value is the module atom.
    Map(Vec<(Value, Value)>),
    Opaque(OpaqueKind),
}

impl Value {
    pub fn nil() -> Value {
        Value::Atom("nil".to_owned())
    }

    pub fn boolean(b: bool) -> Value {
        Value::Atom(if b { "true" } else { "false" }.to_owned())
    }

    pub fn atom(name: &str) -> Value {
        Value::Atom(name.to_owned())
    }

    pub fn binary(bytes: impl Into<Vec<u8>>) -> Value {
        Value::Binary(bytes.into())
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Atom(a) if a == "nil")
    }

    /// The value stored under an atom key of a map or struct.
    pub fn get_atom_key(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Value::Atom(a) if a == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The module name of a struct (`Elixir.BaileysEx.Auth.State`), if this is one.
    pub fn struct_name(&self) -> Option<&str> {
        match self.get_atom_key("__struct__") {
            Some(Value::Atom(module)) => Some(module.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_name_reads_the_struct_key() {
        let state = Value::Map(vec![
            (
                Value::atom("__struct__"),
                Value::atom("Elixir.BaileysEx.Auth.State"),
            ),
            (Value::atom("registered"), Value::boolean(false)),
        ]);
        assert_eq!(state.struct_name(), Some("Elixir.BaileysEx.Auth.State"));
        assert_eq!(
            state.get_atom_key("registered"),
            Some(&Value::boolean(false))
        );
        assert_eq!(Value::nil().struct_name(), None);
    }
}
