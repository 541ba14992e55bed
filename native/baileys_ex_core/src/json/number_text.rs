//! Decimal text of numbers as the VM writes them.

use super::errors::JsonError;

/// A float as `JSON.encode!/1` writes it; there is no JSON for infinities
/// and NaN (the VM has none either).
pub fn float_text(f: f64) -> Result<String, JsonError> {
    if !f.is_finite() {
        return Err(JsonError::Unsupported(format!(
            "non-finite float {f} has no JSON form"
        )));
    }
    Ok(short_float(f))
}

/// `:erlang.float_to_binary(f, [:short])`, which `Float.to_string/1` and
/// `JSON.encode!/1` write, for a finite `f`: the fewest digits that read
/// back as `f`, in plain decimal (`100.0`, `0.0012`) while that is about as
/// short as scientific, else scientific (`1.0e3`, `1.2e-4`); integral values
/// of 2^53 and more, which a double no longer holds exactly, are always
/// scientific.
pub fn short_float(f: f64) -> String {
    let (digits, exp) = shortest_digits(f.abs());
    // `f` is `digits` times ten to the `exp`.
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let sci_exp = exp.saturating_add(len - 1);
    let (lowest, highest) = match len {
        1 => (-4, 2),
        _ if sci_exp >= 10 => (-(len + 2), 2),
        _ => (-(len + 2), 1),
    };
    let mut out = String::with_capacity(26);
    if f.is_sign_negative() {
        out.push('-');
    }
    if (lowest..=highest).contains(&exp) && !past_exact_integers(&digits, exp) {
        let whole = len + exp;
        if exp >= 0 {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', exp.unsigned_abs() as usize));
            out.push_str(".0");
        } else if whole > 0 {
            let (int_part, fraction) = digits.split_at(whole.unsigned_abs() as usize);
            out.push_str(int_part);
            out.push('.');
            out.push_str(fraction);
        } else {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', whole.unsigned_abs() as usize));
            out.push_str(&digits);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        out.push('.');
        out.push_str(if rest.is_empty() { "0" } else { rest });
        out.push('e');
        out.push_str(&sci_exp.to_string());
    }
    out
}

/// Whether `digits` times ten to the `exp` is an integer of 2^53 or more.
fn past_exact_integers(digits: &str, exp: i32) -> bool {
    let Ok(scale) = u32::try_from(exp) else {
        return false;
    };
    let value = digits.parse::<u64>().unwrap_or(0);
    10u64
        .checked_pow(scale)
        .and_then(|p| value.checked_mul(p))
        .is_none_or(|n| n >= 1 << 53)
}

/// The fewest decimal digits that read back as `f` (finite, not negative),
/// and the power of ten they are scaled by. Where two such digit strings
/// are equally close, Rust's formatter takes the upper one and the VM the
/// even one.
fn shortest_digits(f: f64) -> (String, i32) {
    let text = format!("{f:e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let exp = exp.parse::<i32>().unwrap_or(0) - (len - 1);
    match even_tie_below(&digits, exp, f) {
        Some(even) => (even, exp),
        None => (digits, exp),
    }
}

/// The digits one below `digits` (whose last digit is odd) when they read
/// back as `f` as well and `f` lies exactly halfway between the two.
fn even_tie_below(digits: &str, exp: i32, f: f64) -> Option<String> {
    let (&last, head) = digits.as_bytes().split_last()?;
    // An ASCII digit has the parity of its value.
    if last.is_multiple_of(2) {
        return None;
    }
    let mut below = String::from_utf8(head.to_vec()).ok()?;
    below.push(char::from(last - 1));
    if format!("{below}e{exp}").parse::<f64>().ok()? != f {
        return None;
    }
    // A double's exact decimal expansion has at most 767 significant digits.
    let exact = format!("{f:.800e}");
    let exact_digits: String = exact
        .split('e')
        .next()?
        .chars()
        .filter(|c| *c != '.')
        .collect();
    let rest = exact_digits.strip_prefix(&format!("{below}5"))?;
    rest.bytes().all(|b| b == b'0').then_some(below)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What `:erlang.float_to_binary(f, [:short])` gives on OTP 25; each
    /// text reads back as the float it was written for.
    const VM_SHORT: &[&str] = &[
        "0.0",
        "-0.0",
        "1.0",
        "-1.5",
        "0.1",
        "0.30000000000000004",
        "100.0",
        "1.0e3",
        "1.0e5",
        "1.0e20",
        "2.0e-5",
        "1.0e-5",
        "1.234e-5",
        "0.0001",
        "1.2e-4",
        "0.0012",
        "123.456",
        "1.0e15",
        "1.0e16",
        "12345678.0",
        "1.2345678e9",
        "1.0e10",
        "12345678901.0",
        "9007199254740991.0",
        "9.007199254740992e15",
        "9.007199254740994e15",
        "9007199254740900.0",
        "9007199254740990.0",
        "9.007199254741e15",
        "1.2345678901234568e17",
        "1.0e22",
        "1.0e23",
        "1.7976931348623157e308",
        "5.0e-324",
        "2.2250738585072014e-308",
        // Exactly halfway between two shortest candidates: the even one.
        "1939183399297225.2",
        "-2097289904415058.2",
        "215476363797432.12",
    ];

    #[test]
    fn floats_are_written_as_the_vm_writes_them() {
        for text in VM_SHORT {
            let f: f64 = text.parse().unwrap();
            assert_eq!(short_float(f), *text);
            assert_eq!(float_text(f).as_deref(), Ok(*text));
        }
        // The same doubles written from other spellings.
        assert_eq!(short_float(1e20), "1.0e20");
        assert_eq!(short_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(short_float(9.0071992547409e15), "9007199254740900.0");
        assert_eq!(
            short_float(f64::from_bits(4835615534138360613)),
            "1939183399297225.2"
        );
    }

    #[test]
    fn non_finite_floats_have_no_json_form() {
        for f in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert!(matches!(float_text(f), Err(JsonError::Unsupported(_))));
        }
    }

    #[test]
    fn integers_are_written_in_full() {
        for n in [0, 7, -7, 1234567890, i64::MIN, i64::MAX] {
            assert_eq!(int_text(n, &mut [0u8; 20]), n.to_string());
        }
    }
}
