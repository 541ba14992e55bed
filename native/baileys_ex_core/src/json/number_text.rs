//! Decimal text of numbers as the VM writes them.

use super::errors::JsonError;

/// Shortest round-trip text that JSON readers still see as a float (always
/// has a `.` or an exponent, so the VM does not read an integer back).
pub fn float_text(f: f64) -> Result<String, JsonError> {
    if !f.is_finite() {
        return Err(JsonError::Unsupported(format!(
            "non-finite float {f} has no JSON form"
        )));
    }
    Ok(format!("{f:?}"))
}

/// Decimal text of an integer, formatted into `buf`.
pub fn int_text(n: i64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    let mut rest = n.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    // Only ASCII digits and a sign were written.
    std::str::from_utf8(&buf[at..]).unwrap_or_default()
}
