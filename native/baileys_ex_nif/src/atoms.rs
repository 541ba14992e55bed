//! Atoms of the NIF's replies. The atoms of auth data are the core's
//! vocabulary, created when the library loads (see `load` in lib.rs).

rustler::atoms! {
    ok,
    encoded,
    caller_exited,
    not_found,
    argument_error,
    invalid_etf,
    invalid_etf_metadata,
    invalid_key_type,
    invalid_persistence_metadata,
    unsupported_persistence_version,
    unexpected_persistence_backend,
    invalid_additional_data,
    invalid_json_data,
    nesting_too_deep,
    too_large,
    integer_too_large,
    unexpected_end,
    invalid_byte,
    unexpected_sequence,
    commit_too_large,
    mutations,
    bytes,
}
